package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/jobs"
)

// redisDB is this package's database on a shared test Redis.
const redisDB = 10

func totals(t *testing.T, st *store.Store, slug string) (spend int64) {
	t.Helper()
	ctx := viewer.System(context.Background())
	for _, c := range st.Client.Customer.Query().Where(customer.HasTenantWith(tenant.Slug(slug))).AllX(ctx) {
		spend += c.TotalSpend
	}
	return spend
}

func TestWorkerRepairsCustomerTotals(t *testing.T) {
	for _, db := range testenv.DatabaseBackends() {
		for _, rb := range testenv.RedisBackends() {
			t.Run(db+"/"+rb, func(t *testing.T) {
				st := testenv.OpenStore(t, db)
				rdb := testenv.OpenRedis(t, rb, redisDB)
				ctx := context.Background()
				if err := seed.Demo(ctx, st.Client, seed.Options{}); err != nil {
					t.Fatal(err)
				}
				want := map[string]int64{"demo": totals(t, st, "demo"), "acme": totals(t, st, "acme")}
				if want["demo"] == 0 || want["acme"] == 0 {
					t.Fatal("the demo data has no spend; the test would prove nothing")
				}
				// Lose the totals, as a bulk import would.
				if _, err := st.DB.ExecContext(ctx, "UPDATE customers SET total_spend = 0, order_count = 0"); err != nil {
					t.Fatal(err)
				}

				enq := asynq.NewClient(rdb.Opt)
				defer enq.Close()
				logger := slog.New(slog.DiscardHandler)
				w, err := jobs.NewWorker(jobs.WorkerOptions{Redis: rdb.Opt, Concurrency: 2, Logger: logger, PollInterval: 50 * time.Millisecond,
					Deps: jobs.Deps{Client: st.Client, Enqueuer: enq}})
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Start(); err != nil {
					t.Fatal(err)
				}
				defer w.Shutdown()

				demoID := st.Client.Tenant.Query().Where(tenant.Slug("demo")).OnlyIDX(viewer.System(ctx))
				task, err := jobs.NewRecomputeCustomerTotals(demoID, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := enq.Enqueue(task); err != nil {
					t.Fatal(err)
				}
				if _, err := enq.Enqueue(task); !errors.Is(err, asynq.ErrTaskIDConflict) {
					t.Errorf("a second request for the same tenant and hour: %v, want a task id conflict", err)
				}
				waitFor(t, func() bool { return totals(t, st, "demo") == want["demo"] })
				if got := totals(t, st, "acme"); got != 0 {
					t.Fatalf("a job for demo touched acme: spend %d", got)
				}

				if _, err := enq.Enqueue(asynq.NewTask(jobs.TypeReconcileAllTenants, nil, asynq.Queue(jobs.QueueBulk))); err != nil {
					t.Fatal(err)
				}
				waitFor(t, func() bool { return totals(t, st, "acme") == want["acme"] })
			})
		}
	}
}

func TestBadPayloadIsNotRetried(t *testing.T) {
	mux := jobs.Mux(jobs.Deps{})
	err := mux.ProcessTask(context.Background(), asynq.NewTask(jobs.TypeRecomputeCustomerTotals, []byte(`{"tenant_id":0}`)))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("got %v, want SkipRetry", err)
	}
}

// waitFor polls until cond holds; background work has no other signal.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("condition not met within 30s"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
