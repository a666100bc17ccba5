package requestid

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMiddlewareKeepsWellFormedIDsOnly(t *testing.T) {
	var seen string
	h := Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = FromContext(r.Context()) }))
	for incoming, kept := range map[string]bool{
		"":                            false,
		"abc":                         false,
		"0123456789abcdef":            true,
		"trace-id.from_proxy":         true,
		"evil\nlog line injected 123": false,
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set(Header, incoming)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if seen == "" || rec.Header().Get(Header) != seen {
			t.Fatalf("%q: context %q, header %q", incoming, seen, rec.Header().Get(Header))
		}
		if (seen == incoming) != kept {
			t.Errorf("%q: kept=%v, want %v", incoming, seen == incoming, kept)
		}
	}
}
