package resolvers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/graph/model"
)

// Conversions between authz's vocabulary and the API's enums. The API
// spells acts and scopes in UPPER_SNAKE; policies store them lower-case.

func policyFromInput(in model.PolicyRuleInput) authz.Policy {
	return authz.Policy{
		Role:   in.Role,
		Object: in.Object,
		Act:    authz.Act(strings.ToLower(string(in.Act))),
		Effect: strings.ToLower(string(in.Effect)),
	}
}

func policiesToModel(ps []authz.Policy) []*model.PolicyRule {
	out := make([]*model.PolicyRule, 0, len(ps))
	for _, p := range ps {
		if p.Act == authz.ActScope {
			continue // shown as Role.scope
		}
		out = append(out, &model.PolicyRule{
			Role:   p.Role,
			Object: p.Object,
			Act:    model.PolicyAct(strings.ToUpper(string(p.Act))),
			Effect: model.PolicyEffect(strings.ToUpper(p.Effect)),
		})
	}
	return out
}

func scopeFromModel(kind model.DataScopeKind, departments []int) authz.RoleScope {
	return authz.RoleScope{Kind: authz.ScopeKind(strings.ToLower(string(kind))), Departments: departments}
}

func rolesToModel(roles []authz.Role) []*model.Role {
	out := make([]*model.Role, 0, len(roles))
	for _, r := range roles {
		s := r.Scope
		out = append(out, &model.Role{
			Name:     r.Name,
			Builtin:  r.Builtin,
			Inherits: append([]string{}, r.Inherits...),
			Scope: &model.DataScope{
				Kind:          model.DataScopeKind(strings.ToUpper(string(s.Kind))),
				DepartmentIDs: append([]int{}, s.Departments...),
			},
		})
	}
	return out
}

// rulesAfter and roleAfter answer a policy change with the state it
// leaves. Inside the mutation's transaction the enforcer has not reloaded
// yet, so they read the tenant's lines from the transaction.
func (r *Resolver) rulesAfter(ctx context.Context, tenantID int, role string) ([]*model.PolicyRule, error) {
	ps, err := authz.PoliciesIn(ctx, r.db(ctx), tenantID)
	if err != nil {
		return nil, err
	}
	ps = slices.DeleteFunc(ps, func(p authz.Policy) bool { return p.Role != role })
	return policiesToModel(ps), nil
}

func (r *Resolver) roleAfter(ctx context.Context, tenantID int, name string) (*model.Role, error) {
	roles, err := authz.RolesIn(ctx, r.db(ctx), tenantID)
	if err != nil {
		return nil, err
	}
	for _, m := range rolesToModel(roles) {
		if m.Name == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("role %q missing right after it was written", name)
}
