package authz

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Decision is what a viewer gets when reading a field.
type Decision uint8

// The read decisions.
const (
	Deny Decision = iota
	Mask
	Allow
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Mask:
		return "mask"
	}
	return "deny"
}

type grantsKey struct {
	tenant int
	roles  string
}

type objKey struct{ typ, field string }

// compiled caches one (tenant, role set)'s decisions for one policy
// generation. Decisions are computed on first use: a request pays a map
// lookup per field, Casbin runs once per distinct field per role set.
type compiled struct {
	a          *Authorizer
	generation uint64
	tenantID   int
	dom        string
	roles      []string
	scope      RoleScope

	mu     sync.RWMutex
	read   map[objKey]Decision
	write  map[objKey]bool
	reveal map[objKey]bool
}

// Grants are what one viewer may do: the decisions of their roles in their
// tenant. Get them with Authorizer.Grants; they are cheap to keep per
// request.
type Grants struct {
	c *compiled
	// key, when set, narrows the roles' decisions to an API key's scopes.
	key *keyScopes
	// only, when set, replaces the policies: the fixed objects a caller
	// without a token may read (AnonymousGrants), and nothing else.
	only []string
}

// anonymousObjects are all a request without a token may touch: the
// mini-program sign-in and its answer.
var anonymousObjects = []string{"Mutation.loginWithMiniProgram", "CustomerLoginPayload.*"}

// AnonymousMutations are the root fields a request without a token may
// select (besides __typename); the HTTP layer lets exactly those through.
var AnonymousMutations = []string{"loginWithMiniProgram"}

var anonymous = &Grants{only: anonymousObjects}

// AnonymousGrants are the grants of a request made without a token: it may
// sign a mini-program customer in, read the answer, and nothing else; it
// writes no input object, reveals nothing and has no tenant.
func AnonymousGrants() *Grants { return anonymous }

// allowsOnly reports whether the fixed list names typ.field.
func (g *Grants) allowsOnly(typ, field string) bool {
	return slices.Contains(g.only, typ+"."+field) || slices.Contains(g.only, typ+".*")
}

// Grants returns the decisions for roles in the tenant.
func (a *Authorizer) Grants(tenantID int, roles []string) *Grants {
	roles = slices.Clone(roles)
	slices.Sort(roles)
	roles = slices.Compact(roles)
	key := grantsKey{tenant: tenantID, roles: strings.Join(roles, ",")}
	gen := a.generation.Load()
	a.mu.RLock()
	c, ok := a.compiled[key]
	a.mu.RUnlock()
	if ok && c.generation == gen {
		return &Grants{c: c}
	}
	c = &compiled{
		a: a, generation: gen, tenantID: tenantID, dom: Domain(tenantID), roles: roles,
		read: map[objKey]Decision{}, write: map[objKey]bool{}, reveal: map[objKey]bool{},
	}
	var scopes []RoleScope
	for _, r := range roles {
		scopes = append(scopes, a.scopes(c.dom, r)...)
	}
	c.scope = combine(scopes)
	a.mu.Lock()
	if a.generation.Load() == gen {
		a.compiled[key] = c
	}
	a.mu.Unlock()
	return &Grants{c: c}
}

// Roles are the viewer's roles, sorted.
func (g *Grants) Roles() []string {
	if g.c == nil {
		return nil
	}
	return g.c.roles
}

// TenantID is the tenant the grants apply in.
func (g *Grants) TenantID() int {
	if g.c == nil {
		return 0
	}
	return g.c.tenantID
}

// Scope is the viewer's data scope: the widest of their roles'.
func (g *Grants) Scope() RoleScope {
	if g.c == nil {
		return RoleScope{Kind: ScopeOwn}
	}
	return g.c.scope
}

// Read decides how the viewer sees typ.field: in full, masked or not at
// all. A field is masked only if it has a mask (Sensitive); a policy that
// masks any other field denies it.
func (g *Grants) Read(typ, field string) Decision {
	if g.c == nil {
		if g.allowsOnly(typ, field) {
			return Allow
		}
		return Deny
	}
	if g.key != nil && !g.key.allows(typ, field) {
		return Deny
	}
	k := objKey{typ, field}
	c := g.c
	c.mu.RLock()
	d, ok := c.read[k]
	c.mu.RUnlock()
	if ok {
		return d
	}
	obj := typ + "." + field
	_, maskable := Sensitive[obj]
	d = Deny
	for _, r := range c.roles { // across roles the most permissive wins
		switch effect, _ := decide(c.a.enforcer, c.dom, r, obj, ActRead); {
		case effect == EffectAllow:
			d = Allow
		case effect == EffectMask && maskable && d == Deny:
			d = Mask
		}
	}
	c.mu.Lock()
	c.read[k] = d
	c.mu.Unlock()
	return d
}

// CanWrite reports whether the viewer may set typ.field through a
// mutation input.
func (g *Grants) CanWrite(typ, field string) bool {
	if g.c == nil || (g.key != nil && !g.key.allows(typ, field)) {
		return false
	}
	return g.c.flag(g.c.write, typ, field, ActWrite)
}

// CanReveal reports whether the viewer may reveal one masked typ.field.
func (g *Grants) CanReveal(typ, field string) bool {
	if g.c == nil || g.key != nil { // keys never reveal masked values
		return false
	}
	return g.c.flag(g.c.reveal, typ, field, ActReveal)
}

func (c *compiled) flag(cache map[objKey]bool, typ, field string, act Act) bool {
	k := objKey{typ, field}
	c.mu.RLock()
	v, ok := cache[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = c.any(typ+"."+field, act)
	c.mu.Lock()
	cache[k] = v
	c.mu.Unlock()
	return v
}

// any reports whether one of the roles is allowed act on obj: across
// roles the most permissive wins.
func (c *compiled) any(obj string, act Act) bool {
	for _, r := range c.roles {
		if effect, _ := decide(c.a.enforcer, c.dom, r, obj, act); effect == EffectAllow {
			return true
		}
	}
	return false
}

type grantsCtxKey struct{}

// NewContext returns ctx carrying g.
func NewContext(ctx context.Context, g *Grants) context.Context {
	return context.WithValue(ctx, grantsCtxKey{}, g)
}

// FromContext returns the grants in ctx, or nil.
func FromContext(ctx context.Context) *Grants {
	g, _ := ctx.Value(grantsCtxKey{}).(*Grants)
	return g
}
