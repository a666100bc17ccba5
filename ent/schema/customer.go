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

// Customer is one person as the tenant knows them, joined across every
// platform they were seen on (see CustomerIdentity).
type Customer struct{ ent.Schema }

// Mixin of the Customer.
func (Customer) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Customer.
func (Customer) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Default("").MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("gender").NamedValues(named("Unknown", "Male", "Female")...).Default("UNKNOWN"),
		field.String("phone").Optional().MaxLen(20).Match(mobilePattern).
			ValueScanner(sealed).SchemaType(sealedColumn).Annotations(noFilter),
		field.String("phone_index").Optional().MaxLen(32).
			Annotations(entgql.Skip()).
			Comment("keyed blind index of the normalised phone, for exact lookup"),
		field.String("email").Optional().MaxLen(254).Validate(validateEmail).
			ValueScanner(sealed).SchemaType(sealedColumn).Annotations(noFilter),
		field.String("birthday").Optional().MaxLen(10).Validate(validateDate).
			ValueScanner(sealed).SchemaType(sealedColumn).
			Annotations(entgql.Type("Date"), noFilter),
		field.String("province").Optional().MaxLen(32),
		field.String("city").Optional().MaxLen(32),
		field.String("district").Optional().MaxLen(32),
		field.String("address").Optional().MaxLen(255).
			ValueScanner(sealed).SchemaType(sealedText).Annotations(noFilter),
		field.String("id_number").Optional().MaxLen(18).Match(idNumberPattern).
			ValueScanner(sealed).SchemaType(sealedColumn).Annotations(noFilter).
			Comment("resident identity card number"),
		field.String("tier").Default("").MaxLen(32).
			Comment("member tier code; empty for non-members"),
		field.Int64("points_balance").Default(0).NonNegative().
			Annotations(entgql.OrderField("POINTS_BALANCE")),
		field.Int64("total_spend").Default(0).
			Comment("fen; paid minus refunded over the customer's paid orders, kept by the Order hook").
			Annotations(noInput, entgql.OrderField("TOTAL_SPEND")),
		field.Int("order_count").Default(0).
			Comment("paid orders not fully refunded, kept by the Order hook").
			Annotations(noInput, entgql.OrderField("ORDER_COUNT")),
		field.Time("first_seen_at").SchemaType(datetime).Default(now).Immutable(),
		field.Time("last_order_at").SchemaType(datetime).Optional().Nillable().
			Annotations(noInput, entgql.OrderField("LAST_ORDER_AT")),
		field.Enum("source_channel").
			NamedValues(named("Manual", "Wecom", "Taobao", "Tmall", "Douyin", "JD", "Youzan", "WechatOA", "MiniProgram", "POS", "Import", "API")...).
			Default("MANUAL"),
		field.Int("owner_id").Optional().Nillable(),
		field.JSON("custom_attributes", map[string]any{}).Optional(),
		field.JSON("marketing_consents", []schematype.Consent{}).Optional().
			Annotations(noInput).
			Comment("per channel, the latest grant or withdrawal; set through setMarketingConsent"),
		field.Time("erased_at").SchemaType(datetime).Optional().Nillable().
			Annotations(noInput).
			Comment("when the person's data was erased (PIPL); the row keeps only aggregates"),
		field.Int("merged_into_id").Optional().Nillable().
			Annotations(noInput).
			Comment("set when this record was merged into another customer"),
	}
}

// Edges of the Customer.
func (Customer) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("owner", Staff.Type).Ref("owned_customers").Field("owner_id").Unique(),
		edge.From("followers", Staff.Type).Ref("followed_customers"),
		edge.To("tags", Tag.Type),
		edge.To("identities", CustomerIdentity.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.To("orders", Order.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.To("tickets", Ticket.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.To("form_submissions", FormSubmission.Type).
			Annotations(entgql.RelayConnection(), noInput),
		edge.From("follow_ups", FollowUp.Type).Ref("customer").
			Annotations(entgql.RelayConnection(), noInput),
		edge.To("merged_customers", Customer.Type).
			From("merged_into").
			Field("merged_into_id").
			Unique().
			Annotations(noInput),
	}
}

// Hooks of the Customer.
func (Customer) Hooks() []ent.Hook {
	return []ent.Hook{customerScope.guard, followNewCustomers(), indexPhone(), tagEvents(), customerEvents()}
}

// Interceptors of the Customer: the viewer's data scope.
func (Customer) Interceptors() []ent.Interceptor { return []ent.Interceptor{customerScope.filter} }

// Indexes of the Customer.
func (Customer) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "phone_index"),
		index.Fields("tenant_id", "last_order_at"),
		index.Fields("tenant_id", "total_spend"),
	}
}

// Annotations of the Customer.
func (Customer) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("customers"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// CustomerIdentity is one way a platform names a customer. A customer has
// many: this is how one person is recognised across WeCom, the shops and the
// official accounts.
type CustomerIdentity struct{ ent.Schema }

// Mixin of the CustomerIdentity.
func (CustomerIdentity) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the CustomerIdentity.
func (CustomerIdentity) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("platform").
			NamedValues(named("WecomExternal", "WechatUnionid", "WechatOpenid", "Taobao", "Tmall", "Douyin", "JD", "Youzan", "Phone")...),
		field.String("app_id").Default("").MaxLen(64).
			Comment("the app, shop or corp the external id is scoped to; empty when global"),
		field.String("external_id").NotEmpty().MaxLen(128),
		field.Int("customer_id"),
	}
}

// Edges of the CustomerIdentity.
func (CustomerIdentity) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customer", Customer.Type).Ref("identities").Field("customer_id").Unique().Required(),
	}
}

// Hooks of the CustomerIdentity.
func (CustomerIdentity) Hooks() []ent.Hook {
	return []ent.Hook{identityScope.guard, blindPhoneIdentities()}
}

// Interceptors of the CustomerIdentity: the viewer's data scope.
func (CustomerIdentity) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{identityScope.filter}
}

// Indexes of the CustomerIdentity.
func (CustomerIdentity) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "platform", "app_id", "external_id").Unique(),
	}
}

// Annotations of the CustomerIdentity.
func (CustomerIdentity) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
