package authz

import (
	"context"
	"errors"
	"fmt"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// ErrInactive is returned for a token of a staff member who has resigned
// or no longer exists.
var ErrInactive = errors.New("the staff member is no longer active")

// ErrCustomerGone is returned for a customer token whose customer no
// longer exists as such: erased, merged into another record, or deleted.
var ErrCustomerGone = errors.New("the customer is no longer active")

// resolveCustomer completes a mini-program customer's viewer: the
// customer must still be there (not erased, not merged away: a merged
// customer signs in again and lands on the record they were merged into),
// and their grants are the customer role's whatever the token says. No
// staff lookup and no data scope: the data layer confines them by
// CustomerID.
func (a *Authorizer) resolveCustomer(ctx context.Context, client *ent.Client, v *viewer.Viewer) (*viewer.Viewer, *Grants, error) {
	// One statement: the customer's tenant, found only while the customer
	// is there, with the trusted-document lists its mini-program customers
	// are limited to (none: any document).
	t, err := client.Customer.Query().
		Where(customer.ID(v.CustomerID), customer.TenantID(v.TenantID),
			customer.ErasedAtIsNil(), customer.MergedIntoIDIsNil()).
		QueryTenant().Select(tenant.FieldCustomerDocumentLists).Only(viewer.System(ctx))
	if ent.IsNotFound(err) {
		return nil, nil, ErrCustomerGone
	}
	if err != nil {
		return nil, nil, fmt.Errorf("authz: load customer: %w", err)
	}
	g := a.Grants(v.TenantID, []string{RoleCustomer})
	return &viewer.Viewer{TenantID: v.TenantID, CustomerID: v.CustomerID, Roles: g.Roles(),
		PersistedOnly: len(t.CustomerDocumentLists) > 0, DocumentLists: t.CustomerDocumentLists}, g, nil
}

// Resolve completes a signed-in viewer from the database: their current
// roles (a revoked role stops working at once, whatever the token says),
// and their data scope. It returns the viewer and their grants; put both
// in the request context.
func (a *Authorizer) Resolve(ctx context.Context, client *ent.Client, v *viewer.Viewer) (*viewer.Viewer, *Grants, error) {
	if v.CustomerID != 0 {
		return a.resolveCustomer(ctx, client, v)
	}
	sys := viewer.System(ctx)
	s, err := client.Staff.Query().
		Where(staff.ID(v.StaffID), staff.TenantID(v.TenantID)).
		Select(staff.FieldRoles, staff.FieldStatus).
		Only(sys)
	if ent.IsNotFound(err) {
		return nil, nil, ErrInactive
	}
	if err != nil {
		return nil, nil, fmt.Errorf("authz: load staff: %w", err)
	}
	if s.Status != staff.StatusActive {
		return nil, nil, ErrInactive
	}
	g := a.Grants(v.TenantID, s.Roles)
	out := &viewer.Viewer{TenantID: v.TenantID, StaffID: v.StaffID, Roles: g.Roles()}
	scope := g.Scope()
	if scope.Kind != ScopeAll {
		vs := &viewer.Scope{StaffID: v.StaffID, DepartmentIDs: scope.Departments}
		if scope.Kind == ScopeDepartment || scope.Kind == ScopeDepartmentSubtree {
			mine, err := client.Department.Query().
				Where(department.TenantID(v.TenantID), department.HasStaffWith(staff.ID(v.StaffID))).
				IDs(sys)
			if err != nil {
				return nil, nil, fmt.Errorf("authz: load departments: %w", err)
			}
			if scope.Kind == ScopeDepartmentSubtree && len(mine) > 0 {
				if mine, err = subtree(sys, client, v.TenantID, mine); err != nil {
					return nil, nil, err
				}
			}
			vs.DepartmentIDs = append(vs.DepartmentIDs, mine...)
		}
		out.Scope = vs
	}
	return out, g, nil
}

// subtree returns roots and every department below them, one level per
// query (department trees are a handful of levels deep).
func subtree(ctx context.Context, client *ent.Client, tenantID int, roots []int) ([]int, error) {
	all := append([]int(nil), roots...)
	level := roots
	for depth := 0; len(level) > 0 && depth < 16; depth++ {
		next, err := client.Department.Query().
			Where(department.TenantID(tenantID), department.ParentIDIn(level...)).
			IDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("authz: load departments below: %w", err)
		}
		level = next
		all = append(all, next...)
	}
	return all, nil
}

// Authorize returns the hook the HTTP layer calls for each signed-in
// viewer: it resolves their roles and scope and returns a context carrying
// the completed viewer and their grants.
func (a *Authorizer) Authorize(client *ent.Client) func(ctx context.Context, v *viewer.Viewer) (context.Context, error) {
	return func(ctx context.Context, v *viewer.Viewer) (context.Context, error) {
		if v.APIKeyID != 0 {
			nv, g := a.resolveKey(v)
			return NewContext(viewer.NewContext(ctx, nv), g), nil
		}
		nv, g, err := a.Resolve(ctx, client, v)
		if errors.Is(err, ErrInactive) {
			return nil, apperr.Unauthenticated("the token's staff member is no longer active")
		}
		if errors.Is(err, ErrCustomerGone) {
			return nil, apperr.Unauthenticated("the customer's account has changed; sign in again")
		}
		if err != nil {
			return nil, err
		}
		return NewContext(viewer.NewContext(ctx, nv), g), nil
	}
}

// resolveKey completes the viewer of an API key (verified by
// internal/apikeys): partner grants narrowed to the key's scopes, and the
// partner role's data scope. A key has no staff identity, so any scope
// narrower than the whole tenant leaves it no customers or tickets.
func (a *Authorizer) resolveKey(v *viewer.Viewer) (*viewer.Viewer, *Grants) {
	g := a.KeyGrants(v.TenantID, v.KeyScopes)
	nv := *v
	nv.Roles = []string{RolePartner}
	if g.Scope().Kind != ScopeAll {
		nv.Scope = &viewer.Scope{DepartmentIDs: g.Scope().Departments}
	}
	return &nv, g
}

// Anonymous returns the context of a request the HTTP layer let through
// without a token (a mini-program sign-in): AnonymousGrants and no viewer.
func Anonymous(ctx context.Context) context.Context { return NewContext(ctx, AnonymousGrants()) }
