package resolvers

import (
	"context"
	"errors"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apikeys"
)

var errNoAPIKeys = errors.New("resolvers: no API key service configured")

func (r *Resolver) createAPIKey(ctx context.Context, input model.CreateAPIKeyInput) (*model.CreateAPIKeyPayload, error) {
	if r.apiKeys == nil {
		return nil, errNoAPIKeys
	}
	in := apikeys.CreateInput{
		Name: input.Name, Scopes: input.Scopes, DocumentLists: input.DocumentLists,
		IPAllowlist: input.IPAllowlist, ExpiresAt: input.ExpiresAt,
	}
	if input.PersistedOnly != nil {
		in.PersistedOnly = *input.PersistedOnly
	}
	if input.RateLimit != nil {
		in.RateLimit = *input.RateLimit
	}
	k, secret, err := r.apiKeys.Create(ctx, r.db(ctx), in)
	if err != nil {
		return nil, err
	}
	return &model.CreateAPIKeyPayload{APIKey: k, Secret: secret}, nil
}

func (r *Resolver) revokeAPIKey(ctx context.Context, id int) (*ent.APIKey, error) {
	if r.apiKeys == nil {
		return nil, errNoAPIKeys
	}
	k, err := r.apiKeys.Revoke(ctx, r.db(ctx), id)
	if err != nil {
		return nil, err
	}
	r.afterCommit(ctx, func(ctx context.Context) { r.apiKeys.Announce(ctx, k.Prefix) })
	return k, nil
}
