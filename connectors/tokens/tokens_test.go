package tokens_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/internal/testenv"
)

const redisDB = 9

// platform hands out numbered tokens and counts the asks.
type platform struct {
	asks atomic.Int32
	slow time.Duration
}

func (p *platform) fetch(ctx context.Context) (string, time.Duration, error) {
	n := p.asks.Add(1)
	time.Sleep(p.slow)
	return fmt.Sprintf("token-%d", n), 7200 * time.Second, nil
}

func TestTokens(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, redisDB).Client
			ctx := context.Background()

			t.Run("replicas asking at once fetch once", func(t *testing.T) {
				p := &platform{slow: 100 * time.Millisecond}
				replicas := []*tokens.Cache{tokens.New(rdb, "test:once:"), tokens.New(rdb, "test:once:")}
				var wg sync.WaitGroup
				got := make([]string, 20)
				for i := range got {
					wg.Go(func() {
						tok, err := replicas[i%2].Get(ctx, "corp1", p.fetch)
						if err != nil {
							t.Error(err)
						}
						got[i] = tok
					})
				}
				wg.Wait()
				for _, tok := range got {
					if tok != "token-1" {
						t.Fatalf("tokens %v after %d asks: want everyone to share the one fetched", got, p.asks.Load())
					}
				}
				if n := p.asks.Load(); n != 1 {
					t.Fatalf("asked the platform %d times", n)
				}
			})

			t.Run("refreshed before it expires", func(t *testing.T) {
				p := &platform{}
				now := time.Now()
				c := tokens.New(rdb, "test:expiry:")
				c.Now = func() time.Time { return now }
				first, _ := c.Get(ctx, "corp1", p.fetch)
				now = now.Add(5000 * time.Second) // 2200 s of 7200 left: more than a fifth
				if tok, _ := c.Get(ctx, "corp1", p.fetch); tok != first {
					t.Fatalf("refetched with %v left", 2200*time.Second)
				}
				now = now.Add(1000 * time.Second) // 1200 s left: under a fifth
				if tok, _ := c.Get(ctx, "corp1", p.fetch); tok == first || p.asks.Load() != 2 {
					t.Fatalf("not refreshed near expiry: %s after %d asks", tok, p.asks.Load())
				}
			})

			t.Run("invalidated only when still the stale one", func(t *testing.T) {
				p := &platform{}
				c := tokens.New(rdb, "test:invalid:")
				stale, _ := c.Get(ctx, "corp1", p.fetch)
				if err := c.Invalidate(ctx, "corp1", stale); err != nil {
					t.Fatal(err)
				}
				fresh, _ := c.Get(ctx, "corp1", p.fetch)
				if fresh == stale {
					t.Fatal("an invalidated token was handed out again")
				}
				// A replica late to notice the old token is invalid must
				// not drop the fresh one.
				if err := c.Invalidate(ctx, "corp1", stale); err != nil {
					t.Fatal(err)
				}
				if tok, _ := c.Get(ctx, "corp1", p.fetch); tok != fresh || p.asks.Load() != 2 {
					t.Fatalf("a late invalidation dropped the fresh token: %s after %d asks", tok, p.asks.Load())
				}
			})

			t.Run("a failed fetch is an error, not a token", func(t *testing.T) {
				c := tokens.New(rdb, "test:fail:")
				boom := errors.New("40001 invalid credential")
				_, err := c.Get(ctx, "corp1", func(context.Context) (string, time.Duration, error) { return "", 0, boom })
				if !errors.Is(err, boom) {
					t.Fatalf("got %v", err)
				}
				p := &platform{}
				if tok, err := c.Get(ctx, "corp1", p.fetch); err != nil || tok != "token-1" {
					t.Fatalf("after a failure the next caller fetches: %s %v", tok, err)
				}
			})
		})
	}
}
