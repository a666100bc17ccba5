package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Ticket is an after-sales request, complaint or question worked by staff.
type Ticket struct{ ent.Schema }

// Mixin of the Ticket.
func (Ticket) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Ticket.
func (Ticket) Fields() []ent.Field {
	return []ent.Field{
		field.String("number").Immutable().MaxLen(32).
			Comment("per-tenant human number, T-000123, assigned on create").
			Annotations(noInput, entgql.OrderField("NUMBER")),
		field.String("title").NotEmpty().MaxLen(200),
		field.Text("description").Default("").Annotations(noFilter),
		field.String("category").Default("").MaxLen(64),
		field.Enum("priority").NamedValues(named("Low", "Normal", "High", "Urgent")...).Default("NORMAL"),
		field.Enum("status").
			NamedValues(named("New", "Assigned", "InProgress", "PendingCustomer", "PendingApproval", "Resolved", "Closed", "Reopened")...).
			Default("NEW").
			Annotations(noInput).
			Comment("changed only by the workflow engine (transitionTicket), which checks the ticket type's workflow"),
		field.Enum("source").NamedValues(named("Manual", "Form", "OrderReturn", "Wecom", "API", "MiniProgram")...).Default("MANUAL"),
		field.Int("customer_id").Optional().Nillable(),
		field.Int("order_id").Optional().Nillable(),
		field.Int("assignee_id").Optional().Nillable().
			Annotations(noInput).
			Comment("set by routing or assignTicket/claimTicket, which check permission and capacity"),
		field.Int("team_id").Optional().Nillable(),
		field.String("region").Optional().MaxLen(32),
		field.Strings("required_skills").Default([]string{}),
		field.Int("type_id").Optional().Nillable(),
		field.Int("sla_policy_id").Optional().Nillable().Annotations(noInput),
		field.Time("first_response_due_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Time("next_update_due_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Time("resolution_due_at").SchemaType(datetime).Optional().Nillable().
			Annotations(noInput, entgql.OrderField("RESOLUTION_DUE_AT")),
		field.Time("first_responded_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Time("last_update_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput).
			Comment("the last staff update the customer saw (or the end of the last pause): the next-update clock counts from it"),
		field.Time("sla_paused_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput).
			Comment("when the SLA clock stopped (PENDING_CUSTOMER); empty while it runs"),
		field.Int64("sla_paused_seconds").Default(0).Annotations(noInput, noFilter).
			Comment("SLA time (business or calendar, as the policy counts) spent paused, added to every target"),
		field.Time("first_response_breached_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Time("resolution_breached_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Int("escalation_level").Default(0).Annotations(noInput),
		field.Time("escalated_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput).
			Comment("when an escalation rule last fired"),
		field.Strings("escalations_done").Optional().Annotations(noInput, entgql.Skip()).
			Comment("escalation rules already fired in this SLA generation, as target@percent"),
		field.Time("next_escalation_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput).
			Comment("when the next escalation rule is due; the timer and the sweeper look here"),
		field.Int("sla_generation").Default(0).Annotations(noInput, entgql.Skip()).
			Comment("bumped when due times change, so older timers know they are superseded"),
		field.Time("assigned_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Text("assignment_reason").Default("").Annotations(noInput, noFilter).
			Comment("why routing chose the assignee, in words"),
		field.Time("reopened_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Int("csat").Optional().Nillable().Range(1, 5).Annotations(noInput),
		field.Text("csat_comment").Default("").Annotations(noInput, noFilter),
		field.Int("csat_staff_id").Optional().Nillable().Annotations(noInput).
			Comment("the agent the rating is about: the assignee when the survey was answered"),
		field.String("survey_token_hash").Optional().Nillable().MaxLen(64).Annotations(entgql.Skip()),
		field.Time("survey_sent_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Time("resolved_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Time("closed_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.JSON("custom_fields", map[string]any{}).Optional(),
	}
}

// Edges of the Ticket.
func (Ticket) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customer", Customer.Type).Ref("tickets").Field("customer_id").Unique(),
		edge.To("order", Order.Type).Field("order_id").Unique(),
		edge.From("assignee", Staff.Type).Ref("assigned_tickets").Field("assignee_id").Unique().
			Annotations(noInput),
		edge.To("team", Department.Type).Field("team_id").Unique(),
		edge.To("ticket_type", TicketType.Type).Field("type_id").Unique(),
		edge.To("sla_policy", SLAPolicy.Type).Field("sla_policy_id").Unique().Annotations(noInput),
		edge.To("changes", TicketChange.Type).Annotations(entgql.RelayConnection(), noInput),
		edge.To("approvals", TicketApproval.Type).Annotations(noInput),
		edge.To("comments", TicketComment.Type).
			Annotations(
				entgql.RelayConnection(),
				noInput,
			),
	}
}

// Indexes of the Ticket.
func (Ticket) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "number").Unique(),
		index.Fields("tenant_id", "status"),
		index.Fields("customer_id", "tenant_id", "status"),
		index.Fields("assignee_id", "status"),
		index.Fields("next_escalation_at"),
		index.Fields("survey_token_hash").Unique(),
	}
}

// Hooks of the Ticket.
func (Ticket) Hooks() []ent.Hook {
	return []ent.Hook{ticketScope.guard, ownNewTickets(), assignTicketNumber(), stampTicketStatusTimes(), ticketEvents()}
}

// Interceptors of the Ticket: the viewer's data scope.
func (Ticket) Interceptors() []ent.Interceptor { return []ent.Interceptor{ticketScope.filter} }

// Annotations of the Ticket.
func (Ticket) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("tickets"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// TicketComment is a note on a ticket: public (seen by the customer) or
// internal (staff only).
type TicketComment struct{ ent.Schema }

// Mixin of the TicketComment.
func (TicketComment) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the TicketComment.
func (TicketComment) Fields() []ent.Field {
	return []ent.Field{
		field.Text("body").NotEmpty().Annotations(noFilter),
		field.Bool("internal").Default(false),
		field.Int("ticket_id").Immutable(),
		field.Int("author_id").Optional().Nillable().Immutable().
			Annotations(noInput),
	}
}

// Edges of the TicketComment.
func (TicketComment) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("ticket", Ticket.Type).Ref("comments").Field("ticket_id").Unique().Required().Immutable(),
		edge.To("author", Staff.Type).Field("author_id").Unique().Immutable().
			Annotations(noInput),
	}
}

// Hooks of the TicketComment.
func (TicketComment) Hooks() []ent.Hook {
	return []ent.Hook{commentScope.guard, stampCommentAuthor(), commentEvents()}
}

// Interceptors of the TicketComment: the viewer's data scope.
func (TicketComment) Interceptors() []ent.Interceptor { return []ent.Interceptor{commentScope.filter} }

// Annotations of the TicketComment.
func (TicketComment) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
