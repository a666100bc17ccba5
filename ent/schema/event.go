package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Event is one change the realtime layer delivers to subscribers: the
// transactional outbox. The data layer writes it in the transaction that
// made the change (events.go), so it exists exactly when the change does;
// the relay (internal/realtime) numbers a tenant's events after commit
// (seq, the cursor clients resume from) and publishes them.
type Event struct{ ent.Schema }

// Mixin of the Event.
func (Event) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of the Event.
func (Event) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("seq").Optional().Nillable().
			Comment("the tenant's cursor, from 1, in the order events were relayed; empty until then"),
		field.Enum("topic").NamedValues(named("Ticket", "Order", "FormSubmission", "Customer")...).Immutable(),
		field.String("kind").MaxLen(32).Immutable().
			Comment("CREATED, UPDATED, ASSIGNED, STATUS_CHANGED, COMMENTED, CLOSED; PAID, SHIPPED, COMPLETED, REFUND_REQUESTED, REFUNDED, CANCELLED; SUBMITTED; TAGS_CHANGED"),
		field.Int("subject_id").Immutable().Comment("the ticket, order, form submission or customer"),
		field.Int("customer_id").Optional().Nillable().Immutable(),
		field.Int("assignee_id").Optional().Nillable().Immutable(),
		field.Int("team_id").Optional().Nillable().Immutable(),
		field.String("status").Default("").MaxLen(32).Immutable(),
		field.String("platform").Default("").MaxLen(32).Immutable(),
		field.String("shop_id").Default("").MaxLen(64).Immutable(),
		field.Int("actor_id").Optional().Nillable().Immutable(),
		field.Time("created_at").SchemaType(datetime).Default(now).Immutable(),
	}
}

// Indexes of the Event.
func (Event) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "seq").Unique(),
		index.Fields("seq"),
	}
}

// Annotations of the Event: delivered by subscriptions, not queried.
func (Event) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
