package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/jobs"
)

// TestScheduledPullsAreOnePerSlot runs the pull fan-out as the schedulers
// of three workers would in the same minute: each active account's pulls
// are enqueued once; the next slot enqueues them again.
func TestScheduledPullsAreOnePerSlot(t *testing.T) {
	for _, db := range testenv.DatabaseBackends() {
		t.Run(db, func(t *testing.T) {
			st := testenv.OpenStore(t, db)
			rdb := testenv.OpenRedis(t, testenv.EmbeddedRedis, redisDB)
			ctx := context.Background()
			if err := seed.Demo(ctx, st.Client, seed.Options{Customers: 20, Orders: 20}); err != nil {
				t.Fatal(err)
			}
			enq := asynq.NewClient(rdb.Opt)
			defer enq.Close()
			in := asynq.NewInspector(rdb.Opt)
			defer in.Close()
			at := time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC)
			mux := jobs.Mux(jobs.Deps{Client: st.Client, Enqueuer: enq, Now: func() time.Time { return at }, Logger: slog.New(slog.DiscardHandler)})
			fanOut := func() {
				for range 3 { // three workers' schedulers
					if err := mux.ProcessTask(ctx, asynq.NewTask(jobs.TypeSchedulePulls, nil)); err != nil {
						t.Fatal(err)
					}
				}
			}
			pending := func() map[string]int {
				tasks, err := in.ListPendingTasks(jobs.QueueSync, asynq.PageSize(100))
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]int{}
				for _, task := range tasks {
					out[task.ID]++
				}
				return out
			}
			fanOut()
			first := pending()
			// Demo's WeCom corp (organisation, customers), Taobao and Douyin
			// shops are active; acme's accounts are paused.
			if len(first) != 4 {
				t.Fatalf("after three schedulers: %d pull tasks %v, want 4", len(first), first)
			}
			at = at.Add(5 * time.Minute) // the next order slot; org and customers are not due
			fanOut()
			if n := len(pending()); n != 6 {
				t.Fatalf("after the next slot: %d pull tasks, want 6 (two new order pulls)", n)
			}
		})
	}
}
