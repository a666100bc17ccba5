package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/internal/testenv"
)

func TestWindowCountsPerKeyAndPeriod(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, 11)
			w := New(rdb.Client, "test:"+t.Name())
			at := time.Date(2026, 11, 24, 10, 59, 0, 0, time.UTC)
			w.now = func() time.Time { return at }
			ctx := context.Background()
			for i := range 3 {
				if ok, _, err := w.Allow(ctx, "staff:1", 3, time.Hour); err != nil || !ok {
					t.Fatalf("call %d refused: %v", i+1, err)
				}
			}
			ok, retry, err := w.Allow(ctx, "staff:1", 3, time.Hour)
			if err != nil || ok || retry != time.Minute {
				t.Fatalf("4th call: ok=%v retry=%v err=%v; want refused, retry in 1m", ok, retry, err)
			}
			if ok, _, _ := w.Allow(ctx, "staff:2", 3, time.Hour); !ok {
				t.Fatal("another key shares the count")
			}
			at = at.Add(time.Minute) // the next hour
			if ok, _, _ := w.Allow(ctx, "staff:1", 3, time.Hour); !ok {
				t.Fatal("the count did not reset with the period")
			}
		})
	}
}
