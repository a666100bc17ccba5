package authz

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ScopeKind is a data scope: which customers, orders and tickets a role
// sees.
type ScopeKind string

// The data scopes, narrowest first.
const (
	// ScopeOwn: customers the staff member owns or follows, tickets
	// assigned to them.
	ScopeOwn ScopeKind = "own"
	// ScopeDepartments: as own, for every staff member of a chosen set of
	// departments ("datascope:departments:12,15").
	ScopeDepartments ScopeKind = "departments"
	// ScopeDepartment: as own, for every staff member of the viewer's
	// departments.
	ScopeDepartment ScopeKind = "department"
	// ScopeDepartmentSubtree: as department, including every department
	// below.
	ScopeDepartmentSubtree ScopeKind = "department_subtree"
	// ScopeAll: the whole tenant.
	ScopeAll ScopeKind = "all"
)

// ScopeKinds lists every scope kind.
var ScopeKinds = []ScopeKind{ScopeOwn, ScopeDepartments, ScopeDepartment, ScopeDepartmentSubtree, ScopeAll}

// RoleScope is a role's data scope as a policy states it.
type RoleScope struct {
	Kind ScopeKind
	// Departments are the chosen departments of ScopeDepartments (ent
	// ids; GraphQL shows them as global IDs).
	Departments []int
}

// Object is the policy object stating s.
func (s RoleScope) Object() string {
	if s.Kind != ScopeDepartments {
		return ScopePrefix + string(s.Kind)
	}
	ids := make([]string, len(s.Departments))
	for i, d := range s.Departments {
		ids[i] = strconv.Itoa(d)
	}
	return ScopePrefix + string(ScopeDepartments) + ":" + strings.Join(ids, ",")
}

// ParseScope reads a data-scope policy object.
func ParseScope(object string) (RoleScope, error) {
	rest, ok := strings.CutPrefix(object, ScopePrefix)
	if !ok {
		return RoleScope{}, fmt.Errorf("a data scope object starts with %q", ScopePrefix)
	}
	kind, list, hasList := strings.Cut(rest, ":")
	s := RoleScope{Kind: ScopeKind(kind)}
	if !slices.Contains(ScopeKinds, s.Kind) {
		return RoleScope{}, fmt.Errorf("unknown data scope %q; want one of own, department, department_subtree, departments:<ids>, all", kind)
	}
	if s.Kind == ScopeDepartments {
		if !hasList || list == "" {
			return RoleScope{}, fmt.Errorf("the departments scope lists department ids, as in %sdepartments:12,15", ScopePrefix)
		}
		for _, f := range strings.Split(list, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || id <= 0 {
				return RoleScope{}, fmt.Errorf("%q is not a department id", f)
			}
			s.Departments = append(s.Departments, id)
		}
	} else if hasList {
		return RoleScope{}, fmt.Errorf("the %s scope takes no list", kind)
	}
	return s, nil
}

// combine merges the scopes of a viewer's roles: the widest kind wins and
// chosen departments add up.
func combine(scopes []RoleScope) RoleScope {
	out := RoleScope{Kind: ScopeOwn}
	rank := func(k ScopeKind) int { return slices.Index(ScopeKinds, k) }
	for _, s := range scopes {
		if rank(s.Kind) > rank(out.Kind) {
			out.Kind = s.Kind
		}
		out.Departments = append(out.Departments, s.Departments...)
	}
	slices.Sort(out.Departments)
	out.Departments = slices.Compact(out.Departments)
	return out
}
