package auth

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Middleware requires a valid bearer token and puts its viewer in the
// request context. A request without one is answered here, before any
// GraphQL work: 401 with a WWW-Authenticate challenge and a GraphQL error
// body whose extensions.code is UNAUTHENTICATED.
func (i *Issuer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			Unauthenticated(w, r, "", "sign in: send Authorization: Bearer <token>")
			return
		}
		v, _, err := i.Verify(token)
		if err != nil {
			Unauthenticated(w, r, "invalid_token", "the bearer token is not valid: "+strings.TrimPrefix(err.Error(), ErrInvalidToken.Error()+": "))
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

// Unauthenticated writes the 401 answer in the GraphQL-over-HTTP shape the
// client asked for (application/graphql-response+json or application/json).
func Unauthenticated(w http.ResponseWriter, r *http.Request, oauthErr, message string) {
	challenge := `Bearer realm="scrm"`
	if oauthErr != "" {
		challenge += `, error="` + oauthErr + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", responseType(r.Header.Get("Accept")))
	w.WriteHeader(http.StatusUnauthorized)
	ext := map[string]any{"code": "UNAUTHENTICATED"}
	if id := requestid.FromContext(r.Context()); id != "" {
		ext["requestId"] = id
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": ext}},
	})
}

// responseType picks the media type the GraphQL-over-HTTP spec prescribes
// for an Accept header: application/json only when the client asks for it
// (legacy clients), application/graphql-response+json otherwise.
func responseType(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/graphql-response+json":
			return "application/graphql-response+json"
		case "application/json":
			return "application/json"
		}
	}
	return "application/graphql-response+json"
}
