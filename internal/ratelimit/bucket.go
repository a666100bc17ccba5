package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable wraps every failure to reach a decision because Redis did
// not answer (or answered with an error). The limiter does not choose for
// the caller: the HTTP layer decides whether such a request fails open
// (served unlimited) or closed (refused with 503).
var ErrUnavailable = errors.New("ratelimit: Redis unavailable")

// Limit is a token bucket: Rate tokens come back every Per (one second when
// zero), and the bucket holds at most Burst, which is also what a key that
// has been idle may spend at once.
type Limit struct {
	Rate  float64
	Per   time.Duration
	Burst int
}

// PerSecond returns a limit of rate tokens a second with room for burst.
func PerSecond(rate float64, burst int) Limit { return Limit{Rate: rate, Burst: burst} }

// PerMinute returns a limit of rate tokens a minute with room for burst.
func PerMinute(rate float64, burst int) Limit {
	return Limit{Rate: rate, Per: time.Minute, Burst: burst}
}

// interval is the time one token takes to come back, in whole microseconds
// (the script's unit, so that its arithmetic stays in exact integers).
func (l Limit) interval() (int64, error) {
	per := l.Per
	if per == 0 {
		per = time.Second
	}
	if !(l.Rate > 0) || per < 0 || l.Burst < 1 {
		return 0, fmt.Errorf("ratelimit: invalid limit %+v: rate, period and burst must be positive", l)
	}
	us := math.Round(float64(per.Microseconds()) / l.Rate)
	if us < 1 || us > 1e12 {
		return 0, fmt.Errorf("ratelimit: invalid limit %+v: one token per %vµs is out of range", l, us)
	}
	return int64(us), nil
}

// Result is the outcome of one check, enough for a 429 with Retry-After and
// for the RateLimit-Limit/-Remaining/-Reset headers.
type Result struct {
	// Allowed reports whether the tokens were taken.
	Allowed bool
	// Remaining is the number of tokens left in the bucket.
	Remaining int
	// RetryAfter, when not Allowed, is how long until the bucket holds
	// enough tokens for the same cost; zero when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the bucket is full again; zero if it is.
	ResetAfter time.Duration
}

// Bucket limits rates per key with token buckets kept in Redis, so every
// replica draws from the same bucket.
type Bucket struct {
	rdb    redis.UniversalClient
	prefix string
	// now pins the clock for tests; nil (always, outside tests) means the
	// Redis server's clock.
	now func() time.Time
}

// NewBucket returns a token-bucket limiter whose keys live under prefix.
func NewBucket(rdb redis.UniversalClient, prefix string) *Bucket {
	return &Bucket{rdb: rdb, prefix: prefix}
}

// takeScript refills the bucket at KEYS[1] for the time elapsed since it
// was last accounted, then takes the cost if the bucket holds it, all in
// one atomic step.
//
// The hash holds t, the number of tokens, and at, the microsecond at which
// they were counted. Refill adds whole tokens and advances at by whole
// intervals, so the fraction of the next token carries over and every
// number stays an exact integer: Lua numbers are doubles, and a microsecond
// timestamp (~2^51) is exact in one. A missing hash is a full bucket, which
// is why the key may expire once the bucket would be full again.
//
// The clock is the server's TIME, so that replicas whose clocks disagree
// still agree on the bucket; ARGV[4], when given, replaces it (tests only).
// Redis 7 replicates a script's effects, not the script, so reading TIME
// before writing is allowed.
//
// ARGV: interval (µs per token), burst, cost[, now (µs)].
// Returns: allowed (0/1), tokens remaining, retry after (µs), reset after (µs).
var takeScript = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
	local t = redis.call('TIME')
	now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if not tokens or not at then
	tokens, at = burst, now
end
-- A clock that went back (a failover to a replica whose clock is behind)
-- refills nothing rather than taking tokens away.
if now > at then
	local add = math.floor((now - at) / interval)
	tokens = tokens + add
	at = at + add * interval
end
if tokens >= burst then
	tokens, at = burst, now
end

local allowed = 0
local retry = 0
if tokens >= cost then
	allowed = 1
	tokens = tokens - cost
	-- The bucket is written only when tokens are taken: a refusal leaves
	-- state that refills to the same count later.
	redis.call('HSET', KEYS[1], 't', tokens, 'at', at)
else
	retry = at + (cost - tokens) * interval - now
end
local reset = 0
if tokens < burst then
	reset = at + (burst - tokens) * interval - now
end
if allowed == 1 then
	redis.call('PEXPIRE', KEYS[1], math.ceil(reset / 1000))
end
return {allowed, tokens, retry, reset}
`)

// Take takes one token from key's bucket.
func (b *Bucket) Take(ctx context.Context, key string, limit Limit) (Result, error) {
	return b.TakeN(ctx, key, limit, 1)
}

// TakeN takes cost tokens from key's bucket, all or none, in one round trip
// to Redis. A cost above the limit's burst could never be allowed and is an
// error. Errors from Redis wrap ErrUnavailable.
func (b *Bucket) TakeN(ctx context.Context, key string, limit Limit, cost int) (Result, error) {
	interval, err := limit.interval()
	if err != nil {
		return Result{}, err
	}
	if cost < 1 || cost > limit.Burst {
		return Result{}, fmt.Errorf("ratelimit: cost %d is outside 1..burst (%d)", cost, limit.Burst)
	}
	args := []any{interval, limit.Burst, cost}
	if b.now != nil {
		args = append(args, b.now().UnixMicro())
	}
	r, err := takeScript.Run(ctx, b.rdb, []string{b.prefix + ":" + key}, args...).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if len(r) != 4 {
		return Result{}, fmt.Errorf("%w: the script returned %d values", ErrUnavailable, len(r))
	}
	return Result{
		Allowed:    r[0] == 1,
		Remaining:  int(r[1]),
		RetryAfter: time.Duration(r[2]) * time.Microsecond,
		ResetAfter: time.Duration(r[3]) * time.Microsecond,
	}, nil
}
