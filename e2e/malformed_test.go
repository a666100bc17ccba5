package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/internal/seed"
)

// TestMalformedBodies: a body that is not a GraphQL request is the
// client's error (400, BAD_REQUEST), never an internal one.
func TestMalformedBodies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", seed.Admin)
		for _, body := range []string{`{"query":"{ me { id } "`, `not json`, `{"query": 5}`, `[]`} {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			r := e.serve(t, req)
			if r.Status != http.StatusBadRequest || len(r.Errors) == 0 || r.Errors[0].code() != "BAD_REQUEST" {
				t.Errorf("%s: status %d, errors %+v", body, r.Status, r.Errors)
			}
		}
		if strings.Contains(e.logs.String(), "panic in resolver") {
			t.Fatal("a malformed body panicked")
		}
	})
}
