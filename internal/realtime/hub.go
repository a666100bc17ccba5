package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/event"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Hub delivers one process's share of the events to its subscribers: one
// Redis subscription per tenant with subscribers here, feeding a ring of
// the tenant's recent events that every subscriber reads at its own pace.
//
// Why a shared ring rather than a channel per subscriber: an idle
// subscription then costs a wake-up channel and a cursor, not a buffer of
// its own (15k consoles × 256 slots would be megabytes of idle memory),
// and each event is decoded once per process and shared, with whatever
// the subscribers' resolvers load for it (Message.Shared).
//
// A subscriber that falls more than Window events behind the newest is
// too slow: it is told through its Overflow callback and its Next returns
// ErrTooSlow, so it cannot hold anything up and the client resumes from
// its cursor. Missing events (a publish lost while Redis restarted, a
// cursor from before this process started) are read from the events table.
type Hub struct {
	rdb    redis.UniversalClient
	client *ent.Client
	logger *slog.Logger
	prefix string
	// Every is how often a feed compares its newest event with the
	// tenant's, so that events whose publish was lost still arrive when
	// nothing follows them; 2s when zero.
	Every time.Duration

	mu      sync.Mutex
	tenants map[int]*feed
}

// Window is how many events a subscriber may fall behind the newest
// before it is dropped as too slow; it is also the ring's size.
const Window = 1024

// NewHub returns a hub reading events from rdb and the log from client.
func NewHub(rdb redis.UniversalClient, client *ent.Client, logger *slog.Logger) *Hub {
	return &Hub{rdb: rdb, client: client, logger: logger, prefix: channelPrefix(rdb), tenants: map[int]*feed{}}
}

// ErrCursorExpired is returned for a cursor whose next events are no
// longer kept (older than the retention): the client must refetch its
// state and subscribe from now.
var ErrCursorExpired = errors.New("the cursor is older than the events kept; refetch and subscribe without after")

// ErrTooSlow ends a subscription that fell more than Window events behind.
var ErrTooSlow = errors.New("the subscriber fell too far behind; reconnect with after: the last cursor received")

// feed is one tenant's events in this process.
type feed struct {
	tenant int
	cancel context.CancelFunc
	ready  chan struct{} // closed once the Redis subscription is live

	mu   sync.RWMutex
	ring [Window]*Message // by seq % Window
	head int64            // newest seq known to exist
	subs map[*Subscription]struct{}
}

// Subscription is one subscriber's position in its tenant's events.
type Subscription struct {
	hub  *Hub
	feed *feed
	wake chan struct{} // a new event may be there

	last     atomic.Int64 // seq of the last event returned
	live     atomic.Bool  // reading live events (not catching up from the table): lagging now is being slow
	slow     atomic.Bool
	overflow func()
	pending  []*Message // replayed from the table, not yet returned
	closed   bool
}

// Subscribe starts a subscription to the tenant's events after the cursor
// after, in seq order with no gap and no duplicate: first those already
// in the log, then live ones. With after < 0 it starts from now. overflow,
// when not nil, is called once (from the fan-out, so it must not block)
// when the subscriber falls too far behind. Close it when done.
func (h *Hub) Subscribe(ctx context.Context, tenantID int, after int64, overflow func()) (*Subscription, error) {
	if after >= 0 {
		if err := h.checkCursor(ctx, tenantID, after); err != nil {
			return nil, err
		}
	}
	s := &Subscription{hub: h, wake: make(chan struct{}, 1), overflow: overflow}
	s.feed = h.join(tenantID, s)
	if after < 0 {
		// Read after joining: whatever is numbered later reaches the feed.
		t, err := h.client.Tenant.Get(viewer.ForTenant(ctx, tenantID), tenantID)
		if err != nil {
			s.Close()
			return nil, err
		}
		after = t.EventSeq
		s.feed.observe(after)
	}
	s.last.Store(after)
	return s, nil
}

