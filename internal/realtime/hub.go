package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/event"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Hub delivers one process's share of the events to its subscribers: one
// Redis subscription per tenant with subscribers here, fanned out to each.
// A subscriber that cannot keep up (its buffer is full) is dropped rather
// than slowing the others; it ends and the client reconnects with its
// cursor.
type Hub struct {
	rdb    redis.UniversalClient
	client *ent.Client
	logger *slog.Logger

	mu      sync.Mutex
	tenants map[int]*feed
}

type feed struct {
	subs   map[chan Message]struct{}
	cancel context.CancelFunc
	ready  chan struct{} // closed once the Redis subscription is live
}

// Buffer is how many events a subscriber may fall behind before it is
// dropped.
const Buffer = 256

// NewHub returns a hub reading events from rdb and the log from client.
func NewHub(rdb redis.UniversalClient, client *ent.Client, logger *slog.Logger) *Hub {
	return &Hub{rdb: rdb, client: client, logger: logger, tenants: map[int]*feed{}}
}

// ErrCursorExpired is returned for a cursor whose next events are no
// longer kept (older than the retention): the client must refetch its
// state and subscribe from now.
var ErrCursorExpired = errors.New("the cursor is older than the events kept; refetch and subscribe without after")

// Subscribe returns the tenant's events after the cursor after, in seq
// order with no gap and no duplicate: first those already in the log,
// then live ones (a gap in the live stream, a publish lost, is filled from
// the log). With after < 0 it starts from now. The channel closes when ctx
// ends or the subscriber falls behind.
func (h *Hub) Subscribe(ctx context.Context, tenantID int, after int64) (<-chan Message, error) {
	if after >= 0 {
		if err := h.checkCursor(ctx, tenantID, after); err != nil {
			return nil, err
		}
	}
	live := h.join(tenantID)
	last := after
	if after < 0 {
		t, err := h.client.Tenant.Get(viewer.ForTenant(ctx, tenantID), tenantID)
		if err != nil {
			h.leave(tenantID, live)
			return nil, err
		}
		last = t.EventSeq
	}
	out := make(chan Message, 16)
	go func() {
		defer close(out)
		defer h.leave(tenantID, live)
		var ok bool
		if last, ok = h.replay(ctx, tenantID, last, out); !ok {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case m, open := <-live:
				if !open {
					return // fell behind: the client resumes from its cursor
				}
				if m.Seq <= last {
					continue
				}
				if m.Seq > last+1 {
					if last, ok = h.replay(ctx, tenantID, last, out); !ok {
						return
					}
					if m.Seq <= last {
						continue
					}
				}
				select {
				case out <- m:
					last = m.Seq
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// checkCursor refuses a cursor whose successor has been trimmed away. A
// cursor at or past the tenant's last number misses nothing; before it,
// the next event must still be kept (trimming removes the oldest first, so
// then every later one is kept too). The head is read first, so a relay
// numbering meanwhile cannot make a valid cursor look expired.
func (h *Hub) checkCursor(ctx context.Context, tenantID int, after int64) error {
	tctx := viewer.ForTenant(ctx, tenantID)
	t, err := h.client.Tenant.Get(tctx, tenantID)
	if err != nil || after >= t.EventSeq {
		return err
	}
	kept, err := h.client.Event.Query().Where(event.Seq(after + 1)).Exist(tctx)
	if err != nil {
		return err
	}
	if !kept {
		return ErrCursorExpired
	}
	return nil
}

// Trim deletes relayed events older than before, for every tenant, in
// batches; it returns how many it deleted. Unrelayed events are kept
// whatever their age.
func Trim(ctx context.Context, client *ent.Client, before time.Time) (int, error) {
	ctx = viewer.System(ctx)
	total := 0
	for {
		ids, err := client.Event.Query().Where(event.SeqNotNil(), event.CreatedAtLT(before)).Limit(1000).IDs(ctx)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		n, err := client.Event.Delete().Where(event.IDIn(ids...)).Exec(ctx)
		total += n
		if err != nil {
			return total, err
		}
	}
}

// replay sends the logged events after last and returns the new last.
func (h *Hub) replay(ctx context.Context, tenantID int, last int64, out chan<- Message) (int64, bool) {
	tctx := viewer.ForTenant(ctx, tenantID)
	for {
		page, err := h.client.Event.Query().Where(event.SeqGT(last)).Order(event.BySeq()).Limit(500).All(tctx)
		if err != nil {
			if ctx.Err() == nil {
				h.logger.Error("realtime: replay", "tenant", tenantID, "err", err)
			}
			return last, false
		}
		for _, e := range page {
			select {
			case out <- messageOf(e):
				last = *e.Seq
			case <-ctx.Done():
				return last, false
			}
		}
		if len(page) < 500 {
			return last, true
		}
	}
}

// join adds a subscriber to the tenant's feed, starting the feed's Redis
// subscription if it is the first, and returns once that subscription is
// live (so nothing published afterwards is missed). The round trip to
// Redis happens outside the hub's lock, which fan-out of every tenant
// needs.
func (h *Hub) join(tenantID int) chan Message {
	ch := make(chan Message, Buffer)
	h.mu.Lock()
	f, running := h.tenants[tenantID]
	var ctx context.Context
	if !running {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(context.Background())
		f = &feed{subs: map[chan Message]struct{}{}, cancel: cancel, ready: make(chan struct{})}
		h.tenants[tenantID] = f
	}
	f.subs[ch] = struct{}{}
	h.mu.Unlock()
	if running {
		<-f.ready
		return ch
	}
	sub := h.rdb.Subscribe(ctx, Channel(tenantID))
	if _, err := sub.Receive(ctx); err != nil {
		h.logger.Warn("realtime: subscribe", "tenant", tenantID, "err", err)
	}
	close(f.ready)
	go h.fanOut(ctx, tenantID, sub)
	return ch
}

func (h *Hub) leave(tenantID int, ch chan Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, ok := h.tenants[tenantID]
	if !ok {
		return
	}
	if _, member := f.subs[ch]; member {
		delete(f.subs, ch)
		close(ch)
	}
	if len(f.subs) == 0 {
		f.cancel()
		delete(h.tenants, tenantID)
	}
}

func (h *Hub) fanOut(ctx context.Context, tenantID int, sub *redis.PubSub) {
	defer sub.Close()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case raw, ok := <-msgs:
			if !ok {
				return
			}
			var m Message
			if err := json.Unmarshal([]byte(raw.Payload), &m); err != nil || m.Tenant != tenantID {
				continue
			}
			h.mu.Lock()
			if f := h.tenants[tenantID]; f != nil {
				for ch := range f.subs {
					select {
					case ch <- m:
					default: // full: drop this subscriber, never wait on it
						delete(f.subs, ch)
						close(ch)
					}
				}
			}
			h.mu.Unlock()
		}
	}
}
