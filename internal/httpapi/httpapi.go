// Package httpapi assembles the product's HTTP surface: GraphQL over HTTP
// at /graphql (POST, batched POST and GET, as the GraphQL-over-HTTP spec
// has them), GraphiQL at /, and /healthz and /readyz for orchestrators.
// It owns the middleware every request passes (request id, access log
// with SQL statement count, panic recovery, body limit, authentication)
// but no GraphQL semantics: those come in through Options.Schema and
// Options.Configure.
package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/querylimit"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/sqlstats"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/wsgraphql"
)

// Check is one dependency /readyz verifies.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// Options configure the handler.
type Options struct {
	Schema graphql.ExecutableSchema
	// Configure installs resolver-side extensions (transactions, error
	// presentation) on the GraphQL server.
	Configure func(*handler.Server)
	Issuer    *auth.Issuer
	// Authorize completes each signed-in viewer (see Authorizer).
	Authorize Authorizer
	// Anonymous, when set, lets requests through without a token whose
	// document selects nothing but these mutations (the mini-program
	// sign-in); see Anonymous.
	Anonymous *Anonymous
	// SignInFailed records refused credentials (the audit trail).
	SignInFailed SignInFailed
	Logger       *slog.Logger
	MaxPageSize  int
	// MaxBatch caps the operations of one batched POST (a JSON array);
	// 10 when zero.
	MaxBatch int
	// MaxBodyBytes caps a request body; 1 MiB when zero.
	MaxBodyBytes int64
	GraphiQL     bool
	// AllowedOrigins are the browser origins allowed to open WebSockets
	// ("*" any); empty allows only pages of this host.
	AllowedOrigins []string
	// WebSockets, when set, is the GraphQL WebSocket server to use (New
	// configures its sign-in and origin check); keep it to close the
	// connections (1001) on shutdown.
	WebSockets *wsgraphql.Server
	// Draining, when closed, ends every server-sent event stream (without
	// complete, so clients resume elsewhere): the server is shutting down.
	Draining <-chan struct{}
	// Platforms, when set, serves the platforms' callbacks and pushes
	// under /connectors/.
	Platforms *Platforms
	// Surveys, when set, serves the satisfaction surveys of closed
	// tickets under /survey/.
	Surveys *Surveys
	// Limits caps what one operation may ask for (depth, cost, nodes,
	// aliases, …); zero fields take querylimit's defaults. MaxPageSize
	// overrides its page size.
	Limits querylimit.Config
	// Production turns introspection and field suggestions off for
	// partners and customers.
	Production bool
	// APIKeys verifies partners' API keys; without it only JWTs sign in.
	APIKeys KeyVerifier
	// RateLimits, when set, limits each caller's requests per minute.
	RateLimits *RateLimits
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed (client addresses for IP allowlists, audit and limits).
	TrustedProxies []netip.Prefix
	// RequestTimeout bounds the execution of one GraphQL request over
	// HTTP (not WebSockets or event streams); 30s when zero.
	RequestTimeout time.Duration
	// Persisted, when set, serves persisted operations (automatic
	// persisted queries, documentId, persisted-only callers) and lets
	// persisted GET queries be cached per @cacheControl.
	Persisted *persisted.Store
	// GraphiQLHeaders prefill GraphiQL's header editor (development only).
	GraphiQLHeaders map[string]string
	Ready           []Check
}

