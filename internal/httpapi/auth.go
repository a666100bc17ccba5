package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// authenticate requires a valid bearer token and puts its viewer in the
// request context. A request without one is answered here, before any
// GraphQL work: 401 with a WWW-Authenticate challenge and a GraphQL error
// body whose extensions.code is UNAUTHENTICATED.
func authenticate(iss *auth.Issuer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			unauthenticated(w, r, "", "sign in: send Authorization: Bearer <token>")
			return
		}
		v, _, err := iss.Verify(token)
		if err != nil {
			unauthenticated(w, r, "invalid_token", "the bearer token is not valid: "+strings.TrimPrefix(err.Error(), auth.ErrInvalidToken.Error()+": "))
			return
		}
		next.ServeHTTP(w, r.WithContext(viewer.NewContext(r.Context(), v)))
	})
}

func bearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// unauthenticated writes the 401 answer in the GraphQL-over-HTTP shape the
// client asked for.
func unauthenticated(w http.ResponseWriter, r *http.Request, oauthErr, message string) {
	challenge := `Bearer realm="scrm"`
	if oauthErr != "" {
		challenge += `, error="` + oauthErr + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", negotiate(r.Header.Get("Accept")))
	w.WriteHeader(http.StatusUnauthorized)
	ext := map[string]any{"code": "UNAUTHENTICATED"}
	if id := requestid.FromContext(r.Context()); id != "" {
		ext["requestId"] = id
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": ext}},
	})
}
