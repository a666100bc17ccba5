package resolvers

import (
	"context"
	"errors"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph/model"
)

var errNotImplemented = errors.New("not implemented yet")

func (r *Resolver) createAPIKey(ctx context.Context, input model.CreateAPIKeyInput) (*model.CreateAPIKeyPayload, error) {
	return nil, errNotImplemented
}

func (r *Resolver) revokeAPIKey(ctx context.Context, id int) (*ent.APIKey, error) {
	return nil, errNotImplemented
}
