package graph

import "github.com/scrm-dev/scrm/internal/schemadiff"

// SDL is the served schema as clients are given it (graph/schema.graphql,
// written by make schema): printed by schemadiff.Print, without gqlgen's
// code generation directives, which bind types to Go packages.
func SDL() string {
	return schemadiff.Print(NewExecutableSchema(Config{}).Schema(), schemadiff.GqlgenDirectives...)
}
