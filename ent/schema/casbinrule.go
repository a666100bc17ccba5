package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// CasbinRule is one authorization policy line, in the columns the Casbin
// SQL adapter reads (authz/). The domain column (v1) names the tenant;
// authz writes lines through ent inside the caller's transaction and owns
// their meaning. Not exposed through GraphQL directly.
type CasbinRule struct{ ent.Schema }

// Fields of the CasbinRule.
func (CasbinRule) Fields() []ent.Field {
	col := func(name string, size int) ent.Field {
		return field.String(name).Default("").MaxLen(size)
	}
	return []ent.Field{
		col("p_type", 32), col("v0", 255), col("v1", 255), col("v2", 255),
		col("v3", 255), col("v4", 255), col("v5", 255),
	}
}

// Indexes of the CasbinRule.
func (CasbinRule) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("p_type", "v0", "v1"),
		index.Fields("v1"),
	}
}

// Annotations of the CasbinRule.
func (CasbinRule) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("casbin_rule"),
		entgql.Skip(entgql.SkipAll),
	}
}
