package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/internal/webhooks"
)

// QueueWebhooks carries outgoing webhooks on their own: a partner's
// outage, with its retries, never delays sync or ticket work.
const QueueWebhooks = "webhooks"

// Webhook task types.
const (
	// TypeWebhookFanout turns new events into deliveries and queues them
	// (webhooks.Service.Fanout); the scheduler runs it every 2 seconds.
	TypeWebhookFanout = "webhooks:fanout"
	// TypeWebhookDeliver makes one attempt of one delivery
	// (webhooks.Attempt).
	TypeWebhookDeliver = "webhooks:deliver"
)

// WebhookQueue implements webhooks.Queue and webhooks.Notifier on asynq.
type WebhookQueue struct{ Enqueuer *asynq.Client }

var (
	_ webhooks.Queue    = WebhookQueue{}
	_ webhooks.Notifier = WebhookQueue{}
)

// EnqueueAttempt queues one attempt, due at a.At. Its id names the
// delivery and the attempts it had, so the same attempt queued twice
// (fan-out's requeue of an overdue one) is one task; a manual attempt
// gets an id of its own, since it must go out now even while a retry
// waits.
func (q WebhookQueue) EnqueueAttempt(ctx context.Context, a webhooks.Attempt) error {
	payload, err := json.Marshal(a)
	if err != nil {
		return err
	}
	id := fmt.Sprintf("%s:%d:%d", TypeWebhookDeliver, a.DeliveryID, a.After)
	if a.Manual {
		id += fmt.Sprintf(":manual:%d", time.Now().UnixNano())
	}
	opts := []asynq.Option{asynq.Queue(QueueWebhooks), asynq.TaskID(id), asynq.MaxRetry(5),
		// One attempt is a 10 s request plus two short writes.
		asynq.Timeout(webhooks.Timeout + 20*time.Second)}
	if !a.At.IsZero() {
		opts = append(opts, asynq.ProcessAt(a.At))
	}
	_, err = q.Enqueuer.EnqueueContext(ctx, asynq.NewTask(TypeWebhookDeliver, payload), opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// NotifyStaff sends a WeCom app message through TypeNotifyStaff, as
// ticket notifications do.
func (q WebhookQueue) NotifyStaff(ctx context.Context, tenantID int, staffIDs []int, text, key string) error {
	return TicketTimers{Enqueuer: q.Enqueuer}.NotifyStaff(ctx, tenantID, staffIDs, text, key)
}

// registerWebhooks routes the webhook task types.
func (d Deps) registerWebhooks(mux *asynq.ServeMux) {
	mux.HandleFunc(TypeWebhookFanout, d.webhookFanout)
	mux.HandleFunc(TypeWebhookDeliver, d.webhookDeliver)
}

// scheduleWebhooks runs the fan-out every 2 seconds: events are numbered
// by the relay after commit (within a second), and a delivery follows
// within a few more. Unique keeps one fan-out queued whatever the number
// of schedulers; it is released when the run ends.
func scheduleWebhooks(s *asynq.Scheduler) error {
	_, err := s.Register("@every 2s", asynq.NewTask(TypeWebhookFanout, nil),
		asynq.Queue(QueueWebhooks), asynq.Unique(10*time.Second), asynq.MaxRetry(0), asynq.Timeout(time.Minute))
	if err != nil {
		return fmt.Errorf("register the webhook fan-out: %w", err)
	}
	return nil
}

func (d Deps) webhookFanout(ctx context.Context, _ *asynq.Task) error {
	if d.Webhooks == nil {
		return nil
	}
	_, err := d.Webhooks.Fanout(ctx)
	return err
}

func (d Deps) webhookDeliver(ctx context.Context, t *asynq.Task) error {
	var a webhooks.Attempt
	if err := json.Unmarshal(t.Payload(), &a); err != nil || a.TenantID <= 0 || a.DeliveryID <= 0 {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	if d.Webhooks == nil {
		return fmt.Errorf("this worker has no webhook service: %w", asynq.SkipRetry)
	}
	return d.Webhooks.Deliver(ctx, a)
}
