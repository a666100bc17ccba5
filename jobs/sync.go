package jobs

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/ent/connectoraccount"
)

// SyncKind is what a sync of an account fetches.
type SyncKind string

// Sync kinds (the GraphQL enum SyncKind).
const (
	SyncOrganization SyncKind = "ORGANIZATION"
	SyncCustomers    SyncKind = "CUSTOMERS"
	SyncOrders       SyncKind = "ORDERS"
)

// MarshalGQL writes the kind as a GraphQL enum value.
func (k SyncKind) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(k))) }

// UnmarshalGQL reads the kind from a GraphQL enum value.
func (k *SyncKind) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("sync kind must be a string")
	}
	switch SyncKind(str) {
	case SyncOrganization, SyncCustomers, SyncOrders:
		*k = SyncKind(str)
		return nil
	}
	return fmt.Errorf("%q is not a sync kind", str)
}

// KindsOf lists the sync kinds a platform has; a mini-program has none
// (it is only signed in through).
func KindsOf(p connectoraccount.Platform) []SyncKind {
	switch p {
	case connectoraccount.PlatformWecom:
		return []SyncKind{SyncOrganization, SyncCustomers}
	case connectoraccount.PlatformWechatMiniprogram:
		return nil
	}
	return []SyncKind{SyncOrders}
}

// Task types of platform sync.
const (
	// TypeSync runs one sync kind of one account (SyncAccount).
	TypeSync = "sync:account"
	// TypeSchedulePulls fans incremental pulls out to every active
	// account; the scheduler runs it every minute.
	TypeSchedulePulls = "sync:schedule_pulls"
	// TypeWecomEvent applies one WeCom callback event (WecomEvent).
	TypeWecomEvent = "wecom:event"
	// TypeShopOrder fetches one shop order and stores it (ShopOrder).
	TypeShopOrder = "shop:order"
)

// SyncAccount is the payload of TypeSync.
type SyncAccount struct {
	TenantID  int      `json:"tenant_id"`
	AccountID int      `json:"account_id"`
	Kind      SyncKind `json:"kind"`
	// Window names the schedule slot (or "now") the task was made for:
	// with the account and kind it is the task id, so schedulers on
	// several workers enqueue one task per slot.
	Window string `json:"window"`
}

// syncTimeout bounds one sync run; a longer one resumes from its cursor
// in the next.
const syncTimeout = 30 * time.Minute

// NewSyncAccount builds the task and the options it is enqueued with.
func NewSyncAccount(p SyncAccount) (*asynq.Task, []asynq.Option, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	id := fmt.Sprintf("%s:%d:%s:%s", TypeSync, p.AccountID, p.Kind, p.Window)
	queue := QueueSync
	return asynq.NewTask(TypeSync, payload), []asynq.Option{
		asynq.Queue(queue), asynq.TaskID(id), asynq.MaxRetry(5), asynq.Timeout(syncTimeout),
		// The id stays taken for a while after the run, so a slot's task
		// enqueued late by another scheduler does not run a second time.
		asynq.Retention(10 * time.Minute),
	}, nil
}

// WecomEvent is the payload of TypeWecomEvent: a callback's decrypted XML,
// checked (signature, receive id) before it was enqueued.
type WecomEvent struct {
	TenantID  int    `json:"tenant_id"`
	AccountID int    `json:"account_id"`
	XML       string `json:"xml"`
	// ReceivedAt is when the callback arrived (welcome messages must go
	// within 20 seconds of it).
	ReceivedAt time.Time `json:"received_at"`
}

// NewWecomEvent builds the task; key (the event's deduplication key)
// makes WeCom's retries of the same event one task.
func NewWecomEvent(p WecomEvent, key string) (*asynq.Task, []asynq.Option, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	return asynq.NewTask(TypeWecomEvent, payload), []asynq.Option{
		asynq.Queue(QueueRealtime), asynq.TaskID(fmt.Sprintf("%s:%d:%s", TypeWecomEvent, p.AccountID, key)),
		asynq.MaxRetry(10), asynq.Timeout(time.Minute),
		// WeCom retries for a few seconds; a day covers late replays.
		asynq.Retention(24 * time.Hour),
	}, nil
}

// ShopOrder is the payload of TypeShopOrder: fetch the order and store it.
type ShopOrder struct {
	TenantID  int    `json:"tenant_id"`
	AccountID int    `json:"account_id"`
	OrderID   string `json:"order_id"`
	// UpdatedAt is the platform's update time the push or pull saw; with
	// the order id it is the task id, so one change is fetched once.
	UpdatedAt int64 `json:"updated_at"`
	// Source says which path found the change: "push" or "pull".
	Source string `json:"source"`
}

// NewShopOrder builds the task; a push goes on the realtime queue, a pull
// on the sync queue.
func NewShopOrder(p ShopOrder) (*asynq.Task, []asynq.Option, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	queue := QueueSync
	if p.Source == "push" {
		queue = QueueRealtime
	}
	return asynq.NewTask(TypeShopOrder, payload), []asynq.Option{
		asynq.Queue(queue), asynq.TaskID(fmt.Sprintf("%s:%d:%s:%d", TypeShopOrder, p.AccountID, p.OrderID, p.UpdatedAt)),
		asynq.MaxRetry(10), asynq.Timeout(time.Minute), asynq.Retention(time.Hour),
	}, nil
}
