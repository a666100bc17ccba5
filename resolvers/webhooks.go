package resolvers

import (
	"context"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph/model"
)

func (r *Resolver) createWebhookEndpoint(ctx context.Context, input model.CreateWebhookEndpointInput) (*model.CreateWebhookEndpointPayload, error) {
	return nil, errNotImplemented
}

func (r *Resolver) updateWebhookEndpoint(ctx context.Context, id int, input model.UpdateWebhookEndpointInput) (*ent.WebhookEndpoint, error) {
	return nil, errNotImplemented
}

func (r *Resolver) deleteWebhookEndpoint(ctx context.Context, id int) (int, error) {
	return 0, errNotImplemented
}

func (r *Resolver) redeliverWebhook(ctx context.Context, id int) (*ent.WebhookDelivery, error) {
	return nil, errNotImplemented
}

func (r *Resolver) webhookEventKinds(ctx context.Context) ([]string, error) {
	return nil, errNotImplemented
}
