package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// APIKey is a partner's credential (an ERP, a warehouse, a POS, an
// agency): it acts with the partner role, narrowed to its scopes. The
// secret is shown once when the key is made; only its SHA-256 is kept
// (the secret is 32 random bytes, so a slow hash would add nothing). The
// prefix stays visible so support can tell keys apart.
type APIKey struct{ ent.Schema }

// Mixin of the APIKey.
func (APIKey) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the APIKey.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.String("prefix").NotEmpty().MaxLen(32).Immutable().Unique().
			Annotations(noInput).
			Comment("the visible start of the key (scrm_pk_XXXXXXXX), for support"),
		field.String("secret_hash").NotEmpty().MaxLen(64).Immutable().Sensitive().
			Annotations(entgql.Skip()).
			Comment("hex SHA-256 of the whole key"),
		field.JSON("scopes", []string{}).
			Comment("the root fields and types the key may use: Query.orders, Mutation.createTicket, Order (every field of Order)"),
		field.Bool("persisted_only").Default(false).
			Comment("refuse any document not on the key's trusted-document lists"),
		field.JSON("document_lists", []string{}).Optional().
			Comment("trusted-document lists the key may run"),
		field.JSON("ip_allowlist", []string{}).Optional().
			Comment("addresses or CIDR ranges the key may be used from; empty allows any"),
		field.Int("rate_limit").Default(0).NonNegative().
			Comment("requests per minute; 0 uses the configured default"),
		field.Time("expires_at").SchemaType(datetime).Optional().Nillable(),
		field.Time("revoked_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Time("last_used_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput, noFilter),
		field.Int("created_by_id").Optional().Nillable().Immutable().Annotations(noInput),
	}
}

// Edges of the APIKey.
func (APIKey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("created_by", Staff.Type).Field("created_by_id").Unique().Immutable().Annotations(noInput),
	}
}

// Annotations of the APIKey: made and revoked through createAPIKey and
// revokeAPIKey, which show the secret once.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("apiKeys"),
		entgql.RelayConnection(),
	}
}

// TrustedDocument is one operation of a trusted-document list (an
// allowlist): an admin pushes a client's persisted-operation manifest, and
// callers limited to the list may run only what is on it.
type TrustedDocument struct{ ent.Schema }

// Mixin of the TrustedDocument.
func (TrustedDocument) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the TrustedDocument.
func (TrustedDocument) Fields() []ent.Field {
	return []ent.Field{
		field.String("list").NotEmpty().MaxLen(64).Immutable().
			Annotations(entgql.OrderField("LIST")).
			Comment("the list (a client and its version: pos-3.2, miniprogram)"),
		field.String("document_id").NotEmpty().MaxLen(200).Immutable().
			Comment("the manifest's id for the document, sent as documentId"),
		field.String("hash").NotEmpty().MaxLen(64).Immutable().
			Comment("hex SHA-256 of the body, as an automatic persisted query names it"),
		field.Text("body").Immutable().Annotations(noFilter),
		field.String("operation_name").Default("").MaxLen(200).Immutable(),
	}
}

// Indexes of the TrustedDocument.
func (TrustedDocument) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "list", "document_id").Unique(),
		index.Fields("tenant_id", "hash"),
	}
}

// Annotations of the TrustedDocument.
func (TrustedDocument) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("trustedDocuments"),
		entgql.RelayConnection(),
	}
}

// WebhookEndpoint is a partner's HTTPS address subscribed to event kinds.
// Deliveries are signed with its secret (sealed like credentials).
type WebhookEndpoint struct{ ent.Schema }

// Mixin of the WebhookEndpoint.
func (WebhookEndpoint) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the WebhookEndpoint.
func (WebhookEndpoint) Fields() []ent.Field {
	return []ent.Field{
		field.String("url").NotEmpty().MaxLen(500),
		field.String("description").Default("").MaxLen(200),
		field.JSON("event_kinds", []string{}).
			Comment("order.created, ticket.status_changed, customer.merged, … (see internal/webhooks)"),
		field.Text("secret").Sensitive().
			ValueScanner(sealed).SchemaType(sealedText).
			Annotations(entgql.Skip()).
			Comment("HMAC-SHA256 signing secret, sealed; shown once"),
		field.Enum("status").NamedValues(named("Active", "Paused")...).Default("ACTIVE"),
		field.Int("consecutive_failures").Default(0).Annotations(noInput),
		field.String("pause_reason").Default("").MaxLen(500).Annotations(noInput, noFilter),
		field.Time("paused_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput),
		field.Int("created_by_id").Optional().Nillable().Immutable().Annotations(noInput),
	}
}

// Edges of the WebhookEndpoint.
func (WebhookEndpoint) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("deliveries", WebhookDelivery.Type).Annotations(entgql.RelayConnection(), noInput),
		edge.To("created_by", Staff.Type).Field("created_by_id").Unique().Immutable().Annotations(noInput),
	}
}

// Annotations of the WebhookEndpoint.
func (WebhookEndpoint) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("webhookEndpoints"),
		entgql.RelayConnection(),
	}
}

// WebhookDelivery is one event sent (or being sent) to one endpoint, with
// the outcome of its last attempt: the delivery log.
type WebhookDelivery struct{ ent.Schema }

// Mixin of the WebhookDelivery.
func (WebhookDelivery) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the WebhookDelivery.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.Int("endpoint_id").Immutable(),
		field.Int("event_id").Optional().Nillable().Immutable().
			Comment("the outbox event delivered; empty for test pings"),
		field.String("kind").NotEmpty().MaxLen(64).Immutable(),
		field.Text("payload").Immutable().Annotations(noFilter).
			Comment("the JSON body, signed as sent"),
		field.Enum("status").NamedValues(named("Pending", "Succeeded", "Failing", "Abandoned")...).Default("PENDING"),
		field.Int("attempts").Default(0),
		field.Int("response_status").Optional().Nillable(),
		field.Text("last_error").Default("").Annotations(noFilter),
		field.Int("duration_ms").Optional().Nillable(),
		field.Time("next_attempt_at").SchemaType(datetime).Optional().Nillable(),
		field.Time("delivered_at").SchemaType(datetime).Optional().Nillable(),
	}
}

// Edges of the WebhookDelivery.
func (WebhookDelivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("endpoint", WebhookEndpoint.Type).Ref("deliveries").Field("endpoint_id").Unique().Required().Immutable(),
	}
}

// Indexes of the WebhookDelivery.
func (WebhookDelivery) Indexes() []ent.Index {
	return []ent.Index{
		// An event is delivered to an endpoint once, however often the
		// fan-out runs.
		index.Fields("endpoint_id", "event_id").Unique(),
		index.Fields("tenant_id", "status"),
	}
}

// Annotations of the WebhookDelivery.
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
	}
}
