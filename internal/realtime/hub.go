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
	"github.com/scrm-dev/scrm/internal/streamctx"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Hub delivers one process's share of the events to its subscribers.
//
// Per tenant with subscribers here it runs one feed: one Redis
// subscription and one goroutine that puts the tenant's events in seq
// order (reading from the events table whatever Redis did not bring) and
// offers each, in turn, to every live subscriber. Offering converts the
// event into the subscriber's payload (its filter, data scope and
// payload, decided by the resolver) and hands it to the subscription's
// channel without waiting. Subscribers therefore cost no goroutine of
// their own (gqlgen already runs one per operation), each event is decoded
// once per process, and what resolvers load for it is shared
// (Message.Shared).
//
// A subscriber whose channel is full is not waited for: it leaves the
// live set and catches up on its own from the feed's ring of recent
// events (or the table), at its own pace, and rejoins when level. One that
// falls more than Window events behind while doing so is too slow: its
// subscription ends with ErrTooSlow and the client resumes from its
// cursor. Subscribers resuming from an older cursor catch up the same way
// before they go live.
type Hub struct {
	rdb    redis.UniversalClient
	client *ent.Client
	logger *slog.Logger
	// Every is how often a feed compares its newest event with the
	// tenant's, so that events whose publish was lost still arrive when
	// nothing follows them; 2s when zero.
	Every time.Duration

	mu      sync.Mutex
	tenants map[int]*feed
}

// Window is how many events a subscriber may fall behind the newest
// before it is dropped as too slow; it is also the size of the ring of
// recent events each feed keeps.
const Window = 1024

// Buffer is how many payloads a subscription's channel holds.
const Buffer = 16

// NewHub returns a hub reading events from rdb and the log from client.
func NewHub(rdb redis.UniversalClient, client *ent.Client, logger *slog.Logger) *Hub {
	return &Hub{rdb: rdb, client: client, logger: logger, tenants: map[int]*feed{}}
}

// ErrCursorExpired is returned for a cursor whose next events are no
// longer kept (older than the retention): the client must refetch its
// state and subscribe from now.
var ErrCursorExpired = errors.New("the cursor is older than the events kept; refetch and subscribe without after")

// ErrTooSlow ends a subscription that fell more than Window events behind.
var ErrTooSlow = errors.New("the subscriber fell too far behind; reconnect with after: the last cursor received")

// Subscribe starts a subscription to the tenant's events after the cursor
// after (from now when after < 0), in seq order with no gap and no
// duplicate, and returns the channel of their payloads. convert makes an
// event's payload, or returns nil for an event not for this subscriber;
// it must not block for long (it runs on the feed's goroutine). The
// channel closes when ctx ends, convert fails, or the subscriber is too
// slow; onEnd, when set, is told why just before.
func Subscribe[T any](ctx context.Context, h *Hub, tenantID int, after int64,
	convert func(*Message) (*T, error), onEnd func(error),
) (<-chan *T, error) {
	if after >= 0 {
		if err := h.checkCursor(ctx, tenantID, after); err != nil {
			return nil, err
		}
	}
	f, err := h.join(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	s := &subscriber[T]{hub: h, feed: f, ctx: ctx, convert: convert, onEnd: onEnd, out: make(chan *T, Buffer),
		cursors: streamctx.CursorsFrom(ctx), notifier: streamctx.NotifierFrom(ctx)}
	s.notifier.Claim(func() { <-s.out })
	f.mu.Lock()
	if after < 0 || after >= f.delivered {
		s.last = max(after, f.delivered)
		s.state = live
		f.live[s] = struct{}{}
	} else {
		s.last = after
		s.state = catchingUp
		go s.catchUp()
	}
	f.mu.Unlock()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if s.state == live {
			s.finishLocked(ctx.Err())
		} // a subscriber catching up notices by itself
	})
	return s.out, nil
}

type subscriberState int

const (
	live subscriberState = iota
	catchingUp
	ended
)

// member is a subscriber as its feed sees it.
type member interface {
	// offer hands m over without waiting; false when it could not.
	offer(m *Message) bool
	// fallBehind takes the subscriber out of the live set to catch up.
	fallBehind()
	// checkLag drops a subscriber catching up after falling behind once
	// it is more than Window events behind delivered.
	checkLag(delivered int64)
}

