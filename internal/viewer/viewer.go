// Package viewer carries who is making a request through a context: the
// tenant, the staff member and their roles. The data layer (ent interceptors
// and hooks in ent/schema) reads it to confine every query and mutation to the
// caller's tenant; it never decides permissions itself (that is authz/).
//
// A context without a viewer is denied by the data layer. Work that must span
// tenants (migrations, seeding, platform jobs before they pick a tenant) says
// so explicitly with System.
package viewer

import (
	"context"
	"errors"
	"slices"
)

// Viewer is the caller of one request or job.
type Viewer struct {
	TenantID int
	StaffID  int // zero for non-staff callers (jobs acting for a tenant)
	Roles    []string
	// Scope confines the customers, orders and tickets a staff member
	// sees; nil sees the whole tenant. authz computes it, the data layer
	// (ent/schema) applies it.
	Scope *Scope
	// CustomerID is set for a mini-program customer (role customer): the
	// data layer confines them to their own customer record and what
	// hangs off it.
	CustomerID int
	// APIKeyID is set for a partner calling with an API key (role
	// partner); KeyScopes narrow what the role allows (authz).
	APIKeyID  int
	KeyScopes []string
	// PersistedOnly callers may run only documents on DocumentLists, the
	// tenant's trusted-document lists they are limited to.
	PersistedOnly bool
	DocumentLists []string
	system        bool
}

// Scope is a data scope: the staff member's own customers and tickets,
// and those of every staff member of DepartmentIDs.
type Scope struct {
	StaffID       int
	DepartmentIDs []int
}

// HasRole reports whether the viewer holds role.
func (v *Viewer) HasRole(role string) bool { return slices.Contains(v.Roles, role) }

// IsSystem reports whether the viewer may act across tenants.
func (v *Viewer) IsSystem() bool { return v != nil && v.system }

type ctxKey struct{}

// NewContext returns ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, ctxKey{}, v)
}

// FromContext returns the viewer in ctx, or nil.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(ctxKey{}).(*Viewer)
	return v
}

// System returns ctx carrying a viewer that may read and write every tenant.
// Use it only where crossing tenants is the point (migrations, seeding,
// dispatching platform work) and narrow to ForTenant as soon as possible.
func System(ctx context.Context) context.Context {
	return NewContext(ctx, &Viewer{system: true})
}

// ForTenant returns ctx carrying a viewer confined to one tenant with no
// staff identity: background work done on the tenant's behalf.
func ForTenant(ctx context.Context, tenantID int) context.Context {
	return NewContext(ctx, &Viewer{TenantID: tenantID})
}

// ErrMissing is returned by the data layer for work done without a viewer:
// a programming error, never a client's.
var ErrMissing = errors.New("viewer: no viewer in context; use viewer.NewContext, ForTenant or System")
