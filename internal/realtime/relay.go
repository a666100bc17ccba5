// Package realtime carries committed changes from the data layer to
// subscribers on every replica.
//
// The design, and why:
//   - The data layer writes an Event row in the transaction of each change
//     (ent/schema/events.go): a transactional outbox, so an event exists
//     exactly when its change committed, whichever process made it.
//   - The relay numbers each tenant's new events (seq, the cursor clients
//     resume from) after commit, in the order it finds them committed,
//     under the tenant row's lock so concurrent relays on several replicas
//     never hand out a number twice. Numbering after commit rather than at
//     insert is what makes the cursor gap-free: an id taken by a
//     transaction that commits late would otherwise be skipped by a reader
//     already past it.
//   - It then publishes each numbered event on Redis Pub/Sub, one channel
//     per tenant. Pub/Sub keeps nothing, so it is only the fast path: the
//     events table is the log. A replica's feed that sees a gap in seq (or
//     finds, polling, that the tenant has newer events than it heard of),
//     and a subscriber reconnecting with a cursor, read what they missed
//     from the table. That is why Streams (a second log to keep in step
//     and trim) are not used.
//   - Writers kick the relay through Redis after they commit; an interval
//     poll covers a lost kick or a crash between commit and kick.
//   - Each replica's Hub (hub.go) runs one feed per tenant with
//     subscribers there and offers each event to each of them in order;
//     channel names carry the Redis database number, since Pub/Sub
//     ignores it.
package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/event"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// channelPrefix names the Redis channels of one deployment's events:
// Pub/Sub channels are shared by every database of a Redis server, so the
// database number is part of the name, and two deployments (or test
// suites) on one server but different databases never hear each other.
func channelPrefix(rdb redis.UniversalClient) string {
	db := 0
	if c, ok := rdb.(*redis.Client); ok {
		db = c.Options().DB
	}
	return "scrm:" + strconv.Itoa(db) + ":events:"
}

// KickChannel is the channel that wakes the relays of rdb's deployment.
func KickChannel(rdb redis.UniversalClient) string { return channelPrefix(rdb) + "kick" }

// Channel is the Redis channel of one tenant's events.
func Channel(rdb redis.UniversalClient, tenantID int) string {
	return channelPrefix(rdb) + strconv.Itoa(tenantID)
}

// Message is an event as published.
type Message struct {
	Tenant   int       `json:"tenant"`
	Seq      int64     `json:"seq"`
	Topic    string    `json:"topic"`
	Kind     string    `json:"kind"`
	Subject  int       `json:"subject"`
	Customer *int      `json:"customer,omitempty"`
	Assignee *int      `json:"assignee,omitempty"`
	Team     *int      `json:"team,omitempty"`
	Status   string    `json:"status,omitempty"`
	Platform string    `json:"platform,omitempty"`
	Shop     string    `json:"shop,omitempty"`
	Actor    *int      `json:"actor,omitempty"`
	At       time.Time `json:"at"`

	// What the subscribers' resolvers load for this event, once per
	// process however many subscribers receive it.
	shared struct {
		once sync.Once
		v    any
		err  error
	}
}

// Shared returns what load returns, calling it only for the first caller
// of this message: every subscriber of a process receives the same
// *Message, so the subject of an event is read once, not once each.
func (m *Message) Shared(load func() (any, error)) (any, error) {
	m.shared.once.Do(func() { m.shared.v, m.shared.err = load() })
	return m.shared.v, m.shared.err
}

func messageOf(e *ent.Event) *Message {
	return &Message{
		Tenant: e.TenantID, Seq: *e.Seq, Topic: string(e.Topic), Kind: e.Kind, Subject: e.SubjectID,
		Customer: e.CustomerID, Assignee: e.AssigneeID, Team: e.TeamID, Status: e.Status,
		Platform: e.Platform, Shop: e.ShopID, Actor: e.ActorID, At: e.CreatedAt,
	}
}

