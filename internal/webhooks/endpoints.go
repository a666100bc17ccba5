package webhooks

import (
	"context"
	"fmt"
	"slices"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/webhookdelivery"
	"github.com/scrm-dev/scrm/ent/webhookendpoint"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// EndpointInput is what an admin sets on an endpoint; nil leaves a field
// as it is (on update).
type EndpointInput struct {
	URL         *string
	Description *string
	EventKinds  []string
	// Status ACTIVE resumes a paused endpoint; PAUSED pauses it.
	Status *webhookendpoint.Status
}

// checkKinds refuses an empty list and unknown kinds; it returns the
// list without repeats.
func checkKinds(kinds []string) ([]string, error) {
	if len(kinds) == 0 {
		return nil, apperr.Invalid("eventKinds", "name at least one event kind (see webhookEventKinds)")
	}
	var out []string
	for i, k := range kinds {
		if !known(k) {
			return nil, apperr.Invalid("eventKinds", "eventKinds[%d]: %q is not an event kind (see webhookEventKinds)", i, k)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// Create makes an endpoint and returns it with its signing secret, which
// is shown this once (it is kept sealed and never read back out).
func (s *Service) Create(ctx context.Context, in EndpointInput) (*ent.WebhookEndpoint, string, error) {
	if in.URL == nil {
		return nil, "", apperr.Invalid("url", "required")
	}
	if err := checkURL(*in.URL, s.opts.AllowInsecure); err != nil {
		return nil, "", err
	}
	kinds, err := checkKinds(in.EventKinds)
	if err != nil {
		return nil, "", err
	}
	secret := newSecret()
	c := s.db(ctx).WebhookEndpoint.Create().SetURL(*in.URL).SetNillableDescription(in.Description).
		SetEventKinds(kinds).SetSecret(secret)
	if v := viewer.FromContext(ctx); v != nil && v.StaffID != 0 {
		c.SetCreatedByID(v.StaffID)
	}
	ep, err := c.Save(ctx)
	if err != nil {
		return nil, "", err
	}
	return ep, secret, nil
}

// Update changes an endpoint. Resuming a paused one (status ACTIVE)
// starts its failure count again and re-enqueues its deliveries still
// within their retry window; those past it are abandoned.
func (s *Service) Update(ctx context.Context, id int, in EndpointInput) (*ent.WebhookEndpoint, error) {
	db := s.db(ctx)
	ep, err := db.WebhookEndpoint.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	u := db.WebhookEndpoint.UpdateOne(ep)
	if in.URL != nil {
		if err := checkURL(*in.URL, s.opts.AllowInsecure); err != nil {
			return nil, err
		}
		u.SetURL(*in.URL)
	}
	if in.EventKinds != nil {
		kinds, err := checkKinds(in.EventKinds)
		if err != nil {
			return nil, err
		}
		u.SetEventKinds(kinds)
	}
	u.SetNillableDescription(in.Description)
	resume := false
	if in.Status != nil && *in.Status != ep.Status {
		switch *in.Status {
		case webhookendpoint.StatusActive:
			resume = true
			u.SetStatus(webhookendpoint.StatusActive).SetConsecutiveFailures(0).SetPauseReason("").ClearPausedAt()
		case webhookendpoint.StatusPaused:
			u.SetStatus(webhookendpoint.StatusPaused).SetPausedAt(s.now()).SetPauseReason("paused by an admin")
		}
	}
	if ep, err = u.Save(ctx); err != nil {
		return nil, err
	}
	if resume {
		if err := s.resume(ctx, db, ep); err != nil {
			return nil, err
		}
	}
	return ep, nil
}

// waiting are the states of a delivery not yet done with.
var waiting = []webhookdelivery.Status{webhookdelivery.StatusPending, webhookdelivery.StatusFailing}

// resume re-enqueues the endpoint's waiting deliveries made within the
// window and abandons the older ones.
func (s *Service) resume(ctx context.Context, db *ent.Client, ep *ent.WebhookEndpoint) error {
	now := s.now()
	since := now.Add(-s.opts.Window)
	if err := db.WebhookDelivery.Update().
		Where(webhookdelivery.EndpointID(ep.ID), webhookdelivery.StatusIn(waiting...), webhookdelivery.CreatedAtLTE(since)).
		SetStatus(webhookdelivery.StatusAbandoned).ClearNextAttemptAt().Exec(ctx); err != nil {
		return fmt.Errorf("abandon deliveries past their window: %w", err)
	}
	ds, err := db.WebhookDelivery.Query().
		Where(webhookdelivery.EndpointID(ep.ID), webhookdelivery.StatusIn(waiting...), webhookdelivery.CreatedAtGT(since)).
		Select(webhookdelivery.FieldID, webhookdelivery.FieldAttempts).All(ctx)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return nil
	}
	ids := make([]int, len(ds))
	attempts := make([]Attempt, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
		attempts[i] = Attempt{TenantID: ep.TenantID, DeliveryID: d.ID, After: d.Attempts}
	}
	if err := db.WebhookDelivery.Update().Where(webhookdelivery.IDIn(ids...)).SetNextAttemptAt(now).Exec(ctx); err != nil {
		return err
	}
	s.enqueue(ctx, attempts...)
	return nil
}

// Delete removes an endpoint and its delivery log.
func (s *Service) Delete(ctx context.Context, id int) error {
	db := s.db(ctx)
	ep, err := db.WebhookEndpoint.Get(ctx, id)
	if err != nil {
		return err
	}
	if _, err := db.WebhookDelivery.Delete().Where(webhookdelivery.EndpointID(ep.ID)).Exec(ctx); err != nil {
		return err
	}
	return db.WebhookEndpoint.DeleteOne(ep).Exec(ctx)
}

// Redeliver sends a delivery again now, whatever its state (and whether
// or not its endpoint is paused). Should this attempt fail, it is retried
// only within the delivery's original window.
func (s *Service) Redeliver(ctx context.Context, id int) (*ent.WebhookDelivery, error) {
	db := s.db(ctx)
	d, err := db.WebhookDelivery.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if d, err = db.WebhookDelivery.UpdateOne(d).SetStatus(webhookdelivery.StatusPending).
		SetNextAttemptAt(s.now()).Save(ctx); err != nil {
		return nil, err
	}
	s.enqueue(ctx, Attempt{TenantID: d.TenantID, DeliveryID: d.ID, After: d.Attempts, Manual: true})
	return d, nil
}
