package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/gorillaws"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// WebSocket close codes of the GraphQL WebSocket protocols for a refused
// connection_init.
const (
	closeUnauthorized = 4401 // no token, or one that does not verify
	closeForbidden    = 4403 // a valid token whose staff member may no longer sign in
)

// websocketTransport serves GraphQL over WebSocket (graphql-transport-ws
// and the legacy graphql-ws) on gorilla/websocket. Browsers cannot set
// headers on an upgrade, so the token travels in connection_init's
// payload ({"authorization": "Bearer …"} or {"token": "…"}); a non-browser
// client may send the Authorization header instead. The connection lives
// no longer than its token.
func websocketTransport(opts Options) transport.Websocket {
	return transport.Websocket{
		Implementation: gorillaws.Implementation{CheckOrigin: originChecker(opts.AllowedOrigins), Registry: opts.WebSockets},
		InitTimeout:    10 * time.Second,
		// graphql-ws (legacy): a "ka" every 15s. graphql-transport-ws: a
		// ping every 15s, and a client that has not answered with pong
		// within two intervals is gone (a phone that lost its network
		// leaves a half-open socket that would otherwise be held forever).
		KeepAlivePingInterval: 15 * time.Second,
		PingPongInterval:      15 * time.Second,
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			token, ok := bearer(p.Authorization())
			if !ok {
				token = strings.TrimSpace(p.GetString("token"))
			}
			if token == "" {
				token = upgradeToken(ctx)
			}
			refuse := func(code int, reason string) (context.Context, *transport.InitPayload, error) {
				ctx = transport.WithWebsocketCloseCode(ctx, code)
				return transport.AppendCloseReason(ctx, reason), nil, errors.New(reason)
			}
			if token == "" {
				return refuse(closeUnauthorized, "unauthorized: send the token in connection_init as authorization: Bearer <token>")
			}
			v, expires, err := opts.Issuer.Verify(token)
			if err != nil {
				reason := "unauthorized: the token is not valid: " + strings.TrimPrefix(err.Error(), auth.ErrInvalidToken.Error()+": ")
				if opts.SignInFailed != nil {
					opts.SignInFailed(ctx, auth.ClaimedTenant(token), peerFrom(ctx), reason)
				}
				return refuse(closeUnauthorized, reason)
			}
			ctx = viewer.NewContext(ctx, v)
			if opts.Authorize != nil {
				actx, err := opts.Authorize(ctx, v)
				if e, ok := apperr.As(err); ok && e.Code == apperr.CodeUnauthenticated {
					if opts.SignInFailed != nil {
						opts.SignInFailed(ctx, v.TenantID, peerFrom(ctx), e.Message)
					}
					return refuse(closeForbidden, "forbidden: "+e.Message)
				}
				if err != nil {
					opts.Logger.ErrorContext(ctx, "authorize websocket", "request_id", requestid.FromContext(ctx), "err", err)
					return refuse(websocket.CloseInternalServerErr, "internal error; quote request id "+requestid.FromContext(ctx))
				}
				ctx = actx
			}
			if nv := viewer.FromContext(ctx); nv != nil {
				ctx = audit.NewContext(ctx, &audit.Recorder{
					ActorID: nv.StaffID, Roles: nv.Roles, ClientIP: peerFrom(ctx), RequestID: requestid.FromContext(ctx),
				})
			}
			// The connection ends with its token: gqlgen closes it when
			// this context is done, telling the client why first.
			ctx, cancel := context.WithDeadline(ctx, expires)
			ctx = context.WithValue(ctx, cancelKey{}, cancel)
			ctx = transport.AppendCloseReason(ctx, "the token has expired; reconnect with a fresh one")
			return ctx, nil, nil
		},
		CloseFunc: func(ctx context.Context, _ int) {
			if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
				cancel()
			}
		},
	}
}

type cancelKey struct{}

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

// It also makes the connection reachable from its operations, so that a
// subscriber too slow to keep up can be disconnected as a whole.
func withUpgradeInfo(r *http.Request) *http.Request {
	token, _ := bearer(r.Header.Get("Authorization"))
	ctx := context.WithValue(r.Context(), upgradeKey{}, upgradeInfo{token: token, peer: clientIP(r)})
	ctx = gorillaws.WithConnection(ctx)
	ctx = realtime.WithDisconnect(ctx, func(reason string) {
		gorillaws.CloseConnection(ctx, realtime.CloseTooSlow, reason)
	})
	return r.WithContext(ctx)
}
