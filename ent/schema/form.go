package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// Form is a custom form with typed fields. Publishing a change to its fields
// bumps its version, and each submission records the version it answered.
type Form struct{ ent.Schema }

// Mixin of the Form.
func (Form) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Form.
func (Form) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(100).
			Annotations(entgql.OrderField("NAME")),
		field.Text("description").Default("").Annotations(noFilter),
		field.Enum("status").NamedValues(named("Draft", "Published", "Archived")...).Default("DRAFT"),
		field.Int("version").Default(1).
			Annotations(noInput),
		field.JSON("fields", []schematype.FormField{}).
			Default([]schematype.FormField{}).
			Annotations(entgql.Type("[FormField!]")),
		field.Int("ticket_type_id").Optional().Nillable().
			Comment("a submission opens a ticket of this type"),
		field.JSON("ticket_fields", []workflow.FieldMapping{}).Optional().
			Annotations(entgql.Type("[TicketFieldMapping!]")).
			Comment("which form field fills which ticket field on the opened ticket"),
	}
}

// Edges of the Form.
func (Form) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("ticket_type", TicketType.Type).Field("ticket_type_id").Unique(),
		edge.To("submissions", FormSubmission.Type).
			Annotations(
				entgql.RelayConnection(),
				noInput,
			),
	}
}

// Hooks of the Form.
func (Form) Hooks() []ent.Hook {
	return []ent.Hook{bumpFormVersion()}
}

// Annotations of the Form.
func (Form) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("forms"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// FormSubmission is one filling-in of a form.
type FormSubmission struct{ ent.Schema }

// Mixin of the FormSubmission.
func (FormSubmission) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the FormSubmission.
func (FormSubmission) Fields() []ent.Field {
	return []ent.Field{
		field.Int("form_id").Immutable(),
		field.Int("form_version").Default(0).Annotations(noInput),
		field.Int("customer_id").Optional().Nillable(),
		field.Int("ticket_id").Optional().Nillable().Annotations(noInput).
			Comment("the ticket this submission opened, or the closed ticket it rates (satisfaction survey)"),
		field.JSON("data", map[string]any{}).Default(map[string]any{}),
		field.Enum("status").NamedValues(named("Draft", "Submitted")...).Default("SUBMITTED"),
		field.Enum("source_channel").
			NamedValues(named("Manual", "H5", "MiniProgram", "Wecom", "WechatOA", "API")...).
			Default("MANUAL"),
		field.Time("submitted_at").SchemaType(datetime).Optional().Nillable().Annotations(noInput, entgql.OrderField("SUBMITTED_AT")),
	}
}

// Edges of the FormSubmission.
func (FormSubmission) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("form", Form.Type).Ref("submissions").Field("form_id").Unique().Required().Immutable(),
		edge.From("customer", Customer.Type).Ref("form_submissions").Field("customer_id").Unique(),
		edge.To("ticket", Ticket.Type).Field("ticket_id").Unique().Annotations(noInput),
	}
}

// Hooks of the FormSubmission.
func (FormSubmission) Hooks() []ent.Hook {
	return []ent.Hook{submissionScope.guard, checkSubmissionAgainstForm(), submissionEvents()}
}

// Interceptors of the FormSubmission: the viewer's data scope.
func (FormSubmission) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{submissionScope.filter}
}

// Annotations of the FormSubmission.
func (FormSubmission) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
