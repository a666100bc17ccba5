// Package tokens caches platform access tokens (WeCom's access_token,
// Douyin's, Taobao sessions) in Redis, so that every replica and worker
// uses one token per account rather than each fetching its own: platforms
// hand out one valid token per app secret, may invalidate the previous
// one when asked again, and block callers that ask too often.
//
// A token is refreshed before it expires (when less than a fifth of its
// lifetime is left), by one process at a time (a Redis lock; the others
// wait for its result), and dropped when the platform says it is invalid
// (Invalidate, which only drops that very token, so a replica holding an
// old one cannot throw away the fresh one another just fetched).
//
// Small and ours: it is a lock, a GET and a SET; the Go token caches seen
// (in the WeCom clients) keep tokens per process.
package tokens

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fetch asks the platform for a new token and says how long it lives.
type Fetch func(ctx context.Context) (token string, lifetime time.Duration, err error)

// Cache is the shared token cache.
type Cache struct {
	rdb    redis.UniversalClient
	prefix string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Wait bounds how long a caller waits for another process's fetch
	// before fetching itself; 10s when zero.
	Wait time.Duration
}

// New returns a cache whose keys start with prefix (e.g. "scrm:token:").
func New(rdb redis.UniversalClient, prefix string) *Cache {
	return &Cache{rdb: rdb, prefix: prefix}
}

type entry struct {
	Token   string    `json:"t"`
	Fetched time.Time `json:"f"`
	Expires time.Time `json:"e"`
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) wait() time.Duration {
	if c.Wait > 0 {
		return c.Wait
	}
	return 10 * time.Second
}

// fresh reports whether e may still be handed out: more than a fifth of
// its lifetime left.
func (c *Cache) fresh(e *entry) bool {
	life := e.Expires.Sub(e.Fetched)
	return c.now().Before(e.Expires.Add(-life / 5))
}

// read returns the cached entry (nil when there is none, or it is
// unreadable) and its stored form.
func (c *Cache) read(ctx context.Context, key string) (*entry, string, error) {
	raw, err := c.rdb.Get(ctx, c.prefix+key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var e entry
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return nil, raw, nil
	}
	return &e, raw, nil
}

// Get returns the account's token, fetching a new one (once across all
// processes) when there is none or it is about to expire.
func (c *Cache) Get(ctx context.Context, key string, fetch Fetch) (string, error) {
	deadline := time.Now().Add(c.wait())
	for {
		e, _, err := c.read(ctx, key)
		if err != nil {
			return "", err
		}
		if e != nil && c.fresh(e) {
			return e.Token, nil
		}
		owner := randomID()
		locked, err := c.rdb.SetNX(ctx, c.prefix+key+":lock", owner, c.wait()).Result()
		if err != nil {
			return "", err
		}
		if locked || time.Now().After(deadline) {
			return c.refresh(ctx, key, owner, locked, fetch)
		}
		if e != nil && c.now().Before(e.Expires) {
			return e.Token, nil // still valid while another process renews it
		}
		// Another process is fetching: its token will be in Redis soon.
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cache) refresh(ctx context.Context, key, owner string, locked bool, fetch Fetch) (string, error) {
	if locked {
		defer compareAndDelete.Run(context.WithoutCancel(ctx), c.rdb, []string{c.prefix + key + ":lock"}, owner)
		// The previous holder stores its token before it lets go of the
		// lock: one fetched while we were getting here is there now.
		if e, _, err := c.read(ctx, key); err != nil {
			return "", err
		} else if e != nil && c.fresh(e) {
			return e.Token, nil
		}
	}
	token, life, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	if token == "" || life <= 0 {
		return "", errors.New("tokens: the platform returned no token or no lifetime")
	}
	now := c.now()
	raw, _ := json.Marshal(entry{Token: token, Fetched: now, Expires: now.Add(life)})
	if err := c.rdb.Set(ctx, c.prefix+key, raw, life).Err(); err != nil {
		return "", err
	}
	return token, nil
}

// Invalidate drops the cached token if it is still stale: the platform
// said stale is no longer valid. A token someone fetched since is kept.
func (c *Cache) Invalidate(ctx context.Context, key, stale string) error {
	e, raw, err := c.read(ctx, key)
	if err != nil || e == nil || e.Token != stale {
		return err
	}
	return compareAndDelete.Run(ctx, c.rdb, []string{c.prefix + key}, raw).Err()
}

// compareAndDelete deletes KEYS[1] if it still holds ARGV[1].
var compareAndDelete = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`)

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
