// Package tickets is the ticket workflow engine: ticket types and their
// state machines, routing to agents, SLA due times in business time and
// the escalations when they near or pass, approvals, the satisfaction
// survey on close, and supervisors' metrics.
//
// Every ticket, however it is opened (GraphQL, an order's return request,
// a form, a WeCom message), is typed, timed and routed in the transaction
// that creates it: Install adds the engine's hooks to the ent client, so
// no source can forget. Status and assignee change only through the
// engine (transitionTicket, assignTicket, claimTicket, routing, timers),
// which keeps each agent's open-ticket count in the same transaction.
//
// Timers (escalations, claim-backs) are asynq tasks scheduled after
// commit; each carries the ticket's SLA generation and does nothing once
// superseded. A sweep every minute escalates whatever is due and was
// missed, so nothing depends on a timer surviving.
//
// Permission decisions (who may assign, claim, approve) are authz's; the
// engine asks it and applies the answer.
package tickets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Timers schedules the engine's delayed work; jobs implements it on asynq.
type Timers interface {
	// ScheduleEscalation asks for Escalate(tenantID, ticketID, generation)
	// at the given instant of the engine's clock.
	ScheduleEscalation(ctx context.Context, tenantID, ticketID, generation int, at time.Time) error
	// ScheduleClaimBack asks for ClaimBack(tenantID, ticketID, staffID,
	// assignedAt) at the given instant of the engine's clock.
	ScheduleClaimBack(ctx context.Context, tenantID, ticketID, staffID int, assignedAt, at time.Time) error
}

// Notifier tells staff something through WeCom app messages.
type Notifier interface {
	NotifyStaff(ctx context.Context, tenantID int, staffIDs []int, text, key string) error
}

// Options configure an Engine.
type Options struct {
	Client *ent.Client
	// Redis holds the fairness counters shared by replicas; without it
	// there is no per-agent assignment cap.
	Redis    redis.UniversalClient
	Timers   Timers
	Notifier Notifier
	// Now is the engine's clock; tests inject a fake one.
	Now func() time.Time
	// PublicURL prefixes survey links.
	PublicURL string
	Logger    *slog.Logger
	// PoolTTL is how long a tenant's routing snapshot of its staff is
	// reused; 2 s when zero. Capacity is checked in the database at
	// assignment, so a stale snapshot costs fairness, never correctness.
	PoolTTL time.Duration
}

// Engine runs the ticket workflow. Safe for concurrent use.
type Engine struct {
	client    *ent.Client
	redis     redis.UniversalClient
	timers    Timers
	notifier  Notifier
	now       func() time.Time
	publicURL string
	log       *slog.Logger
	pools     *poolCache
	cfgMu     sync.Mutex
	cfg       map[int]*tenantConfig
}

// New builds an engine.
func New(o Options) *Engine {
	e := &Engine{client: o.Client, redis: o.Redis, timers: o.Timers, notifier: o.Notifier,
		now: o.Now, publicURL: o.PublicURL, log: o.Logger, cfg: map[int]*tenantConfig{}}
	if e.now == nil {
		e.now = func() time.Time { return time.Now().UTC() }
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	ttl := o.PoolTTL
	if ttl <= 0 {
		ttl = 2 * time.Second
	}
	e.pools = newPoolCache(ttl)
	return e
}

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.now().UTC() }

// SetTimers sets the timers after construction (the worker and the engine
// need each other).
func (e *Engine) SetTimers(t Timers) { e.timers = t }

// inTx runs fn in the caller's transaction (a GraphQL mutation's) or in a
// new one; fn gets the transaction's client, and ctx carries the
// transaction for txhook.AfterCommit.
func (e *Engine) inTx(ctx context.Context, fn func(ctx context.Context, c *ent.Client) error) error {
	ctx = engineAt(ctx)
	if tx := ent.TxFromContext(ctx); tx != nil {
		return fn(ctx, tx.Client())
	}
	tx, err := e.client.Tx(ctx)
	if err != nil {
		return err
	}
	ctx = ent.NewTxContext(ctx, tx)
	if err := fn(ctx, tx.Client()); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// unscoped keeps the viewer (tenant, actor, roles) but lifts its data
// scope: the engine moves tickets out of and into scopes (routing an
// agent's ticket to a colleague) after the caller's permission to act on
// the ticket was checked under its scope. A mini-program customer's
// confinement is lifted too: the engine routes their ticket (a form's)
// among staff they may not see.
func unscoped(ctx context.Context) context.Context {
	v := viewer.FromContext(ctx)
	if v == nil || (v.Scope == nil && v.CustomerID == 0) {
		return ctx
	}
	u := *v
	u.Scope, u.CustomerID = nil, 0
	return viewer.NewContext(ctx, &u)
}

// actorID is the signed-in staff member, or nil for system work.
func actorID(ctx context.Context) *int {
	if v := viewer.FromContext(ctx); v != nil && v.StaffID != 0 {
		id := v.StaffID
		return &id
	}
	return nil
}

func tenantOf(ctx context.Context) (int, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.TenantID == 0 {
		return 0, fmt.Errorf("tickets: no tenant in context")
	}
	return v.TenantID, nil
}

type engineKey struct{}

// engineAt marks ctx as the engine's own work, so that its hooks do not
// react to the engine's writes.
func engineAt(ctx context.Context) context.Context { return context.WithValue(ctx, engineKey{}, true) }

func byEngine(ctx context.Context) bool { v, _ := ctx.Value(engineKey{}).(bool); return v }
