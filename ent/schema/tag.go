package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

var tagSources = named("Manual", "Wecom", "Rule")

// TagGroup groups tags, as WeCom corp tags are grouped.
type TagGroup struct{ ent.Schema }

// Mixin of the TagGroup.
func (TagGroup) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the TagGroup.
func (TagGroup) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(64).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("source").NamedValues(tagSources...).Default("MANUAL"),
		field.String("wecom_group_id").Optional().Nillable().MaxLen(64),
		field.Int("sort_order").Default(0).
			Annotations(entgql.OrderField("SORT_ORDER")),
	}
}

// Edges of the TagGroup.
func (TagGroup) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("tags", Tag.Type).Annotations(entgql.RelayConnection(), noInput),
	}
}

// Indexes of the TagGroup.
func (TagGroup) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("tenant_id", "wecom_group_id").Unique(),
	}
}

// Annotations of the TagGroup.
func (TagGroup) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("tagGroups"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}

// Tag labels customers: by hand, from WeCom, or by a rule.
type Tag struct{ ent.Schema }

// Mixin of the Tag.
func (Tag) Mixin() []ent.Mixin { return []ent.Mixin{TenantMixin{}, TimeMixin{}} }

// Fields of the Tag.
func (Tag) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(64).
			Annotations(entgql.OrderField("NAME")),
		field.Enum("source").NamedValues(tagSources...).Default("MANUAL"),
		field.String("wecom_tag_id").Optional().Nillable().MaxLen(64),
		field.Int("sort_order").Default(0).
			Annotations(entgql.OrderField("SORT_ORDER")),
		field.Int("group_id"),
	}
}

// Edges of the Tag.
func (Tag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("group", TagGroup.Type).Ref("tags").Field("group_id").Unique().Required(),
		edge.From("customers", Customer.Type).Ref("tags").
			Annotations(entgql.RelayConnection(), noInput),
		edge.From("channels", Channel.Type).Ref("tags").
			Annotations(entgql.Skip()),
	}
}

// Indexes of the Tag.
func (Tag) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("group_id", "name").Unique(),
		index.Fields("tenant_id", "wecom_tag_id").Unique(),
	}
}

// Annotations of the Tag.
func (Tag) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField("tags"),
		entgql.RelayConnection(),
		entgql.Mutations(entgql.MutationCreate(), entgql.MutationUpdate()),
	}
}