// Kick tells the relays that events are waiting.
func Kick(ctx context.Context, rdb redis.UniversalClient) error {
	return rdb.Publish(ctx, KickChannel(rdb), "").Err()
}

// Relay numbers and publishes committed events.
type Relay struct {
	client *ent.Client
	rdb    redis.UniversalClient
	logger *slog.Logger
	// Every is the poll interval that backs up kicks; 1s when zero.
	Every time.Duration
}

// NewRelay returns a relay over client and rdb.
func NewRelay(client *ent.Client, rdb redis.UniversalClient, logger *slog.Logger) *Relay {
	return &Relay{client: client, rdb: rdb, logger: logger}
}

// batch bounds one tenant's numbering transaction.
const batch = 500

// Run relays until ctx ends: on every kick and every interval.
func (r *Relay) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = time.Second
	}
	sub := r.rdb.Subscribe(ctx, KickChannel(r.rdb))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		// Without kicks the poll still relays, only later.
		r.logger.Warn("realtime: subscribe to kicks", "err", err)
	}
	kicks := sub.Channel()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := r.RelayOnce(ctx); err != nil && ctx.Err() == nil {
			r.logger.Error("realtime: relay", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-kicks:
		case <-tick.C:
		}
	}
}

// RelayOnce numbers every tenant's pending events and publishes them. It
// returns how many it relayed.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	tenants, err := r.client.Event.Query().Where(event.SeqIsNil()).
		Unique(true).Select(event.FieldTenantID).Ints(viewer.System(ctx))
	if err != nil {
		return 0, err
	}
	total := 0
	for _, t := range tenants {
		for {
			msgs, err := r.number(ctx, t)
			if err != nil {
				return total, fmt.Errorf("tenant %d: %w", t, err)
			}
			if err := r.publish(ctx, t, msgs); err != nil {
				// Numbered and committed: subscribers find them in the
				// table when they notice the gap.
				r.logger.Warn("realtime: publish", "tenant", t, "err", err)
			}
			total += len(msgs)
			if len(msgs) < batch {
				break
			}
		}
	}
	return total, nil
}

// number gives one batch of a tenant's pending events their seq.
func (r *Relay) number(ctx context.Context, tenantID int) ([]*Message, error) {
	ctx = viewer.ForTenant(ctx, tenantID)
	tx, err := r.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	// A no-op update takes the tenant row's lock: relays take turns.
	if err := tx.Tenant.Update().Where(tenant.ID(tenantID)).AddEventSeq(0).Exec(ctx); err != nil {
		return nil, err
	}
	t, err := tx.Tenant.Get(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	pending, err := tx.Event.Query().Where(event.SeqIsNil()).Order(event.ByID()).Limit(batch).All(ctx)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	seq := t.EventSeq
	msgs := make([]*Message, 0, len(pending))
	// One statement numbers the whole batch: the tenant row stays locked
	// (and every insert of the tenant's rows, which checks that row,
	// waits) for three statements, not one per event.
	var q strings.Builder
	args := make([]any, 0, 3*len(pending))
	q.WriteString("UPDATE events SET seq = CASE id")
	for _, e := range pending {
		seq++
		q.WriteString(" WHEN ? THEN ?")
		args = append(args, e.ID, seq)
		n := seq
		e.Seq = &n
		msgs = append(msgs, messageOf(e))
	}
	q.WriteString(" END WHERE id IN (?" + strings.Repeat(", ?", len(pending)-1) + ")")
	for _, e := range pending {
		args = append(args, e.ID)
	}
	if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
		return nil, err
	}
	if err := tx.Tenant.UpdateOneID(tenantID).SetEventSeq(seq).Exec(ctx); err != nil {
		return nil, err
	}
	return msgs, tx.Commit()
}

func (r *Relay) publish(ctx context.Context, tenantID int, msgs []*Message) error {
	if len(msgs) == 0 {
		return nil
	}
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range msgs {
			body, err := json.Marshal(m)
			if err != nil {
				return err
			}
			p.Publish(ctx, Channel(r.rdb, tenantID), body)
		}
		return nil
	})
	return err
}
