package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Tenant is a brand or chain: the unit of data isolation. Every other type
// belongs to exactly one tenant.
type Tenant struct{ ent.Schema }

// Fields of the Tenant.
func (Tenant) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100),
		field.String("slug").
			Unique().
			Immutable().
			MaxLen(64).
			Match(slugPattern).
			Comment("stable short name used in logins and URLs"),
		field.String("timezone").
			Default("Asia/Shanghai").MaxLen(64).
			Validate(validateTimezone).
			Comment("IANA time zone for business calendars"),
		field.Int64("ticket_seq").
			Default(0).
			Annotations(entgql.Skip()).
			Comment("last ticket number handed out"),
		field.Int64("audit_seq").
			Default(0).
			Annotations(entgql.Skip()).
			Comment("seq of the last sealed audit entry"),
		field.Int64("event_seq").
			Default(0).
			Annotations(entgql.Skip()).
			Comment("seq of the last relayed event (internal/realtime)"),
		field.Int64("webhook_seq").
			Default(0).
			Annotations(entgql.Skip()).
			Comment("seq of the last event fanned out to webhook endpoints (internal/webhooks)"),
		field.JSON("customer_document_lists", []string{}).
			Optional().
			Comment("when set, mini-program customers may run only documents on these trusted-document lists"),
		field.Int("policy_version").
			Default(1).
			Annotations(entgql.Skip()).
			Comment("version of the default policies installed (authz.DefaultsVersion); tenants older than 2 predate the field"),
		field.String("audit_head").
			Default("").MaxLen(64).
			Annotations(entgql.Skip()).
			Comment("hash of the last sealed audit entry"),
		field.Time("created_at").SchemaType(datetime).
			Default(now).
			Immutable().
			Annotations(entgql.Skip(entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Hooks of the Tenant: a new tenant starts with the default policies.
func (Tenant) Hooks() []ent.Hook { return []ent.Hook{installDefaultPolicies()} }

// Interceptors of the Tenant: a viewer sees only its own tenant.
func (Tenant) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{ownTenantOnly()}
}

// Annotations of the Tenant.
func (Tenant) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.Mutations(entgql.MutationUpdate()),
	}
}

func validateTimezone(name string) error {
	_, err := time.LoadLocation(name)
	return err
}
