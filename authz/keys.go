package authz

import (
	"fmt"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
)

// An API key acts with the partner role, narrowed to its scopes: the
// role's policy lines are the ceiling an admin sets for every partner, the
// scopes say what this one integration needs. A scope names
//
//   - a root field: "Query.orders", "Mutation.createTicket";
//   - a type: "Order" (every field of Order);
//   - one field: "Order.status".
//
// A type's connection and edge types follow it (OrderConnection,
// OrderEdge with Order), and PageInfo is always readable, so a scope list
// reads like the data it opens.

// ValidKeyScope checks a scope against the schema.
func ValidKeyScope(schema *ast.Schema, scope string) error {
	if scope == "" || scope == "*" || strings.Contains(scope, "*") {
		return fmt.Errorf("%q: name root fields (Query.orders) and types (Order) one by one; wildcards are not allowed", scope)
	}
	typ, field, hasField := strings.Cut(scope, ".")
	def := schema.Types[typ]
	if def == nil || def.Kind != ast.Object || strings.HasPrefix(typ, "__") {
		return fmt.Errorf("the API has no object type %q", typ)
	}
	root := typ == "Query" || typ == "Mutation" || typ == "Subscription"
	if root && !hasField {
		return fmt.Errorf("%q: name the root fields one by one (%s.x)", scope, typ)
	}
	if hasField && def.Fields.ForName(field) == nil {
		return fmt.Errorf("%s has no field %q", typ, field)
	}
	return nil
}

// keyScopes is a compiled scope list.
type keyScopes struct {
	types  map[string]bool
	fields map[objKey]bool
}

func (k *keyScopes) allows(typ, field string) bool {
	if k.types[typ] || k.fields[objKey{typ, field}] {
		return true
	}
	if typ == "PageInfo" {
		return true
	}
	for _, suffix := range [...]string{"Connection", "Edge"} {
		if base, ok := strings.CutSuffix(typ, suffix); ok && base != "" && k.types[base] {
			return true
		}
	}
	return false
}

var compiledScopes sync.Map // joined scope list → *keyScopes

func compileScopes(scopes []string) *keyScopes {
	id := strings.Join(scopes, "\x00")
	if k, ok := compiledScopes.Load(id); ok {
		return k.(*keyScopes)
	}
	k := &keyScopes{types: map[string]bool{}, fields: map[objKey]bool{}}
	for _, s := range scopes {
		if typ, field, ok := strings.Cut(s, "."); ok {
			k.fields[objKey{typ, field}] = true
		} else {
			k.types[s] = true
		}
	}
	compiledScopes.Store(id, k)
	return k
}

// KeyGrants returns the grants of an API key with scopes in a tenant: the
// partner role's decisions, narrowed to the scopes.
func (a *Authorizer) KeyGrants(tenantID int, scopes []string) *Grants {
	g := a.Grants(tenantID, []string{RolePartner})
	g.key = compileScopes(scopes)
	return g
}
