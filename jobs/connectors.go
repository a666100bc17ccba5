package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/connectors"
	"github.com/scrm-dev/scrm/connectors/douyin"
	"github.com/scrm-dev/scrm/connectors/taobao"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/internal/channels"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/ordersync"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/wecomsync"
)

// errBusy is returned when another worker holds the lease of what a task
// works on (an account's sync stream, an order); the task runs again
// shortly (retryDelay), after the other one.
var errBusy = errors.New("another worker is on it")

// lease takes a Redis lock on key for ttl; release gives it back if it
// is still ours.
func lease(ctx context.Context, rdb redis.UniversalClient, key string, ttl time.Duration) (release func(), ok bool, err error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	owner := hex.EncodeToString(b)
	ok, err = rdb.SetNX(ctx, "scrm:lease:"+key, owner, ttl).Result()
	if err != nil || !ok {
		return func() {}, ok, err
	}
	return func() {
		_ = releaseScript.Run(context.WithoutCancel(ctx), rdb, []string{"scrm:lease:" + key}, owner).Err()
	}, true, nil
}

// awaitLease takes the lease on key, trying again every poll for up to
// patience while another holder has it (once when patience is zero).
func awaitLease(ctx context.Context, rdb redis.UniversalClient, key string, ttl, poll, patience time.Duration) (release func(), ok bool, err error) {
	deadline := time.Now().Add(patience)
	for {
		release, ok, err = lease(ctx, rdb, key, ttl)
		if err != nil || ok || !time.Now().Add(poll).Before(deadline) {
			return release, ok, err
		}
		if err := sleepCtx(ctx, poll); err != nil {
			return release, false, err
		}
	}
}

var releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)

// retryDelay backs off as asynq does, except that a task that found its
// subject busy tries again within a second or two.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	if errors.Is(err, errBusy) {
		return time.Duration(500+100*min(n, 15)) * time.Millisecond
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// account loads the task's account in its tenant; a deleted account ends
// the task, as does a worker wired without platform clients.
func (d Deps) account(ctx context.Context, id int) (*ent.ConnectorAccount, error) {
	if d.Clients == nil || d.Redis == nil {
		return nil, fmt.Errorf("this worker has no platform clients: %w", asynq.SkipRetry)
	}
	a, err := d.Client.ConnectorAccount.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, fmt.Errorf("connector account %d is gone: %w", id, asynq.SkipRetry)
	}
	return a, err
}

