package syncbench_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/connectors/douyin/douyinfake"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/ordersync"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/jobs"
	"github.com/scrm-dev/scrm/resolvers"
)

// BenchmarkPushToEvent measures the product's core promise: a Douyin push
// received → the order event on a subscriber, at SCRM_SYNCBENCH_RATE
// pushes a second (200) for SCRM_SYNCBENCH_SECONDS (30).
//
// Each push is a signed POST (the fake's SendPush) of one order change to
// the real handler (httpapi.New as `scrm serve` builds it) over HTTP; the
// handler checks the signature and enqueues a shop:order task in Redis;
// the worker fetches the order from the fake and stores it
// (ordersync.Store: order, customer totals and outbox event in one
// transaction); the relay numbers and publishes the event; a Hub delivers
// it to a subscriber made with realtime.Subscribe, as the GraphQL
// subscriptions are. Half the pushes are new orders, half changes of
// orders stored before the run.
//
// Latency is from just before the POST is sent to the subscriber's
// receipt of the order's event. The worker polls for tasks every
// SCRM_SYNCBENCH_POLL when idle (100ms, as `scrm serve` and `scrm worker`
// run; 0 is asynq's default of 1s).
func BenchmarkPushToEvent(b *testing.B) {
	rate := envInt("SCRM_SYNCBENCH_RATE", 200)
	seconds := envInt("SCRM_SYNCBENCH_SECONDS", 30)
	pushes := rate * seconds
	poll := envDuration("SCRM_SYNCBENCH_POLL", 100*time.Millisecond)
	for range b.N {
		b.StopTimer()
		r := newRig(b, rigOptions{shops: 1, poll: poll})
		f := r.fakes[0]
		acc := r.accounts[0]
		now := time.Now()
		f.Generate(11, pushes, now.Add(-24*time.Hour), now.Add(-time.Hour))
		ids := f.OrderIDs()
		r.preload(b, ids, 2)
		// As after an earlier pull: the scheduled pull reaches back 10
		// minutes, not to the preloaded orders.
		if err := connectoraccounts.Record(viewerCtx(r), r.st.Client, acc.ID, time.Now(),
			connectoraccounts.Outcome{Stream: "orders", Cursor: time.Now().UTC().Format(time.RFC3339)}); err != nil {
			b.Fatal(err)
		}
		push := r.serve(b) + "/connectors/douyin/" + acc.CallbackKey + "/push"

		ctx, cancel := context.WithCancel(context.Background())
		type receipt struct {
			subject int
			at      time.Time
		}
		var (
			mu       sync.Mutex
			received []receipt
		)
		events, err := realtime.Subscribe(ctx, r.hub, r.tenant, -1, func(m *realtime.Message) (*realtime.Message, error) {
			if m.Topic != "ORDER" {
				return nil, nil
			}
			return m, nil
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for m := range events {
				at := time.Now()
				mu.Lock()
				received = append(received, receipt{m.Subject, at})
				mu.Unlock()
			}
		}()
		time.Sleep(time.Second) // the feed is live

		sent := make(map[string]time.Time, pushes)
		var sentMu sync.Mutex
		var answered latencies
		var wg sync.WaitGroup
		failures := 0
		tick := time.NewTicker(time.Second / time.Duration(rate))
		b.StartTimer()
		start := time.Now()
		for i, id := range ids {
			<-tick.C
			tag := douyinfake.TagTradeCreate
			if i%2 == 0 { // stored before the run: a change
				f.Touch(id, douyinfake.StatusShipped, time.Now())
				tag = douyinfake.TagTradeSellerShip
			} else {
				f.Touch(id, "", time.Now())
			}
			msg := f.PushFor(id, tag)
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				sentMu.Lock()
				sent[id] = t0
				sentMu.Unlock()
				if _, err := f.SendPush(ctx, push, []douyinfake.PushMessage{msg}); err != nil {
					sentMu.Lock()
					failures++
					sentMu.Unlock()
					return
				}
				answered.add(time.Since(t0))
			}()
		}
		tick.Stop()
		sending := time.Since(start)
		wg.Wait()
		// Wait for the stragglers, up to 30 s.
		byID := r.orderIDs(b, ids)
		deadline := time.Now().Add(30 * time.Second)
		var lat []time.Duration
		missing := 0
		for {
			mu.Lock()
			got := slicesClone(received)
			mu.Unlock()
			bySubject := map[int][]time.Time{}
			for _, rc := range got {
				bySubject[rc.subject] = append(bySubject[rc.subject], rc.at)
			}
			lat, missing = lat[:0], 0
			for _, id := range ids {
				dbID, ok := byID[id]
				if !ok {
					if byID = r.orderIDs(b, ids); byID[id] == 0 {
						missing++
						continue
					}
					dbID = byID[id]
				}
				// The first receipt of this order's event after its push.
				var at time.Time
				for _, t := range bySubject[dbID] {
					if t.After(sent[id]) {
						at = t
						break
					}
				}
				if at.IsZero() {
					missing++
					continue
				}
				lat = append(lat, at.Sub(sent[id]))
			}
			if missing == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		b.StopTimer()
		cancel()
		<-done
		s := sortedCopy(lat)
		a := sortedCopy(answered.ds)
		b.ReportMetric(float64(pushes)/sending.Seconds(), "pushes/s")
		b.ReportMetric(ms(quantile(s, 0.50)), "p50-ms")
		b.ReportMetric(ms(quantile(s, 0.90)), "p90-ms")
		b.ReportMetric(ms(quantile(s, 0.99)), "p99-ms")
		b.ReportMetric(ms(quantile(s, 1)), "max-ms")
		b.ReportMetric(float64(missing), "missing")
		b.ReportMetric(ms(quantile(a, 0.99)), "push-answer-p99-ms")
		b.Logf("%d pushes at %.0f/s: push → subscriber p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; %d events missing, %d pushes failed; push answered p50 %.1f ms p99 %.1f ms",
			pushes, float64(pushes)/sending.Seconds(), ms(quantile(s, 0.5)), ms(quantile(s, 0.9)), ms(quantile(s, 0.99)), ms(quantile(s, 1)),
			missing, failures, ms(quantile(a, 0.5)), ms(quantile(a, 0.99)))
	}
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

// preload stores every step-th order (from the first) before the run.
func (r *rig) preload(b *testing.B, ids []string, step int) {
	b.Helper()
	dc, err := r.clients.Douyin(r.accounts[0])
	if err != nil {
		b.Fatal(err)
	}
	ctx := viewerCtx(r)
	var wg sync.WaitGroup
	work := make(chan string)
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				o, err := dc.Order(ctx, id)
				for try := 0; o != nil && try < 50; try++ {
					// Two orders of one new buyer racing (a deadlock, a duplicate
					// identity) are retried,
					// as the job does.
					if _, err = ordersync.Store(ctx, r.st.Client, o); err == nil || !(strings.Contains(err.Error(), "Deadlock") || strings.Contains(err.Error(), "Duplicate entry")) {
						break
					}
					time.Sleep(time.Duration(try+1) * 20 * time.Millisecond)
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("preload %s: %w", id, err):
					default:
					}
				}
			}
		}()
	}
	for i := 0; i < len(ids); i += step {
		work <- ids[i]
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	time.Sleep(2 * time.Second) // the relay publishes the preload's events before the run
}

