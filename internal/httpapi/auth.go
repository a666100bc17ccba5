package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// authn is what authenticate needs: the issuer of staff and customer
// tokens, partners' API keys, the hook completing a viewer, the audit of
// refused credentials, and the rate limits applied once the caller is
// known.
type authn struct {
	issuer    *auth.Issuer
	keys      KeyVerifier
	authorize Authorizer
	anonymous *Anonymous
	failed    SignInFailed
	limits    *rateLimits
	logger    *slog.Logger
}

// KeyVerifier verifies partners' API keys (internal/apikeys): the viewer
// a key acts as and its own rate limit (requests per minute, 0: default).
type KeyVerifier interface {
	IsKey(token string) bool
	Authenticate(ctx context.Context, token, clientIP string) (*viewer.Viewer, int, error)
}

// authenticate requires a valid bearer token (a staff or customer JWT, or
// a partner's API key) and puts its viewer in the request context. A
// request without one is answered here, before any GraphQL work: 401 with
// a WWW-Authenticate challenge and a GraphQL error body whose
// extensions.code is UNAUTHENTICATED.
//
// authorize, when set, completes the viewer (current roles, data scope,
// grants) and returns the context the request runs in; an apperr
// Unauthenticated error from it is a 401 too (a resigned staff member's
// token), any other a 500. Then the caller's rate limit is taken: 429
// with Retry-After when it is spent.
//
// A request without an Authorization header whose document selects only
// the anonymous mutations (a.anonymous) goes on without a viewer, in the
// context they give it, limited per client address.
func authenticate(a authn, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) { // authenticated in connection_init (websocket.go)
			next.ServeHTTP(w, withUpgradeInfo(r))
			return
		}
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok && r.Header.Get("Authorization") == "" && a.anonymous.admits(r) {
			if a.limits != nil && !a.limits.takeAnonymous(w, r) {
				return
			}
			next.ServeHTTP(w, r.WithContext(a.anonymous.Context(r.Context())))
			return
		}
		if !ok {
			unauthenticated(w, r, "", "sign in: send Authorization: Bearer <token>")
			return
		}
		var (
			v         *viewer.Viewer
			err       error
			perMinute int
		)
		if a.keys != nil && a.keys.IsKey(token) {
			v, perMinute, err = a.keys.Authenticate(r.Context(), token, clientIP(r))
			if e, ok := apperr.As(err); ok && e.Code == apperr.CodeUnauthenticated {
				if a.failed != nil {
					a.failed(r.Context(), 0, clientIP(r), e.Message)
				}
				unauthenticated(w, r, "invalid_token", e.Message)
				return
			}
			if err != nil {
				internalError(w, r, a.logger, "verify API key", err)
				return
			}
		} else {
			v, _, err = a.issuer.Verify(token)
			if err != nil {
				reason := "the bearer token is not valid: " + strings.TrimPrefix(err.Error(), auth.ErrInvalidToken.Error()+": ")
				if a.failed != nil {
					a.failed(r.Context(), auth.ClaimedTenant(token), clientIP(r), reason)
				}
				unauthenticated(w, r, "invalid_token", reason)
				return
			}
		}
		ctx := viewer.NewContext(r.Context(), v)
		if a.authorize != nil {
			ctx, err = a.authorize(ctx, v)
			if e, ok := apperr.As(err); ok && e.Code == apperr.CodeUnauthenticated {
				if a.failed != nil {
					a.failed(r.Context(), v.TenantID, clientIP(r), e.Message)
				}
				unauthenticated(w, r, "invalid_token", e.Message)
				return
			}
			if err != nil {
				internalError(w, r, a.logger, "authorize", err)
				return
			}
		}
		nv := viewer.FromContext(ctx)
		if nv != nil {
			ctx = audit.NewContext(ctx, &audit.Recorder{
				ActorID: nv.StaffID, Roles: nv.Roles, ClientIP: clientIP(r), RequestID: requestid.FromContext(ctx),
			})
		}
		if a.limits != nil && nv != nil && !a.limits.take(w, r.WithContext(ctx), nv, perMinute) {
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func internalError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, what string, err error) {
	id := requestid.FromContext(r.Context())
	logger.ErrorContext(r.Context(), what, "request_id", id, "err", err)
	answerError(w, r, http.StatusInternalServerError, "INTERNAL", "internal error; quote request id "+id+" when reporting it")
}

// SignInFailed is told of every refused credential: the tenant it claimed
// (0 when none), the client's address and why.
type SignInFailed func(ctx context.Context, tenantID int, clientIP, reason string)

// clientIP is the caller's address: the peer's, or behind trusted
// proxies the one they report (see realClientIP).
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok {
		return ip
	}
	return peerIP(r)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type clientIPKey struct{}

// realClientIP works out each request's client address once. A request
// from one of the trusted proxies (a load balancer) is taken to come from
// the right-most X-Forwarded-For address that is not itself a trusted
// proxy: everything left of that was written by the client and proves
// nothing. Without trusted proxies the header is ignored.
func realClientIP(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := peerIP(r)
		if len(trusted) > 0 && isTrusted(trusted, ip) {
			hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
			for i := len(hops) - 1; i >= 0; i-- {
				hop := strings.TrimSpace(hops[i])
				if _, err := netip.ParseAddr(hop); err != nil {
					break
				}
				ip = hop
				if !isTrusted(trusted, hop) {
					break
				}
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
	})
}

func isTrusted(trusted []netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Authorizer completes a signed-in viewer and returns the context the
// request runs in.
type Authorizer func(ctx context.Context, v *viewer.Viewer) (context.Context, error)

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
	answerError(w, r, http.StatusUnauthorized, "UNAUTHENTICATED", message)
}

// answerError answers a request refused before GraphQL execution with one
// GraphQL error in the shape the client asked for (application/json when
// it accepts neither GraphQL media type).
func answerError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	mediaType, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		mediaType = mediaJSON
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(status)
	ext := map[string]any{"code": code}
	if id := requestid.FromContext(r.Context()); id != "" {
		ext["requestId"] = id
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": ext}},
	})
}

// Anonymous is what a request may do without a token: run a document
// whose operation selects only Mutations (and __typename), in the context
// Context returns (authz.Anonymous: grants for those fields, no viewer).
type Anonymous struct {
	Mutations []string
	Context   func(context.Context) context.Context
}

// admits reports whether r is a POST of a JSON GraphQL request whose
// operation selects only a's mutations. It reads the body (already
// capped by limitBody) and puts it back for the transport. The document
// is parsed, not validated: execution validates it as for any request.
func (a *Anonymous) admits(r *http.Request) bool {
	if a == nil || a.Context == nil || len(a.Mutations) == 0 || r.Method != http.MethodPost || r.Body == nil {
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return false
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	var req struct {
		Query         string `json:"query"`
		OperationName string `json:"operationName"`
	}
	if json.Unmarshal(body, &req) != nil || req.Query == "" {
		return false
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: req.Query})
	if err != nil {
		return false
	}
	op := selectedOperation(doc, req.OperationName)
	if op == nil || op.Operation != ast.Mutation || len(op.SelectionSet) == 0 {
		return false
	}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field) // fragments could hide other fields
		if !ok || (f.Name != "__typename" && !slices.Contains(a.Mutations, f.Name)) {
			return false
		}
	}
	return true
}

// selectedOperation is the operation a request runs: the one named, or
// the only one.
func selectedOperation(doc *ast.QueryDocument, name string) *ast.OperationDefinition {
	if name == "" {
		if len(doc.Operations) != 1 {
			return nil
		}
		return doc.Operations[0]
	}
	return doc.Operations.ForName(name)
}
