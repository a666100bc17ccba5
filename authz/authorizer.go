package authz

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqladapter "github.com/Blank-Xu/sql-adapter"
	"github.com/casbin/casbin/v2"
	rediswatcher "github.com/casbin/redis-watcher/v2"
	"github.com/redis/go-redis/v9"
)

// Table holds the policy lines (the adapter's columns; the ent schema
// CasbinRule creates it through the migrations).
const Table = "casbin_rule"

// Options configure an Authorizer.
type Options struct {
	// DB and Driver ("mysql" or "sqlite") are where the policies are read.
	DB     *sql.DB
	Driver string
	// NewRedis, when set, opens the Redis clients that carry policy-change
	// notices between replicas. Without it only the periodic reload
	// propagates changes (one process, tests).
	NewRedis func() *redis.Client
	// Channel is the notice channel; "scrm:authz" when empty.
	Channel string
	// ReloadEvery is the backstop reload period; 30s when zero.
	ReloadEvery time.Duration
	Logger      *slog.Logger
}

// Authorizer decides what a viewer may do. It is safe for concurrent use.
type Authorizer struct {
	enforcer *casbin.SyncedEnforcer
	watcher  *rediswatcher.Watcher
	logger   *slog.Logger

	// generation counts policy loads; compiled grants of an older one are
	// discarded.
	generation atomic.Uint64
	mu         sync.RWMutex
	compiled   map[grantsKey]*compiled

	// loadMu serialises policy loads: the SQL adapter keeps state while it
	// loads, and the periodic reload, a watcher message and a local change
	// can ask at once.
	loadMu sync.Mutex

	stop chan struct{}
	done chan struct{}
}

// New loads every tenant's policies and starts following changes.
func New(ctx context.Context, opts Options) (*Authorizer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.ReloadEvery <= 0 {
		opts.ReloadEvery = 30 * time.Second
	}
	if opts.Channel == "" {
		opts.Channel = "scrm:authz"
	}
	adapter, err := sqladapter.NewAdapterWithContext(ctx, opts.DB, opts.Driver, Table)
	if err != nil {
		return nil, fmt.Errorf("authz: policy adapter: %w", err)
	}
	m, err := newModel()
	if err != nil {
		return nil, fmt.Errorf("authz: model: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m, adapter)
	if err != nil {
		return nil, fmt.Errorf("authz: load policies: %w", err)
	}
	// Policies are written through ent inside the caller's transaction
	// (see Writer), never through the enforcer.
	e.EnableAutoSave(false)
	a := &Authorizer{
		enforcer: e,
		logger:   opts.Logger,
		compiled: map[grantsKey]*compiled{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if opts.NewRedis != nil {
		w, err := rediswatcher.NewWatcher("", rediswatcher.WatcherOptions{
			SubClient:              opts.NewRedis(),
			PubClient:              opts.NewRedis(),
			Channel:                opts.Channel,
			IgnoreSelf:             true,
			OptionalUpdateCallback: func(string) { a.reload("notice") },
		})
		if err != nil {
			return nil, fmt.Errorf("authz: policy watcher: %w", err)
		}
		a.watcher = w.(*rediswatcher.Watcher)
	}
	go a.reloadEvery(opts.ReloadEvery)
	return a, nil
}

// Close stops following changes.
func (a *Authorizer) Close() {
	close(a.stop)
	<-a.done
	if a.watcher != nil {
		a.watcher.Close()
	}
}

func (a *Authorizer) reloadEvery(d time.Duration) {
	defer close(a.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.reload("periodic")
		}
	}
}

// reload reads every policy again and drops compiled grants.
func (a *Authorizer) reload(why string) {
	if err := a.Reload(); err != nil {
		a.logger.Error("authz: reload policies", "trigger", why, "err", err)
	}
}

// Reload reads every policy again and drops compiled grants.
func (a *Authorizer) Reload() error {
	a.loadMu.Lock()
	defer a.loadMu.Unlock()
	if err := a.enforcer.LoadPolicy(); err != nil {
		return err
	}
	a.invalidate()
	return nil
}

func (a *Authorizer) invalidate() {
	a.generation.Add(1)
	a.mu.Lock()
	a.compiled = map[grantsKey]*compiled{}
	a.mu.Unlock()
}

// Changed reloads this replica and tells the others. Writers call it once
// the transaction that changed policies has committed.
func (a *Authorizer) Changed() error {
	err := a.Reload()
	if a.watcher != nil {
		if perr := a.watcher.Update(); perr != nil {
			// The periodic reload still carries the change.
			a.logger.Warn("authz: publish policy change", "err", perr)
		}
	}
	return err
}

// Roles lists the tenant's roles: the built-in ones and every custom role
// its policies mention, with what each inherits and its data scope.
func (a *Authorizer) Roles(tenantID int) []Role { return rolesOf(a.enforcer, Domain(tenantID)) }

// Role is a role of a tenant.
type Role struct {
	Name     string
	Builtin  bool
	Inherits []string
	// Scope is the widest data scope the role holds, inherited ones
	// included.
	Scope RoleScope
}

func rolesOf(e casbin.IEnforcer, dom string) []Role {
	byName := map[string]*Role{}
	get := func(name string) *Role {
		if r, ok := byName[name]; ok {
			return r
		}
		r := &Role{Name: name, Builtin: IsBuiltin(name)}
		byName[name] = r
		return r
	}
	for _, b := range BuiltinRoles {
		get(b)
	}
	ps, _ := e.GetFilteredPolicy(1, dom)
	for _, p := range ps {
		get(p[0])
	}
	gs, _ := e.GetFilteredGroupingPolicy(2, dom)
	for _, g := range gs {
		get(g[0]).Inherits = append(get(g[0]).Inherits, g[1])
		get(g[1])
	}
	out := make([]Role, 0, len(byName))
	for _, r := range byName {
		r.Scope = combine(scopesOf(e, dom, r.Name))
		slices.Sort(r.Inherits)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(x, y Role) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// RoleExists reports whether role is a role of the tenant.
func (a *Authorizer) RoleExists(tenantID int, role string) bool {
	return slices.ContainsFunc(a.Roles(tenantID), func(r Role) bool { return r.Name == role })
}

// Policies lists the tenant's policy lines, optionally of one role.
func (a *Authorizer) Policies(tenantID int, role string) []Policy {
	return policiesOf(a.enforcer, Domain(tenantID), role)
}

func policiesOf(e casbin.IEnforcer, dom, role string) []Policy {
	ps, _ := e.GetFilteredPolicy(1, dom)
	out := make([]Policy, 0, len(ps))
	for _, p := range ps {
		if len(p) < 5 || (role != "" && p[0] != role) {
			continue
		}
		out = append(out, Policy{Role: p[0], Object: p[2], Act: Act(p[3]), Effect: p[4]})
	}
	return out
}

// scopes returns the data scopes a role holds, inherited ones included.
func (a *Authorizer) scopes(dom, role string) []RoleScope { return scopesOf(a.enforcer, dom, role) }

func scopesOf(e casbin.IEnforcer, dom, role string) []RoleScope {
	perms, err := e.GetImplicitPermissionsForUser(role, dom)
	if err != nil {
		return nil
	}
	var out []RoleScope
	for _, p := range perms {
		if len(p) < 5 || Act(p[3]) != ActScope || p[4] != EffectAllow {
			continue
		}
		if s, err := ParseScope(p[2]); err == nil {
			out = append(out, s)
		}
	}
	return out
}