// orderIDs maps platform order ids to stored order ids.
func (r *rig) orderIDs(b *testing.B, platformIDs []string) map[string]int {
	b.Helper()
	orders, err := r.st.Client.Order.Query().
		Where(order.ShopID(r.accounts[0].ExternalID), order.PlatformOrderIDIn(platformIDs...)).
		Select(order.FieldID, order.FieldPlatformOrderID).All(viewerCtx(r))
	if err != nil {
		b.Fatal(err)
	}
	out := make(map[string]int, len(orders))
	for _, o := range orders {
		out[o.PlatformOrderID] = o.ID
	}
	return out
}

// serve runs the product's HTTP handler as `scrm serve` builds it (the
// worker runs beside it in the rig) and returns its URL.
func (r *rig) serve(b *testing.B) string {
	b.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	az, err := authz.New(ctx, authz.Options{DB: r.st.DB, Driver: r.st.Driver(), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(az.Close)
	iss, err := auth.NewIssuer("syncbench-secret-syncbench-secret-0123456789", "scrm")
	if err != nil {
		b.Fatal(err)
	}
	jobsAdmin := jobs.NewAdmin(r.rdb.Opt)
	b.Cleanup(jobsAdmin.Close)
	opts := resolvers.Options{Client: r.st.Client, Logger: logger, Authz: az, Redis: r.rdb.Client,
		Realtime: r.hub, Jobs: jobsAdmin, PublicURL: "https://scrm.example.com"}
	h := httpapi.New(httpapi.Options{
		Authorize: az.Authorize(r.st.Client),
		Schema:    resolvers.NewExecutableSchema(opts),
		Configure: func(s *handler.Server) { resolvers.Configure(s, opts) },
		Issuer:    iss,
		Logger:    logger,
		Platforms: &httpapi.Platforms{Client: r.st.Client, Enqueuer: r.enq, Logger: logger},
	})
	ts := httptest.NewServer(h)
	b.Cleanup(ts.Close)
	return ts.URL
}
