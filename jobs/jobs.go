// Package jobs defines the product's background task types, their payloads
// and handlers, the queues they run on, and the worker and scheduler that
// run them, all on asynq over Redis. Handlers are thin: they decode a
// payload, narrow the context to one tenant, and call a domain package.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/customerstats"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/webhooks"
)

// Queues and their priority weights: platform callbacks first, scheduled
// pulls next, backfills and maintenance last.
const (
	QueueRealtime = "realtime"
	QueueSync     = "sync"
	QueueDefault  = "default"
	QueueBulk     = "bulk"
)

var queueWeights = map[string]int{QueueRealtime: 6, QueueSync: 3, QueueDefault: 2, QueueWebhooks: 2, QueueBulk: 1}

// Task types.
const (
	// TypeRecomputeCustomerTotals recomputes one tenant's customer totals
	// from their orders (repair after bulk loads or bugs).
	TypeRecomputeCustomerTotals = "customers:recompute_totals"
	// TypeReconcileAllTenants fans TypeRecomputeCustomerTotals out to
	// every tenant; the scheduler runs it nightly.
	TypeReconcileAllTenants = "maintenance:reconcile_all_tenants"
	// TypeSealAuditTrail chains every tenant's new audit entries; the
	// scheduler runs it every minute (verifyAuditChain also seals first).
	TypeSealAuditTrail = "maintenance:seal_audit_trail"
	// TypeTrimEvents deletes realtime events older than the retention;
	// the scheduler runs it hourly.
	TypeTrimEvents = "maintenance:trim_events"
)

// RecomputeCustomerTotals is the payload of TypeRecomputeCustomerTotals.
type RecomputeCustomerTotals struct {
	TenantID int `json:"tenant_id"`
}

// NewRecomputeCustomerTotals builds the task for one tenant. Its id makes
// a second request for the same tenant within the hour a no-op.
func NewRecomputeCustomerTotals(tenantID int, now time.Time) (*asynq.Task, error) {
	payload, err := json.Marshal(RecomputeCustomerTotals{TenantID: tenantID})
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%s:%d:%s", TypeRecomputeCustomerTotals, tenantID, now.UTC().Format("2006010215"))
	return asynq.NewTask(TypeRecomputeCustomerTotals, payload,
		asynq.Queue(QueueBulk), asynq.TaskID(id), asynq.MaxRetry(5),
		asynq.Timeout(30*time.Minute), asynq.Retention(24*time.Hour)), nil
}

// Deps are what handlers need.
type Deps struct {
	Client   *ent.Client
	Enqueuer *asynq.Client
	Now      func() time.Time
	// EventRetention is how long realtime events are kept for replay;
	// 7 days when zero.
	EventRetention time.Duration
	// Clients builds connector accounts' platform clients.
	Clients *connectoraccounts.Clients
	// Redis holds the leases that keep one sync per account and one job
	// per order running at a time.
	Redis  redis.UniversalClient
	Logger *slog.Logger
	// Tickets is the ticket workflow engine the timers call.
	Tickets *tickets.Engine
	// Archives gives a WeCom account's session archive reader, nil for
	// accounts without one (the archive needs WeCom's C SDK and a paid
	// licence); without it no archive is read.
	Archives func(*ent.ConnectorAccount) wecom.Archive
	// Webhooks fans events out to partners' endpoints and delivers them.
	Webhooks *webhooks.Service
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Mux routes every task type to its handler.
func Mux(d Deps) *asynq.ServeMux {
	if d.Now == nil {
		d.Now = time.Now
	}
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeRecomputeCustomerTotals, d.recomputeCustomerTotals)
	mux.HandleFunc(TypeReconcileAllTenants, d.reconcileAllTenants)
	mux.HandleFunc(TypeSealAuditTrail, func(ctx context.Context, _ *asynq.Task) error { return audit.SealAll(ctx, d.Client) })
	mux.HandleFunc(TypeTrimEvents, d.trimEvents)
	mux.HandleFunc(TypeSync, d.syncAccount)
	mux.HandleFunc(TypeSchedulePulls, d.schedulePulls)
	mux.HandleFunc(TypeShopOrder, d.shopOrder)
	mux.HandleFunc(TypeWecomEvent, d.wecomEvent)
	mux.HandleFunc(TypeNotifyStaff, d.notifyStaff)
	mux.HandleFunc(TypeMassMessage, d.massMessage)
	mux.HandleFunc(TypeRotateChannels, d.rotateChannels)
	mux.HandleFunc(TypeTicketEscalation, d.ticketEscalation)
	mux.HandleFunc(TypeTicketClaimBack, d.ticketClaimBack)
	mux.HandleFunc(TypeSweepEscalations, d.sweepEscalations)
	mux.HandleFunc(TypeReadArchive, d.readArchive)
	d.registerWebhooks(mux)
	return mux
}

func (d Deps) recomputeCustomerTotals(ctx context.Context, t *asynq.Task) error {
	var p RecomputeCustomerTotals
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	ctx = viewer.ForTenant(ctx, p.TenantID)
	return customerstats.RecomputeTenant(ctx, d.Client, p.TenantID)
}

func (d Deps) reconcileAllTenants(ctx context.Context, _ *asynq.Task) error {
	ids, err := d.Client.Tenant.Query().IDs(viewer.System(ctx))
	if err != nil {
		return err
	}
	for _, id := range ids {
		task, err := NewRecomputeCustomerTotals(id, d.Now())
		if err != nil {
			return err
		}
		if _, err := d.Enqueuer.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue totals of tenant %d: %w", id, err)
		}
	}
	return nil
}

func (d Deps) trimEvents(ctx context.Context, _ *asynq.Task) error {
	keep := d.EventRetention
	if keep <= 0 {
		keep = 7 * 24 * time.Hour
	}
	_, err := realtime.Trim(ctx, d.Client, d.Now().Add(-keep))
	return err
}
