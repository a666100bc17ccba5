// Package model holds GraphQL types that are not ent types: gqlgen's
// generated models (models_gen.go) and the inputs that extend ent's.
package model

import "github.com/scrm-dev/scrm/ent"

// CreateOrderInput is ent's order input plus the order's lines, which ent
// cannot take in the same input because they are rows of their own.
type CreateOrderInput struct {
	ent.CreateOrderInput
	Items []*OrderLineInput
}
