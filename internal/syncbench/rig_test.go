package syncbench_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hibiken/asynq"

	_ "github.com/scrm-dev/scrm/authz" // registers the default policies new tenants get
	"github.com/scrm-dev/scrm/connectors/douyin/douyinfake"
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/redisconn"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/jobs"
)

// Knobs, from the environment (make bench-sync passes them through).
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}

// The demo Douyin app's credentials (internal/demoplatforms); extra shops
// get app keys of their own so the router below can tell them apart.
const (
	demoAppKey    = "7000000000000000001"
	demoAppSecret = "demo-douyin-app-secret"
	demoShopID    = 4463798
)

// rig is one product deployment as production wires it, minus the HTTP
// server: a migrated MariaDB database with the demo tenants, a Redis
// database of the bench's own (3 unless SCRM_SYNCBENCH_REDIS_DB), the
// platform clients pointed at Douyin fakes, the realtime relay, and a
// worker (jobs.NewWorker) of SCRM_WORKER_CONCURRENCY (10, the production
// default) processors.
type rig struct {
	st       *store.Store
	rdb      *redisconn.Conn
	tenant   int
	logger   *slog.Logger
	enq      *asynq.Client
	clients  *connectoraccounts.Clients
	fakeTS   *httptest.Server
	accounts []*ent.ConnectorAccount
	fakes    []*douyinfake.Server // by account
	hub      *realtime.Hub
}

type rigOptions struct {
	shops int
	// budget keeps our own per-account platform call budgets (25 order
	// details a second per shop); off, the transport runs without them.
	budget bool
	// poll is the worker's TaskCheckInterval; 0 is asynq's default (1s),
	// which is what `scrm serve` and `scrm worker` run with.
	poll time.Duration
}

func newRig(b *testing.B, o rigOptions) *rig {
	b.Helper()
	ctx := context.Background()
	logs := io.Discard
	if os.Getenv("SCRM_SYNCBENCH_LOG") != "" {
		logs = os.Stderr
	}
	r := &rig{logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	r.st = openDatabase(b)
	testenv.UseTestKeyring()
	if err := seed.Demo(ctx, r.st.Client, seed.Options{Logger: r.logger}); err != nil {
		b.Fatal(err)
	}
	r.tenant = r.st.Client.Tenant.Query().Where(tenant.Slug("demo")).OnlyIDX(viewer.System(ctx))
	tctx := viewer.ForTenant(ctx, r.tenant)

	r.rdb = testenv.OpenRedis(b, testenv.RealRedis, envInt("SCRM_SYNCBENCH_REDIS_DB", 3))
	r.enq = asynq.NewClient(r.rdb.Opt)
	b.Cleanup(func() { r.enq.Close() })

	// Only the bench's shops are pulled: the demo WeCom and Taobao
	// accounts are paused, so the scheduler leaves them alone.
	all := r.st.Client.ConnectorAccount.Query().Where(connectoraccount.TenantID(r.tenant)).AllX(tctx)
	paused := connectoraccount.StatusPaused
	for _, a := range all {
		switch {
		case a.Platform == connectoraccount.PlatformDouyin && a.AppKey == demoAppKey:
			r.accounts = append(r.accounts, a)
		default:
			if _, err := connectoraccounts.Update(tctx, r.st.Client, a.ID, connectoraccounts.UpdateInput{Status: &paused}); err != nil {
				b.Fatal(err)
			}
		}
	}
	if len(r.accounts) != 1 {
		b.Fatalf("the demo tenant has %d demo Douyin accounts, want 1", len(r.accounts))
	}
	for i := 1; i < o.shops; i++ {
		key, shop, secret := fmt.Sprintf("71000000000000%05d", i), strconv.Itoa(demoShopID+i), demoAppSecret
		a, err := connectoraccounts.Create(tctx, r.st.Client, connectoraccounts.CreateInput{
			Platform: connectoraccount.PlatformDouyin, Name: "抖音小店 " + strconv.Itoa(i+1),
			ShopID: &shop, AppKey: &key, AppSecret: &secret})
		if err != nil {
			b.Fatal(err)
		}
		r.accounts = append(r.accounts, a)
	}
	pushClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	byKey := map[string]*douyinfake.Server{}
	for _, a := range r.accounts {
		shop, _ := strconv.ParseInt(a.ExternalID, 10, 64)
		f := douyinfake.New(douyinfake.Options{AppKey: a.AppKey, AppSecret: demoAppSecret, ShopID: shop,
			ShopName: a.Name, HTTPClient: pushClient})
		r.fakes = append(r.fakes, f)
		byKey[a.AppKey] = f
	}
	// One address for every shop's fake: requests carry their app key.
	r.fakeTS = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		f := byKey[req.URL.Query().Get("app_key")]
		if f == nil {
			http.NotFound(w, req)
			return
		}
		f.ServeHTTP(w, req)
	}))
	b.Cleanup(r.fakeTS.Close)

	topts := transport.Options{Prefix: "bench:conn:", Logger: r.logger}
	if o.budget {
		topts.Redis = r.rdb.Client
	}
	r.clients = &connectoraccounts.Clients{
		Transport:     transport.New(topts),
		Tokens:        tokens.New(r.rdb.Client, "bench:token:"),
		DouyinBaseURL: r.fakeTS.URL,
		// Never the real platforms.
		WecomBaseURL: r.fakeTS.URL, TaobaoBaseURL: r.fakeTS.URL,
	}

	rctx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); realtime.NewRelay(r.st.Client, r.rdb.Client, r.logger).Run(rctx) }()
	b.Cleanup(func() { stopRelay(); <-relayDone })
	r.hub = realtime.NewHub(r.rdb.Client, r.st.Client, r.logger)

	w, err := jobs.NewWorker(jobs.WorkerOptions{Redis: r.rdb.Opt, Concurrency: envInt("SCRM_WORKER_CONCURRENCY", 10),
		Logger: r.logger, PollInterval: o.poll,
		Deps: jobs.Deps{Client: r.st.Client, Enqueuer: r.enq, Clients: r.clients, Redis: r.rdb.Client, Logger: r.logger}})
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Shutdown)
	return r
}

