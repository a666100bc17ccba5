package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/streamctx"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/wsgraphql"
)

// websocketServer configures the GraphQL WebSocket server
// (graphql-transport-ws and the legacy graphql-ws). Browsers cannot set
// headers on an upgrade, so the token travels in connection_init's
// payload ({"authorization": "Bearer …"} or {"token": "…"}); a non-browser
// client may send the Authorization header instead. A missing or invalid
// token closes with 4401, a staff member who may no longer sign in with
// 4403; the connection lives no longer than its token.
func websocketServer(opts Options) *wsgraphql.Server {
	ws := opts.WebSockets
	if ws == nil {
		ws = &wsgraphql.Server{}
	}
	ws.CheckOrigin = originChecker(opts.AllowedOrigins)
	ws.Logger = opts.Logger
	ws.Init = func(ctx context.Context, p wsgraphql.InitPayload) (context.Context, context.CancelFunc, error) {
		token, ok := bearer(p.String("authorization"))
		if !ok {
			token, ok = bearer(p.String("Authorization"))
		}
		if !ok {
			token = strings.TrimSpace(p.String("token"))
		}
		if token == "" {
			token = upgradeToken(ctx)
		}
		if token == "" {
			return nil, nil, &wsgraphql.CloseError{Code: wsgraphql.CloseUnauthorized,
				Reason: "unauthorized: send the token in connection_init as authorization: Bearer <token>"}
		}
		v, expires, err := opts.Issuer.Verify(token)
		if err != nil {
			reason := "unauthorized: the token is not valid: " + strings.TrimPrefix(err.Error(), auth.ErrInvalidToken.Error()+": ")
			if opts.SignInFailed != nil {
				opts.SignInFailed(ctx, auth.ClaimedTenant(token), peerFrom(ctx), reason)
			}
			return nil, nil, &wsgraphql.CloseError{Code: wsgraphql.CloseUnauthorized, Reason: reason}
		}
		ctx = viewer.NewContext(ctx, v)
		if opts.Authorize != nil {
			actx, err := opts.Authorize(ctx, v)
			if e, ok := apperr.As(err); ok && e.Code == apperr.CodeUnauthenticated {
				if opts.SignInFailed != nil {
					opts.SignInFailed(ctx, v.TenantID, peerFrom(ctx), e.Message)
				}
				return nil, nil, &wsgraphql.CloseError{Code: wsgraphql.CloseForbidden, Reason: "forbidden: " + e.Message}
			}
			if err != nil {
				opts.Logger.ErrorContext(ctx, "authorize websocket", "request_id", requestid.FromContext(ctx), "err", err)
				return nil, nil, &wsgraphql.CloseError{Code: wsgraphql.CloseInternalError,
					Reason: "internal error; quote request id " + requestid.FromContext(ctx)}
			}
			ctx = actx
		}
		if nv := viewer.FromContext(ctx); nv != nil {
			rec := &audit.Recorder{ActorID: nv.StaffID, Roles: nv.Roles, ClientIP: peerFrom(ctx), RequestID: requestid.FromContext(ctx)}
			ctx = audit.NewContext(ctx, rec)
			ctx = streamctx.WithSharing(ctx, &streamctx.Sharing{Key: shareKey(nv), Observed: rec.Recorded})
		}
		ctx, cancel := context.WithDeadlineCause(ctx, expires, &wsgraphql.CloseError{
			Code: wsgraphql.CloseUnauthorized, Reason: "unauthorized: the token has expired; reconnect with a fresh one"})
		return ctx, cancel, nil
	}
	return ws.Start()
}

// shareKey names what decides a live update's result for a viewer: the
// tenant, the role set (field permissions are per role set) and the data
// scope (nested edges are filtered by it). Viewers with the same key may
// share executed results (wsgraphql).
func shareKey(v *viewer.Viewer) string {
	roles := slices.Clone(v.Roles)
	slices.Sort(roles)
	scope := "all"
	if s := v.Scope; s != nil {
		depts := slices.Clone(s.DepartmentIDs)
		slices.Sort(depts)
		scope = fmt.Sprintf("staff %d departments %v", s.StaffID, depts)
	}
	return fmt.Sprintf("tenant %d roles %s scope %s", v.TenantID, strings.Join(roles, ","), scope)
}

// originChecker allows browsers from the configured origins ("*" allows
// any) and, with none configured, only pages served by this host.
// Requests without an Origin header are not from a browser page and are
// let through (they cannot be cross-site).
func originChecker(allowed []string) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		if len(allowed) == 0 {
			u, err := url.Parse(origin)
			return err == nil && strings.EqualFold(u.Host, r.Host)
		}
		return slices.Contains(allowed, "*") || slices.ContainsFunc(allowed, func(a string) bool {
			return strings.EqualFold(strings.TrimSuffix(a, "/"), origin)
		})
	}
}

type upgradeKey struct{}

// upgradeInfo is what the upgrade request said that connection_init may
// need: a header token and the peer's address.
type upgradeInfo struct{ token, peer string }

func upgradeToken(ctx context.Context) string {
	u, _ := ctx.Value(upgradeKey{}).(upgradeInfo)
	return u.token
}

func peerFrom(ctx context.Context) string {
	u, _ := ctx.Value(upgradeKey{}).(upgradeInfo)
	return u.peer
}

// isUpgrade reports whether r asks for a WebSocket: such requests
// authenticate in connection_init, not with a header.
func isUpgrade(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

func withUpgradeInfo(r *http.Request) *http.Request {
	token, _ := bearer(r.Header.Get("Authorization"))
	return r.WithContext(context.WithValue(r.Context(), upgradeKey{}, upgradeInfo{token: token, peer: clientIP(r)}))
}
