//go:build ignore

// Command entc generates the ent client, the GraphQL schema of the data
// model (graph/ent.graphql) and the entgql glue from ent/schema. Run it
// through `make generate`.
package main

import (
	"log"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

// inputTypes maps object types stored in JSON columns (declared in
// graph/scrm.graphql) to the input types that carry them in mutations:
// entgql uses one GraphQL type for both, which GraphQL does not allow.
var inputTypes = map[string]string{"FormField": "FormFieldInput", "TicketFieldMapping": "TicketFieldMappingInput", "CalendarSpec": "CalendarSpecInput", "ChannelShift": "ChannelShiftInput"}

func useInputTypesInInputs(_ *gen.Graph, s *ast.Schema) error {
	for _, def := range s.Types {
		if def.Kind != ast.InputObject {
			continue
		}
		for _, f := range def.Fields {
			// entgql writes annotated types verbatim, list brackets
			// included, into NamedType.
			for t := f.Type; t != nil; t = t.Elem {
				name := strings.Trim(t.NamedType, "[]!")
				if in, ok := inputTypes[name]; ok {
					t.NamedType = strings.Replace(t.NamedType, name, in, 1)
				}
			}
		}
	}
	return nil
}

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("./gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("./graph/ent.graphql"),
		entgql.WithWhereInputs(true),
		entgql.WithRelaySpec(true),
		entgql.WithSchemaHook(useInputTypesInInputs, dropAppendInputs),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	err = entc.Generate("./ent/schema", &gen.Config{
		Target:  "./ent",
		Package: "github.com/scrm-dev/scrm/ent",
		Features: []gen.Feature{
			gen.FeatureIntercept,
			gen.FeatureNamedEdges,
			gen.FeatureModifier,
			gen.FeatureExecQuery,
			gen.FeatureUpsert,
			gen.FeatureLock,
			gen.FeatureVersionedMigration,
			gen.FeatureGlobalID,
		},
		Templates: []*gen.Template{
			gen.MustParse(gen.NewTemplate("scrm").ParseFiles("./ent/template/edgetargets.tmpl")),
		},
	}, entc.Extensions(ex))
	if err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}

// dropAppendInputs removes the appendX fields entgql adds to update inputs
// of JSON list fields: entgql v0.7.0's generated code appends the value of
// X instead of appendX (mutation_input.tmpl), so they would silently do the
// wrong thing. Clients send the whole list in X instead.
func dropAppendInputs(_ *gen.Graph, s *ast.Schema) error {
	for name, def := range s.Types {
		if def.Kind != ast.InputObject || !strings.HasPrefix(name, "Update") {
			continue
		}
		kept := def.Fields[:0]
		for _, f := range def.Fields {
			if !strings.HasPrefix(f.Name, "append") {
				kept = append(kept, f)
			}
		}
		def.Fields = kept
	}
	return nil
}
