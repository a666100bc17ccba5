package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RequestLimiter limits API requests stated as requests a minute. A caller
// may spend ten seconds' worth (at least 5) at once, then the bucket
// refills steadily: a partner catching up runs at the limit without
// tripping on its first burst.
type RequestLimiter interface {
	Take(ctx context.Context, key string, perMinute int) (ok bool, retryAfter time.Duration, err error)
}

func burstOf(perMinute int) int { return max(perMinute/6, 5) }

// Requests is the RequestLimiter on a Bucket: the one to use when
// replicas share a Redis.
type Requests struct{ Bucket *Bucket }

// Take implements RequestLimiter.
func (r Requests) Take(ctx context.Context, key string, perMinute int) (bool, time.Duration, error) {
	res, err := r.Bucket.Take(ctx, key, PerMinute(float64(perMinute), burstOf(perMinute)))
	if err != nil {
		return false, 0, err
	}
	return res.Allowed, res.RetryAfter, nil
}

// Local is the RequestLimiter of a single process (the embedded default,
// whose in-process Redis runs each script through a fresh Lua state, some
// thousand checks a second): the same buckets in memory. Buckets idle for
// longer than it takes them to refill are dropped.
type Local struct {
	mu      sync.Mutex
	buckets map[string]*localBucket
	sweep   time.Time
}

type localBucket struct {
	limiter   *rate.Limiter
	perMinute int
	used      time.Time
}

// NewLocal returns an in-process RequestLimiter.
func NewLocal() *Local { return &Local{buckets: map[string]*localBucket{}} }

// Take implements RequestLimiter.
func (l *Local) Take(_ context.Context, key string, perMinute int) (bool, time.Duration, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.used) > time.Minute {
				delete(l.buckets, k)
			}
		}
		l.sweep = now
	}
	b := l.buckets[key]
	if b == nil || b.perMinute != perMinute {
		b = &localBucket{limiter: rate.NewLimiter(rate.Limit(float64(perMinute)/60), burstOf(perMinute)), perMinute: perMinute}
		l.buckets[key] = b
	}
	b.used = now
	r := b.limiter.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d, nil
	}
	return true, 0, nil
}
