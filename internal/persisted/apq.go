package persisted

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/redis/go-redis/v9"
)

// APQKeyPrefix prefixes automatic persisted queries' Redis keys (the rest
// is the hex SHA-256 of the document).
const APQKeyPrefix = "scrm:apq:"

// APQOptions configure an APQCache.
type APQOptions struct {
	// TTL is how long a document stays in Redis after its last use.
	TTL  time.Duration
	Size int
	// Logger reports Redis failures (the cache then answers a miss: the
	// client sends the document again, nothing breaks).
	Logger *slog.Logger
	Now    func() time.Time
}

// APQCache is gqlgen's automatic-persisted-query cache for replicas: an
// in-process LRU in front of Redis, where every replica finds what any
// replica registered. Documents are query text, not data, so one cache
// serves every tenant. Using a document refreshes its Redis TTL, at most
// once per TTL/7 per replica.
type APQCache struct {
	lru    *lru.LRU[apqEntry]
	rdb    redis.UniversalClient
	ttl    time.Duration
	logger *slog.Logger
	now    func() time.Time
}

var _ graphql.Cache[string] = (*APQCache)(nil)

type apqEntry struct {
	body string
	// refreshed is when this replica last set the Redis TTL.
	refreshed time.Time
}

// NewAPQCache returns a cache over rdb (in-process only when nil).
func NewAPQCache(rdb redis.UniversalClient, opts APQOptions) *APQCache {
	if opts.TTL <= 0 {
		opts.TTL = 7 * 24 * time.Hour
	}
	if opts.Size <= 0 {
		opts.Size = 10000
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &APQCache{lru: lru.New[apqEntry](opts.Size), rdb: rdb, ttl: opts.TTL, logger: opts.Logger, now: opts.Now}
}

// Get returns the document of hash.
func (c *APQCache) Get(ctx context.Context, hash string) (string, bool) {
	now := c.now()
	if e, ok := c.lru.Get(ctx, hash); ok {
		if c.rdb != nil && now.Sub(e.refreshed) > c.ttl/7 {
			if err := c.rdb.Expire(ctx, APQKeyPrefix+hash, c.ttl).Err(); err != nil {
				c.logger.WarnContext(ctx, "refresh persisted query TTL", "hash", hash, "err", err)
			}
			c.lru.Add(ctx, hash, apqEntry{body: e.body, refreshed: now})
		}
		return e.body, true
	}
	if c.rdb == nil {
		return "", false
	}
	body, err := c.rdb.GetEx(ctx, APQKeyPrefix+hash, c.ttl).Result()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			c.logger.WarnContext(ctx, "read persisted query", "hash", hash, "err", err)
		}
		return "", false
	}
	c.lru.Add(ctx, hash, apqEntry{body: body, refreshed: now})
	return body, true
}

// Add registers a document under its hash (gqlgen has checked the hash).
func (c *APQCache) Add(ctx context.Context, hash, body string) {
	now := c.now()
	c.lru.Add(ctx, hash, apqEntry{body: body, refreshed: now})
	if c.rdb == nil {
		return
	}
	if err := c.rdb.Set(ctx, APQKeyPrefix+hash, body, c.ttl).Err(); err != nil {
		c.logger.WarnContext(ctx, "store persisted query", "hash", hash, "err", err)
	}
}