// syncAccount runs one sync kind of one account; one run per account and
// kind at a time, whatever the number of workers and schedulers.
func (d Deps) syncAccount(ctx context.Context, t *asynq.Task) error {
	var p SyncAccount
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 || p.AccountID <= 0 {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	ctx = viewer.ForTenant(ctx, p.TenantID)
	acc, err := d.account(ctx, p.AccountID)
	if err != nil {
		return err
	}
	if acc.Status == connectoraccount.StatusPaused {
		return nil
	}
	// A scheduled slot whose predecessor still runs is not needed: the
	// next slot picks up from the cursor that run leaves. A run an admin
	// asked for while another is going waits for it: what changed since
	// that run started needs this one.
	patience := time.Duration(0)
	if strings.HasPrefix(p.Window, "now") {
		patience = syncTimeout
	}
	release, ok, err := awaitLease(ctx, d.Redis, fmt.Sprintf("sync:%d:%s", acc.ID, p.Kind), syncTimeout, time.Second, patience)
	if err != nil {
		return err
	}
	if !ok {
		d.logger().InfoContext(ctx, "sync already running; this one is not needed", "account", acc.ID, "kind", p.Kind)
		return nil
	}
	defer release()
	err = d.runSync(ctx, acc, p.Kind)
	failing := transport.IsKind(err, transport.KindAuth) || transport.IsKind(err, transport.KindPermanent)
	if rerr := connectoraccounts.Record(ctx, d.Client, acc.ID, d.now(), connectoraccounts.Outcome{Err: err, Failing: failing}); rerr != nil {
		return errors.Join(err, rerr)
	}
	if failing {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

func (d Deps) runSync(ctx context.Context, acc *ent.ConnectorAccount, kind SyncKind) error {
	switch kind {
	case SyncOrganization:
		wc, err := d.Clients.Wecom(acc)
		if err != nil {
			return err
		}
		res, err := wecomsync.Org(ctx, d.Client, wc)
		d.logger().InfoContext(ctx, "org sync", "account", acc.ID, "departments", res.Departments,
			"staff", res.Staff, "created", res.StaffCreated, "updated", res.StaffUpdated, "resigned", res.StaffResigned, "error", err)
		return err
	case SyncCustomers:
		wc, err := d.Clients.Wecom(acc)
		if err != nil {
			return err
		}
		corp := wecomsync.Corp{ID: acc.ExternalID}
		save := func(position string) error {
			return connectoraccounts.Record(ctx, d.Client, acc.ID, d.now(),
				connectoraccounts.Outcome{Stream: "customers", Cursor: position, Progress: true})
		}
		res, err := wecomsync.Customers(ctx, d.Client, wc, corp, acc.Cursors["customers"], save)
		d.logger().InfoContext(ctx, "customer sync", "account", acc.ID, "contacts", res.Contacts,
			"new_customers", res.CustomersCreated, "tags", res.Tags, "error", err)
		return err
	case SyncOrders:
		return d.pullOrders(ctx, acc)
	}
	return fmt.Errorf("unknown sync kind %q: %w", kind, asynq.SkipRetry)
}

// Order pulls: where a first pull starts, and how far back each pull
// reaches before the last one's end, so an order changed while the last
// pull ran (or recorded late by the platform) is not missed.
const (
	firstPullReach = 72 * time.Hour
	pullOverlap    = 10 * time.Minute
)

// pullOrders walks the orders changed since the account's cursor and
// enqueues one fetch per change; the fetches run in parallel on every
// worker, each stored idempotently (ordersync).
func (d Deps) pullOrders(ctx context.Context, acc *ent.ConnectorAccount) error {
	to := d.now().Truncate(time.Second)
	from := to.Add(-firstPullReach)
	if c, err := time.Parse(time.RFC3339, acc.Cursors["orders"]); err == nil {
		from = c.Add(-pullOverlap)
	}
	enqueue := func(id string, updated time.Time) error {
		task, opts, err := NewShopOrder(ShopOrder{TenantID: acc.TenantID, AccountID: acc.ID, OrderID: id,
			UpdatedAt: updated.Unix(), Source: "pull"})
		if err != nil {
			return err
		}
		if _, err := d.Enqueuer.EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("enqueue order %s: %w", id, err)
		}
		return nil
	}
	var err error
	switch acc.Platform {
	case connectoraccount.PlatformTaobao, connectoraccount.PlatformTmall:
		tc, cerr := d.Clients.Taobao(acc)
		if cerr != nil {
			return cerr
		}
		err = tc.ChangedTrades(ctx, from, to, 100, func(page []taobao.TradeChange) error {
			return eachChange(page, func(c taobao.TradeChange) error { return enqueue(c.ID, c.Modified) })
		})
	case connectoraccount.PlatformDouyin:
		dc, cerr := d.Clients.Douyin(acc)
		if cerr != nil {
			return cerr
		}
		err = dc.ChangedOrders(ctx, from, to, 100, func(page []douyin.OrderChange) error {
			return eachChange(page, func(c douyin.OrderChange) error { return enqueue(c.ID, c.UpdatedAt) })
		})
	default:
		return fmt.Errorf("%s accounts have no orders: %w", acc.Platform, asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	return connectoraccounts.Record(ctx, d.Client, acc.ID, d.now(),
		connectoraccounts.Outcome{Stream: "orders", Cursor: to.UTC().Format(time.RFC3339)})
}

// eachChange calls fn for each change of a page until one fails.
func eachChange[C any](page []C, fn func(C) error) error {
	for _, c := range page {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// shopOrder fetches one order and stores it; one job per order at a time.
func (d Deps) shopOrder(ctx context.Context, t *asynq.Task) error {
	var p ShopOrder
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 || p.OrderID == "" {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	ctx = viewer.ForTenant(ctx, p.TenantID)
	acc, err := d.account(ctx, p.AccountID)
	if err != nil {
		return err
	}
	release, ok, err := lease(ctx, d.Redis, "order:"+strconv.Itoa(acc.ID)+":"+p.OrderID, time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		return errBusy
	}
	defer release()
	var o *connectors.Order
	switch acc.Platform {
	case connectoraccount.PlatformTaobao, connectoraccount.PlatformTmall:
		tc, cerr := d.Clients.Taobao(acc)
		if cerr != nil {
			return cerr
		}
		o, err = tc.Trade(ctx, p.OrderID)
	case connectoraccount.PlatformDouyin:
		dc, cerr := d.Clients.Douyin(acc)
		if cerr != nil {
			return cerr
		}
		o, err = dc.Order(ctx, p.OrderID)
	default:
		return fmt.Errorf("%s accounts have no orders: %w", acc.Platform, asynq.SkipRetry)
	}
	if transport.IsKind(err, transport.KindNotFound) {
		d.logger().WarnContext(ctx, "order not found on the platform", "account", acc.ID, "order", p.OrderID)
		return nil
	}
	if err != nil {
		return err
	}
	res, err := ordersync.Store(ctx, d.Client, o)
	if err != nil {
		return contended(err)
	}
	if p.Source == "push" && res.Outcome != ordersync.Unchanged {
		// The change is committed with its outcome event: wake the relay
		// now rather than at its next poll (up to a second away), so the
		// agent sees a pushed change at once. Pulls are bulk work and
		// leave the batching to the poll.
		if err := realtime.Kick(ctx, d.Redis); err != nil {
			d.logger().WarnContext(ctx, "could not kick the realtime relay", "error", err)
		}
	}
	d.logger().DebugContext(ctx, "order stored", "account", acc.ID, "order", p.OrderID, "source", p.Source,
		"outcome", res.Outcome.String(), "ticket", res.TicketOpened)
	return nil
}

// wecomEvent applies one WeCom callback event.
func (d Deps) wecomEvent(ctx context.Context, t *asynq.Task) error {
	var p WecomEvent
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.TenantID <= 0 {
		return fmt.Errorf("bad payload %q: %w", t.Payload(), errors.Join(err, asynq.SkipRetry))
	}
	ev, err := wecom.ParseEvent([]byte(p.XML))
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	ctx = viewer.ForTenant(ctx, p.TenantID)
	acc, err := d.account(ctx, p.AccountID)
	if err != nil {
		return err
	}
	wc, err := d.Clients.Wecom(acc)
	if err != nil {
		return err
	}
	// One event of a contact at a time: applying one reads the stored
	// relationship, compares event times and writes (wecomsync), which
	// two workers interleaving on the same contact would undo.
	// Another event's turn lasts milliseconds: wait a little for it rather
	// than retry, which asynq's forwarder delays by seconds.
	if ev.ExternalUserID != "" {
		key := "wecom-contact:" + strconv.Itoa(acc.ID) + ":" + ev.ExternalUserID
		release, ok, err := awaitLease(ctx, d.Redis, key, time.Minute, 20*time.Millisecond, 2*time.Second)
		if err != nil {
			return err
		}
		if !ok {
			return errBusy
		}
		defer release()
	}
	corp := wecomsync.Corp{ID: acc.ExternalID, WelcomeMessage: acc.WelcomeMessage, Channels: channels.Finder(d.Client, acc.ID)}
	err = wecomsync.ApplyEvent(ctx, d.Client, wc, corp, ev, p.ReceivedAt, d.now, d.logger())
	if errors.Is(err, wecomsync.ErrBadEvent) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return contended(err)
}

// Schedules of the incremental pulls, by kind: orders often (the push is
// the fast path, the pull the reconciliation), the directory less so.
var pullEvery = map[SyncKind]time.Duration{
	SyncOrders:       5 * time.Minute,
	SyncOrganization: 6 * time.Hour,
	SyncCustomers:    24 * time.Hour,
}

// schedulePulls enqueues every active account's due pulls. Each task's id
// names the account, kind and schedule slot, so the copies enqueued by
// every worker's scheduler are one task.
func (d Deps) schedulePulls(ctx context.Context, _ *asynq.Task) error {
	accounts, err := d.Client.ConnectorAccount.Query().
		Where(connectoraccount.StatusEQ(connectoraccount.StatusActive)).All(viewer.System(ctx))
	if err != nil {
		return err
	}
	now := d.now().UTC()
	for _, a := range accounts {
		for _, k := range KindsOf(a.Platform) {
			slot := now.Truncate(pullEvery[k]).Format("20060102T1504")
			task, opts, err := NewSyncAccount(SyncAccount{TenantID: a.TenantID, AccountID: a.ID, Kind: k, Window: slot})
			if err != nil {
				return err
			}
			opts = append(opts, asynq.Retention(pullEvery[k]))
			if _, err := d.Enqueuer.EnqueueContext(ctx, task, opts...); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				return fmt.Errorf("schedule %s of account %d: %w", k, a.ID, err)
			}
		}
		if a.Platform == connectoraccount.PlatformWecom && d.Archives != nil && d.Archives(a) != nil {
			slot := now.Truncate(time.Minute).Format("20060102T1504")
			payload, err := json.Marshal(ReadArchive{TenantID: a.TenantID, AccountID: a.ID, Slot: slot})
			if err != nil {
				return err
			}
			_, err = d.Enqueuer.EnqueueContext(ctx, asynq.NewTask(TypeReadArchive, payload), asynq.Queue(QueueSync),
				asynq.TaskID(fmt.Sprintf("%s:%d:%s", TypeReadArchive, a.ID, slot)), asynq.MaxRetry(5),
				asynq.Timeout(5*time.Minute), asynq.Retention(time.Minute))
			if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				return fmt.Errorf("schedule the archive of account %d: %w", a.ID, err)
			}
		}
	}
	return nil
}

// contended turns a write that lost a race with another worker (two
// orders of one new buyer adding the same customer identity, a deadlock)
// into errBusy, so it is retried at once rather than after a backoff.
func contended(err error) error {
	var mysqlErr *mysql.MySQLError
	if ent.IsConstraintError(err) || (errors.As(err, &mysqlErr) && (mysqlErr.Number == 1213 || mysqlErr.Number == 1205)) {
		return fmt.Errorf("%w: %w", errBusy, err)
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
