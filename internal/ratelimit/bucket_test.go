package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/internal/testenv"
)

// pinned returns a bucket whose clock the test moves by hand.
func pinned(rdb redis.UniversalClient, prefix string) (*Bucket, *time.Time) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	b := NewBucket(rdb, prefix)
	b.now = func() time.Time { return at }
	return b, &at
}

func take(t *testing.T, b *Bucket, key string, l Limit) Result {
	t.Helper()
	r, err := b.Take(context.Background(), key, l)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBucketBurstThenRefill(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, 11).Client
			b, at := pinned(rdb, "test:"+t.Name())
			l := PerSecond(2, 3)
			for i := range 3 {
				r := take(t, b, "user:1", l)
				if !r.Allowed || r.Remaining != 2-i || r.RetryAfter != 0 {
					t.Fatalf("take %d: %+v; want allowed with %d left", i+1, r, 2-i)
				}
			}
			want := Result{Remaining: 0, RetryAfter: 500 * time.Millisecond, ResetAfter: 1500 * time.Millisecond}
			if r := take(t, b, "user:1", l); r != want {
				t.Fatalf("4th take: %+v; want %+v", r, want)
			}
			if r := take(t, b, "user:2", l); !r.Allowed || r.Remaining != 2 {
				t.Fatalf("another key shares the bucket: %+v", r)
			}

			*at = at.Add(499 * time.Millisecond)
			if r := take(t, b, "user:1", l); r.Allowed || r.RetryAfter != time.Millisecond {
				t.Fatalf("1ms before a token: %+v; want refused, retry in 1ms", r)
			}
			*at = at.Add(time.Millisecond)
			if r := take(t, b, "user:1", l); !r.Allowed || r.Remaining != 0 || r.ResetAfter != 1500*time.Millisecond {
				t.Fatalf("after one token came back: %+v", r)
			}
			// The fraction of a token elapsed before a take is not lost.
			*at = at.Add(750 * time.Millisecond)
			if r := take(t, b, "user:1", l); !r.Allowed || r.Remaining != 0 || r.ResetAfter != 1250*time.Millisecond {
				t.Fatalf("after 1.5 tokens came back: %+v", r)
			}
			*at = at.Add(time.Hour)
			if r := take(t, b, "user:1", l); !r.Allowed || r.Remaining != 2 {
				t.Fatalf("an idle bucket did not fill up to its burst: %+v", r)
			}
		})
	}
}

func TestBucketExpiresWhenFull(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, 11).Client
			prefix := "test:" + t.Name()
			b, _ := pinned(rdb, prefix)
			r := take(t, b, "user:1", PerMinute(6, 5)) // 10s a token
			if r.ResetAfter != 10*time.Second {
				t.Fatalf("reset after %v; want 10s", r.ResetAfter)
			}
			ttl, err := rdb.PTTL(context.Background(), prefix+":user:1").Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl <= 0 || ttl > r.ResetAfter {
				t.Fatalf("TTL %v; want the time to refill, %v", ttl, r.ResetAfter)
			}
		})
	}
}

func TestBucketTakeN(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, 11).Client
			b, at := pinned(rdb, "test:"+t.Name())
			ctx := context.Background()
			l := Limit{Rate: 1, Per: 100 * time.Millisecond, Burst: 5}
			if r, err := b.TakeN(ctx, "k", l, 4); err != nil || !r.Allowed || r.Remaining != 1 {
				t.Fatalf("take 4 of 5: %+v, %v", r, err)
			}
			// All or none: a refusal takes nothing.
			r, err := b.TakeN(ctx, "k", l, 3)
			if err != nil || r.Allowed || r.Remaining != 1 || r.RetryAfter != 200*time.Millisecond {
				t.Fatalf("take 3 of 1: %+v, %v; want refused, retry in 200ms", r, err)
			}
			*at = at.Add(200 * time.Millisecond)
			if r, err := b.TakeN(ctx, "k", l, 3); err != nil || !r.Allowed || r.Remaining != 0 {
				t.Fatalf("take 3 of 3: %+v, %v", r, err)
			}
			if _, err := b.TakeN(ctx, "k", l, 6); err == nil || errors.Is(err, ErrUnavailable) {
				t.Fatalf("a cost above the burst: %v; want a usage error", err)
			}
		})
	}
}

func TestBucketInvalidLimits(t *testing.T) {
	b := NewBucket(nil, "unused") // rejected before any round trip
	for _, l := range []Limit{
		{}, {Rate: 1}, {Burst: 1}, {Rate: -1, Burst: 1}, {Rate: 1, Per: -time.Second, Burst: 1},
		{Rate: 1e9, Burst: 1}, // a token per nanosecond: finer than the script's microseconds
	} {
		if _, err := b.Take(context.Background(), "k", l); err == nil {
			t.Errorf("%+v accepted", l)
		}
	}
}

