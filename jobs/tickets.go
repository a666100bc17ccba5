package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Ticket workflow task types.
const (
	// TypeTicketEscalation runs a ticket's due escalation rules
	// (TicketTimer); the engine schedules one per SLA generation.
	TypeTicketEscalation = "tickets:escalate"
	// TypeTicketClaimBack returns a ticket nobody picked up to the queue
	// (TicketClaimBack).
	TypeTicketClaimBack = "tickets:claim_back"
	// TypeSweepEscalations escalates whatever is due and was missed; the
	// scheduler runs it every minute.
	TypeSweepEscalations = "tickets:sweep_escalations"
)

// TicketTimer is the payload of TypeTicketEscalation.
type TicketTimer struct {
	TenantID   int `json:"tenant_id"`
	TicketID   int `json:"ticket_id"`
	Generation int `json:"generation"`
}

// TicketClaimBack is the payload of TypeTicketClaimBack.
type TicketClaimBack struct {
	TenantID   int       `json:"tenant_id"`
	TicketID   int       `json:"ticket_id"`
	StaffID    int       `json:"staff_id"`
	AssignedAt time.Time `json:"assigned_at"`
}

// TicketTimers implements tickets.Timers and tickets.Notifier on asynq.
// Times are the engine's clock; a task is due in (at - engine now), so a
// fake clock in tests and the real one in production both work.
type TicketTimers struct {
	Enqueuer *asynq.Client
	Now      func() time.Time
}

var (
	_ tickets.Timers   = TicketTimers{}
	_ tickets.Notifier = TicketTimers{}
)

func (tt TicketTimers) in(at time.Time) time.Duration {
	now := time.Now()
	if tt.Now != nil {
		now = tt.Now()
	}
	return max(at.Sub(now), 0)
}

// ScheduleEscalation enqueues one task per ticket and SLA generation: a
// second request for the same is a no-op, and a newer generation's task
// supersedes the older (whose handler then finds nothing to do).
func (tt TicketTimers) ScheduleEscalation(ctx context.Context, tenantID, ticketID, generation int, at time.Time) error {
	payload, err := json.Marshal(TicketTimer{TenantID: tenantID, TicketID: ticketID, Generation: generation})
	if err != nil {
		return err
	}
	task := asynq.NewTask(TypeTicketEscalation, payload)
	_, err = tt.Enqueuer.EnqueueContext(ctx, task, asynq.Queue(QueueRealtime), asynq.ProcessIn(tt.in(at)),
		asynq.TaskID(fmt.Sprintf("%s:%d:%d", TypeTicketEscalation, ticketID, generation)),
		asynq.MaxRetry(10), asynq.Timeout(time.Minute), asynq.Retention(time.Hour))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// ScheduleClaimBack enqueues the claim-back check of one assignment.
func (tt TicketTimers) ScheduleClaimBack(ctx context.Context, tenantID, ticketID, staffID int, assignedAt, at time.Time) error {
	payload, err := json.Marshal(TicketClaimBack{TenantID: tenantID, TicketID: ticketID, StaffID: staffID, AssignedAt: assignedAt})
	if err != nil {
		return err
	}
	_, err = tt.Enqueuer.EnqueueContext(ctx, asynq.NewTask(TypeTicketClaimBack, payload),
		asynq.Queue(QueueRealtime), asynq.ProcessIn(tt.in(at)),
		asynq.TaskID(fmt.Sprintf("%s:%d:%d:%d", TypeTicketClaimBack, ticketID, staffID, assignedAt.UnixMicro())),
		asynq.MaxRetry(10), asynq.Timeout(time.Minute), asynq.Retention(time.Hour))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// NotifyStaff sends a WeCom app message through TypeNotifyStaff.
func (tt TicketTimers) NotifyStaff(ctx context.Context, tenantID int, staffIDs []int, text, key string) error {
	task, opts, err := NewNotifyStaff(NotifyStaff{TenantID: tenantID, StaffIDs: staffIDs, Text: text, Key: key})
	if err != nil {
		return err
	}
	_, err = tt.Enqueuer.EnqueueContext(ctx, task, opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

func (d Deps) ticketEscalation(ctx context.Context, t *asynq.Task) error {
	var p TicketTimer
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 || p.TicketID <= 0 {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	if d.Tickets == nil {
		return fmt.Errorf("no ticket engine: %w", asynq.SkipRetry)
	}
	return d.Tickets.Escalate(viewer.ForTenant(ctx, p.TenantID), p.TicketID, p.Generation)
}

func (d Deps) ticketClaimBack(ctx context.Context, t *asynq.Task) error {
	var p TicketClaimBack
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 || p.TicketID <= 0 {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	if d.Tickets == nil {
		return fmt.Errorf("no ticket engine: %w", asynq.SkipRetry)
	}
	return d.Tickets.ClaimBack(viewer.ForTenant(ctx, p.TenantID), p.TicketID, p.StaffID, p.AssignedAt)
}

func (d Deps) sweepEscalations(ctx context.Context, _ *asynq.Task) error {
	if d.Tickets == nil {
		return nil
	}
	res, err := d.Tickets.Sweep(ctx, 500)
	if res.Escalated > 0 {
		d.logger().InfoContext(ctx, "escalation sweep", "escalated", res.Escalated)
	}
	return err
}

// TypeReadArchive reads a WeCom account's session archive and opens
// tickets for customer messages matching ticket type keywords
// (ReadArchive); schedulePulls enqueues it every minute for accounts that
// have an archive reader.
const TypeReadArchive = "wecom:read_archive"

// ReadArchive is the payload of TypeReadArchive.
type ReadArchive struct {
	TenantID  int    `json:"tenant_id"`
	AccountID int    `json:"account_id"`
	Slot      string `json:"slot"`
}

func archiveCursorKey(accountID int) string {
	return fmt.Sprintf("scrm:wecom:archive:%d:seq", accountID)
}

// readArchive reads up to 1,000 records after the account's cursor. The
// cursor moves after the tickets are written, so a crash re-reads (the
// engine appends to an open ticket rather than opening a second).
func (d Deps) readArchive(ctx context.Context, t *asynq.Task) error {
	var p ReadArchive
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 || p.AccountID <= 0 {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	if d.Archives == nil || d.Tickets == nil || d.Redis == nil {
		return nil
	}
	ctx = viewer.ForTenant(ctx, p.TenantID)
	acc, err := d.Client.ConnectorAccount.Get(ctx, p.AccountID)
	if err != nil {
		return err
	}
	archive := d.Archives(acc)
	if archive == nil {
		return nil
	}
	after, err := d.Redis.Get(ctx, archiveCursorKey(acc.ID)).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	for range 2 {
		recs, err := archive.Fetch(ctx, after, 500)
		if err != nil || len(recs) == 0 {
			return err
		}
		var msgs []tickets.InboundMessage
		for _, r := range recs {
			if r.Action == "send" && r.MsgType == "text" && r.RoomID == "" && r.FromCustomer() {
				msgs = append(msgs, tickets.InboundMessage{CorpID: acc.ExternalID, ExternalID: r.From, MsgID: r.MsgID, Text: r.Text})
			}
			after = max(after, r.Seq)
		}
		if len(msgs) > 0 {
			if _, err := d.Tickets.OpenFromMessages(ctx, msgs); err != nil {
				return err
			}
		}
		if err := d.Redis.Set(ctx, archiveCursorKey(acc.ID), after, 0).Err(); err != nil {
			return err
		}
	}
	return nil
}
