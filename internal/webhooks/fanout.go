package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/event"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/predicate"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/ent/webhookdelivery"
	"github.com/scrm-dev/scrm/ent/webhookendpoint"
	"github.com/scrm-dev/scrm/internal/viewer"
)

const (
	// fanoutBatch bounds the events of one fan-out transaction, and
	// batchesPerRun one tenant's share of a run (the next run goes on).
	fanoutBatch   = 500
	batchesPerRun = 20
	insertChunk   = 200
	// overdue is how late an attempt must be for fan-out to queue it
	// again (its task was lost).
	overdue = time.Minute
)

// envelope is the body partners receive. The stored payload is the same
// without id: the delivery's id exists only once the row does, and rows
// are inserted in bulk. Deliver adds it, so the body is the payload plus
// the delivery's id, the same on every attempt.
type envelope struct {
	ID         string          `json:"id,omitempty"`
	Kind       string          `json:"kind"`
	OccurredAt time.Time       `json:"occurredAt"`
	Data       json.RawMessage `json:"data"`
}

// data is what a payload says of its event: global IDs and states, never
// personal data (see the package comment).
type data struct {
	Ticket         string `json:"ticket,omitempty"`
	Order          string `json:"order,omitempty"`
	FormSubmission string `json:"formSubmission,omitempty"`
	Customer       string `json:"customer,omitempty"`
	MergedInto     string `json:"mergedInto,omitempty"`
	Assignee       string `json:"assignee,omitempty"`
	Status         string `json:"status,omitempty"`
	Platform       string `json:"platform,omitempty"`
	ShopID         string `json:"shopId,omitempty"`
}

func encodeID(id *int) string {
	if id == nil {
		return ""
	}
	return gid.Encode(*id)
}

// payload builds the stored payload of an event; mergedInto is the
// surviving customer of a MERGED event.
func payload(e *ent.Event, kind string, mergedInto *int) ([]byte, error) {
	d := data{Status: e.Status, Platform: e.Platform, ShopID: e.ShopID}
	subject := gid.Encode(e.SubjectID)
	switch e.Topic {
	case event.TopicTicket:
		d.Ticket, d.Customer, d.Assignee = subject, encodeID(e.CustomerID), encodeID(e.AssigneeID)
	case event.TopicOrder:
		d.Order, d.Customer = subject, encodeID(e.CustomerID)
	case event.TopicFormSubmission:
		d.FormSubmission, d.Customer = subject, encodeID(e.CustomerID)
	case event.TopicCustomer:
		d.Customer, d.MergedInto = subject, encodeID(mergedInto)
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{Kind: kind, OccurredAt: e.CreatedAt.UTC().Truncate(time.Millisecond), Data: raw})
}

// receiving are the endpoints that get new deliveries: active ones, and
// paused ones for a window after they paused (delivered if resumed).
func (s *Service) receiving() predicate.WebhookEndpoint {
	return webhookendpoint.Or(webhookendpoint.StatusEQ(webhookendpoint.StatusActive),
		webhookendpoint.And(webhookendpoint.StatusEQ(webhookendpoint.StatusPaused),
			webhookendpoint.PausedAtGT(s.now().Add(-s.opts.Window))))
}

// Fanout turns every tenant's new events into deliveries to its
// endpoints and queues them, then queues again attempts whose task was
// lost. It returns how many deliveries it made.
func (s *Service) Fanout(ctx context.Context) (int, error) {
	tenants, err := s.opts.Client.WebhookEndpoint.Query().Where(s.receiving()).
		Unique(true).Select(webhookendpoint.FieldTenantID).Ints(viewer.System(ctx))
	if err != nil {
		return 0, err
	}
	total := 0
	var errs []error
	for _, t := range tenants {
		for range batchesPerRun {
			n, more, err := s.fanoutBatch(ctx, t)
			total += n
			if err != nil {
				errs = append(errs, fmt.Errorf("fan out tenant %d: %w", t, err))
			}
			if err != nil || !more {
				break
			}
		}
	}
	return total, errors.Join(append(errs, s.requeueOverdue(ctx))...)
}

