package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/wecommsg"
)

// Task types of WeCom messages.
const (
	// TypeNotifyStaff sends an app message to staff (NotifyStaff).
	TypeNotifyStaff = "wecom:notify_staff"
	// TypeMassMessage creates a mass-message task to customers (MassMessage).
	TypeMassMessage = "wecom:mass_message"
)

// NotifyStaff is the payload of TypeNotifyStaff.
type NotifyStaff struct {
	TenantID int    `json:"tenant_id"`
	StaffIDs []int  `json:"staff_ids"`
	Text     string `json:"text"`
	// Key makes a notification asked for twice (a retried mutation, a
	// replayed event) one message, e.g. "ticket:42:assigned:7".
	Key string `json:"key"`
}

// NewNotifyStaff builds the task.
func NewNotifyStaff(p NotifyStaff) (*asynq.Task, []asynq.Option, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	opts := []asynq.Option{asynq.Queue(QueueDefault), asynq.MaxRetry(8), asynq.Timeout(time.Minute), asynq.Retention(time.Hour)}
	if p.Key != "" {
		opts = append(opts, asynq.TaskID(fmt.Sprintf("%s:%d:%s", TypeNotifyStaff, p.TenantID, p.Key)))
	}
	return asynq.NewTask(TypeNotifyStaff, payload), opts, nil
}

// MassMessage is the payload of TypeMassMessage.
type MassMessage struct {
	TenantID    int    `json:"tenant_id"`
	SenderID    int    `json:"sender_id"`
	CustomerIDs []int  `json:"customer_ids"`
	Text        string `json:"text"`
	// Key makes the send idempotent (e.g. "campaign:9:sender:3").
	Key string `json:"key"`
}

// NewMassMessage builds the task.
func NewMassMessage(p MassMessage) (*asynq.Task, []asynq.Option, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	opts := []asynq.Option{asynq.Queue(QueueBulk), asynq.MaxRetry(5), asynq.Timeout(5 * time.Minute), asynq.Retention(24 * time.Hour)}
	if p.Key != "" {
		opts = append(opts, asynq.TaskID(fmt.Sprintf("%s:%d:%s", TypeMassMessage, p.TenantID, p.Key)))
	}
	return asynq.NewTask(TypeMassMessage, payload), opts, nil
}

func (d Deps) sender() *wecommsg.Sender {
	return &wecommsg.Sender{Client: d.Client, Redis: d.Redis, Now: d.Now}
}

// notifyStaff sends a notification; staff at WeCom's per-member limit get
// it in a follow-up task once their budget allows.
func (d Deps) notifyStaff(ctx context.Context, t *asynq.Task) error {
	var p NotifyStaff
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 || p.Text == "" {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	ctx = viewer.ForTenant(ctx, p.TenantID)
	acc, err := wecommsg.Account(ctx, d.Client)
	if err != nil || acc == nil {
		if acc == nil && err == nil {
			d.logger().InfoContext(ctx, "no active WeCom account: notification not sent", "tenant", p.TenantID)
		}
		return err
	}
	wc, err := d.Clients.Wecom(acc)
	if err != nil {
		return err
	}
	res, err := d.sender().NotifyStaff(ctx, wc, acc, p.StaffIDs, p.Text)
	if err != nil {
		return err
	}
	if len(res.Deferred) > 0 {
		later, opts, err := NewNotifyStaff(NotifyStaff{TenantID: p.TenantID, StaffIDs: res.Deferred, Text: p.Text})
		if err != nil {
			return err
		}
		if _, err := d.Enqueuer.EnqueueContext(ctx, later, append(opts, asynq.ProcessIn(res.RetryAfter))...); err != nil {
			return fmt.Errorf("defer a notification: %w", err)
		}
	}
	return nil
}

// massMessage creates one mass-message task.
func (d Deps) massMessage(ctx context.Context, t *asynq.Task) error {
	var p MassMessage
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 || p.SenderID <= 0 || p.Text == "" {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	ctx = viewer.ForTenant(ctx, p.TenantID)
	acc, err := wecommsg.Account(ctx, d.Client)
	if err != nil {
		return err
	}
	if acc == nil {
		return fmt.Errorf("tenant %d has no active WeCom account: %w", p.TenantID, asynq.SkipRetry)
	}
	wc, err := d.Clients.Wecom(acc)
	if err != nil {
		return err
	}
	res, err := d.sender().MassMessage(ctx, wc, acc, p.SenderID, p.CustomerIDs, p.Text)
	if err != nil {
		return err
	}
	d.logger().InfoContext(ctx, "mass message", "tenant", p.TenantID, "msg_id", res.MsgID, "sent", len(res.Sent),
		"over_monthly_limit", len(res.OverMonthlyLimit), "not_reachable", len(res.NotReachable), "refused", len(res.Refused))
	return nil
}
