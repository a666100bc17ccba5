// Package streamctx is what streaming transports (WebSocket, server-sent
// events) and subscription resolvers tell each other through the context:
// how to end the whole connection, the cursor a reconnecting client sent,
// which cursor each payload carries, why a subscription ended, and when a
// subscription has something to send. It has no dependencies, so the
// transports and internal/realtime need not know each other.
package streamctx

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CloseTooSlow is the WebSocket close code for a subscriber dropped for
// falling behind: 1013, "try again later", which GraphQL WebSocket clients
// treat as retryable (unlike the 44xx protocol codes), so they reconnect
// and resume from their last cursor.
const CloseTooSlow = 1013

type (
	disconnectKey  struct{}
	lastEventIDKey struct{}
	cursorsKey     struct{}
	streamErrKey   struct{}
)

// WithDisconnect returns ctx carrying how its transport ends the whole
// connection (not only one operation), given a reason for the client.
func WithDisconnect(ctx context.Context, disconnect func(reason string)) context.Context {
	return context.WithValue(ctx, disconnectKey{}, disconnect)
}

// Disconnect ends ctx's connection with reason and reports whether its
// transport could. It may block briefly; call it off the fan-out path.
func Disconnect(ctx context.Context, reason string) bool {
	d, ok := ctx.Value(disconnectKey{}).(func(string))
	if ok {
		d(reason)
	}
	return ok
}

// WithLastEventID returns ctx carrying the cursor a reconnecting
// server-sent-events client sent as Last-Event-ID.
func WithLastEventID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, lastEventIDKey{}, id)
}

// LastEventID returns the Last-Event-ID of ctx's request, or nil.
func LastEventID(ctx context.Context) *string {
	if id, ok := ctx.Value(lastEventIDKey{}).(string); ok && id != "" {
		return &id
	}
	return nil
}

// Cursors queues the cursors of the payloads a subscription hands to
// GraphQL execution, in order, so a transport can label each response it
// writes with its event's cursor (an SSE id: line) whatever the client
// selected. Every payload produces one response, so the queue stays in
// step.
type Cursors struct {
	mu sync.Mutex
	q  []int64
}

// WithCursors returns ctx with an empty queue of cursors.
func WithCursors(ctx context.Context) (context.Context, *Cursors) {
	c := &Cursors{}
	return context.WithValue(ctx, cursorsKey{}, c), c
}

// CursorsFrom returns ctx's queue of cursors, or nil.
func CursorsFrom(ctx context.Context) *Cursors {
	c, _ := ctx.Value(cursorsKey{}).(*Cursors)
	return c
}

func noUndo() {}

// Push records that the payload of event seq is about to be handed over,
// and returns how to take that back if it was not. A nil queue (the
// transport does not label events) does nothing.
func (c *Cursors) Push(seq int64) (undo func()) {
	if c == nil {
		return noUndo
	}
	c.mu.Lock()
	c.q = append(c.q, seq)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if n := len(c.q); n > 0 && c.q[n-1] == seq {
			c.q = c.q[:n-1]
		}
		c.mu.Unlock()
	}
}

// Next returns the cursor of the next response.
func (c *Cursors) Next() (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.q) == 0 {
		return 0, false
	}
	seq := c.q[0]
	c.q = c.q[1:]
	return seq, true
}

// WithStreamErrors returns ctx carrying where a subscription reports why
// it ended, for transports other than gqlgen's WebSocket one (which has
// its own, transport.AddSubscriptionError).
func WithStreamErrors(ctx context.Context, report func(*gqlerror.Error)) context.Context {
	return context.WithValue(ctx, streamErrKey{}, report)
}

// ReportStreamError hands err to ctx's transport and reports whether it
// had a place for it.
func ReportStreamError(ctx context.Context, err *gqlerror.Error) bool {
	report, ok := ctx.Value(streamErrKey{}).(func(*gqlerror.Error))
	if ok {
		report(err)
	}
	return ok
}

// Notifier lets a subscription resolver that knows when it has sent a
// payload (internal/realtime does) say so, so the transport runs the
// subscription only then instead of keeping a goroutine waiting on it,
// and can skip executing a payload whose result it already has.
type Notifier struct {
	claimed atomic.Bool
	discard func()
	notify  func(seq int64)
}

type notifierKey struct{}

// WithNotifier returns ctx with a notifier calling notify.
func WithNotifier(ctx context.Context, notify func(seq int64)) (context.Context, *Notifier) {
	n := &Notifier{notify: notify}
	return context.WithValue(ctx, notifierKey{}, n), n
}

// NotifierFrom returns ctx's notifier, or nil.
func NotifierFrom(ctx context.Context) *Notifier {
	n, _ := ctx.Value(notifierKey{}).(*Notifier)
	return n
}

// Claim promises Notify after every payload sent and after the channel
// is closed; discard drops the oldest payload not yet taken, unexecuted.
// A nil notifier ignores it.
func (n *Notifier) Claim(discard func()) {
	if n != nil {
		n.discard = discard
		n.claimed.Store(true)
	}
}

// Claimed reports whether the resolver promised to notify.
func (n *Notifier) Claimed() bool { return n != nil && n.claimed.Load() }

// Notify says the payload of event seq was sent, or with seq 0 that the
// channel closed.
func (n *Notifier) Notify(seq int64) {
	if n != nil {
		n.notify(seq)
	}
}

// Discard drops the oldest payload sent and not yet taken.
func (n *Notifier) Discard() { n.discard() }

// Sharing says which subscribers may share executed results: those with
// the same Key (the same permissions and data scope) running the same
// operation get the same result for the same event, unless executing it
// recorded something about the viewer (Observed changed: an audited read
// of personal data), which then must happen for each.
type Sharing struct {
	Key      string
	Observed func() int64
}

type sharingKey struct{}

// WithSharing returns ctx carrying s.
func WithSharing(ctx context.Context, s *Sharing) context.Context {
	return context.WithValue(ctx, sharingKey{}, s)
}

// SharingFrom returns ctx's sharing, or nil (share nothing).
func SharingFrom(ctx context.Context) *Sharing {
	s, _ := ctx.Value(sharingKey{}).(*Sharing)
	return s
}