type subscriber[T any] struct {
	hub      *Hub
	feed     *feed
	ctx      context.Context
	cursors  *streamctx.Cursors  // the transport's, when it labels events with cursors
	notifier *streamctx.Notifier // the transport's, when it runs subscriptions on demand
	convert  func(*Message) (*T, error)
	onEnd    func(error)
	out      chan *T
	// Guarded by feed.mu while live; owned by the catch-up goroutine
	// otherwise.
	last    int64
	state   subscriberState
	wasLive bool
	// progress mirrors last for the feed while catching up; tooSlow is
	// closed (under feed.mu) to stop a catch-up waiting on the client.
	progress atomic.Int64
	tooSlow  chan struct{}
	dropped  bool
}

func (s *subscriber[T]) offer(m *Message) bool {
	if m.Seq <= s.last {
		return true
	}
	p, err := s.convert(m)
	if err != nil {
		s.finishLocked(err)
		return true
	}
	if p != nil {
		undo := s.cursors.Push(m.Seq)
		select {
		case s.out <- p:
			s.notifier.Notify(m.Seq)
		default:
			undo()
			return false
		}
	}
	s.last = m.Seq
	return true
}

func (s *subscriber[T]) fallBehind() {
	delete(s.feed.live, s)
	s.feed.behind[s] = struct{}{}
	s.state, s.wasLive = catchingUp, true
	s.progress.Store(s.last)
	if s.tooSlow == nil {
		s.tooSlow = make(chan struct{})
	}
	go s.catchUp()
}

func (s *subscriber[T]) checkLag(delivered int64) {
	if !s.dropped && delivered-s.progress.Load() > Window {
		s.dropped = true
		close(s.tooSlow)
	}
}

// finishLocked ends the subscription; feed.mu is held.
func (s *subscriber[T]) finishLocked(err error) {
	if s.state == ended {
		return
	}
	delete(s.feed.live, s)
	delete(s.feed.behind, s)
	s.state = ended
	if s.onEnd != nil {
		s.onEnd(err)
	}
	close(s.out)
	s.notifier.Notify(0)
	s.hub.leave(s.feed)
}

func (s *subscriber[T]) finish(err error) {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	s.finishLocked(err)
}

// catchUp delivers, waiting for the client, what the subscriber missed,
// from the ring or the table, until it is level with the feed and goes
// live again.
func (s *subscriber[T]) catchUp() {
	var page []*Message
	for {
		if err := s.ctx.Err(); err != nil {
			s.finish(err)
			return
		}
		var m *Message
		if len(page) > 0 {
			m, page = page[0], page[1:]
		} else {
			f := s.feed
			f.mu.Lock()
			switch {
			case s.last >= f.delivered:
				if err := s.ctx.Err(); err != nil {
					s.finishLocked(err) // ended while we were not live
				} else {
					delete(f.behind, s)
					s.state = live
					f.live[s] = struct{}{}
				}
				f.mu.Unlock()
				return
			case s.wasLive && f.delivered-s.last > Window:
				s.finishLocked(ErrTooSlow)
				f.mu.Unlock()
				return
			}
			m = f.at(s.last + 1)
			f.mu.Unlock()
			if m == nil {
				var err error
				if page, err = s.hub.replay(s.ctx, f, s.last); err != nil {
					s.finish(err)
					return
				}
				continue
			}
		}
		if m.Seq <= s.last {
			continue
		}
		p, err := s.convert(m)
		if err != nil {
			s.finish(err)
			return
		}
		if p != nil {
			undo := s.cursors.Push(m.Seq)
			select {
			case s.out <- p:
				s.notifier.Notify(m.Seq)
			case <-s.ctx.Done():
				undo()
				s.finish(s.ctx.Err())
				return
			case <-s.tooSlow: // nil, never ready, unless it fell behind
				undo()
				s.finish(ErrTooSlow)
				return
			}
		}
		s.last = m.Seq
		s.progress.Store(m.Seq)
	}
}

// feed is one tenant's events in this process.
type feed struct {
	tenant  int
	cancel  context.CancelFunc
	ready   chan struct{} // closed once delivered is known
	members int           // guarded by Hub.mu

	mu        sync.Mutex
	ring      [Window]*Message // by seq % Window
	delivered int64            // the last seq offered to the live set
	live      map[member]struct{}
	behind    map[member]struct{} // fell behind, catching up
}

// at returns event seq if the ring holds it; f.mu is held.
func (f *feed) at(seq int64) *Message {
	if m := f.ring[seq%Window]; m != nil && m.Seq == seq {
		return m
	}
	return nil
}

