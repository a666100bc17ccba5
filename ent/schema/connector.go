package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ConnectorAccount is one of the tenant's accounts on a platform: a WeCom
// corp (with its self-built app), a Taobao/Tmall shop or a Douyin shop.
// Its credentials are sealed like personal data and never leave the
// server: the API can set them, not read them back.
type ConnectorAccount struct{ ent.Schema }

// Mixin of the ConnectorAccount.
func (ConnectorAccount) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the ConnectorAccount.
func (ConnectorAccount) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("platform").NamedValues(named("Wecom", "Taobao", "Tmall", "Douyin", "WechatMiniprogram")...).Immutable(),
		field.String("name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.String("external_id").NotEmpty().MaxLen(64).Immutable().
			Comment("the corp id (WeCom) or shop id (shops) on the platform"),
		field.Int64("agent_id").Optional().Nillable().
			Comment("WeCom: the self-built app's agent id"),
		field.String("app_key").Optional().MaxLen(64).
			Comment("shops: the open-platform app key (public half of the app credentials)"),
		field.Text("credentials").Sensitive().
			ValueScanner(sealed).SchemaType(sealedText).
			Annotations(entgql.Skip()).
			Comment("sealed JSON of the secrets (connectors.Credentials); never exposed"),
		field.String("callback_key").NotEmpty().MaxLen(32).Immutable().
			Annotations(entgql.Skip()).
			Comment("random public id in the account's callback URL; tenant ids never appear in URLs"),
		field.Enum("status").NamedValues(named("Active", "Paused", "Failing")...).Default("ACTIVE").
			Comment("ACTIVE syncs; PAUSED is set by admins; FAILING means the platform refused us (see last_error)"),
		field.Time("last_sync_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Text("last_error").Optional().Annotations(noInput, noFilter),
		field.Time("last_error_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.JSON("cursors", map[string]string{}).Optional().Annotations(entgql.Skip()).
			Comment("per sync stream, where the next incremental pull starts"),
		field.Text("welcome_message").Optional().Annotations(noFilter).
			Comment("WeCom: default welcome message sent to new customer contacts"),
	}
}

// Edges of the ConnectorAccount.
func (ConnectorAccount) Edges() []ent.Edge { return nil }

// Indexes of the ConnectorAccount.
func (ConnectorAccount) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "platform", "external_id").Unique(),
		index.Fields("callback_key").Unique(),
	}
}

// Annotations of the ConnectorAccount.
func (ConnectorAccount) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("connectorAccounts"),
		entgql.RelayConnection(),
	}
}

// FollowUp is a staff member's relationship with a customer on WeCom (the
// platform's follow_user): when and how it began, the staff member's remark
// and the channel it came through. A lost relationship is kept with
// lost_at set, so channels can count losses; the Customer.followers edge
// holds only the live ones and drives data scopes.
type FollowUp struct{ ent.Schema }

// Mixin of the FollowUp.
func (FollowUp) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the FollowUp.
func (FollowUp) Fields() []ent.Field {
	return []ent.Field{
		field.Int("customer_id"),
		field.Int("staff_id"),
		field.String("remark").Optional().MaxLen(255),
		field.Text("description").Optional().Annotations(noFilter),
		field.Time("added_at").SchemaType(datetime).Optional().Nillable(),
		field.Int("add_way").Default(0).
			Comment("WeCom add_way: 1 QR code, 2 phone search, 3 card share, ... 0 unknown"),
		field.String("state").Optional().MaxLen(30).
			Comment("the contact way's state, naming the channel the customer came through"),
		field.Int("channel_id").Optional().Nillable().
			Comment("the Channel (QR code) the customer came through, from the add event's state"),
		field.Time("lost_at").SchemaType(datetime).Optional().Nillable(),
		field.Enum("lost_by").NamedValues(named("Staff", "Customer", "Transfer")...).Optional().Nillable().
			Comment("who ended the relationship"),
		field.Int("handed_over_from_id").Optional().Nillable().Annotations(noInput).
			Comment("the staff member this relationship was handed over from (handOverCustomers), until WeCom confirms or refuses"),
		field.String("transfer_fail_reason").Optional().MaxLen(64).Annotations(noInput).
			Comment("WeCom's reason when the hand-over to this staff member failed (transfer_fail): the customer went back"),
		field.Int64("platform_event_at").Default(0).Annotations(entgql.Skip()).
			Comment("unix time of the newest platform change applied; older ones are ignored"),
	}
}

// Edges of the FollowUp.
func (FollowUp) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("customer", Customer.Type).Field("customer_id").Unique().Required().Annotations(noInput),
		edge.To("staff", Staff.Type).Field("staff_id").Unique().Required(),
	}
}

// Indexes of the FollowUp.
func (FollowUp) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("customer_id", "staff_id").Unique(),
		index.Fields("tenant_id", "staff_id"),
		index.Fields("tenant_id", "channel_id"),
	}
}

// Hooks of the FollowUp: its customer's data scope.
func (FollowUp) Hooks() []ent.Hook { return []ent.Hook{followUpScope.guard} }

// Interceptors of the FollowUp: the viewer's data scope.
func (FollowUp) Interceptors() []ent.Interceptor { return []ent.Interceptor{followUpScope.filter} }

// Annotations of the FollowUp.
func (FollowUp) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField("followUps"), entgql.RelayConnection()}
}
