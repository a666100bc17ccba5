package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/scrm-dev/scrm/internal/businesstime"
)

// Staff is an employee of a tenant who signs in: agents, supervisors,
// marketers, administrators, auditors.
type Staff struct{ ent.Schema }

// Mixin of the Staff.
func (Staff) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Staff.
func (Staff) Fields() []ent.Field {
	return []ent.Field{
		field.String("login").
			NotEmpty().MaxLen(64).Match(loginPattern).
			Annotations(entgql.OrderField("LOGIN")),
		field.String("name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.String("mobile").Optional().MaxLen(20).Match(mobilePattern).
			ValueScanner(sealed).SchemaType(sealedColumn).Annotations(noFilter),
		field.String("email").Optional().MaxLen(254).Validate(validateEmail).
			ValueScanner(sealed).SchemaType(sealedColumn).Annotations(noFilter),
		field.String("wecom_user_id").Optional().Nillable().MaxLen(64).
			Comment("userid in the tenant's WeCom corp"),
		field.Strings("roles").Default([]string{}).
			Annotations(noInput).
			Comment("assigned through authz (assignRoles), which checks them against the tenant's roles"),
		field.Strings("skill_tags").Default([]string{}),
		field.String("region").Optional().MaxLen(32),
		field.Enum("status").NamedValues(named("Active", "Resigned")...).Default("ACTIVE"),
		field.Int("capacity").Default(20).NonNegative().
			Comment("maximum open tickets"),
		field.JSON("working_hours", &businesstime.Spec{}).Optional().
			Annotations(entgql.Type("CalendarSpec")).
			Comment("the shifts routing assigns within; empty = always"),
		field.Int("open_tickets").Default(0).Annotations(noInput).
			Comment("open tickets assigned, kept by the workflow engine in the assigning transaction"),
		field.Time("last_assigned_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput, entgql.Skip()),
		field.Float("csat_average").Default(0).Annotations(noInput, noFilter).
			Comment("average satisfaction rating of the last 30 days' answered surveys"),
		field.Int("csat_count").Default(0).Annotations(noInput, noFilter),
		field.Int64("avg_resolution_seconds").Default(0).Annotations(noInput, noFilter).
			Comment("average time to resolve over the last 30 days"),
	}
}

// Edges of the Staff.
func (Staff) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("departments", Department.Type).Ref("staff"),
		edge.To("owned_customers", Customer.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.To("followed_customers", Customer.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.To("assigned_tickets", Ticket.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.From("leads", Department.Type).Ref("leader").Annotations(entgql.Skip()),
		edge.From("backup_for_channels", Channel.Type).Ref("backup_staff").
			Annotations(entgql.Skip()),
	}
}

// Hooks of the Staff.
func (Staff) Hooks() []ent.Hook {
	return []ent.Hook{checkStaffRoles(), keepAManager()}
}

// Indexes of the Staff.
func (Staff) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "login").Unique(),
		index.Fields("tenant_id", "wecom_user_id").Unique(),
	}
}

// Annotations of the Staff.
func (Staff) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Annotation{Table: "staff"},
		entgql.QueryField("staff"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
