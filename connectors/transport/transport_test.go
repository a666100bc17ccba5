package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/internal/testenv"
)

// Redis database of these tests (see internal/testenv for the others).
const testDB = 8

// sleeps records the waits asked for instead of waiting; after stopAfter
// waits it returns an error so a test never loops on a real clock.
type sleeps struct {
	mu        sync.Mutex
	waits     []time.Duration
	stopAfter int
}

var errStopped = errors.New("test stopped waiting")

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	if len(s.waits) >= s.stopAfter {
		return errStopped
	}
	return nil
}

func newClient(t *testing.T, rdb redis.UniversalClient, s *sleeps, reg prometheus.Registerer) *Client {
	return New(Options{Redis: rdb, Prefix: "test:" + t.Name() + ":", Sleep: s.sleep, Metrics: reg,
		MaxWait: 5 * time.Minute, BreakerFailures: 5, BreakerOpenFor: time.Hour})
}

func TestClient(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, testDB).Client
			ctx := context.Background()

			t.Run("budget per account and endpoint", func(t *testing.T) {
				s := &sleeps{stopAfter: 1}
				cl := newClient(t, rdb, s, nil)
				sent := 0
				ep := Endpoint{Platform: "wecom", Name: "user/get", Limit: redis_rate.PerMinute(3)}
				call := Call{Account: "1", Endpoint: ep, Send: func(context.Context) error { sent++; return nil }}
				for i := range 3 {
					if err := cl.Do(ctx, call); err != nil {
						t.Fatalf("call %d: %v", i+1, err)
					}
				}
				if len(s.waits) != 0 {
					t.Fatalf("waited %v within the budget", s.waits)
				}
				// Another account and another endpoint have budgets of their own.
				other := call
				other.Account = "2"
				if err := cl.Do(ctx, other); err != nil || len(s.waits) != 0 {
					t.Fatalf("another account: err %v, waits %v", err, s.waits)
				}
				// The fourth call of account 1 waits about a third of a minute.
				if err := cl.Do(ctx, call); !errors.Is(err, errStopped) {
					t.Fatalf("4th call: %v, want it to wait", err)
				}
				if len(s.waits) != 1 || s.waits[0] < 10*time.Second || s.waits[0] > 21*time.Second {
					t.Fatalf("waits %v, want one of about 20s", s.waits)
				}
				if sent != 4 {
					t.Fatalf("sent %d, want 4 (the throttled call is not sent)", sent)
				}
				// With less patience than the wait, the call fails at once as rate limited.
				impatient := New(Options{Redis: rdb, Prefix: "test:" + t.Name() + ":", Sleep: s.sleep, MaxWait: time.Second})
				if err := impatient.Do(ctx, call); !IsKind(err, KindRateLimited) {
					t.Fatalf("impatient 4th call: %v, want rate limited", err)
				}
			})

			t.Run("token refused then renewed once", func(t *testing.T) {
				cl := newClient(t, rdb, &sleeps{stopAfter: 100}, nil)
				token, renewals, sends := "old", 0, 0
				call := Call{Account: "1", Endpoint: Endpoint{Platform: "wecom", Name: "department/list"},
					Send: func(context.Context) error {
						sends++
						if token == "old" {
							return &Error{Kind: KindTokenInvalid, Code: "42001"}
						}
						return nil
					},
					RenewToken: func(context.Context) error { renewals++; token = "new"; return nil },
				}
				if err := cl.Do(ctx, call); err != nil || renewals != 1 || sends != 2 {
					t.Fatalf("err %v renewals %d sends %d; want success after 1 renewal and 2 sends", err, renewals, sends)
				}
				// A token refused again right after renewal is not renewed in a loop.
				call.RenewToken = func(context.Context) error { renewals++; return nil }
				token = "old"
				if err := cl.Do(ctx, call); !IsKind(err, KindTokenInvalid) || renewals != 2 {
					t.Fatalf("err %v renewals %d; want the refusal after one more renewal", err, renewals)
				}
			})

			t.Run("platform throttling is shared by every process", func(t *testing.T) {
				first := newClient(t, rdb, &sleeps{stopAfter: 1}, nil)
				second := &sleeps{stopAfter: 1}
				other := newClient(t, rdb, second, nil) // another replica
				call := Call{Account: "7", Endpoint: Endpoint{Platform: "wecom", Name: "externalcontact/get"},
					Send: func(context.Context) error {
						return &Error{Kind: KindRateLimited, Code: "45009", RetryAfter: time.Minute}
					}}
				if err := first.Do(ctx, call); !errors.Is(err, errStopped) && !IsKind(err, KindRateLimited) {
					t.Fatalf("first: %v", err)
				}
				sent := false
				call.Send = func(context.Context) error { sent = true; return nil }
				if err := other.Do(ctx, call); !errors.Is(err, errStopped) {
					t.Fatalf("other replica: %v, want it to wait out the cool-down", err)
				}
				if sent || len(second.waits) != 1 || second.waits[0] < 50*time.Second {
					t.Fatalf("other replica sent=%v waits=%v; want a wait of about a minute and no call", sent, second.waits)
				}
			})

			t.Run("busy is retried three times", func(t *testing.T) {
				s := &sleeps{stopAfter: 100}
				cl := newClient(t, rdb, s, nil)
				sends := 0
				call := Call{Account: "1", Endpoint: Endpoint{Platform: "wecom", Name: "message/send"},
					Send: func(context.Context) error { sends++; return &Error{Kind: KindBusy, Code: "-1"} }}
				if err := cl.Do(ctx, call); !IsKind(err, KindBusy) || sends != 4 || len(s.waits) != 3 {
					t.Fatalf("err %v sends %d waits %v; want 4 sends, 3 backoffs", err, sends, s.waits)
				}
				if !(s.waits[0] < s.waits[1] && s.waits[1] < s.waits[2]) {
					t.Fatalf("backoffs %v do not grow", s.waits)
				}
				s.waits = nil
				sends = 0
				call.Account = "2" // account 1's breaker has seen four failures
				call.Send = func(context.Context) error {
					sends++
					if sends < 3 {
						return fmt.Errorf("connection reset")
					}
					return nil
				}
				if err := cl.Do(ctx, call); err != nil || sends != 3 {
					t.Fatalf("network errors: err %v after %d sends; want success on the 3rd", err, sends)
				}
			})

			t.Run("breaker per account", func(t *testing.T) {
				reg := prometheus.NewRegistry()
				cl := newClient(t, rdb, &sleeps{stopAfter: 1000}, reg)
				notFound := Call{Account: "9", Endpoint: Endpoint{Platform: "douyin", Name: "order.orderDetail"},
					Send: func(context.Context) error { return &Error{Kind: KindNotFound, Code: "x"} }}
				for range 10 {
					if err := cl.Do(ctx, notFound); !IsKind(err, KindNotFound) {
						t.Fatalf("not found: %v", err)
					}
				}
				sends := 0
				busy := notFound
				busy.Send = func(context.Context) error { sends++; return &Error{Kind: KindBusy, Code: "50000"} }
				_ = cl.Do(ctx, busy) // 4 failures
				_ = cl.Do(ctx, busy) // the 5th opens the breaker
				if got := testutil.ToFloat64(cl.metrics.breakerOpen.WithLabelValues("douyin")); got != 1 {
					t.Fatalf("breakers open gauge %v, want 1", got)
				}
				before := sends
				if err := cl.Do(ctx, busy); !errors.Is(err, ErrCircuitOpen) || sends != before {
					t.Fatalf("open breaker: err %v, sends %d→%d; want ErrCircuitOpen without a call", err, before, sends)
				}
				// Other accounts are not affected.
				ok := busy
				ok.Account = "10"
				ok.Send = func(context.Context) error { return nil }
				if err := cl.Do(ctx, ok); err != nil {
					t.Fatalf("another account: %v", err)
				}
				if n := testutil.ToFloat64(cl.metrics.calls.WithLabelValues("douyin", "order.orderDetail", "not_found")); n != 10 {
					t.Fatalf("not_found calls counted %v, want 10", n)
				}
				if n := testutil.ToFloat64(cl.metrics.calls.WithLabelValues("douyin", "order.orderDetail", "circuit_open")); n == 0 {
					t.Fatal("circuit_open calls not counted")
				}
			})
		})
	}
}
