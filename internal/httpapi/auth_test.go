package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/viewer"
)

func TestAuthenticate(t *testing.T) {
	i, err := auth.NewIssuer(strings.Repeat("k", 32), "scrm")
	if err != nil {
		t.Fatal(err)
	}
	var seen *viewer.Viewer
	h := authenticate(authn{issuer: i}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = viewer.FromContext(r.Context()) }))
	tok, _ := i.Issue(auth.Staff{TenantID: 3, StaffID: 4}, time.Hour)
	for _, header := range []string{"Bearer " + tok, "bearer " + tok} {
		seen = nil
		req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		req.Header.Set("Authorization", header)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if seen == nil || seen.StaffID != 4 {
			t.Errorf("%q: viewer %+v", header, seen)
		}
	}
	for _, header := range []string{"", "Basic abc", "Bearer ", tok} {
		seen = nil
		req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || seen != nil || !strings.Contains(rec.Body.String(), "UNAUTHENTICATED") {
			t.Errorf("%q: status %d, body %s", header, rec.Code, rec.Body)
		}
	}
}