// openDatabase creates the MariaDB database scrm_syncbench (dropped when
// the bench ends unless SCRM_SYNCBENCH_KEEP_DB=1) with the connection
// pool of production (SCRM_DB_MAX_OPEN_CONNS, 25).
func openDatabase(b *testing.B) *store.Store {
	b.Helper()
	ctx := context.Background()
	cfg, err := mysql.ParseDSN(strings.TrimPrefix(testenv.MySQLServerURL(), "mysql://"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		b.Fatal(err)
	}
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		b.Skipf("MariaDB at %s unreachable: %v", cfg.Addr, err)
	}
	name := "scrm_syncbench"
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		b.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		b.Fatal(err)
	}
	db := cfg.Clone()
	db.DBName = name
	db.ParseTime = true
	st, err := store.Open(ctx, "mysql://"+db.FormatDSN(), store.Options{MaxOpenConns: envInt("SCRM_DB_MAX_OPEN_CONNS", 25)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		st.Close()
		if os.Getenv("SCRM_SYNCBENCH_KEEP_DB") != "1" {
			_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name)
		}
		admin.Close()
	})
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return st
}

// countOrders counts the tenant's orders of the bench's shops.
func (r *rig) countOrders(b *testing.B) int {
	b.Helper()
	shops := make([]any, len(r.accounts))
	for i, a := range r.accounts {
		shops[i] = a.ExternalID
	}
	var n int
	q := "SELECT COUNT(*) FROM orders WHERE tenant_id = ? AND platform = 'DOUYIN' AND shop_id IN (" +
		strings.TrimSuffix(strings.Repeat("?,", len(shops)), ",") + ")"
	if err := r.st.DB.QueryRowContext(context.Background(), q, append([]any{r.tenant}, shops...)...).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// latencies collects durations from several goroutines.
type latencies struct {
	mu sync.Mutex
	ds []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.ds = append(l.ds, d)
	l.mu.Unlock()
}

// quantile of sorted ds.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*q))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sortedCopy(ds []time.Duration) []time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s
}

func viewerCtx(r *rig) context.Context { return viewer.ForTenant(context.Background(), r.tenant) }
