package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditLog is one entry of a tenant's append-only audit trail: who did
// what to which objects and fields, when, from where. Entries are
// hash-chained per tenant by the sealer (internal/audit): seq, prev_hash
// and hash are set once, after the entry is written, so that writing an
// entry costs a request a single insert. An entry holds field names and
// ids, never the personal data itself.
type AuditLog struct{ ent.Schema }

// Mixin of the AuditLog.
func (AuditLog) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}} }

// Fields of the AuditLog.
func (AuditLog) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").SchemaType(datetime).Default(now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Int("actor_id").Optional().Nillable().Immutable().
			Annotations(entgql.Type("ID")).
			Comment("the staff member; empty for system work and failed sign-ins"),
		field.Strings("actor_roles").Default([]string{}).Immutable().Annotations(noFilter),
		field.Enum("action").
			NamedValues(named("Mutation", "Read", "Reveal", "Export", "Erase", "Policy", "SignInFailed")...).
			Immutable(),
		field.String("operation").Default("").MaxLen(100).Immutable().
			Comment("the GraphQL field or job that acted"),
		field.String("object_type").Default("").MaxLen(64).Immutable(),
		field.Strings("object_ids").Default([]string{}).Immutable().Annotations(noFilter).
			Comment("global IDs of the objects touched"),
		field.Strings("fields").Default([]string{}).Immutable().Annotations(noFilter),
		field.String("purpose").Default("").MaxLen(255).Immutable().Annotations(noFilter),
		field.String("client_ip").Default("").MaxLen(64).Immutable(),
		field.String("request_id").Default("").MaxLen(64).Immutable(),
		field.Int64("seq").Optional().Nillable().Annotations(noFilter, entgql.OrderField("SEQ")).
			Comment("position in the tenant's chain, from 1; empty until sealed"),
		field.String("prev_hash").Default("").MaxLen(64).Annotations(noFilter),
		field.String("hash").Default("").MaxLen(64).Annotations(noFilter),
	}
}

// Indexes of the AuditLog.
func (AuditLog) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "seq").Unique(),
		index.Fields("tenant_id", "hash"),
	}
}

// Hooks of the AuditLog: append-only.
func (AuditLog) Hooks() []ent.Hook { return []ent.Hook{appendOnlyAudit()} }

// Annotations of the AuditLog.
func (AuditLog) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("auditLog"),
		entgql.RelayConnection(),
	}
}
