package schema

import (
	"context"
	"fmt"
	"slices"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"

	gen "github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/intercept"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

const tenantColumn = "tenant_id"

// tenantFilter confines every query of a tenant-scoped type, including
// counts, edges, eager loads and node lookups, to the viewer's tenant; a
// mini-program customer sees only the types of customerSees (scope.go).
func tenantFilter() ent.Interceptor { return confineTo(tenantColumn, true) }

// ownTenantOnly lets a viewer read only its own Tenant row.
func ownTenantOnly() ent.Interceptor { return confineTo("id", false) }

// confineTo filters queries to rows whose column holds the viewer's
// tenant. System viewers see every tenant; no viewer sees nothing.
func confineTo(column string, customerTypes bool) ent.Interceptor {
	return intercept.TraverseFunc(func(ctx context.Context, q intercept.Query) error {
		v := viewer.FromContext(ctx)
		switch {
		case v == nil:
			return viewer.ErrMissing
		case v.IsSystem():
			return nil
		}
		q.WhereP(sql.FieldEQ(column, v.TenantID))
		if customerTypes && v.CustomerID != 0 && !slices.Contains(customerSees, q.Type()) {
			q.WhereP(func(s *sql.Selector) { s.Where(sql.False()) })
		}
		return nil
	})
}

// tenantMutation is what every mutation of a TenantMixin type offers.
type tenantMutation interface {
	ent.Mutation
	TenantID() (int, bool)
	SetTenantID(int)
	WhereP(...func(*sql.Selector))
}

// tenantWriteGuard stamps new rows with the viewer's tenant and confines
// updates and deletes to it. System writes must name the tenant themselves.
func tenantWriteGuard() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			v := viewer.FromContext(ctx)
			if v == nil {
				return nil, viewer.ErrMissing
			}
			tm, ok := m.(tenantMutation)
			if !ok {
				return nil, fmt.Errorf("tenant guard: %s mutation is not tenant-scoped", m.Type())
			}
			if v.CustomerID != 0 && !v.IsSystem() {
				if err := guardCustomerWrite(v, m); err != nil {
					return nil, err
				}
			}
			if m.Op().Is(ent.OpCreate) {
				id, set := tm.TenantID()
				switch {
				case v.IsSystem() && !set:
					return nil, fmt.Errorf("tenant guard: a system write must set the tenant of the new %s", m.Type())
				case !v.IsSystem() && set && id != v.TenantID:
					return nil, apperr.Forbidden("cannot create a %s in another tenant", m.Type())
				case !v.IsSystem():
					tm.SetTenantID(v.TenantID)
				}
			} else if !v.IsSystem() {
				tm.WhereP(sql.FieldEQ(tenantColumn, v.TenantID))
			}
			return next.Mutate(ctx, m)
		})
	}
}

// tenantEdgeGuard refuses a write that would point an edge at a row the
// viewer cannot see: another tenant's, a missing one, or one of the wrong
// type. The lookup goes through the same query interceptors as reads, so
// whatever hides a row from a viewer also stops them linking to it.
func tenantEdgeGuard() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if v := viewer.FromContext(ctx); v != nil && !v.IsSystem() {
				if err := checkEdgeTargets(ctx, m); err != nil {
					return nil, err
				}
			}
			return next.Mutate(ctx, m)
		})
	}
}

func checkEdgeTargets(ctx context.Context, m ent.Mutation) error {
	targets := gen.EdgeTargets[m.Type()]
	withClient, ok := m.(interface{ Client() *gen.Client })
	if !ok {
		return fmt.Errorf("edge guard: %s mutation has no client", m.Type())
	}
	edges := m.AddedEdges()
	slices.Sort(edges) // report the same error for the same input
	for _, name := range edges {
		target, ok := targets[name]
		if !ok {
			continue
		}
		input := target.UpdateInput
		if m.Op().Is(ent.OpCreate) {
			input = target.CreateInput
		}
		ids := make([]int, 0, len(m.AddedIDs(name)))
		for _, v := range m.AddedIDs(name) {
			id, ok := v.(int)
			if !ok {
				return fmt.Errorf("edge guard: %s.%s has id of type %T", m.Type(), name, v)
			}
			if gid.TypeOf(id) != target.Type {
				return apperr.Invalid(input, "%s is not the ID of a %s", gid.Encode(id), target.Type)
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			continue
		}
		n, err := withClient.Client().CountVisible(ctx, target.Table, ids)
		if err != nil {
			return fmt.Errorf("edge guard: look up %s.%s: %w", m.Type(), name, err)
		}
		if n != len(ids) {
			return apperr.Invalid(input, "no %s with that ID", target.Type)
		}
	}
	return nil
}
