// Package resolvers implements the GraphQL API: thin translations from
// GraphQL to calls on the ent client (or domain packages), nothing more.
// Tenancy is enforced underneath, in ent/schema; errors are mapped to
// extensions.code once, in errors.go.
package resolvers

import "github.com/scrm-dev/scrm/ent"

// Resolver is the root resolver; it holds the dependencies every resolver
// may use.
type Resolver struct {
	client *ent.Client
}
