// Package gorillaws plugs github.com/gorilla/websocket, the product's
// WebSocket library, into gqlgen's websocket transport. gqlgen (v0.17.98)
// ships only a coder/websocket adapter; its transport.WebsocketImplementation
// interface is the seam, and this package is the small adapter on our side
// of it: upgrade with an Origin check and shared buffers, serialise writes
// (gorilla allows one writer at a time), bound every write with a deadline
// so a stalled client cannot hold a sender, and report a peer's normal
// close the way the transport expects.
//
// Both GraphQL sub-protocols (graphql-transport-ws and the legacy
// graphql-ws), their keep-alives, connection_init and operation handling
// are gqlgen's; this package only moves frames.
package gorillaws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
)

// Implementation accepts WebSocket connections with gorilla/websocket.
type Implementation struct {
	// CheckOrigin decides whether a browser page from the request's Origin
	// may connect. Nil accepts only requests without an Origin header (not
	// from a browser) or whose Origin host equals the Host header.
	CheckOrigin func(r *http.Request) bool
	// WriteTimeout bounds each frame written; 10s when zero.
	WriteTimeout time.Duration
	// Registry, when set, tracks the open connections (for shutdown).
	Registry *Registry
}

var _ transport.WebsocketImplementation = Implementation{}

// Buffers are shared by every connection and held only while a frame is
// being read or written, so an idle subscription costs no buffer memory.
var writeBuffers sync.Pool

// Accept upgrades the request, negotiating one of the GraphQL
// sub-protocols the transport supports.
func (i Implementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	up := websocket.Upgrader{
		Subprotocols:    opts.Subprotocols,
		CheckOrigin:     i.CheckOrigin,
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: &writeBuffers,
	}
	conn, err := up.Upgrade(w, r, opts.ResponseHeader)
	if err != nil {
		return nil, err // Upgrade has answered the request
	}
	timeout := i.WriteTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	c := &Conn{ws: conn, writeTimeout: timeout, registry: i.Registry}
	i.Registry.add(c)
	if s, ok := r.Context().Value(slotKey{}).(*slot); ok {
		s.conn.Store(c)
	}
	return c, nil
}

type slotKey struct{}

// slot is where Accept leaves the connection for code running in the
// request's context (gqlgen derives every operation's context from it).
type slot struct{ conn atomic.Pointer[Conn] }

// WithConnection returns a context in which the connection that Accept
// makes of the request is reachable by CloseConnection. Call it on the
// upgrade request's context before the transport sees the request.
func WithConnection(ctx context.Context) context.Context {
	return context.WithValue(ctx, slotKey{}, &slot{})
}

// CloseConnection closes the WebSocket connection of ctx, if it is one,
// with code and reason, and reports whether it was. It may block for up to
// a second on a client that reads nothing.
func CloseConnection(ctx context.Context, code int, reason string) bool {
	s, ok := ctx.Value(slotKey{}).(*slot)
	if !ok {
		return false
	}
	c := s.conn.Load()
	if c == nil {
		return false
	}
	_ = c.writeClose(code, reason, time.Second)
	_ = c.Close()
	return true
}

// Registry tracks open connections, so that a replica shutting down can
// close them all with 1001 (going away) and clients reconnect elsewhere
// instead of waiting for a timeout.
type Registry struct {
	mu    sync.Mutex
	conns map[*Conn]struct{}
}

func (r *Registry) add(c *Conn) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		r.conns = map[*Conn]struct{}{}
	}
	r.conns[c] = struct{}{}
}

func (r *Registry) remove(c *Conn) {
	if r == nil {
		return
	}
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
}

// Len is the number of open connections.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// CloseAll sends every open connection a close frame with code and reason
// and closes it; it returns how many it closed.
func (r *Registry) CloseAll(code int, reason string) int {
	r.mu.Lock()
	conns := make([]*Conn, 0, len(r.conns))
	for c := range r.conns {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		_ = c.WriteClose(code, reason)
		_ = c.Close()
	}
	return len(conns)
}

// Conn is one accepted connection.
type Conn struct {
	ws           *websocket.Conn
	writeTimeout time.Duration
	registry     *Registry
	mu           sync.Mutex // gorilla: at most one concurrent writer
}

var (
	_ transport.WebsocketConn          = (*Conn)(nil)
	_ transport.WebsocketReadLimiter   = (*Conn)(nil)
	_ transport.WebsocketReadDeadliner = (*Conn)(nil)
)

// NextReader returns the next message; a normal close by the peer is
// transport.ErrWebsocketClosed.
func (c *Conn) NextReader() (int, io.Reader, error) {
	t, r, err := c.ws.NextReader()
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return t, nil, transport.ErrWebsocketClosed
	}
	return t, r, err
}

// WriteJSON writes v as one text message.
func (c *Conn) WriteJSON(v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout)); err != nil {
		return err
	}
	return c.ws.WriteJSON(v)
}

// WriteClose sends a close frame with code and reason. Like every
// control frame it may be written while a message is (gorilla allows
// that), so a writer stuck on a client that reads nothing does not delay it.
func (c *Conn) WriteClose(code int, reason string) error {
	return c.writeClose(code, reason, c.writeTimeout)
}

func (c *Conn) writeClose(code int, reason string, timeout time.Duration) error {
	msg := websocket.FormatCloseMessage(code, truncateReason(reason))
	err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(timeout))
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}

// Close closes the network connection.
func (c *Conn) Close() error {
	c.registry.remove(c)
	return c.ws.Close()
}

// Subprotocol is the negotiated GraphQL sub-protocol.
func (c *Conn) Subprotocol() string { return c.ws.Subprotocol() }

// SetReadLimit bounds the size of a message read from the client.
func (c *Conn) SetReadLimit(limit int64) { c.ws.SetReadLimit(limit) }

// SetReadDeadline bounds the wait for the next message (the transport's
// ping/pong timeout).
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// truncateReason keeps a close reason within the 123 bytes a control
// frame leaves for it, on a UTF-8 boundary.
func truncateReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xC0 {
		s = s[:len(s)-1]
	}
	return s
}
