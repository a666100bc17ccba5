package resolvers

import (
	"errors"

	"github.com/scrm-dev/scrm/internal/tickets"
)

// castAll converts a list of one string type to another: the workflow
// configuration spells ticket statuses, priorities and sources as plain
// strings (it is stored by the data model it cannot import), GraphQL as
// ent's enums.
func castAll[T, F ~string](in []F) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = T(v)
	}
	return out
}

// engine is the ticket workflow engine (nil-safe: without one, the
// workflow mutations answer an error).
func (r *Resolver) engine() (*tickets.Engine, error) {
	if r.tickets == nil {
		return nil, errNoEngine
	}
	return r.tickets, nil
}

var errNoEngine = errors.New("the ticket workflow engine is not configured")

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
