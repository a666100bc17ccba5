// Package requestid gives every request an id that travels with it: in the
// context, in the X-Request-ID response header, in every log line about the
// request and in the errors clients see, so a support ticket quoting an
// error leads straight to the logs.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
)

// Header carries the id in requests (from a trusted proxy) and responses.
const Header = "X-Request-ID"

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the request id in ctx, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// New returns a fresh random id.
func New() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// An incoming id is kept only if it looks like one, so logs cannot be
// forged through the header.
var acceptable = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// Middleware assigns the request id (keeping a well-formed incoming one)
// and echoes it in the response.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !acceptable.MatchString(id) {
			id = New()
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
	})
}