// keep stores m in its ring slot unless a newer event holds it, and
// returns the message to use: the ring's, if it already had this event
// (and maybe what was loaded for it). f.mu is held.
func (f *feed) keep(m *Message) *Message {
	slot := &f.ring[m.Seq%Window]
	switch {
	case *slot == nil || (*slot).Seq < m.Seq:
		*slot = m
	case (*slot).Seq == m.Seq:
		return *slot
	}
	return m
}

// deliver offers the next event to every live subscriber.
func (f *feed) deliver(m *Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.Seq != f.delivered+1 {
		return
	}
	m = f.keep(m)
	f.delivered = m.Seq
	for s := range f.live {
		if !s.offer(m) {
			s.fallBehind()
		}
	}
	for s := range f.behind {
		s.checkLag(f.delivered)
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

// replay reads the logged events after last, at most replayPage; they
// are kept in the ring (or taken from it), so subscribers catching up
// together load each event once.
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
		out = append(out, f.keep(messageOf(e)))
	}
	return out, nil
}

// join counts a subscriber into the tenant's feed, starting the feed if
// it is the first, and returns once the feed knows where the tenant's
// events stand (so nothing published afterwards is missed).
func (h *Hub) join(ctx context.Context, tenantID int) (*feed, error) {
	h.mu.Lock()
	f, running := h.tenants[tenantID]
	if !running {
		fctx, cancel := context.WithCancel(context.Background())
		f = &feed{tenant: tenantID, cancel: cancel, ready: make(chan struct{}), live: map[member]struct{}{}, behind: map[member]struct{}{}}
		h.tenants[tenantID] = f
		go h.run(fctx, f)
	}
	f.members++
	h.mu.Unlock()
	select {
	case <-f.ready:
		return f, nil
	case <-ctx.Done():
		h.leave(f)
		return nil, ctx.Err()
	}
}

// leave counts a subscriber out, stopping the feed after the last.
func (h *Hub) leave(f *feed) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f.members--
	if f.members == 0 {
		f.cancel()
		if h.tenants[f.tenant] == f {
			delete(h.tenants, f.tenant)
		}
	}
}

// run is a feed's goroutine: it subscribes to the tenant's channel, learns
// the tenant's newest event, then delivers every later event in order:
// those Redis brings, and those the table has that Redis did not bring.
func (h *Hub) run(ctx context.Context, f *feed) {
	sub := h.rdb.Subscribe(ctx, Channel(h.rdb, f.tenant))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil && ctx.Err() == nil {
		// The poll below still finds new events, only later.
		h.logger.Warn("realtime: subscribe", "tenant", f.tenant, "err", err)
	}
	msgs := sub.Channel(redis.WithChannelSize(Window))
	tctx := viewer.ForTenant(ctx, f.tenant)
	for {
		t, err := h.client.Tenant.Get(tctx, f.tenant)
		if err == nil {
			f.delivered = t.EventSeq // no subscriber can see f yet
			break
		}
		h.logger.Warn("realtime: read the tenant's newest event", "tenant", f.tenant, "err", err)
		select {
		case <-ctx.Done():
			close(f.ready) // joiners fail on their own contexts or find nothing
			return
		case <-time.After(h.every()):
		}
	}
	close(f.ready)
	tick := time.NewTicker(h.every())
	defer tick.Stop()
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
			if m.Seq > f.delivered+1 {
				h.fill(ctx, f, m.Seq-1) // publishes were lost: the table has them
			}
			f.deliver(m)
		case <-tick.C:
			t, err := h.client.Tenant.Get(tctx, f.tenant)
			if err != nil {
				if ctx.Err() == nil {
					h.logger.Warn("realtime: poll", "tenant", f.tenant, "err", err)
				}
				continue
			}
			if t.EventSeq > f.delivered {
				h.fill(ctx, f, t.EventSeq)
			}
		}
	}
}

// fill delivers the events after the feed's last up to upTo from the
// table. Only the feed's goroutine changes delivered, so reading it here
// without the lock is safe.
func (h *Hub) fill(ctx context.Context, f *feed, upTo int64) {
	for f.delivered < upTo {
		page, err := h.replay(ctx, f, f.delivered)
		if errors.Is(err, ErrCursorExpired) {
			// Trimmed before this process saw them: nobody can be
			// waiting for them here; carry on after the hole.
			f.mu.Lock()
			f.delivered = upTo
			f.mu.Unlock()
			return
		}
		if err != nil || len(page) == 0 {
			return // the next message or poll tries again
		}
		for _, m := range page {
			if m.Seq > upTo {
				return
			}
			f.deliver(m)
		}
	}
}

func (h *Hub) every() time.Duration {
	if h.Every > 0 {
		return h.Every
	}
	return 2 * time.Second
}
