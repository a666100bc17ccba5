package syncbench_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/douyin/douyinfake"
	"github.com/scrm-dev/scrm/jobs"
)

// BenchmarkOrderBackfill measures the first order pull of a tenant's
// Douyin shops into MariaDB through the real path: a sync:account task per
// shop walks order.searchList and enqueues one shop:order task per change
// (real Redis, asynq); the worker's processors fetch each order's detail
// from the fake and store it with ordersync.Store (buyer resolution, the
// order and its lines, customer totals and the outbox event in one
// transaction), while the realtime relay numbers and publishes the events.
//
// SCRM_SYNCBENCH_ORDERS orders (100,000; 1000000 for the full backfill)
// are spread over SCRM_SYNCBENCH_SHOPS shops (10), generated over the 72
// hours a first pull reaches back. Our own per-shop platform budget (25
// order details a second: 1M orders of one shop take 11 h whatever the
// database does) is lifted unless SCRM_SYNCBENCH_BUDGET=1, so the figure
// is what the worker and database sustain. One op is one whole backfill.
//
// Reported: orders/s overall (first enqueue to the last order stored) and
// steady (between 10% and 90% stored), the pull walk's duration, and order
// detail fetches per order (more than 1 means retried tasks).
func BenchmarkOrderBackfill(b *testing.B) {
	n := envInt("SCRM_SYNCBENCH_ORDERS", 100_000)
	shops := envInt("SCRM_SYNCBENCH_SHOPS", 10)
	for range b.N {
		b.StopTimer()
		r := newRig(b, rigOptions{shops: shops, budget: os.Getenv("SCRM_SYNCBENCH_BUDGET") == "1"})
		now := time.Now()
		per := n / shops
		for i, f := range r.fakes {
			k := per
			if i == 0 {
				k = n - per*(shops-1)
			}
			f.Generate(int64(100+i), k, now.Add(-71*time.Hour), now.Add(-time.Minute))
		}
		before := r.countOrders(b)
		ctx := context.Background()
		b.StartTimer()
		start := time.Now()
		for _, a := range r.accounts {
			task, opts, err := jobs.NewSyncAccount(jobs.SyncAccount{TenantID: r.tenant, AccountID: a.ID,
				Kind: jobs.SyncOrders, Window: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := r.enq.EnqueueContext(ctx, task, opts...); err != nil {
				b.Fatal(err)
			}
		}
		type sample struct {
			at time.Duration
			n  int
		}
		var samples []sample
		walked := time.Duration(0)
		last, lastChange := 0, time.Now()
		every := envDuration("SCRM_SYNCBENCH_SAMPLE", time.Second)
		for {
			time.Sleep(every)
			got := r.countOrders(b) - before
			samples = append(samples, sample{time.Since(start), got})
			if walked == 0 && r.walked(b, start) {
				walked = time.Since(start)
			}
			if got != last {
				last, lastChange = got, time.Now()
				if len(samples)%30 == 0 {
					b.Logf("%s: %d/%d orders stored", time.Since(start).Round(time.Second), got, n)
				}
			}
			if got >= n {
				break
			}
			if time.Since(lastChange) > 2*time.Minute {
				b.Fatalf("stuck at %d/%d orders for 2 minutes", got, n)
			}
		}
		total := time.Since(start)
		b.StopTimer()
		at := func(frac float64) time.Duration {
			for _, s := range samples {
				if float64(s.n) >= frac*float64(n) {
					return s.at
				}
			}
			return total
		}
		lo, hi := at(0.1), at(0.9)
		steady := 0.0
		if hi > lo {
			steady = 0.8 * float64(n) / (hi - lo).Seconds()
		}
		details := 0
		for _, f := range r.fakes {
			details += f.Calls(douyinfake.MethodOrderDetail)
		}
		b.ReportMetric(float64(n), "orders")
		b.ReportMetric(float64(n)/total.Seconds(), "orders/s")
		b.ReportMetric(steady, "steady-orders/s")
		b.ReportMetric(walked.Seconds(), "walk-s")
		b.ReportMetric(total.Seconds(), "total-s")
		b.ReportMetric(float64(details)/float64(n), "fetches/order")
		b.Logf("%d orders over %d shops in %s: %.0f orders/s overall, %.0f/s steady (10%%→90%% in %s); pull walks done after %s",
			n, shops, total.Round(time.Millisecond), float64(n)/total.Seconds(), steady, (hi - lo).Round(time.Millisecond), walked.Round(time.Second))
		if n < 1_000_000 {
			b.Logf("at the steady rate 1,000,000 orders would take %s", time.Duration(float64(time.Second)*1e6/max(steady, 1)).Round(time.Second))
		}
	}
}

// walked reports whether every shop's pull walk has finished (its cursor
// was recorded after start).
func (r *rig) walked(b *testing.B, start time.Time) bool {
	b.Helper()
	for _, a := range r.accounts {
		acc, err := r.st.Client.ConnectorAccount.Get(viewerCtx(r), a.ID)
		if err != nil {
			b.Fatal(err)
		}
		if acc.LastSyncAt == nil || acc.LastSyncAt.Before(start) || acc.Cursors["orders"] == "" {
			return false
		}
	}
	return true
}
