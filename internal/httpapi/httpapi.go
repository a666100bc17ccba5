// Package httpapi assembles the product's HTTP surface: GraphQL over HTTP
// at /graphql (POST and GET, application/graphql-response+json), GraphiQL
// at /, and /healthz and /readyz for orchestrators. It owns the middleware
// every request passes (request id, access log with SQL statement count,
// panic recovery, body limit, authentication) but no GraphQL semantics:
// those come in through Options.Schema and Options.Configure.
package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/querylimit"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/sqlstats"
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
	// SignInFailed records refused credentials (the audit trail).
	SignInFailed SignInFailed
	Logger       *slog.Logger
	MaxPageSize  int
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
	gql := newGraphQLServer(opts)

	mux := http.NewServeMux()
	mux.Handle("/graphql", limitBody(opts.MaxBodyBytes, authenticate(opts.Issuer, opts.Authorize, opts.SignInFailed, opts.Logger, gql)))
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
	return requestid.Middleware(accessLog(opts.Logger, recoverPanics(opts.Logger, mux)))
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
	srv.AddTransport(transport.POST{UseGrapQLResponseJsonByDefault: true})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if opts.Persisted != nil {
		for _, ext := range opts.Persisted.Extensions() { // in their order
			srv.Use(ext)
		}
	}
	srv.Use(extension.Introspection{})
	srv.Use(querylimit.PageSize{Max: opts.MaxPageSize})
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if rec := recordFrom(ctx); rec != nil {
			oc := graphql.GetOperationContext(ctx)
			rec.mu.Lock()
			rec.operation = oc.OperationName
			if oc.Operation != nil {
				rec.kind = string(oc.Operation.Operation)
			}
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
