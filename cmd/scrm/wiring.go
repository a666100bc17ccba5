package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/apikeys"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/config"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/customerauth"
	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/pii"
	"github.com/scrm-dev/scrm/internal/querylimit"
	"github.com/scrm-dev/scrm/internal/ratelimit"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/redisconn"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/wsgraphql"
	"github.com/scrm-dev/scrm/jobs"
	"github.com/scrm-dev/scrm/resolvers"
)

// openStore opens the database, with the keys its personal columns are
// encrypted with installed.
func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	if err := useKeyring(ctx, cfg); err != nil {
		return nil, err
	}
	return store.Open(ctx, cfg.DatabaseURL, store.Options{DataDir: cfg.DataDir, MaxOpenConns: cfg.DBMaxOpenConns})
}

// useKeyring installs the keyring personal data is encrypted with: the
// configured keys, or in development keys generated once in the data dir.
func useKeyring(ctx context.Context, cfg *config.Config) error {
	p, err := keyProvider(cfg)
	if err != nil {
		return err
	}
	kr, err := p.Keyring(ctx)
	if err != nil {
		return err
	}
	pii.Use(kr)
	return nil
}

// keyProvider is where the keys come from: configuration, or (development
// only, refused in production by config) keys generated once into the data
// dir. A KMS-backed pii.Provider would be chosen here.
func keyProvider(cfg *config.Config) (pii.Provider, error) {
	if cfg.PIIKeys != "" || cfg.PIIIndexKey != "" {
		kr, err := pii.ParseKeys(cfg.PIIKeys, cfg.PIIActiveKey, cfg.PIIIndexKey)
		if err != nil {
			return nil, fmt.Errorf("SCRM_PII_KEYS: %w", err)
		}
		return pii.StaticProvider{Ring: kr}, nil
	}
	kr, _, err := pii.DevKeyring(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("development PII keys: %w", err)
	}
	cfg.Logger().Warn("!!! personal data is encrypted with DEVELOPMENT keys from " + filepath.Join(cfg.DataDir, "pii-keys.json") +
		"; anyone with that file reads every phone and address. Set SCRM_PII_KEYS and SCRM_PII_INDEX_KEY " +
		"(from a secret store or KMS) before real customer data arrives")
	return pii.StaticProvider{Ring: kr}, nil
}