// New returns the product's HTTP handler.
func New(opts Options) http.Handler {
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.MaxPageSize == 0 {
		opts.MaxPageSize = 100
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 10
	}
	gql := newGraphQLServer(opts)

	mux := http.NewServeMux()
	var limits *rateLimits
	if opts.RateLimits != nil && opts.RateLimits.Limiter != nil {
		limits = &rateLimits{*opts.RateLimits}
	}
	mux.Handle("/graphql", limitBody(opts.MaxBodyBytes, authenticate(authn{
		issuer: opts.Issuer, keys: opts.APIKeys, authorize: opts.Authorize, anonymous: opts.Anonymous,
		failed: opts.SignInFailed, limits: limits, logger: opts.Logger,
	}, deadline(opts.RequestTimeout, gql))))
	if opts.Platforms != nil {
		if opts.Platforms.Logger == nil {
			opts.Platforms.Logger = opts.Logger
		}
		opts.Platforms.mount(mux)
	}
	if opts.Surveys != nil {
		if opts.Surveys.Logger == nil {
			opts.Surveys.Logger = opts.Logger
		}
		mux.Handle("/survey/", limitBody(16<<10, surveyMux(opts.Surveys)))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", readiness(opts.Ready))
	if opts.GraphiQL {
		mux.Handle("GET /{$}", playground.Handler("SCRM GraphQL", "/graphql",
			playground.WithGraphiqlUiHeaders(opts.GraphiQLHeaders),
			playground.WithGraphiqlEnablePluginExplorer(true),
		))
	}
	return requestid.Middleware(realClientIP(opts.TrustedProxies, accessLog(opts.Logger, recoverPanics(opts.Logger, mux))))
}

// deadline bounds a GraphQL request's execution: resolvers see the
// context end and stop, and the caller gets the partial result with
// TIMEOUT errors. Subscriptions (WebSockets, event streams) live long by
// design and are left alone.
func deadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func newGraphQLServer(opts Options) *handler.Server {
	srv := handler.New(opts.Schema)
	srv.AddTransport(websocketServer(opts))
	// Server-sent events (graphql-sse, distinct connections) for clients
	// that cannot open WebSockets; authenticated by the Authorization
	// header like any request.
	srv.AddTransport(sseTransport{KeepAlive: 15 * time.Second, Draining: opts.Draining})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	srv.AddTransport(postTransport{MaxBatch: opts.MaxBatch})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	// The limits come first: their document and variables checks must see
	// a request before the persisted-query extensions fill it in.
	limits := opts.Limits
	limits.MaxPageSize = opts.MaxPageSize
	querylimit.Install(srv, limits, func(ctx context.Context) bool {
		return !opts.Production || !isOutsider(viewer.FromContext(ctx))
	})
	if opts.Persisted != nil {
		for _, ext := range opts.Persisted.Extensions() { // in their order
			srv.Use(ext)
		}
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if rec := recordFrom(ctx); rec != nil {
			oc := graphql.GetOperationContext(ctx)
			rec.mu.Lock()
			rec.add(oc)
			rec.mu.Unlock()
		}
		return next(ctx)
	})
	if opts.Configure != nil {
		opts.Configure(srv)
	}
	return srv
}

func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE",
				fmt.Sprintf("the request body is larger than %d bytes", max))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		// Personal data must not be cached by browsers or proxies.
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func readiness(checks []Check) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		results := make(map[string]string, len(checks))
		ok := true
		for _, c := range checks {
			if err := c.Ping(ctx); err != nil {
				results[c.Name] = "unreachable"
				ok = false
				continue
			}
			results[c.Name] = "ok"
		}
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"ready": ok, "checks": results})
	}
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": message, "extensions": map[string]any{"code": code}}},
	})
}

// record collects what the access log reports about one request.
type record struct {
	mu        sync.Mutex
	operation string
	kind      string
	ops       int
}

// add notes an operation; the operations of a batch are listed in order.
func (r *record) add(oc *graphql.OperationContext) {
	kind := ""
	if oc.Operation != nil {
		kind = string(oc.Operation.Operation)
	}
	if r.ops > 0 {
		r.operation += ","
		r.kind += ","
	}
	r.operation += oc.OperationName
	r.kind += kind
	r.ops++
}

type recordKey struct{}

func recordFrom(ctx context.Context) *record {
	r, _ := ctx.Value(recordKey{}).(*record)
	return r
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends what is buffered (server-sent events stream through it).
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection to a WebSocket upgrade (gorilla asserts
// http.Hijacker directly rather than unwrapping).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// accessLog logs one line per request with its SQL statement count, the
// number that reveals N+1 patterns in production.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, counter := sqlstats.WithCounter(r.Context())
		rec := &record{}
		ctx = context.WithValue(ctx, recordKey{}, rec)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			return
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		logger.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", requestid.FromContext(ctx)),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.String("operation", rec.operation),
			slog.String("kind", rec.kind),
			slog.Int64("sql_statements", counter.Count()),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				id := requestid.FromContext(r.Context())
				logger.ErrorContext(r.Context(), "panic in HTTP handler", "request_id", id,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeError(w, http.StatusInternalServerError, "INTERNAL", "internal error; quote request id "+id+" when reporting it")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// isOutsider reports whether the caller is a partner or a customer rather
// than staff: in production they get no introspection or suggestions.
func isOutsider(v *viewer.Viewer) bool {
	return v == nil || v.APIKeyID != 0 || v.CustomerID != 0
}
