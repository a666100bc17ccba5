package authz

import (
	"fmt"
	"strconv"

	"github.com/casbin/casbin/v2/model"
)

// The Casbin model: RBAC with domains. A subject is a role; a domain is a
// tenant ("t:42"); an object is "Type.field", "Type.*" or "*" (keyMatch),
// or a data scope ("datascope:own"); an action is one of the Act values;
// the effect is allow, mask (reads only) or deny. g links a custom role to
// the roles it inherits, per tenant.
//
// Casbin stores the lines, resolves role inheritance within a domain and
// matches objects; the decision itself is ours (decide), because the rule
// admins need is one Casbin's effects cannot state: the most specific line
// wins ("Customer.phone" over "Customer.*" over "*"), and a role's own
// lines win over those it inherits. That is what lets an admin show agents
// one field in full, or hide one from a custom role, with one line.
const modelText = `
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act, eft

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.dom == p.dom && keyMatch(r.obj, p.obj) && r.act == p.act
`

func newModel() (model.Model, error) { return model.NewModelFromString(modelText) }

// Act is what a policy line allows or denies on an object.
type Act string

// The actions.
const (
	// ActRead reads a field: in full (allow), masked (mask) or not at all
	// (deny). For a root field (Query.x, Mutation.x) it is the right to
	// call it.
	ActRead Act = "read"
	// ActWrite sets a field through a mutation input.
	ActWrite Act = "write"
	// ActReveal reveals one masked value, for a stated purpose.
	ActReveal Act = "reveal"
	// ActScope grants the data scope its object names ("datascope:own",
	// "datascope:department", "datascope:department_subtree",
	// "datascope:departments:12,15", "datascope:all").
	ActScope Act = "scope"
)

// ScopePrefix begins the object of every data-scope line.
const ScopePrefix = "datascope:"

// Effects of a policy line.
const (
	EffectAllow = "allow"
	// EffectMask reads a sensitive field masked (ActRead only).
	EffectMask = "mask"
	EffectDeny = "deny"
)

// Domain is the Casbin domain of a tenant.
func Domain(tenantID int) string { return "t:" + strconv.Itoa(tenantID) }

// Policy is one permission line of a tenant.
type Policy struct {
	Role   string
	Object string
	Act    Act
	Effect string
}

func (p Policy) line(dom string) []string {
	return []string{p.Role, dom, p.Object, string(p.Act), p.Effect}
}

func (p Policy) String() string {
	return fmt.Sprintf("%s %s %s on %s", p.Role, p.Effect, p.Act, p.Object)
}
