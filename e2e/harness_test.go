// Package e2e_test drives the real HTTP handler, with real queries and
// mutations, against the embedded SQLite default and against MariaDB.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/hibiken/asynq"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wechat/wechatfake"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/apikeys"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/customerauth"
	"github.com/scrm-dev/scrm/internal/demoplatforms"
	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/redisconn"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/sqlstats"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/webhooks"
	"github.com/scrm-dev/scrm/internal/wsgraphql"
	"github.com/scrm-dev/scrm/jobs"
	"github.com/scrm-dev/scrm/resolvers"
)

const testSecret = "e2e-test-secret-e2e-test-secret-0123456789"

// env is one running product: a seeded database behind the real handler.
type env struct {
	backend string
	st      *store.Store
	handler http.Handler
	iss     *auth.Issuer
	logs    *lockedBuffer
	az      *authz.Authorizer
	rdb     *redisconn.Conn
	sockets *wsgraphql.Server
	jobs    *jobs.Admin
	// platforms serves the platforms' callbacks; tests with fake
	// platforms set its SignIn.
	platforms *httpapi.Platforms
	// tickets is the workflow engine, its hooks installed on st.Client
	// (as serve and worker install them).
	tickets *tickets.Engine
	// wechat is the fake WeChat sign-in of tenant demo's seeded
	// mini-program (customers_test.go).
	wechat *wechatfake.Server
	// opts built handler; handlerFor builds another one over the same
	// backends (withResolverOptions).
	opts       resolvers.Options
	handlerFor func(resolvers.Options, ...func(*httpapi.Options)) http.Handler
	// keys verifies partners' API keys.
	keys *apikeys.Service
	// handlerWith builds one whose viewers are completed by authorize
	// (tests of viewers no sign-in makes yet: persisted-only callers),
	// with WebSockets of its own (New configures the server's sign-in).
	handlerWith func(resolvers.Options, httpapi.Authorizer) http.Handler
}

// publicURL is the server's address as platforms would reach it.
const publicURL = "https://scrm.example.com"

