package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Department is a node of a tenant's organisation tree: headquarters,
// regions, areas, stores and teams.
type Department struct{ ent.Schema }

// Mixin of the Department.
func (Department) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Department.
func (Department) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("kind").
			NamedValues(named("HQ", "Region", "Area", "Store", "Team")...).
			Default("TEAM"),
		field.String("region_code").Optional().MaxLen(32).
			Comment("administrative region code (GB/T 2260) the department serves"),
		field.Int64("wecom_dept_id").Optional().Nillable().
			Comment("department id in the tenant's WeCom corp"),
		field.Int("sort_order").Default(0),
		field.Int("parent_id").Optional().Nillable(),
		field.Int("leader_id").Optional().Nillable().
			Comment("the supervisor: escalations and approvals by department head go here"),
		field.Int("calendar_id").Optional().Nillable().
			Comment("the store's own business calendar; empty = the parent's, up to the tenant default"),
	}
}

// Edges of the Department.
func (Department) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("children", Department.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.From("parent", Department.Type).
			Ref("children").
			Field("parent_id").
			Unique(),
		edge.To("staff", Staff.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.To("leader", Staff.Type).Field("leader_id").Unique(),
		edge.To("calendar", BusinessCalendar.Type).Field("calendar_id").Unique(),
	}
}

// Indexes of the Department.
func (Department) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "wecom_dept_id").Unique(),
	}
}

// Annotations of the Department.
func (Department) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("departments"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
