package authz_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

var (
	quiet     = slog.New(slog.NewTextHandler(io.Discard, nil))
	apiSchema = graph.NewExecutableSchema(graph.Config{}).Schema()
)

// announced publishes a's current policies again (as any later change
// would) and reports true, for use inside eventually.
func announced(a *authz.Authorizer) bool { _ = a.Changed(); return true }

// eventually polls cond until it holds or a generous deadline passes. It
// checks that a change arrives, not how fast (that is not a test's job).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPolicyChangeReachesEveryReplica runs two authorizers over one
// database, as two replicas would: a grant made through one takes effect
// on the other through the Redis notice (its periodic reload is an hour
// away), and without Redis through the periodic reload.
func TestPolicyChangeReachesEveryReplica(t *testing.T) {
	ctx := context.Background()
	st := testenv.OpenStore(t, testenv.SQLite)
	tenants := 0
	newTenant := func() int {
		tenants++
		return st.Client.Tenant.Create().SetName("Replica Co").SetSlug(fmt.Sprintf("replica-%d", tenants)).SaveX(viewer.System(ctx)).ID
	}
	open := func(t *testing.T, rdb *redis.Client, reload time.Duration) *authz.Authorizer {
		opts := authz.Options{DB: st.DB, Driver: st.Driver(), Logger: quiet, ReloadEvery: reload, Channel: "scrm:authz:" + t.Name()}
		if rdb != nil {
			opts.NewRedis = func() *redis.Client { return redis.NewClient(rdb.Options()) }
		}
		a, err := authz.New(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return a
	}
	// Granting sets the role's one line for the object and act: show
	// agents phones in full, then masked again.
	grant := authz.Policy{Role: authz.RoleAgent, Object: "Customer.phone", Act: authz.ActRead, Effect: authz.EffectAllow}
	mask := authz.Policy{Role: authz.RoleAgent, Object: "Customer.phone", Act: authz.ActRead, Effect: authz.EffectMask}
	for _, backend := range testenv.RedisBackends() {
		t.Run("notice over "+backend, func(t *testing.T) {
			conn := testenv.OpenRedis(t, backend, 12)
			rdb := conn.Opt.MakeRedisClient().(*redis.Client)
			defer rdb.Close()
			tenantID := newTenant()
			phone := func(a *authz.Authorizer) authz.Decision {
				return a.Grants(tenantID, []string{authz.RoleAgent}).Read("Customer", "phone")
			}
			a, b := open(t, rdb, time.Hour), open(t, rdb, time.Hour)
			if phone(a) != authz.Mask || phone(b) != authz.Mask {
				t.Fatalf("agents start with masked phones: %v %v", phone(a), phone(b))
			}
			if err := a.Grant(viewer.System(ctx), st.Client, apiSchema, tenantID, grant); err != nil {
				t.Fatal(err)
			}
			if phone(a) != authz.Allow {
				t.Fatalf("the replica that granted still decides %v", phone(a))
			}
			// A notice published before b's subscription is live is lost
			// (pub/sub keeps nothing; the periodic reload covers that), so
			// a keeps announcing until b has applied it.
			eventually(t, "the other replica applying the grant", func() bool { return announced(a) && phone(b) == authz.Allow })
			if err := a.Grant(viewer.System(ctx), st.Client, apiSchema, tenantID, mask); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the other replica applying the change back", func() bool { return announced(a) && phone(b) == authz.Mask })
		})
	}
	t.Run("periodic reload without Redis", func(t *testing.T) {
		tenantID := newTenant()
		phone := func(a *authz.Authorizer) authz.Decision {
			return a.Grants(tenantID, []string{authz.RoleAgent}).Read("Customer", "phone")
		}
		a, b := open(t, nil, time.Hour), open(t, nil, 20*time.Millisecond)
		if err := a.Grant(viewer.System(ctx), st.Client, apiSchema, tenantID, grant); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the periodic reload picking up the grant", func() bool { return phone(b) == authz.Allow })
		if err := a.Grant(viewer.System(ctx), st.Client, apiSchema, tenantID, mask); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the periodic reload picking up the change back", func() bool { return phone(b) == authz.Mask })
	})
}
