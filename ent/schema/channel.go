package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/scrm-dev/scrm/ent/schema/schematype"
)

// Channel is a channel QR code (WeCom contact way, 活码): customers who
// scan it are added by whichever staff are on duty (the rotation, minus
// those who reached the daily add limit, else the backup staff), tagged
// with its tags and greeted with its welcome message; the follow-ups it
// brings carry its id (FollowUp.channel_id), which is how adds and losses
// are counted per channel. internal/channels owns the rules; this is the
// data.
type Channel struct{ ent.Schema }

// Mixin of the Channel.
func (Channel) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Channel.
func (Channel) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.Int("account_id").Immutable(),
		field.String("state").NotEmpty().MaxLen(30).Immutable().
			Comment("the contact way's state: WeCom echoes it in the add event, naming the channel"),
		field.JSON("rotation", []schematype.ChannelShift{}).Default([]schematype.ChannelShift{}).
			Annotations(entgql.Type("[ChannelShift!]")).
			Comment("who is on duty when"),
		field.Int("daily_add_limit").Default(0).NonNegative().
			Comment("customers one staff member takes through the channel per day (tenant's calendar); 0 unlimited"),
		field.Text("welcome_message").Optional().Annotations(noFilter).
			Comment("sent to customers added through the channel instead of the account's"),
		field.String("config_id").Optional().MaxLen(64).
			Comment("WeCom's id of the contact way; empty until it exists on WeCom"),
		field.String("qr_code").Optional().MaxLen(512).Annotations(noFilter),
		field.JSON("on_duty_staff_ids", []int{}).Optional().Annotations(entgql.Skip()).
			Comment("the staff last pushed to WeCom"),
		field.Time("pushed_at").SchemaType(datetime).Optional().Nillable().
			Comment("when the staff list was last pushed to WeCom"),
		field.Text("last_error").Optional().Annotations(noFilter).
			Comment("WeCom's refusal of the last push, if it failed"),
	}
}

// Edges of the Channel.
func (Channel) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("account", ConnectorAccount.Type).Field("account_id").Unique().Required().Immutable(),
		edge.To("backup_staff", Staff.Type),
		edge.To("tags", Tag.Type),
	}
}

// Indexes of the Channel.
func (Channel) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "state").Unique(),
	}
}

// Annotations of the Channel.
func (Channel) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("channels"),
		entgql.RelayConnection(),
	}
}
