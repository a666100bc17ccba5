// Package schema is the single source of the SCRM data model: fields, edges,
// indexes, mixins, interceptors and hooks. Tenancy lives here (TenantMixin),
// so no resolver or job can forget it: every query of a tenant-scoped type is
// filtered to the viewer's tenant, every write is stamped with it, and a
// write may not point an edge at another tenant's row.
package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"entgo.io/ent/schema/mixin"
)

// TimeMixin records when a row was created and last updated (UTC).
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").SchemaType(datetime).
			Default(now).
			Immutable().
			Annotations(
				entgql.OrderField("CREATED_AT"),
				noInput,
			),
		field.Time("updated_at").SchemaType(datetime).
			Default(now).
			UpdateDefault(now).
			Annotations(
				entgql.OrderField("UPDATED_AT"),
				noInput,
			),
	}
}

// noInput keeps a field or edge out of the GraphQL create and update
// inputs: the server maintains it.
var noInput = entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)

// noFilter keeps a field out of the GraphQL where inputs: free text and
// amounts nobody filters on would only invite full-table scans and bloat
// every where input (which gqlgen parses once per parent object).
var noFilter = entgql.Skip(entgql.SkipWhereInput)

// datetime stores points in time (UTC, microseconds) on MySQL as
// DATETIME(6) rather than TIMESTAMP, which ends in 2038 and shifts with the
// session time zone.
var datetime = map[string]string{dialect.MySQL: "datetime(6)"}

// Clock is where the data model reads the time for created_at, updated_at
// and the other stamps; tests of time-driven rules (SLA clocks) replace it
// with a fake one.
var Clock = time.Now

func now() time.Time { return Clock().UTC() }

// TenantMixin makes a type tenant-scoped: an immutable tenant reference that
// clients never see or set, a query interceptor confining reads to the
// viewer's tenant and hooks confining writes (see tenancy.go).
type TenantMixin struct{ mixin.Schema }

// Fields of the TenantMixin.
func (TenantMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Int("tenant_id").
			Immutable().
			Annotations(entgql.Skip()),
	}
}

// Edges of the TenantMixin.
func (TenantMixin) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("tenant", Tenant.Type).
			Field("tenant_id").
			Unique().
			Required().
			Immutable().
			Annotations(entgql.Skip()),
	}
}

// Indexes of the TenantMixin: most lists are a tenant's rows in creation
// order.
func (TenantMixin) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "created_at"),
	}
}

// Interceptors of the TenantMixin.
func (TenantMixin) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{tenantFilter()}
}

// Hooks of the TenantMixin.
func (TenantMixin) Hooks() []ent.Hook {
	return []ent.Hook{tenantWriteGuard(), tenantEdgeGuard()}
}