// readyStore opens the database with its schema current.
func readyStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := st.EnsureCurrent(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if _, err := authz.InstallMissingDefaults(ctx, st.Client); err != nil {
		st.Close()
		return nil, err
	}
	if _, err := tickets.InstallMissingDefaults(ctx, st.Client); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// openBackends opens the database and Redis that serve and worker share;
// closeAll closes both.
func openBackends(ctx context.Context, cfg *config.Config) (st *store.Store, rdb *redisconn.Conn, closeAll func(), err error) {
	if st, err = readyStore(ctx, cfg); err != nil {
		return nil, nil, nil, err
	}
	if rdb, err = redisconn.Open(ctx, cfg.RedisURL); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return st, rdb, func() { rdb.Close(); st.Close() }, nil
}

func issuer(cfg *config.Config) (*auth.Issuer, error) {
	secret := cfg.JWTSecret
	if secret == "" { // development only: config refuses this in production
		var err error
		if secret, err = auth.DevSecret(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("development JWT secret: %w", err)
		}
	}
	return auth.NewIssuer(secret, cfg.JWTIssuer)
}

func serve(ctx context.Context, cfg *config.Config) error {
	logger := cfg.Logger()
	st, rdb, closeAll, err := openBackends(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeAll()
	iss, err := issuer(cfg)
	if err != nil {
		return err
	}

	engine, stopEngine := ticketEngine(cfg, st, rdb, logger)
	defer stopEngine()
	defer startRelay(st, rdb, logger)()
	if cfg.RunWorker {
		stopWorker, err := startWorker(cfg, st, rdb, engine, logger)
		if err != nil {
			return err
		}
		defer stopWorker()
	}

	var graphiqlHeaders map[string]string
	if cfg.GraphiQL && cfg.Mode == config.Development {
		if tok, err := mintToken(ctx, st, iss, "demo", seed.Admin, cfg.TokenTTL); err == nil {
			graphiqlHeaders = map[string]string{"Authorization": "Bearer " + tok}
		}
	}
	az, err := authz.New(ctx, authz.Options{
		DB: st.DB, Driver: st.Driver(), Logger: logger,
		NewRedis: func() *redis.Client { return rdb.Opt.MakeRedisClient().(*redis.Client) },
	})
	if err != nil {
		return err
	}
	defer az.Close()
	jobsAdmin := jobs.NewAdmin(rdb.Opt)
	defer jobsAdmin.Close()
	callbackQueue := asynq.NewClient(rdb.Opt)
	defer callbackQueue.Close()
	keys := apikeys.New(apikeys.Options{Client: st.Client, Logger: logger, Redis: rdb.Client,
		Schema: graph.NewExecutableSchema(graph.Config{}).Schema()})
	defer keys.Close()
	documents := documentStore(st, rdb.Client, logger)
	opts := resolvers.Options{Client: st.Client, Logger: logger, Authz: az, Redis: rdb.Client, RevealsPerHour: cfg.RevealLimit,
		Realtime: realtime.NewHub(rdb.Client, st.Client, logger), Jobs: jobsAdmin, PublicURL: cfg.PublicURL,
		Platforms: platformClients(cfg, rdb, logger), Tickets: engine, APIKeys: keys, Documents: documents,
		Webhooks: newWebhooks(cfg, st, callbackQueue, logger),
		Customers: customerauth.New(customerauth.Options{Client: st.Client, Platforms: platformClients(cfg, rdb, logger),
			Issuer: iss, TTL: cfg.CustomerTokenTTL, Logger: logger})}
	sockets := &wsgraphql.Server{}
	draining := make(chan struct{})
	h := httpapi.New(httpapi.Options{
		WebSockets:      sockets,
		Draining:        draining,
		Authorize:       az.Authorize(st.Client),
		Anonymous:       &httpapi.Anonymous{Mutations: authz.AnonymousMutations, Context: authz.Anonymous},
		SignInFailed:    audit.SignInFailures(st.Client, logger),
		Schema:          resolvers.NewExecutableSchema(opts),
		Configure:       func(s *handler.Server) { resolvers.Configure(s, opts) },
		Issuer:          iss,
		Logger:          logger,
		MaxPageSize:     cfg.MaxPageSize,
		AllowedOrigins:  cfg.AllowedOrigins,
		GraphiQL:        cfg.GraphiQL,
		GraphiQLHeaders: graphiqlHeaders,
		Platforms: &httpapi.Platforms{Client: st.Client, Enqueuer: callbackQueue, Logger: logger,
			SignIn: &httpapi.SignIn{Clients: platformClients(cfg, rdb, logger), Issuer: iss, TokenTTL: cfg.TokenTTL,
				Redis: rdb.Client, PublicURL: cfg.PublicURL, AllowedRedirects: cfg.AllowedOrigins,
				Failed: audit.SignInFailures(st.Client, logger)}},
		Surveys:        &httpapi.Surveys{Engine: engine, Logger: logger},
		APIKeys:        keys,
		RateLimits:     rateLimits(cfg, rdb, logger),
		TrustedProxies: cfg.TrustedProxies,
		RequestTimeout: cfg.RequestTimeout,
		MaxBatch:       cfg.MaxBatch,
		Production:     cfg.Mode == config.Production,
		Limits: querylimit.Config{MaxDepth: cfg.MaxDepth, MaxCost: int64(cfg.MaxCost), MaxNodes: int64(cfg.MaxNodes),
			MaxAliases: cfg.MaxAliases, MaxRootFields: cfg.MaxRootFields,
			MaxDocumentBytes: cfg.MaxDocumentBytes, MaxVariablesBytes: cfg.MaxVariablesBytes},
		MaxBodyBytes: cfg.MaxBodyBytes,
		Persisted:    documents,
		Ready: []httpapi.Check{
			{Name: "database", Ping: st.Ping},
			{Name: "redis", Ping: rdb.Ping},
		},
	})
	srv := &http.Server{
		Addr:              cfg.HTTPAddr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, logger)
	}
	if cfg.MetricsAddr != "" {
		go serveMetrics(cfg.MetricsAddr, logger)
	}
	if cfg.GraphiQL {
		signedIn := "nobody: add an Authorization header with a token from `scrm token`"
		if graphiqlHeaders != nil {
			signedIn = "demo/admin"
		}
		logger.Info("GraphiQL", "url", "http://"+config.LocalAddr(cfg.HTTPAddr)+"/", "signed_in_as", signedIn)
	}
	logger.Info("scrm serving", "addr", cfg.HTTPAddr, "mode", cfg.Mode, "database", st.Location,
		"redis", rdb.Location, "worker", cfg.RunWorker, "graphiql", cfg.GraphiQL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	// Stop accepting at once; then end the live streams, which would
	// never finish by themselves: Shutdown waits for event streams and
	// does not see hijacked WebSockets at all. Their clients reconnect to
	// another replica with their last cursor.
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(shutdownCtx) }()
	close(draining)
	if n := sockets.CloseAll(1001, "server shutting down; reconnect"); n > 0 {
		logger.Info("closed websockets", "count", n)
	}
	return <-done
}

func worker(ctx context.Context, cfg *config.Config) error {
	if cfg.RedisURL == "" {
		return errors.New("worker: set SCRM_REDIS_URL; with the in-process Redis of the embedded default, `scrm serve` runs the worker itself")
	}
	logger := cfg.Logger()
	st, rdb, closeAll, err := openBackends(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeAll()
	engine, stopEngine := ticketEngine(cfg, st, rdb, logger)
	defer stopEngine()
	stopWorker, err := startWorker(cfg, st, rdb, engine, logger)
	if err != nil {
		return err
	}
	defer startRelay(st, rdb, logger)()
	if cfg.MetricsAddr != "" {
		go serveMetrics(cfg.MetricsAddr, logger)
	}
	logger.Info("scrm worker running", "database", st.Location, "redis", rdb.Location, "concurrency", cfg.WorkerConcurrency)
	<-ctx.Done()
	stopWorker()
	return nil
}

// startRelay numbers and publishes committed events (internal/realtime)
// until the returned function is called. Every serve and worker process
// runs one: they take turns per tenant, and the nearest answers a kick.
func startRelay(st *store.Store, rdb *redisconn.Conn, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		realtime.NewRelay(st.Client, rdb.Client, logger).Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// startWorker runs the job handlers and scheduler until the returned
// function is called.
func startWorker(cfg *config.Config, st *store.Store, rdb *redisconn.Conn, engine *tickets.Engine, logger *slog.Logger) (stop func(), err error) {
	enq := asynq.NewClient(rdb.Opt)
	w, err := jobs.NewWorker(jobs.WorkerOptions{
		Redis: rdb.Opt, Concurrency: cfg.WorkerConcurrency, Logger: logger,
		// An idle worker looks for new tasks every 100 ms (asynq's 1 s
		// default would add up to a second to every pushed order).
		PollInterval: 100 * time.Millisecond,
		Deps: jobs.Deps{Client: st.Client, Enqueuer: enq, EventRetention: cfg.EventRetention,
			Clients: platformClients(cfg, rdb, logger), Redis: rdb.Client, Logger: logger, Tickets: engine,
			Webhooks: newWebhooks(cfg, st, enq, logger)},
	})
	if err == nil {
		err = w.Start()
	}
	if err != nil {
		enq.Close()
		return nil, err
	}
	return func() { w.Shutdown(); enq.Close() }, nil
}

func migrate(ctx context.Context, cfg *config.Config, out io.Writer) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "schema up to date:", st.Location)
	if n, err := authz.InstallMissingDefaults(ctx, st.Client); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(out, "installed the default policies of %d tenants that had none\n", n)
	}
	if n, err := tickets.InstallMissingDefaults(ctx, st.Client); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(out, "installed the default ticket types and SLA policies of %d tenants that had none\n", n)
	}
	return nil
}

