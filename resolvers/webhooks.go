package resolvers

import (
	"context"
	"errors"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/webhooks"
)

var errNoWebhooks = errors.New("webhooks are not available on this server")

// hooks is the webhook service, or an error when the server has none.
func (r *Resolver) hooks() (*webhooks.Service, error) {
	if r.webhooks == nil {
		return nil, errNoWebhooks
	}
	return r.webhooks, nil
}

func (r *Resolver) createWebhookEndpoint(ctx context.Context, input model.CreateWebhookEndpointInput) (*model.CreateWebhookEndpointPayload, error) {
	s, err := r.hooks()
	if err != nil {
		return nil, err
	}
	ep, secret, err := s.Create(ctx, webhooks.EndpointInput{URL: &input.URL, Description: input.Description, EventKinds: input.EventKinds})
	if err != nil {
		return nil, err
	}
	return &model.CreateWebhookEndpointPayload{WebhookEndpoint: ep, Secret: secret}, nil
}

func (r *Resolver) updateWebhookEndpoint(ctx context.Context, id int, input model.UpdateWebhookEndpointInput) (*ent.WebhookEndpoint, error) {
	s, err := r.hooks()
	if err != nil {
		return nil, err
	}
	return s.Update(ctx, id, webhooks.EndpointInput{URL: input.URL, Description: input.Description,
		EventKinds: input.EventKinds, Status: input.Status})
}

func (r *Resolver) deleteWebhookEndpoint(ctx context.Context, id int) (int, error) {
	s, err := r.hooks()
	if err != nil {
		return 0, err
	}
	if err := s.Delete(ctx, id); err != nil {
		return 0, err
	}
	return id, nil
}

func (r *Resolver) redeliverWebhook(ctx context.Context, id int) (*ent.WebhookDelivery, error) {
	s, err := r.hooks()
	if err != nil {
		return nil, err
	}
	return s.Redeliver(ctx, id)
}

func (r *Resolver) webhookEventKinds(context.Context) ([]string, error) {
	return webhooks.Kinds(), nil
}