// fanoutBatch makes the deliveries of one batch of a tenant's events and
// moves its cursor past them, in one transaction; more says a full batch
// was read.
func (s *Service) fanoutBatch(ctx context.Context, tenantID int) (made int, more bool, err error) {
	ctx = viewer.ForTenant(ctx, tenantID)
	tx, err := s.opts.Client.Tx(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() { _ = tx.Rollback() }()
	t, err := tx.Tenant.Get(ctx, tenantID)
	if err != nil {
		return 0, false, err
	}
	events, err := tx.Event.Query().Where(event.SeqGT(t.WebhookSeq)).Order(event.BySeq()).Limit(fanoutBatch).All(ctx)
	if err != nil || len(events) == 0 {
		return 0, false, err
	}
	endpoints, err := tx.WebhookEndpoint.Query().Where(s.receiving()).All(ctx)
	if err != nil {
		return 0, false, err
	}
	survivors, err := mergedInto(ctx, tx.Client(), events)
	if err != nil {
		return 0, false, err
	}
	now := s.now()
	var creates []*ent.WebhookDeliveryCreate
	eventIDs := make([]int, 0, len(events))
	for _, e := range events {
		kind := KindOf(e.Topic, e.Kind)
		var body []byte
		for _, ep := range endpoints {
			// An endpoint hears of what happened after it was made.
			if !Matches(ep.EventKinds, kind) || e.CreatedAt.Before(ep.CreatedAt) {
				continue
			}
			if body == nil {
				if body, err = payload(e, kind, survivors[e.SubjectID]); err != nil {
					return 0, false, err
				}
				eventIDs = append(eventIDs, e.ID)
			}
			creates = append(creates, tx.WebhookDelivery.Create().SetEndpointID(ep.ID).SetEventID(e.ID).
				SetKind(kind).SetPayload(string(body)).SetNextAttemptAt(now))
		}
	}
	for i := 0; i < len(creates); i += insertChunk {
		if err := tx.WebhookDelivery.CreateBulk(creates[i:min(i+insertChunk, len(creates))]...).
			OnConflictColumns(webhookdelivery.FieldEndpointID, webhookdelivery.FieldEventID).Ignore().
			Exec(ctx); err != nil {
			return 0, false, fmt.Errorf("insert deliveries: %w", err)
		}
	}
	// Move the cursor only from where this run found it: a concurrent
	// fan-out that got there first wins, and this one's inserts roll back.
	moved, err := tx.Tenant.Update().Where(tenant.ID(tenantID), tenant.WebhookSeq(t.WebhookSeq)).
		SetWebhookSeq(*events[len(events)-1].Seq).Save(ctx)
	if err != nil || moved == 0 {
		return 0, false, err
	}
	if err := tx.Commit(); err != nil {
		return 0, false, err
	}
	more = len(events) == fanoutBatch
	if len(eventIDs) == 0 || s.opts.Queue == nil {
		return len(creates), more, nil
	}
	ids, err := s.opts.Client.WebhookDelivery.Query().
		Where(webhookdelivery.EventIDIn(eventIDs...), webhookdelivery.AttemptsEQ(0),
			webhookdelivery.StatusEQ(webhookdelivery.StatusPending),
			webhookdelivery.HasEndpointWith(webhookendpoint.StatusEQ(webhookendpoint.StatusActive))).
		IDs(ctx)
	if err != nil {
		return len(creates), more, err
	}
	attempts := make([]Attempt, len(ids))
	for i, id := range ids {
		attempts[i] = Attempt{TenantID: tenantID, DeliveryID: id}
	}
	s.enqueue(ctx, attempts...)
	return len(creates), more, nil
}

// mergedInto returns the surviving customer of each MERGED event's
// subject (the event itself does not carry it).
func mergedInto(ctx context.Context, db *ent.Client, events []*ent.Event) (map[int]*int, error) {
	var ids []int
	for _, e := range events {
		if e.Topic == event.TopicCustomer && e.Kind == "MERGED" {
			ids = append(ids, e.SubjectID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cs, err := db.Customer.Query().Where(customer.IDIn(ids...)).
		Select(customer.FieldID, customer.FieldMergedIntoID).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int]*int, len(cs))
	for _, c := range cs {
		out[c.ID] = c.MergedIntoID
	}
	return out, nil
}

// requeueOverdue queues again attempts of active endpoints that are a
// minute late: their task was lost (Redis restarted, or the process died
// between commit and enqueue). A task still queued has the same id, so
// this is a no-op for it.
func (s *Service) requeueOverdue(ctx context.Context) error {
	if s.opts.Queue == nil {
		return nil
	}
	ds, err := s.opts.Client.WebhookDelivery.Query().
		Where(webhookdelivery.StatusIn(waiting...), webhookdelivery.NextAttemptAtLT(s.now().Add(-overdue)),
			webhookdelivery.HasEndpointWith(webhookendpoint.StatusEQ(webhookendpoint.StatusActive))).
		Select(webhookdelivery.FieldID, webhookdelivery.FieldTenantID, webhookdelivery.FieldAttempts).
		Limit(fanoutBatch).All(viewer.System(ctx))
	if err != nil {
		return fmt.Errorf("find overdue deliveries: %w", err)
	}
	attempts := make([]Attempt, len(ds))
	for i, d := range ds {
		attempts[i] = Attempt{TenantID: d.TenantID, DeliveryID: d.ID, After: d.Attempts}
	}
	s.enqueue(ctx, attempts...)
	return nil
}
