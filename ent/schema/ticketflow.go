package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/scrm-dev/scrm/internal/businesstime"
	"github.com/scrm-dev/scrm/internal/routing"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// TicketType is a kind of ticket (after-sales, complaint, refund, ...) with
// its workflow, routing and closing rules. Admins edit it through the
// ticket workflow mutations (internal/tickets checks every change), so it
// has no generated inputs.
type TicketType struct{ ent.Schema }

// Mixin of the TicketType.
func (TicketType) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the TicketType.
func (TicketType) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxLen(32).Match(typeKeyPattern).Immutable().
			Comment("stable name, AFTER_SALES"),
		field.String("name").NotEmpty().MaxLen(100).Annotations(entgql.OrderField("NAME")),
		field.Text("description").Default("").Annotations(noFilter),
		field.Bool("active").Default(true),
		field.JSON("default_for_sources", []workflow.Source{}).Default([]workflow.Source{}).
			Annotations(entgql.Type("[TicketSource!]")).
			Comment("tickets opened from these sources without a type get this one"),
		field.JSON("workflow", workflow.Workflow{}).Annotations(entgql.Type("Workflow")),
		field.JSON("routing", routing.Config{}).Annotations(entgql.Type("RoutingConfig")),
		field.String("claim_back_after").Default("").MaxLen(16).
			Comment("Go duration; an assigned ticket not picked up within it returns to the queue; empty = never"),
		field.Int("fairness_cap").Default(0).NonNegative().
			Comment("assignments per agent per fairness window; 0 = no cap"),
		field.String("fairness_window").Default("1h").MaxLen(16),
		field.String("reopen_window").Default("168h").MaxLen(16).
			Comment("how long after closing the customer or an agent may reopen"),
		field.Strings("keywords").Default([]string{}).
			Comment("an inbound WeCom customer message containing one opens a ticket of this type"),
		field.Int("survey_form_id").Optional().Nillable().
			Comment("the satisfaction survey sent on close"),
	}
}

// Edges of the TicketType.
func (TicketType) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("survey_form", Form.Type).Field("survey_form_id").Unique(),
	}
}

// Indexes of the TicketType.
func (TicketType) Indexes() []ent.Index {
	return []ent.Index{index.Fields("tenant_id", "key").Unique()}
}

// Annotations of the TicketType.
func (TicketType) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField("ticketTypes"), entgql.RelayConnection()}
}

// SLAPolicy sets response and resolution targets for the tickets its
// condition matches (the first active policy by position wins) and the
// escalations when they near or pass.
type SLAPolicy struct{ ent.Schema }

// Mixin of the SLAPolicy.
func (SLAPolicy) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the SLAPolicy.
func (SLAPolicy) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100),
		field.Int("position").Default(0).Annotations(entgql.OrderField("POSITION")),
		field.Bool("active").Default(true),
		field.JSON("condition", workflow.Condition{}).Annotations(entgql.Type("SLACondition")),
		field.JSON("targets", workflow.Targets{}).Annotations(entgql.Type("SLATargets")),
		field.Bool("business_hours").Default(true).
			Comment("count targets in the calendar's working time; false = around the clock"),
		field.Int("calendar_id").Optional().Nillable().
			Comment("empty: the ticket team's calendar (or the nearest above), else the tenant's default"),
		field.JSON("escalations", []workflow.EscalationRule{}).Default([]workflow.EscalationRule{}).
			Annotations(entgql.Type("[EscalationRule!]")),
	}
}

// Edges of the SLAPolicy.
func (SLAPolicy) Edges() []ent.Edge {
	return []ent.Edge{edge.To("calendar", BusinessCalendar.Type).Field("calendar_id").Unique()}
}

// Annotations of the SLAPolicy.
func (SLAPolicy) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField("slaPolicies"), entgql.RelayConnection()}
}

// BusinessCalendar is a tenant's or a store's working time: windows per
// weekday, public holidays and make-up working days (调休), in a time zone.
type BusinessCalendar struct{ ent.Schema }

// Mixin of the BusinessCalendar.
func (BusinessCalendar) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the BusinessCalendar.
func (BusinessCalendar) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100),
		field.Bool("is_default").Default(false).Comment("the tenant's calendar when no store has its own"),
		field.JSON("spec", businesstime.Spec{}).Annotations(entgql.Type("CalendarSpec")),
	}
}