func seedDemo(ctx context.Context, cfg *config.Config, out io.Writer, customers, orders int, ifEmpty bool) error {
	st, err := readyStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	err = seed.Demo(ctx, st.Client, seed.Options{Customers: customers, Orders: orders, Logger: cfg.Logger()})
	if errors.Is(err, seed.ErrAlreadySeeded) && ifEmpty {
		fmt.Fprintln(out, "demo data present:", st.Location)
		return nil
	}
	if err != nil {
		return err
	}
	if err := st.Analyze(ctx); err != nil {
		return fmt.Errorf("refresh table statistics: %w", err)
	}
	fmt.Fprintf(out, "seeded tenants demo and acme in %s: %s\n", time.Since(start).Round(time.Millisecond), st.Location)
	fmt.Fprintf(out, "sign in with a token from `%s token --tenant demo --user agent1`\n", os.Args[0])
	return nil
}

func printToken(ctx context.Context, cfg *config.Config, out io.Writer, tenantSlug, login string, ttl time.Duration) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	iss, err := issuer(cfg)
	if err != nil {
		return err
	}
	tok, err := mintToken(ctx, st, iss, tenantSlug, login, ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, tok)
	return nil
}

// mintToken signs a token for an existing, active staff member.
func mintToken(ctx context.Context, st *store.Store, iss *auth.Issuer, tenantSlug, login string, ttl time.Duration) (string, error) {
	ctx = viewer.System(ctx)
	t, err := st.Client.Tenant.Query().Where(tenant.Slug(tenantSlug)).Only(ctx)
	if ent.IsNotFound(err) {
		return "", fmt.Errorf("no tenant %q (seed the demo with `scrm seed --demo`)", tenantSlug)
	} else if err != nil {
		return "", err
	}
	s, err := st.Client.Staff.Query().Where(staff.TenantID(t.ID), staff.Login(login)).Only(ctx)
	if ent.IsNotFound(err) {
		return "", fmt.Errorf("no staff member %q in tenant %q", login, tenantSlug)
	} else if err != nil {
		return "", err
	}
	if s.Status != staff.StatusActive {
		return "", fmt.Errorf("staff member %q has resigned", login)
	}
	return iss.Issue(auth.Staff{TenantID: t.ID, TenantSlug: t.Slug, StaffID: s.ID, Roles: s.Roles}, ttl)
}

