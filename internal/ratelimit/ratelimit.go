// Package ratelimit limits actions per key with state kept in Redis, so
// every replica shares it: Window counts actions in fixed periods (reveal
// limits), Bucket is a token bucket for API rate limits.
//
// Both are hand-written because each is one small atomic step in Redis:
// Window is one INCR and one EXPIRE in a transaction, Bucket one Lua
// script. Bucket is not github.com/go-redis/redis_rate (which the
// connectors use for outbound quotas) because its tests need a clock they
// can pin on a real Redis too, and because it keeps integer token counts
// that RateLimit-Remaining can report as they are.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Window allows up to a limit of actions per key per period.
type Window struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// New returns a limiter whose keys live under prefix.
func New(rdb redis.UniversalClient, prefix string) *Window {
	return &Window{rdb: rdb, prefix: prefix, now: time.Now}
}

// Allow counts one action for key and reports whether it is within limit
// for the current period; when not, retryAfter says when the period ends.
func (w *Window) Allow(ctx context.Context, key string, limit int, period time.Duration) (ok bool, retryAfter time.Duration, err error) {
	now := w.now()
	start := now.Truncate(period)
	k := fmt.Sprintf("%s:%s:%d", w.prefix, key, start.Unix())
	var incr *redis.IntCmd
	_, err = w.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, k)
		p.Expire(ctx, k, period+time.Minute)
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: %w", err)
	}
	if incr.Val() > int64(limit) {
		return false, start.Add(period).Sub(now), nil
	}
	return true, 0, nil
}