// Annotations of the BusinessCalendar.
func (BusinessCalendar) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField("businessCalendars"), entgql.RelayConnection()}
}

// TicketChange is one entry of a ticket's history: who changed what, from
// what to what, and why. The engine writes it in the transaction of the
// change.
type TicketChange struct{ ent.Schema }

// Mixin of the TicketChange.
func (TicketChange) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of the TicketChange.
func (TicketChange) Fields() []ent.Field {
	return []ent.Field{
		field.Int("ticket_id").Immutable(),
		field.Int("actor_id").Optional().Nillable().Immutable().
			Comment("empty for the system: routing, timers, platforms"),
		field.String("kind").MaxLen(32).Immutable().
			Comment("CREATED, STATUS_CHANGED, ASSIGNED, PRIORITY_CHANGED, TYPE_CHANGED, ESCALATED, SLA_BREACHED, APPROVAL_REQUESTED, APPROVED, REJECTED, CLAIMED_BACK, FIRST_RESPONSE, SURVEY_ANSWERED, REOPENED"),
		field.String("field").Default("").MaxLen(64).Immutable(),
		field.String("before").Default("").MaxLen(255).Immutable(),
		field.String("after").Default("").MaxLen(255).Immutable(),
		field.Text("note").Default("").Immutable(),
		field.Time("created_at").SchemaType(datetime).Default(now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of the TicketChange.
func (TicketChange) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("changes").Field("ticket_id").Unique().Required().Immutable(),
		edge.To("actor", Staff.Type).Field("actor_id").Unique().Immutable(),
	}
}

// Hooks of the TicketChange: the viewer's data scope.
func (TicketChange) Hooks() []ent.Hook { return []ent.Hook{changeScope.guard} }

// Interceptors of the TicketChange: the history follows its ticket's scope.
func (TicketChange) Interceptors() []ent.Interceptor { return []ent.Interceptor{changeScope.filter} }

// Indexes of the TicketChange.
func (TicketChange) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ticket_id", "created_at")}
}

// Annotations of the TicketChange.
func (TicketChange) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// TicketApproval is one approval step a ticket waits on before a
// transition completes, with the decisions made on it.
type TicketApproval struct{ ent.Schema }

// Mixin of the TicketApproval.
func (TicketApproval) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the TicketApproval.
func (TicketApproval) Fields() []ent.Field {
	return []ent.Field{
		field.Int("ticket_id").Immutable(),
		field.Int("step").Immutable().Comment("index of the step in the transition's approvals"),
		field.String("name").Default("").MaxLen(100).Immutable(),
		field.String("from_status").GoType(workflow.Status("")).MaxLen(32).Immutable().Annotations(entgql.Type("TicketStatus"), noFilter),
		field.String("to_status").GoType(workflow.Status("")).MaxLen(32).Immutable().Annotations(entgql.Type("TicketStatus"), noFilter),
		field.String("reject_to").GoType(workflow.Status("")).MaxLen(32).Immutable().Annotations(entgql.Type("TicketStatus"), noFilter),
		field.Int("requested_by_id").Optional().Nillable().Immutable(),
		field.JSON("approver", workflow.ApprovalStep{}).Immutable().Annotations(entgql.Type("ApprovalStep")),
		field.Int("required_approvals").Default(1).Immutable(),
		field.Enum("status").NamedValues(named("Pending", "Approved", "Rejected", "Cancelled")...).Default("PENDING"),
		field.JSON("decisions", []workflow.Decision{}).Default([]workflow.Decision{}).
			Annotations(entgql.Type("[ApprovalDecision!]")),
		field.Time("decided_at").SchemaType(datetime).Optional().Nillable(),
	}
}

// Edges of the TicketApproval.
func (TicketApproval) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("approvals").Field("ticket_id").Unique().Required().Immutable(),
		edge.To("requested_by", Staff.Type).Field("requested_by_id").Unique().Immutable(),
	}
}

// Hooks of the TicketApproval: the viewer's data scope.
func (TicketApproval) Hooks() []ent.Hook { return []ent.Hook{approvalScope.guard} }

// Interceptors of the TicketApproval: approvals follow their ticket's scope.
func (TicketApproval) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{approvalScope.filter}
}

// Indexes of the TicketApproval.
func (TicketApproval) Indexes() []ent.Index {
	return []ent.Index{index.Fields("tenant_id", "status"), index.Fields("ticket_id")}
}

// Annotations of the TicketApproval.
func (TicketApproval) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
