package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/webhookdelivery"
	"github.com/scrm-dev/scrm/ent/webhookendpoint"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// UserAgent is sent with every delivery.
const UserAgent = "scrm-webhooks/1"

// maxError bounds last_error.
const maxError = 1000

// RetryDelay is the wait after the n-th failed attempt (from 1), before
// jitter: base doubled after each failure, at most ceiling.
func RetryDelay(n int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// retryAt is when the attempt after the n-th failure is due: RetryDelay
// plus up to a fifth of it at random, so endpoints failing together (a
// partner's outage) do not retry in step.
func (s *Service) retryAt(now time.Time, n int) time.Time {
	d := RetryDelay(n, s.opts.RetryBase, s.opts.RetryMax)
	return now.Add(d + time.Duration(rand.Int64N(int64(d)/5+1)))
}

// outcome is what one attempt got.
type outcome struct {
	status   int // HTTP status; 0 when there was no response
	err      string
	duration time.Duration
}

func (o outcome) ok() bool { return o.err == "" && o.status >= 200 && o.status < 300 }

// Deliver makes one attempt of a delivery (the task of Queue). A stale
// attempt (the delivery moved on, was deleted, or its endpoint is paused)
// does nothing. The outcome is written to the delivery log; a failure
// schedules the next attempt or abandons the delivery, and may pause the
// endpoint. Only trouble with our own database or queue is an error.
func (s *Service) Deliver(ctx context.Context, a Attempt) error {
	ctx = viewer.ForTenant(ctx, a.TenantID)
	db := s.opts.Client
	d, err := db.WebhookDelivery.Query().Where(webhookdelivery.ID(a.DeliveryID)).WithEndpoint().Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ep := d.Edges.Endpoint
	if d.Attempts != a.After || (d.Status != webhookdelivery.StatusPending && d.Status != webhookdelivery.StatusFailing) ||
		(ep.Status == webhookendpoint.StatusPaused && !a.Manual) {
		return nil
	}
	// Claim the attempt: of two tasks for the same attempt, one sends.
	// Should this process die before recording the outcome, fan-out
	// finds the attempt overdue after next_attempt_at and queues another.
	claimed, err := db.WebhookDelivery.Update().
		Where(webhookdelivery.ID(d.ID), webhookdelivery.AttemptsEQ(a.After), webhookdelivery.StatusIn(waiting...)).
		AddAttempts(1).SetNextAttemptAt(s.now().Add(Timeout)).Save(ctx)
	if err != nil || claimed == 0 {
		return err
	}
	out := s.post(ctx, ep, d)
	return s.record(ctx, ep, d, a.After+1, out)
}

// post sends the delivery's body, signed, and reads a little of the
// answer.
func (s *Service) post(ctx context.Context, ep *ent.WebhookEndpoint, d *ent.WebhookDelivery) outcome {
	start := time.Now()
	body, err := bodyOf(d)
	if err != nil {
		return outcome{err: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{err: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("X-SCRM-Event", d.Kind)
	req.Header.Set("X-SCRM-Delivery", gid.Encode(d.ID))
	req.Header.Set(SignatureHeader, Sign(ep.Secret, body, s.now()))
	resp, err := s.http.Do(req)
	if err != nil {
		return outcome{err: err.Error(), duration: time.Since(start)}
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	out := outcome{status: resp.StatusCode, duration: time.Since(start)}
	if !out.ok() {
		out.err = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	return out
}

// bodyOf is the request body: the stored payload with the delivery's id.
func bodyOf(d *ent.WebhookDelivery) ([]byte, error) {
	var env envelope
	if err := json.Unmarshal([]byte(d.Payload), &env); err != nil {
		return nil, fmt.Errorf("stored payload: %w", err)
	}
	env.ID = gid.Encode(d.ID)
	return json.Marshal(env)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// record writes the outcome of the attempt-th attempt, then queues the
// next attempt or tells admins of a pause.
func (s *Service) record(ctx context.Context, ep *ent.WebhookEndpoint, d *ent.WebhookDelivery, attempt int, out outcome) error {
	now := s.now()
	tx, err := s.opts.Client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	u := tx.WebhookDelivery.UpdateOneID(d.ID).SetDurationMs(int(out.duration.Milliseconds())).
		SetLastError(truncate(out.err, maxError))
	if out.status != 0 {
		u.SetResponseStatus(out.status)
	} else {
		u.ClearResponseStatus()
	}
	var next *Attempt
	paused := false
	if out.ok() {
		u.SetStatus(webhookdelivery.StatusSucceeded).SetDeliveredAt(now).ClearNextAttemptAt()
		if err := tx.WebhookEndpoint.Update().
			Where(webhookendpoint.ID(ep.ID), webhookendpoint.ConsecutiveFailuresGT(0)).
			SetConsecutiveFailures(0).Exec(ctx); err != nil {
			return err
		}
	} else {
		at := s.retryAt(now, attempt)
		if at.After(d.CreatedAt.Add(s.opts.Window)) {
			u.SetStatus(webhookdelivery.StatusAbandoned).ClearNextAttemptAt()
		} else {
			u.SetStatus(webhookdelivery.StatusFailing).SetNextAttemptAt(at)
			next = &Attempt{TenantID: d.TenantID, DeliveryID: d.ID, After: attempt, At: at}
		}
		if paused, err = s.countFailure(ctx, tx, ep, out.err); err != nil {
			return err
		}
	}
	if err := u.Exec(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if next != nil && !paused {
		s.enqueue(ctx, *next)
	}
	if paused {
		s.notifyPaused(ctx, ep)
	}
	return nil
}

// countFailure adds a failed attempt to the endpoint's run and pauses it
// when the run reaches PauseAfter; paused says this call paused it (and
// wrote the audit entry).
func (s *Service) countFailure(ctx context.Context, tx *ent.Tx, ep *ent.WebhookEndpoint, lastErr string) (paused bool, err error) {
	cur, err := tx.WebhookEndpoint.UpdateOneID(ep.ID).AddConsecutiveFailures(1).Save(ctx)
	if err != nil || cur.Status != webhookendpoint.StatusActive || cur.ConsecutiveFailures < s.opts.PauseAfter {
		return false, err
	}
	reason := truncate(fmt.Sprintf("%d failed attempts in a row; last: %s", cur.ConsecutiveFailures, lastErr), 400)
	n, err := tx.WebhookEndpoint.Update().
		Where(webhookendpoint.ID(ep.ID), webhookendpoint.StatusEQ(webhookendpoint.StatusActive)).
		SetStatus(webhookendpoint.StatusPaused).SetPauseReason(reason).SetPausedAt(s.now()).Save(ctx)
	if err != nil || n == 0 {
		return false, err
	}
	rec := &audit.Recorder{}
	rec.Add(audit.Entry{Action: auditlog.ActionMutation, Operation: "webhooks:pause", ObjectType: "WebhookEndpoint",
		ObjectIDs: []string{gid.Encode(ep.ID)}, Fields: []string{"status"}, Purpose: truncate(reason, 250)})
	return true, rec.Flush(ctx, tx.Client())
}

// notifyPaused tells the tenant's active admins that an endpoint was
// paused. A failure to queue the message is logged: the endpoint's state
// and the audit trail already say it.
func (s *Service) notifyPaused(ctx context.Context, ep *ent.WebhookEndpoint) {
	if s.opts.Notifier == nil {
		return
	}
	admins, err := s.opts.Client.Staff.Query().
		Where(staff.StatusEQ(staff.StatusActive), func(sel *sql.Selector) {
			sel.Where(sqljson.ValueContains(staff.FieldRoles, "admin"))
		}).IDs(ctx)
	if err == nil && len(admins) > 0 {
		text := fmt.Sprintf("Webhook 已暂停：%s 连续 %d 次投递失败。合作方恢复后，请在管理后台将其状态改回 ACTIVE（updateWebhookEndpoint），24 小时内未送达的事件会重新投递。",
			ep.URL, s.opts.PauseAfter)
		err = s.opts.Notifier.NotifyStaff(ctx, ep.TenantID, admins, text, fmt.Sprintf("webhook:%d:paused:%d", ep.ID, s.now().Unix()))
	}
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "webhooks: tell admins of a paused endpoint", "endpoint", ep.ID, "err", err)
	}
}
