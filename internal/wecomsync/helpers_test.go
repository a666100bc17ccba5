package wecomsync_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	_ "github.com/scrm-dev/scrm/authz" // registers the default policies new tenants get
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// redisDB is this package's database on a shared test Redis.
const redisDB = 11

const (
	testCorp   = "wwsynctest"
	testSecret = "sync-test-secret"
)

// fakeClock stands in for time in the transport: a wait is recorded and
// the shared cool-downs it outlasts end at once (their keys are dropped),
// so a sync held back by WeCom's 45009 goes on without waiting a minute.
type fakeClock struct {
	rdb    redis.UniversalClient
	prefix string

	mu    sync.Mutex
	waits []time.Duration
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	n := len(c.waits)
	c.mu.Unlock()
	if n > 200 {
		return errors.New("test clock: too many waits, the client loops")
	}
	keys, err := c.rdb.Keys(ctx, c.prefix+"cool:*").Result()
	if err != nil {
		return err
	}
	for _, k := range keys {
		if ttl, err := c.rdb.PTTL(ctx, k).Result(); err == nil && ttl <= d {
			c.rdb.Del(ctx, k)
		}
	}
	return nil
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// syncEnv is a tenant in a fresh database, a fake corp over HTTP and a
// real WeCom client (transport, token cache) pointed at it.
type syncEnv struct {
	client *ent.Client
	ctx    context.Context
	fake   *wecomfake.Server
	api    *wecom.Client
	clock  *fakeClock
	logger *slog.Logger
}

// newSyncEnv starts the environment; with shared false the transport
// keeps no budgets or cool-downs in Redis (for tests that call far more
// than a minute's budget and are not about limits).
func newSyncEnv(t *testing.T, backend string, shared bool) *syncEnv {
	t.Helper()
	st := testenv.OpenStore(t, backend)
	tn, err := st.Client.Tenant.Create().SetName("sync test").SetSlug("synctest").Save(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	fake := wecomfake.New(wecomfake.Options{CorpID: testCorp, AgentID: 1, Secret: testSecret})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	rdb := testenv.OpenRedis(t, testenv.EmbeddedRedis, redisDB).Client
	prefix := "test:" + t.Name() + ":"
	clock := &fakeClock{rdb: rdb, prefix: prefix}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	topts := transport.Options{Redis: rdb, Prefix: prefix, Logger: logger, Sleep: clock.sleep,
		MaxWait: 5 * time.Minute, BreakerFailures: 100, BreakerOpenFor: time.Hour}
	if !shared {
		topts.Redis = nil
	}
	api := wecom.New(wecom.Config{BaseURL: ts.URL, CorpID: testCorp, AgentID: 1, Secret: testSecret, Account: "1",
		Transport: transport.New(topts),
		Tokens:    tokens.New(rdb, prefix+"token:")})
	return &syncEnv{client: st.Client, ctx: viewer.ForTenant(context.Background(), tn.ID), fake: fake, api: api,
		clock: clock, logger: logger}
}
