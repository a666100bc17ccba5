package httpapi

import (
	"context"
	"encoding/json"
	"io"
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

type anonKey struct{}

func TestAnonymousSignIn(t *testing.T) {
	i, err := auth.NewIssuer(strings.Repeat("k", 32), "scrm")
	if err != nil {
		t.Fatal(err)
	}
	anon := &Anonymous{Mutations: []string{"loginWithMiniProgram"},
		Context: func(ctx context.Context) context.Context { return context.WithValue(ctx, anonKey{}, true) }}
	var body string
	var anonymous, reached bool
	h := limitBody(1<<10, authenticate(authn{issuer: i, anonymous: anon}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		anonymous, _ = r.Context().Value(anonKey{}).(bool)
		b, _ := io.ReadAll(r.Body)
		body = string(b)
	})))
	send := func(contentType, payload, authorization string) int {
		reached, anonymous, body = false, false, ""
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(payload))
		req.Header.Set("Content-Type", contentType)
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	doc := func(q string, extra ...string) string {
		b, _ := json.Marshal(map[string]any{"query": q})
		if len(extra) > 0 {
			b, _ = json.Marshal(map[string]any{"query": q, "operationName": extra[0]})
		}
		return string(b)
	}

	t.Run("the sign-in alone goes through without a token, body intact", func(t *testing.T) {
		for _, q := range []string{
			`mutation { loginWithMiniProgram(appId: "wx1", code: "c") { token } }`,
			`mutation M($a: String!, $c: String!) { __typename login: loginWithMiniProgram(appId: $a, code: $c) { token customerID } }`,
		} {
			payload := doc(q)
			if code := send("application/json; charset=utf-8", payload, ""); code != http.StatusOK || !reached || !anonymous || body != payload {
				t.Errorf("%s: status %d, reached %v, anonymous %v, body %q", q, code, reached, anonymous, body)
			}
		}
		payload := doc(`query Q { me { id } } mutation L { loginWithMiniProgram(appId: "a", code: "c") { token } }`, "L")
		if code := send("application/json", payload, ""); code != http.StatusOK || !anonymous {
			t.Errorf("named sign-in beside a query: status %d", code)
		}
	})

	t.Run("anything else without a token is 401", func(t *testing.T) {
		for name, c := range map[string][2]string{
			"a query":                 {"application/json", doc(`{ myCustomer { id } }`)},
			"another mutation beside": {"application/json", doc(`mutation { loginWithMiniProgram(appId: "a", code: "c") { token } createMyTicket(input: {title: "x"}) { id } }`)},
			"a fragment spread":       {"application/json", doc(`mutation { ...F } fragment F on Mutation { createMyTicket(input: {title: "x"}) { id } }`)},
			"an inline fragment":      {"application/json", doc(`mutation { ... on Mutation { loginWithMiniProgram(appId: "a", code: "c") { token } } }`)},
			"the other operation":     {"application/json", doc(`query Q { me { id } } mutation L { loginWithMiniProgram(appId: "a", code: "c") { token } }`, "Q")},
			"two operations unnamed":  {"application/json", doc(`query Q { me { id } } mutation L { loginWithMiniProgram(appId: "a", code: "c") { token } }`)},
			"unparsable":              {"application/json", doc(`mutation { loginWithMiniProgram(`)},
			"not JSON":                {"application/json", `mutation { loginWithMiniProgram(appId: "a", code: "c") { token } }`},
			"another content type":    {"application/graphql", `mutation { loginWithMiniProgram(appId: "a", code: "c") { token } }`},
			"a persisted hash only":   {"application/json", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`},
			"a body over the limit":   {"application/json", doc(`mutation { loginWithMiniProgram(appId: "` + strings.Repeat("a", 2000) + `", code: "c") { token } }`)},
		} {
			if code := send(c[0], c[1], ""); code == http.StatusOK || reached {
				t.Errorf("%s: status %d, reached %v", name, code, reached)
			}
		}
	})

	t.Run("a bad token is refused even for the sign-in", func(t *testing.T) {
		if code := send("application/json", doc(`mutation { loginWithMiniProgram(appId: "a", code: "c") { token } }`), "Bearer nonsense"); code != http.StatusUnauthorized || reached {
			t.Errorf("status %d", code)
		}
	})
}