// TestBucketServerClock runs the script on Redis TIME rather than a pinned
// clock: miniredis's clock can be set, so the embedded server checks the
// refill exactly; a real Redis's cannot, so there the limit is slow enough
// that no token comes back during the test.
func TestBucketServerClock(t *testing.T) {
	t.Run(testenv.EmbeddedRedis, func(t *testing.T) {
		mr := miniredis.RunT(t)
		mr.SetTime(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		b := NewBucket(rdb, "test")
		l := PerSecond(10, 2)
		take(t, b, "k", l)
		take(t, b, "k", l)
		if r := take(t, b, "k", l); r.Allowed || r.RetryAfter != 100*time.Millisecond {
			t.Fatalf("3rd take: %+v; want refused, retry in 100ms", r)
		}
		mr.SetTime(time.Date(2026, 11, 24, 10, 0, 0, int(100*time.Millisecond), time.UTC))
		if r := take(t, b, "k", l); !r.Allowed {
			t.Fatalf("after 100ms on the server's clock: %+v; want allowed", r)
		}
	})
	t.Run(testenv.RealRedis, func(t *testing.T) {
		rdb := testenv.OpenRedis(t, testenv.RealRedis, 11).Client
		b := NewBucket(rdb, "test:"+t.Name())
		l := Limit{Rate: 1, Per: time.Hour, Burst: 3}
		for i := range 3 {
			if r := take(t, b, "k", l); !r.Allowed || r.Remaining != 2-i {
				t.Fatalf("take %d: %+v", i+1, r)
			}
		}
		r := take(t, b, "k", l)
		if r.Allowed || r.RetryAfter > time.Hour || r.RetryAfter < 59*time.Minute {
			t.Fatalf("4th take: %+v; want refused, retry in about an hour", r)
		}
	})
}

// TestBucketConcurrentTakers counts what many goroutines were allowed: never
// more than the burst plus what refilled while they ran.
func TestBucketConcurrentTakers(t *testing.T) {
	const takers, each = 16, 40
	run := func(t *testing.T, b *Bucket, l Limit) (allowed int64, elapsed time.Duration) {
		var n atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range takers {
			wg.Go(func() {
				for range each {
					r, err := b.Take(context.Background(), "shared", l)
					if err != nil {
						t.Error(err)
						return
					}
					if r.Allowed {
						n.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return n.Load(), time.Since(start)
	}
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, 11).Client
			t.Run("pinned clock", func(t *testing.T) {
				b, _ := pinned(rdb, "test:"+t.Name())
				if n, _ := run(t, b, PerSecond(1, 100)); n != 100 {
					t.Fatalf("%d allowed; want exactly the burst, 100", n)
				}
			})
			t.Run("server clock", func(t *testing.T) {
				b := NewBucket(rdb, "test:"+t.Name())
				l := PerSecond(20, 100)
				n, elapsed := run(t, b, l)
				// The server's clock runs at the test's pace; one token of
				// slack for the take that starts the bucket.
				most := int64(l.Burst) + int64(elapsed.Seconds()*l.Rate) + 1
				if n < int64(l.Burst) || n > most {
					t.Fatalf("%d allowed in %v; want %d..%d", n, elapsed, l.Burst, most)
				}
			})
		})
	}
}

// TestBucketReplicasShare takes from one key through two limiters on two
// connections, as two replicas would.
func TestBucketReplicasShare(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			conn := testenv.OpenRedis(t, backend, 11)
			other, ok := conn.Opt.MakeRedisClient().(redis.UniversalClient)
			if !ok {
				t.Fatal("not a go-redis client")
			}
			t.Cleanup(func() { other.Close() })
			prefix := "test:" + t.Name()
			a, at := pinned(conn.Client, prefix)
			b := NewBucket(other, prefix)
			b.now = a.now
			l := PerSecond(1, 4)
			for i, bucket := range []*Bucket{a, b, a, b} {
				if r := take(t, bucket, "k", l); !r.Allowed || r.Remaining != 3-i {
					t.Fatalf("take %d: %+v; want %d left in the shared bucket", i+1, r, 3-i)
				}
			}
			if r := take(t, b, "k", l); r.Allowed {
				t.Fatal("the second replica has a bucket of its own")
			}
			*at = at.Add(time.Second)
			if r := take(t, b, "k", l); !r.Allowed {
				t.Fatalf("after a refill: %+v", r)
			}
		})
	}
}

func TestBucketUnavailable(t *testing.T) {
	// Nothing listens on port 1 of the loopback.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	_, err := NewBucket(rdb, "test").Take(context.Background(), "k", PerSecond(1, 1))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v; want ErrUnavailable", err)
	}
}

// BenchmarkBucketTake measures checks a second from parallel callers spread
// over many keys, as an API's requests would be.
func BenchmarkBucketTake(b *testing.B) {
	for _, backend := range testenv.RedisBackends() {
		for _, callers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/callers=%dxGOMAXPROCS", backend, callers), func(b *testing.B) {
				rdb := testenv.OpenRedis(b, backend, 11).Client
				bucket := NewBucket(rdb, "bench")
				l := PerSecond(1e6, 1000) // generous: measure the check, not refusals
				var worker atomic.Int64
				b.SetParallelism(callers)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					ctx := context.Background()
					w := worker.Add(1)
					for i := 0; pb.Next(); i++ {
						key := fmt.Sprintf("user:%d", (w*7919+int64(i))%1024)
						if _, err := bucket.Take(ctx, key, l); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
			})
		}
	}
}

// BenchmarkBucketRoundTripBaseline measures PING the way BenchmarkBucketTake
// measures checks, for the ceiling of one round trip per check on this
// machine as loaded at the time.
func BenchmarkBucketRoundTripBaseline(b *testing.B) {
	for _, callers := range []int{1, 8} {
		b.Run(fmt.Sprintf("%s/callers=%dxGOMAXPROCS", testenv.RealRedis, callers), func(b *testing.B) {
			rdb := testenv.OpenRedis(b, testenv.RealRedis, 11).Client
			b.SetParallelism(callers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					if err := rdb.Ping(ctx).Err(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
		})
	}
}
