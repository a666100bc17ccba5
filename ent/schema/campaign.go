package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Campaign is a marketing send over WeCom or another channel to a segment of
// customers: once, at a scheduled time, or when an event triggers it.
type Campaign struct{ ent.Schema }

// Mixin of the Campaign.
func (Campaign) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Campaign.
func (Campaign) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.Text("description").Default("").Annotations(noFilter),
		field.Enum("kind").NamedValues(named("Broadcast", "Scheduled", "Triggered")...),
		field.Enum("status").NamedValues(named("Draft", "Scheduled", "Running", "Paused", "Completed")...).Default("DRAFT"),
		field.Enum("channel").
			NamedValues(named("WecomPrivate", "WecomGroup", "WecomMoments", "WechatOA", "SMS")...),
		field.JSON("segment_rules", map[string]any{}).Optional().
			Comment("which customers the campaign targets"),
		field.Text("message_template").Default("").Annotations(noFilter),
		field.Time("scheduled_at").SchemaType(datetime).Optional().Nillable().
			Annotations(entgql.OrderField("SCHEDULED_AT")),
		field.String("trigger_event").Optional().MaxLen(64).
			Comment("for TRIGGERED campaigns, the event that starts a send"),
		field.Int("target_count").Default(0).Annotations(noInput),
		field.Int("sent_count").Default(0).Annotations(noInput),
		field.Int("delivered_count").Default(0).Annotations(noInput),
		field.Int("failed_count").Default(0).Annotations(noInput),
		field.Int("reply_count").Default(0).Annotations(noInput),
	}
}

// Hooks of the Campaign.
func (Campaign) Hooks() []ent.Hook {
	return []ent.Hook{validateCampaignSchedule()}
}

// Annotations of the Campaign.
func (Campaign) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("campaigns"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