// rotateKeys re-encrypts personal data under the active key.
func rotateKeys(ctx context.Context, cfg *config.Config, out io.Writer, batch int) error {
	st, err := readyStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	kr, err := pii.Current()
	if err != nil {
		return err
	}
	r, err := st.RotateKeys(ctx, kr, batch, func(table string, rows int) {
		fmt.Fprintf(out, "%s: %d rows re-encrypted\n", table, rows)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "done: %d values in %d rows are now under key %s; %d phones indexed, %d phone identities blinded\n",
		r.Values, r.Rows, kr.ActiveKeyID(), r.Indexed, r.Identities)
	return nil
}

// servePprof serves Go's profiler on its own listener, away from the API.
func servePprof(addr string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	logger.Info("profiler", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		logger.Warn("profiler stopped", "err", err)
	}
}

// serveMetrics serves Prometheus metrics (the default registry: Go
// runtime, process and platform calls) on their own address.
func serveMetrics(addr string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler())
	logger.Info("metrics", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		logger.Warn("metrics stopped", "err", err)
	}
}

// platformClients builds connector accounts' clients: one transport
// (shared limits in Redis, metrics in the default registry) and one
// token cache for every account.
func platformClients(cfg *config.Config, rdb *redisconn.Conn, logger *slog.Logger) *connectoraccounts.Clients {
	return &connectoraccounts.Clients{
		Transport:     transport.New(transport.Options{Redis: rdb.Client, Metrics: prometheus.DefaultRegisterer, Logger: logger}),
		Tokens:        tokens.New(rdb.Client, "scrm:token:"),
		WecomBaseURL:  cfg.WecomBaseURL,
		TaobaoBaseURL: cfg.TaobaoBaseURL,
		DouyinBaseURL: cfg.DouyinBaseURL,
		WechatBaseURL: cfg.WechatBaseURL,
	}
}

// documentStore keeps trusted documents (validated against the API's
// schema) and automatic persisted queries (in Redis, shared by replicas).
func documentStore(st *store.Store, rdb redis.UniversalClient, logger *slog.Logger) *persisted.Store {
	return persisted.New(persisted.Options{Client: st.Client, Schema: graph.NewExecutableSchema(graph.Config{}).Schema(),
		Redis: rdb, Logger: logger})
}

// ticketEngine builds the ticket workflow engine and installs its hooks on
// the client, so every ticket the process opens (GraphQL, order returns,
// forms) is typed, timed and routed. Its timers and notifications go
// through asynq.
func ticketEngine(cfg *config.Config, st *store.Store, rdb *redisconn.Conn, logger *slog.Logger) (*tickets.Engine, func()) {
	enq := asynq.NewClient(rdb.Opt)
	timers := jobs.TicketTimers{Enqueuer: enq}
	e := tickets.New(tickets.Options{Client: st.Client, Redis: rdb.Client, Timers: timers, Notifier: timers,
		PublicURL: cfg.PublicURL, Logger: logger})
	e.Install(st.Client)
	return e, func() { enq.Close() }
}

// rateLimits are the per-caller request limits: buckets in Redis shared by
// the replicas, or in memory with the embedded Redis (a single process,
// whose in-process Redis runs scripts slowly).
func rateLimits(cfg *config.Config, rdb *redisconn.Conn, logger *slog.Logger) *httpapi.RateLimits {
	var limiter ratelimit.RequestLimiter = ratelimit.Requests{Bucket: ratelimit.NewBucket(rdb.Client, "scrm:rl")}
	if rdb.Embedded {
		limiter = ratelimit.NewLocal()
	}
	return &httpapi.RateLimits{Limiter: limiter, Staff: cfg.RateLimitStaff, Customer: cfg.RateLimitCustomer,
		Partner: cfg.RateLimitPartner, Logger: logger}
}
