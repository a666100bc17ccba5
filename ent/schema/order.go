package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Order is a purchase on one of the tenant's shops. Amounts are integer fen.
// The platform's own update time lets sync ignore stale deliveries.
type Order struct{ ent.Schema }

// Mixin of the Order.
func (Order) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Order.
func (Order) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("platform").
			NamedValues(named("Taobao", "Tmall", "JD", "Douyin", "Youzan", "WechatShop", "MiniProgram", "POS", "Manual")...),
		field.String("shop_id").NotEmpty().MaxLen(64).
			Comment("the platform's shop or store id"),
		field.String("platform_order_id").NotEmpty().MaxLen(64),
		field.Enum("status").
			NamedValues(named("Created", "Paid", "Shipped", "Completed", "Refunding", "Refunded", "Cancelled")...).
			Default("CREATED"),
		field.Int64("total_amount").NonNegative().
			Comment("fen; goods total before discounts").
			Annotations(entgql.OrderField("TOTAL_AMOUNT")),
		field.Int64("discount_amount").Default(0).NonNegative().Comment("fen").Annotations(noFilter),
		field.Int64("shipping_amount").Default(0).NonNegative().Comment("fen").Annotations(noFilter),
		field.Int64("paid_amount").Default(0).NonNegative().Comment("fen").
			Annotations(entgql.OrderField("PAID_AMOUNT")),
		field.Int64("refunded_amount").Default(0).NonNegative().Comment("fen"),
		field.Time("placed_at").SchemaType(datetime).Default(now).
			Annotations(entgql.OrderField("PLACED_AT")),
		field.Time("paid_at").SchemaType(datetime).Optional().Nillable(),
		field.Time("shipped_at").SchemaType(datetime).Optional().Nillable(),
		field.Time("completed_at").SchemaType(datetime).Optional().Nillable(),
		field.Time("platform_updated_at").SchemaType(datetime).Optional().Nillable().
			Comment("the platform's last-modified time of the order; older deliveries are ignored"),
		field.Int("customer_id").Optional().Nillable(),
		field.Int("store_id").Optional().Nillable(),
	}
}

// Edges of the Order.
func (Order) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("customer", Customer.Type).Ref("orders").Field("customer_id").Unique(),
		edge.To("store", Department.Type).Field("store_id").Unique(),
		edge.To("items", OrderItem.Type).
			Annotations(noInput),
	}
}

// Indexes of the Order.
func (Order) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "platform", "shop_id", "platform_order_id").Unique(),
		// A customer's latest orders; tenant_id in the key lets the tenant
		// predicate every query carries be answered from the index.
		index.Fields("customer_id", "tenant_id", "placed_at"),
		index.Fields("tenant_id", "placed_at"),
		index.Fields("tenant_id", "status"),
	}
}

// Hooks of the Order.
func (Order) Hooks() []ent.Hook {
	return []ent.Hook{orderScope.guard, validateOrderAmounts(), keepCustomerTotals(), orderEvents()}
}

// Interceptors of the Order: the viewer's data scope.
func (Order) Interceptors() []ent.Interceptor { return []ent.Interceptor{orderScope.filter} }

// Annotations of the Order.
func (Order) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("orders"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// OrderItem is one line of an order.
type OrderItem struct{ ent.Schema }

// Mixin of the OrderItem.
func (OrderItem) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the OrderItem.
func (OrderItem) Fields() []ent.Field {
	return []ent.Field{
		field.String("sku").Default("").MaxLen(64),
		field.String("name").NotEmpty().MaxLen(200),
		field.Int("quantity").Positive(),
		field.Int64("unit_price").NonNegative().Comment("fen"),
		field.Int64("amount").NonNegative().Comment("fen; the line total after discounts"),
		field.Int("order_id").Immutable(),
	}
}

// Edges of the OrderItem.
func (OrderItem) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("order", Order.Type).Ref("items").Field("order_id").Unique().Required().Immutable(),
	}
}

// Hooks of the OrderItem.
func (OrderItem) Hooks() []ent.Hook { return []ent.Hook{orderItemScope.guard} }

// Interceptors of the OrderItem: the viewer's data scope (its order's).
func (OrderItem) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{orderItemScope.filter}
}