// Next returns the next event, waiting for it. It returns ctx's error when
// ctx ends and ErrTooSlow when the subscriber fell behind.
func (s *Subscription) Next(ctx context.Context) (*Message, error) {
	for {
		if s.slow.Load() {
			return nil, ErrTooSlow
		}
		if len(s.pending) > 0 {
			m := s.pending[0]
			s.pending[0] = nil
			s.pending = s.pending[1:]
			s.last.Store(m.Seq)
			return m, nil
		}
		want := s.last.Load() + 1
		m, head := s.feed.at(want)
		if m != nil {
			s.live.Store(true)
			s.last.Store(m.Seq)
			return m, nil
		}
		var retry <-chan time.Time
		if head >= want {
			// Known to exist but not in the ring: published before this
			// process heard of it, lost, or overwritten. The table has it.
			page, err := s.hub.replay(ctx, s.feed, want-1)
			if err != nil {
				return nil, err
			}
			if len(page) > 0 {
				s.pending = page
				continue
			}
			// Not there after all (a stray number): look again later.
			retry = time.After(s.hub.every())
		} else {
			s.live.Store(true)
		}
		select {
		case <-s.wake:
		case <-retry:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close ends the subscription.
func (s *Subscription) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.hub.leave(s.feed, s)
}

func (h *Hub) every() time.Duration {
	if h.Every > 0 {
		return h.Every
	}
	return 2 * time.Second
}

// at returns the event seq if the ring holds it, and the newest seq known.
func (f *feed) at(seq int64) (*Message, int64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if m := f.ring[seq%Window]; m != nil && m.Seq == seq {
		return m, f.head
	}
	return nil, f.head
}

// observe records that events up to seq exist and wakes the subscribers
// if that is news.
func (f *feed) observe(seq int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq > f.head {
		f.head = seq
		f.wakeAll()
	}
}

// put adds a live event to the ring and wakes the subscribers; one that
// would now be more than Window behind is too slow.
func (f *feed) put(m *Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.store(m)
	if m.Seq > f.head {
		f.head = m.Seq
	}
	f.wakeAll()
}

// store keeps m in its ring slot unless a newer event holds it.
func (f *feed) store(m *Message) *Message {
	slot := &f.ring[m.Seq%Window]
	switch {
	case *slot == nil || (*slot).Seq < m.Seq:
		*slot = m
	case (*slot).Seq == m.Seq:
		return *slot // share the one already there (and what it loaded)
	}
	return m
}

func (f *feed) wakeAll() {
	for s := range f.subs {
		if s.live.Load() && f.head-s.last.Load() > Window {
			if !s.slow.Swap(true) && s.overflow != nil {
				s.overflow()
			}
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
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

// replayPage bounds one read of the log.
const replayPage = 500

// replay reads the logged events after last. Events still in the ring
// come back as the ring's (shared) messages, and those read are added to
// it, so subscribers catching up together load each event once.
func (h *Hub) replay(ctx context.Context, f *feed, last int64) ([]*Message, error) {
	rows, err := h.client.Event.Query().Where(event.SeqGT(last)).Order(event.BySeq()).Limit(replayPage).
		All(viewer.ForTenant(ctx, f.tenant))
	if err != nil {
		if ctx.Err() == nil {
			h.logger.Error("realtime: replay", "tenant", f.tenant, "err", err)
		}
		return nil, err
	}
	if len(rows) > 0 && *rows[0].Seq != last+1 {
		return nil, ErrCursorExpired // trimmed while the subscriber lagged
	}
	out := make([]*Message, 0, len(rows))
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range rows {
		m := messageOf(e)
		out = append(out, f.store(m))
		last = m.Seq
		if last > f.head {
			f.head = last
		}
	}
	return out, nil
}

// join adds a subscriber to the tenant's feed, starting the feed's Redis
// subscription if it is the first, and returns once that subscription is
// live (so nothing published afterwards is missed). The round trip to
// Redis happens outside the hub's lock.
func (h *Hub) join(tenantID int, s *Subscription) *feed {
	h.mu.Lock()
	f, running := h.tenants[tenantID]
	var ctx context.Context
	if !running {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(context.Background())
		f = &feed{tenant: tenantID, subs: map[*Subscription]struct{}{}, cancel: cancel, ready: make(chan struct{})}
		h.tenants[tenantID] = f
	}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	h.mu.Unlock()
	if running {
		<-f.ready
		return f
	}
	sub := h.rdb.Subscribe(ctx, h.prefix+itoa(tenantID))
	if _, err := sub.Receive(ctx); err != nil {
		// The poll below still finds new events, only later.
		h.logger.Warn("realtime: subscribe", "tenant", tenantID, "err", err)
	}
	close(f.ready)
	go h.fanOut(ctx, f, sub)
	go h.poll(ctx, f)
	return f
}

func (h *Hub) leave(f *feed, s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f.mu.Lock()
	delete(f.subs, s)
	empty := len(f.subs) == 0
	f.mu.Unlock()
	if empty && h.tenants[f.tenant] == f {
		f.cancel()
		delete(h.tenants, f.tenant)
	}
}

func (h *Hub) fanOut(ctx context.Context, f *feed, sub *redis.PubSub) {
	defer sub.Close()
	msgs := sub.Channel(redis.WithChannelSize(Window))
	for {
		select {
		case <-ctx.Done():
			return
		case raw, ok := <-msgs:
			if !ok {
				return
			}
			m := new(Message)
			if err := json.Unmarshal([]byte(raw.Payload), m); err != nil || m.Tenant != f.tenant || m.Seq <= 0 {
				continue
			}
			f.put(m)
		}
	}
}

// poll notices events whose publish never arrived (Redis restarted, or
// was unreachable when the relay published) when nothing newer follows
// to reveal the gap.
func (h *Hub) poll(ctx context.Context, f *feed) {
	tick := time.NewTicker(h.every())
	defer tick.Stop()
	tctx := viewer.ForTenant(ctx, f.tenant)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t, err := h.client.Tenant.Get(tctx, f.tenant)
		if err != nil {
			if ctx.Err() == nil {
				h.logger.Warn("realtime: poll", "tenant", f.tenant, "err", err)
			}
			continue
		}
		f.observe(t.EventSeq)
	}
}