var (
	envsMu   sync.Mutex
	envs     = map[string]*env{}
	envErrs  = map[string]error{}
	cleanups []func()
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// seeded returns the package's shared demo environment on backend. Tests
// that write only add rows of their own, so sharing is safe.
func seeded(t *testing.T, backend string) *env {
	t.Helper()
	envsMu.Lock()
	defer envsMu.Unlock()
	if e, ok := envs[backend]; ok {
		return e
	}
	if err, ok := envErrs[backend]; ok {
		testenv.Check(t, err)
	}
	st, cleanup, err := testenv.NewStore(context.Background(), backend)
	if err == nil {
		cleanups = append(cleanups, cleanup)
		err = seed.Demo(context.Background(), st.Client, seed.Options{})
	}
	if err != nil {
		envErrs[backend] = err
		testenv.Check(t, err)
	}
	e := newEnv(t, backend, st)
	envs[backend] = e
	return e
}

// fresh returns an environment of its own (for tests that break it).
func fresh(t *testing.T, backend string) *env {
	t.Helper()
	st := testenv.OpenStore(t, backend)
	if err := seed.Demo(context.Background(), st.Client, seed.Options{}); err != nil {
		t.Fatal(err)
	}
	return newEnv(t, backend, st)
}

func newEnv(t testing.TB, backend string, st *store.Store) *env {
	iss, err := auth.NewIssuer(testSecret, "scrm")
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	az, err := authz.New(context.Background(), authz.Options{DB: st.DB, Driver: st.Driver(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	cleanups = append(cleanups, az.Close)
	rdb, err := redisconn.Open(context.Background(), "") // in-process: reveal limits
	if err != nil {
		t.Fatal(err)
	}
	cleanups = append(cleanups, func() { rdb.Close() })
	jobsAdmin := jobs.NewAdmin(rdb.Opt)
	cleanups = append(cleanups, jobsAdmin.Close)
	callbacks := asynq.NewClient(rdb.Opt)
	cleanups = append(cleanups, func() { callbacks.Close() })
	platforms := &httpapi.Platforms{Client: st.Client, Enqueuer: callbacks}
	// The ticket engine as serve wires it: hooks on the client (after
	// seeding, which loads its data around the engine), timers and
	// notifications queued on asynq (no worker runs them here).
	timers := jobs.TicketTimers{Enqueuer: callbacks}
	engine := tickets.New(tickets.Options{Client: st.Client, Redis: rdb.Client, Timers: timers, Notifier: timers,
		PublicURL: publicURL, Logger: logger})
	engine.Install(st.Client)
	keys := apikeys.New(apikeys.Options{Client: st.Client, Logger: logger, Redis: rdb.Client,
		Schema: graph.NewExecutableSchema(graph.Config{}).Schema()})
	cleanups = append(cleanups, keys.Close)
	wechat := wechatfake.New(wechatfake.Options{Apps: []wechatfake.App{{AppID: demoplatforms.MiniProgramAppID("demo"),
		Secret: demoplatforms.MiniProgramSecret, OpenPlatform: true}}})
	wechatSrv := httptest.NewServer(wechat)
	cleanups = append(cleanups, wechatSrv.Close)
	customers := customerauth.New(customerauth.Options{Client: st.Client, Issuer: iss, Logger: logger,
		Platforms: &connectoraccounts.Clients{Transport: transport.New(transport.Options{Logger: logger}), WechatBaseURL: wechatSrv.URL}})
	documents := persisted.New(persisted.Options{Client: st.Client, Schema: graph.NewExecutableSchema(graph.Config{}).Schema(),
		Redis: rdb.Client, Logger: logger})
	opts := resolvers.Options{Client: st.Client, Logger: logger, Authz: az, Redis: rdb.Client,
		Realtime: realtime.NewHub(rdb.Client, st.Client, logger), Jobs: jobsAdmin, PublicURL: publicURL, Tickets: engine,
		APIKeys: keys, Customers: customers, Documents: documents,
		Webhooks: webhooks.New(webhooks.Options{Client: st.Client, Logger: logger, Queue: jobs.WebhookQueue{Enqueuer: callbacks}, AllowInsecure: true})}
	sockets := &wsgraphql.Server{}
	cleanups = append(cleanups, func() { sockets.CloseAll(1001, "") })
	handlerFor := func(opts resolvers.Options, tune ...func(*httpapi.Options)) http.Handler {
		hopts := httpapi.Options{
			WebSockets:   sockets,
			Authorize:    az.Authorize(st.Client),
			Anonymous:    &httpapi.Anonymous{Mutations: authz.AnonymousMutations, Context: authz.Anonymous},
			SignInFailed: audit.SignInFailures(st.Client, logger),
			Schema:       resolvers.NewExecutableSchema(opts),
			Configure:    func(s *handler.Server) { resolvers.Configure(s, opts) },
			Issuer:       iss,
			Logger:       logger,
			MaxPageSize:  100,
			Ready:        []httpapi.Check{{Name: "database", Ping: st.Ping}},
			Platforms:    platforms,
			Surveys:      &httpapi.Surveys{Engine: engine, Logger: logger},
			APIKeys:      keys,
			Persisted:    opts.Documents,
		}
		for _, f := range tune {
			f(&hopts)
		}
		return httpapi.New(hopts)
	}
	handlerWith := func(opts resolvers.Options, authorize httpapi.Authorizer) http.Handler {
		return handlerFor(opts, func(o *httpapi.Options) { o.Authorize, o.WebSockets = authorize, &wsgraphql.Server{} })
	}
	return &env{backend: backend, st: st, handler: handlerFor(opts), iss: iss, logs: logs, az: az, rdb: rdb, sockets: sockets,
		jobs: jobsAdmin, opts: opts, handlerFor: handlerFor, handlerWith: handlerWith, platforms: platforms, tickets: engine, keys: keys, wechat: wechat}
}

// withResolverOptions returns a copy of e whose API is built with opts
// changed by tune (platform clients, a clock).
func (e *env) withResolverOptions(tune func(*resolvers.Options)) *env {
	c := *e
	opts := e.opts
	tune(&opts)
	c.opts, c.handler = opts, e.handlerFor(opts)
	return &c
}

// withHTTPOptions returns a copy of e whose HTTP layer is built with its
// options changed by tune (rate limits, trusted proxies).
func (e *env) withHTTPOptions(tune func(*httpapi.Options)) *env {
	c := *e
	c.handler = e.handlerFor(e.opts, tune)
	return &c
}

// forEachBackend runs f as a subtest per database backend.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	for _, b := range testenv.DatabaseBackends() {
		t.Run(b, func(t *testing.T) { f(t, seeded(t, b)) })
	}
}

func sys() context.Context { return viewer.System(context.Background()) }

func (e *env) tenantID(t *testing.T, slug string) int {
	t.Helper()
	id, err := e.st.Client.Tenant.Query().Where(tenant.Slug(slug)).OnlyID(sys())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// token signs in as a demo staff member.
func (e *env) token(t *testing.T, tenantSlug, login string) string {
	t.Helper()
	tid := e.tenantID(t, tenantSlug)
	s, err := e.st.Client.Staff.Query().Where(staff.TenantID(tid), staff.Login(login)).Only(sys())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.iss.Issue(auth.Staff{TenantID: tid, TenantSlug: tenantSlug, StaffID: s.ID, Roles: s.Roles}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (g gqlError) code() string  { s, _ := g.Extensions["code"].(string); return s }
func (g gqlError) field() string { s, _ := g.Extensions["field"].(string); return s }

type response struct {
	Status     int
	Header     http.Header
	Body       []byte
	Data       json.RawMessage `json:"data"`
	Errors     []gqlError      `json:"errors"`
	Statements int64
}

// decode unmarshals the data into v.
func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// ok fails the test if the response carries errors.
func (r *response) ok(t *testing.T) *response {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("status %d, errors: %s", r.Status, r.Body)
	}
	return r
}

// only returns the single error of the response.
func (r *response) only(t *testing.T) gqlError {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want one error, got %s", r.Body)
	}
	return r.Errors[0]
}

// post sends a GraphQL request as a client would.
func (e *env) post(t *testing.T, token, query string, vars map[string]any) *response {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.serve(t, req)
}

func (e *env) serve(t *testing.T, req *http.Request) *response {
	t.Helper()
	ctx, counter := sqlstats.WithCounter(req.Context())
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req.WithContext(ctx))
	r := &response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes(), Statements: counter.Count()}
	if strings.Contains(rec.Header().Get("Content-Type"), "json") {
		if err := json.Unmarshal(r.Body, r); err != nil {
			t.Fatalf("response is not JSON: %v: %s", err, r.Body)
		}
	}
	return r
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
