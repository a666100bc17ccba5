// Package wsgraphql serves GraphQL over WebSocket, in both sub-protocols
// clients speak: graphql-transport-ws (graphql-ws, Apollo, urql, Relay)
// and the legacy graphql-ws (subscriptions-transport-ws, many
// mini-program clients), on github.com/gorilla/websocket, as a gqlgen
// transport. gqlgen's executor does all the GraphQL work (parsing,
// validation, extensions, execution); this package speaks the protocols.
//
// Why our own rather than gqlgen's transport.Websocket behind a small
// gorilla adapter (which this replaced): agents keep a console open all
// day, so a replica holds tens of thousands of idle subscriptions, and
// their memory is the cost that matters. gqlgen's transport keeps four
// goroutines per connection (the HTTP handler's, a close watcher, a
// keep-alive ticker and one per operation) plus the HTTP server's
// per-connection buffers: measured here at about 48 KiB per idle
// subscription. Here:
//   - the upgrade handler returns at once, so net/http lets go of the
//     connection's request, buffers and goroutine;
//   - a connection has one goroutine, its reader, kept shallow;
//   - keep-alives for all connections come from one ticker (Server);
//   - a subscription whose resolver announces its payloads
//     (streamctx.Notifier; internal/realtime does) has no goroutine: it is
//     executed when it has something to send, by a writer goroutine that
//     exists only while its connection has frames to write. Other
//     resolvers get a goroutine waiting on them, as in gqlgen.
package wsgraphql

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/internal/streamctx"
)

// Sub-protocols.
const (
	TransportWS = "graphql-transport-ws"
	LegacyWS    = "graphql-ws"
)

// Close codes of graphql-transport-ws (also used for the legacy protocol).
const (
	CloseBadRequest      = 4400
	CloseUnauthorized    = 4401
	CloseForbidden       = 4403
	CloseInitTimeout     = 4408
	CloseDuplicateID     = 4409
	CloseTooManyInits    = 4429
	CloseGoingAway       = websocket.CloseGoingAway
	CloseInternalError   = websocket.CloseInternalServerErr
	CloseTryAgainLater   = 1013
	CloseNormal          = websocket.CloseNormalClosure
	closeMessageTooBig   = websocket.CloseMessageTooBig
	defaultWriteTimeout  = 10 * time.Second
	defaultInitTimeout   = 10 * time.Second
	defaultKeepAlive     = 15 * time.Second
	defaultMaxMessage    = 64 << 10
	closeFrameWriteLimit = time.Second
)

// CloseError refuses a connection_init: the connection closes with Code
// and Reason.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return e.Reason }

// InitPayload is connection_init's payload.
type InitPayload map[string]any

// String returns the payload's string value under key.
func (p InitPayload) String(key string) string {
	s, _ := p[key].(string)
	return s
}

// Server accepts GraphQL WebSocket connections. Its zero value is not
// usable: set Init and call Start.
type Server struct {
	// CheckOrigin decides whether a browser page from the request's Origin
	// may connect; nil accepts only requests without an Origin header or
	// whose Origin host equals the Host header.
	CheckOrigin func(r *http.Request) bool
	// Init authenticates connection_init and returns the connection's
	// context and what releases it (called when the connection closes), or
	// a *CloseError. When the context ends first, the connection closes:
	// with the code and reason of its cause if that is a *CloseError (an
	// expired token), else 1000.
	Init func(ctx context.Context, p InitPayload) (context.Context, context.CancelFunc, error)
	// InitTimeout bounds the wait for connection_init; 10s when zero.
	InitTimeout time.Duration
	// KeepAlive is how often idle connections are pinged (a "ka" message
	// for graphql-ws, a "ping" for graphql-transport-ws, and a WebSocket
	// ping frame); a connection that shows no sign of life for three
	// intervals is closed. 15s when zero.
	KeepAlive time.Duration
	// WriteTimeout bounds each frame written; 10s when zero.
	WriteTimeout time.Duration
	// MaxMessageBytes bounds a message from the client; 64 KiB when zero.
	MaxMessageBytes int64
	Logger          *slog.Logger

	mu     sync.Mutex
	conns  map[*conn]struct{}
	groups map[string]*group
	stop   chan struct{}

	executed, shared atomic.Int64
}

// Stats counts subscription payloads executed, and those sent from
// another subscriber's execution (shared).
func (s *Server) Stats() (executed, shared int64) { return s.executed.Load(), s.shared.Load() }

var _ graphql.Transport = (*Server)(nil)

// Start runs the keep-alive ticker until Close.
func (s *Server) Start() *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop == nil {
		s.stop = make(chan struct{})
		s.conns = map[*conn]struct{}{}
		go s.keepAlive(s.stop)
	}
	return s
}

// Supports reports whether r asks for a WebSocket.
func (s *Server) Supports(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

var upgradeBuffers sync.Pool

// Do upgrades the request and returns; the connection lives on in its
// reader goroutine.
func (s *Server) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	s.Start()
	up := websocket.Upgrader{
		Subprotocols:    []string{TransportWS, LegacyWS},
		CheckOrigin:     s.CheckOrigin,
		ReadBufferSize:  256,
		WriteBufferSize: 256, // the handshake only: frames are ours (frames.go)
		WriteBufferPool: &upgradeBuffers,
	}
	if up.CheckOrigin == nil {
		up.CheckOrigin = sameHost
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the request
	}
	// The request's context ends when this handler returns; the
	// connection keeps its values, not its lifetime.
	ctx := context.WithoutCancel(r.Context())
	// A client naming no sub-protocol is an old subscriptions-transport-ws
	// one, as gqlgen also assumes.
	c := &conn{srv: s, ws: ws, exec: exec, legacy: ws.Subprotocol() != TransportWS, ops: map[string]*operation{}}
	c.ctx = streamctx.WithDisconnect(ctx, func(reason string) { c.closeWith(CloseTryAgainLater, reason) })
	c.out.netConn = ws.NetConn()
	c.alive.Store(time.Now().UnixNano())
	ws.SetReadLimit(s.maxMessage())
	ws.SetPongHandler(func(string) error { c.alive.Store(time.Now().UnixNano()); return nil })
	ws.SetPingHandler(func(data string) error {
		c.alive.Store(time.Now().UnixNano())
		return c.control(opPong, []byte(data))
	})
	ws.SetCloseHandler(func(int, string) error { return nil }) // read ends; closeWith answers
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.mu.Lock()
	c.initTimer = time.AfterFunc(s.initTimeout(), func() {
		if !c.initialised.Load() {
			c.closeWith(CloseInitTimeout, "connection initialisation timeout")
		}
	})
	c.mu.Unlock()
	go c.read()
}

func sameHost(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// CloseAll closes every connection with code and reason (1001 on
// shutdown, so clients reconnect elsewhere) and stops the keep-alives; it
// returns how many it closed.
func (s *Server) CloseAll(code int, reason string) int {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	if s.stop != nil {
		close(s.stop)
		s.stop = nil
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.closeWith(code, reason) })
	}
	wg.Wait()
	return len(conns)
}

// Len is the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) keepAlive(stop <-chan struct{}) {
	every := s.keepAliveInterval()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			s.mu.Lock()
			conns := make([]*conn, 0, len(s.conns))
			for c := range s.conns {
				conns = append(conns, c)
			}
			s.mu.Unlock()
			for _, c := range conns {
				if now.Sub(time.Unix(0, c.alive.Load())) > 3*every {
					go c.closeWith(CloseGoingAway, "no sign of life; reconnect")
					continue
				}
				c.ping()
			}
		}
	}
}

func (s *Server) initTimeout() time.Duration       { return orDefault(s.InitTimeout, defaultInitTimeout) }
func (s *Server) keepAliveInterval() time.Duration { return orDefault(s.KeepAlive, defaultKeepAlive) }
func (s *Server) writeTimeout() time.Duration      { return orDefault(s.WriteTimeout, defaultWriteTimeout) }
func (s *Server) maxMessage() int64 {
	if s.MaxMessageBytes > 0 {
		return s.MaxMessageBytes
	}
	return defaultMaxMessage
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// conn is one connection.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	exec   graphql.GraphExecutor
	legacy bool

	ctx         context.Context // the connection's, after init
	release     context.CancelFunc
	initTimer   *time.Timer
	initialised atomic.Bool
	alive       atomic.Int64 // unix nanos of the last sign of life
	closed      atomic.Bool

	wmu sync.Mutex // guards out: one writer of the socket at a time
	out outbox

	mu      sync.Mutex
	ops     map[string]*operation
	ready   []*operation // subscriptions with payloads to send
	writing bool         // a writer goroutine is running
}

// message is a frame of either protocol.
type message struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Message types.
const (
	msgConnectionInit      = "connection_init"
	msgConnectionAck       = "connection_ack"
	msgConnectionError     = "connection_error"
	msgConnectionTerminate = "connection_terminate"
	msgKeepAlive           = "ka"
	msgPing                = "ping"
	msgPong                = "pong"
	msgSubscribe           = "subscribe"
	msgStart               = "start"
	msgNext                = "next"
	msgData                = "data"
	msgError               = "error"
	msgComplete            = "complete"
	msgStop                = "stop"
)

// read is the connection's goroutine: it reads client messages until the
// connection ends.
func (c *conn) read() {
	defer c.closeWith(CloseNormal, "")
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.closeWith(closeMessageTooBig, "message too big")
			}
			return
		}
		c.alive.Store(time.Now().UnixNano())
		var m message
		if err := json.Unmarshal(data, &m); err != nil || m.Type == "" {
			c.closeWith(CloseBadRequest, "invalid message: not a GraphQL WebSocket message")
			return
		}
		if !c.handleShallow(m) {
			return
		}
	}
}

// handleShallow handles m, running connection_init and subscribe (which
// authenticate, parse, validate and start resolvers: deep call stacks) on
// a goroutine of their own, so that the reader, which lives as long as
// the connection, keeps a small stack. Messages are still handled one at
// a time, in order.
func (c *conn) handleShallow(m message) bool {
	switch m.Type {
	case msgConnectionInit, msgSubscribe, msgStart:
		done := make(chan bool, 1)
		go func() { done <- c.handle(m) }()
		return <-done
	}
	return c.handle(m)
}

// handle acts on one message; false ends the connection.
func (c *conn) handle(m message) bool {
	switch m.Type {
	case msgConnectionInit:
		return c.init(m.Payload)
	case msgPing:
		if !c.legacy {
			c.send(message{Type: msgPong, Payload: m.Payload})
		}
		return true
	case msgPong:
		return true
	case msgSubscribe, msgStart:
		if (m.Type == msgSubscribe) == c.legacy {
			break
		}
		if !c.initialised.Load() {
			c.closeWith(CloseUnauthorized, "unauthorized: send connection_init first")
			return false
		}
		return c.start(m.ID, m.Payload)
	case msgComplete, msgStop:
		if (m.Type == msgComplete) == c.legacy {
			break
		}
		c.stopOperation(m.ID)
		return true
	case msgConnectionTerminate:
		if c.legacy {
			c.closeWith(CloseNormal, "terminated")
			return false
		}
	}
	c.closeWith(CloseBadRequest, fmt.Sprintf("invalid message: unexpected %q", m.Type))
	return false
}

func (c *conn) init(raw json.RawMessage) bool {
	if c.initialised.Load() {
		c.closeWith(CloseTooManyInits, "too many initialisation requests")
		return false
	}
	var p InitPayload
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &p); err != nil {
			c.closeWith(CloseBadRequest, "invalid message: connection_init's payload is not an object")
			return false
		}
	}
	ctx, release, err := c.srv.Init(c.ctx, p)
	if err != nil {
		code, reason := CloseForbidden, err.Error()
		var ce *CloseError
		if errors.As(err, &ce) {
			code, reason = ce.Code, ce.Reason
		}
		if c.legacy {
			c.send(message{Type: msgConnectionError, Payload: mustJSON(map[string]string{"message": reason})})
		}
		c.closeWith(code, reason)
		return false
	}
	c.mu.Lock()
	c.initTimer.Stop()
	c.initTimer = nil // an idle connection keeps nothing it no longer needs
	c.mu.Unlock()
	// The connection lives no longer than its context (a token's expiry);
	// closing it releases the context.
	ctx, cancel := context.WithCancel(ctx)
	c.mu.Lock()
	c.ctx = ctx
	c.release = func() {
		cancel()
		if release != nil {
			release()
		}
	}
	closed := c.closed.Load()
	c.mu.Unlock()
	if closed {
		c.release()
		return false
	}
	c.initialised.Store(true)
	c.send(message{Type: msgConnectionAck})
	if c.legacy {
		c.send(message{Type: msgKeepAlive})
	}
	context.AfterFunc(ctx, func() {
		code, reason := CloseNormal, "the connection's authorisation ended"
		var ce *CloseError
		if errors.As(context.Cause(ctx), &ce) {
			code, reason = ce.Code, ce.Reason
		}
		c.closeWith(code, reason)
	})
	return true
}

// operation is one running operation.
type operation struct {
	id        string
	ctx       context.Context
	cancel    context.CancelFunc
	responses graphql.ResponseHandler
	left      bool // out of its group; guarded by Server.mu
	// Guarded by conn.mu (and read freely by the writer once started):
	notifier  *streamctx.Notifier
	group     *group // subscribers sharing results, or nil
	observed  func() int64
	announced []int64 // events whose payloads wait (0: the end)
	started   bool    // responses is set
	queued    bool    // in conn.ready
	done      bool
	errs      []*gqlerror.Error
}

func (c *conn) start(id string, raw json.RawMessage) bool {
	if id == "" {
		c.closeWith(CloseBadRequest, "invalid message: subscribe without an id")
		return false
	}
	var params graphql.RawParams
	if err := json.Unmarshal(raw, &params); err != nil {
		c.closeWith(CloseBadRequest, "invalid message: the payload is not a GraphQL request")
		return false
	}
	params.ReadTime = graphql.TraceTiming{Start: graphql.Now(), End: graphql.Now()}
	c.mu.Lock()
	if _, dup := c.ops[id]; dup {
		c.mu.Unlock()
		if !c.legacy {
			c.closeWith(CloseDuplicateID, "subscriber for "+id+" already exists")
			return false
		}
		c.sendErrors(id, gqlerror.List{{Message: "an operation with id " + id + " is already running"}})
		return true
	}
	op := &operation{id: id}
	c.ops[id] = op
	base := c.ctx
	c.mu.Unlock()

	rc, err := c.exec.CreateOperationContext(base, &params)
	if err != nil {
		resp := c.exec.DispatchError(graphql.WithOperationContext(base, rc), err)
		if errcode.GetErrorKind(err) == errcode.KindProtocol {
			c.sendErrors(id, resp.Errors)
		} else {
			c.sendResult(id, resp)
			c.send(message{Type: msgComplete, ID: id})
		}
		c.forgetOperation(op)
		return true
	}
	ctx, cancel := context.WithCancel(graphql.WithOperationContext(base, rc))
	c.mu.Lock()
	op.cancel = cancel
	stopped := op.done
	c.mu.Unlock()
	if stopped { // the connection closed meanwhile
		cancel()
		return true
	}
	ctx = streamctx.WithStreamErrors(ctx, func(e *gqlerror.Error) { op.errs = append(op.errs, e) })
	ctx, notifier := streamctx.WithNotifier(ctx, func(seq int64) { c.announce(op, seq) })
	responses, opCtx := c.exec.DispatchOperation(ctx, rc)
	subscription := rc.Operation != nil && rc.Operation.Operation == ast.Subscription && notifier.Claimed()
	var g *group
	var observed func() int64
	if sh := streamctx.SharingFrom(base); subscription && sh != nil && sh.Key != "" {
		g, observed = c.srv.join(groupKey(sh.Key, &params)), sh.Observed
	}
	c.mu.Lock()
	op.notifier, op.group, op.observed = notifier, g, observed
	op.responses, op.ctx, op.started = responses, opCtx, true
	pending := len(op.announced) > 0
	stopped = op.done
	c.mu.Unlock()
	if stopped {
		c.releaseOp(op) // closed while starting: releaseOp may have missed the group
		return true
	}
	if subscription {
		// Runs when announced; payloads may have been announced already,
		// while the resolver was starting.
		if pending {
			c.schedule(op)
		}
		return true
	}
	go c.wait(op) // a query, a mutation, or a resolver that does not announce
	return true
}

// wait runs an operation whose results come when they come.
func (c *conn) wait(op *operation) {
	for {
		resp := op.responses(op.ctx)
		if resp == nil {
			c.finish(op)
			return
		}
		c.sendResult(op.id, resp)
		if c.isDone(op) {
			return
		}
	}
}

// announce is called by a resolver after it sent the payload of event
// seq (or closed, seq 0): queue the operation and make sure a writer runs.
func (c *conn) announce(op *operation, seq int64) {
	c.mu.Lock()
	op.announced = append(op.announced, seq)
	c.mu.Unlock()
	c.schedule(op)
}

func (c *conn) schedule(op *operation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if op.done || !op.started || len(op.announced) == 0 {
		return
	}
	if !op.queued {
		op.queued = true
		c.ready = append(c.ready, op)
	}
	if !c.writing {
		c.writing = true
		go c.write()
	}
}

// write sends what the queued operations have, then exits. The frames of
// one run go out together (frames.go).
func (c *conn) write() {
	c.hold()
	for {
		c.mu.Lock()
		if len(c.ready) == 0 {
			c.writing = false
			c.ready = nil
			c.mu.Unlock()
			c.releaseFrames()
			return
		}
		op := c.ready[0]
		c.ready[0] = nil
		c.ready = c.ready[1:]
		op.queued = false
		c.mu.Unlock()
		for c.runNext(op) {
		}
	}
}

// runNext sends the operation's next announced payload and reports
// whether it should go on.
func (c *conn) runNext(op *operation) bool {
	c.mu.Lock()
	if op.done || len(op.announced) == 0 {
		c.mu.Unlock()
		return false
	}
	seq := op.announced[0]
	op.announced = op.announced[1:]
	c.mu.Unlock()
	if seq > 0 && op.group != nil {
		if r, leader := op.group.claim(seq); !leader {
			<-r.done
			if r.ok {
				op.notifier.Discard() // the same result, already executed
				c.srv.shared.Add(1)
				c.sendPayload(op.id, r.payload)
				return true
			}
		} else {
			payload, more := c.execute(op)
			r.payload, r.ok = payload, more && payload != nil
			close(r.done)
			if !more {
				return false
			}
			if payload != nil {
				c.sendPayload(op.id, payload)
			}
			return true
		}
	}
	payload, more := c.execute(op)
	if payload != nil {
		c.sendPayload(op.id, payload)
	}
	return more
}

// execute runs the operation on its next payload and returns the result
// as JSON (nil when it must not be shared: the execution recorded
// something about this viewer, and it was sent already), or more=false
// when the operation has ended.
func (c *conn) execute(op *operation) (payload json.RawMessage, more bool) {
	var before int64
	if op.observed != nil {
		before = op.observed()
	}
	resp := op.responses(op.ctx)
	if resp == nil {
		c.finish(op)
		return nil, false
	}
	c.srv.executed.Add(1)
	if c.isDone(op) {
		return nil, false
	}
	payload = mustJSON(resp)
	if op.observed != nil && op.observed() != before {
		c.sendPayload(op.id, payload)
		return nil, true
	}
	return payload, true
}

func (c *conn) isDone(op *operation) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return op.done
}

// finish ends an operation that ran out: complete, or error when the
// resolver said why it ended.
func (c *conn) finish(op *operation) {
	c.mu.Lock()
	stopped := op.done
	c.mu.Unlock()
	if !stopped && !c.closed.Load() {
		if len(op.errs) > 0 {
			c.sendErrors(op.id, op.errs)
		} else {
			c.send(message{Type: msgComplete, ID: op.id})
		}
	}
	c.forgetOperation(op)
}

func (c *conn) forgetOperation(op *operation) {
	c.mu.Lock()
	op.done = true
	if c.ops[op.id] == op {
		delete(c.ops, op.id)
	}
	c.mu.Unlock()
	c.releaseOp(op)
}

// releaseOp lets go of an ended operation's resolver and group.
func (c *conn) releaseOp(op *operation) {
	c.mu.Lock()
	cancel, g := op.cancel, op.group
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	c.srv.leave(op, g)
}

// stopOperation ends an operation the client no longer wants.
func (c *conn) stopOperation(id string) {
	c.mu.Lock()
	op := c.ops[id]
	if op != nil {
		op.done = true
		delete(c.ops, id)
	}
	c.mu.Unlock()
	if op == nil {
		return
	}
	c.releaseOp(op)
	if c.legacy {
		c.send(message{Type: msgComplete, ID: id})
	}
}

func (c *conn) sendResult(id string, resp *graphql.Response) {
	c.sendPayload(id, mustJSON(resp))
}

func (c *conn) sendPayload(id string, payload json.RawMessage) {
	typ := msgNext
	if c.legacy {
		typ = msgData
	}
	c.send(message{Type: typ, ID: id, Payload: payload})
}

// sendErrors ends an operation with errors: graphql-transport-ws's error
// message carries the list, the legacy one an error then complete.
func (c *conn) sendErrors(id string, errs gqlerror.List) {
	if !c.legacy {
		c.send(message{Type: msgError, ID: id, Payload: mustJSON(errs)})
		return
	}
	c.send(message{Type: msgError, ID: id, Payload: mustJSON(errs[0])})
	c.send(message{Type: msgComplete, ID: id})
}

var frames = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// send writes one message; a failed write ends the connection.
func (c *conn) send(m message) {
	if c.closed.Load() {
		return
	}
	buf := frames.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); frames.Put(buf) }()
	buf.WriteString(`{"type":"`)
	buf.WriteString(m.Type)
	buf.WriteByte('"')
	if m.ID != "" {
		buf.WriteString(`,"id":`)
		id, _ := json.Marshal(m.ID)
		buf.Write(id)
	}
	if len(m.Payload) > 0 {
		buf.WriteString(`,"payload":`)
		buf.Write(m.Payload)
	}
	buf.WriteByte('}')
	if err := c.control(opText, buf.Bytes()); err != nil {
		go c.closeWith(CloseGoingAway, "")
	}
}

// control queues a frame (written at once unless a writer is collecting).
func (c *conn) control(opcode byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.out.add(opcode, payload, c.srv.writeTimeout())
}

// hold makes the frames sent until release go out in one write.
func (c *conn) hold() {
	c.wmu.Lock()
	c.out.held = true
	c.wmu.Unlock()
}

func (c *conn) releaseFrames() {
	c.wmu.Lock()
	c.out.held = false
	err := c.out.flush(c.srv.writeTimeout())
	c.wmu.Unlock()
	if err != nil {
		go c.closeWith(CloseGoingAway, "")
	}
}

// ping keeps an idle connection alive: a protocol-level keep-alive for
// clients that watch for one, and a WebSocket ping every client answers.
// It never waits on a writer: a connection busy writing is alive.
func (c *conn) ping() {
	if !c.initialised.Load() || c.closed.Load() {
		return
	}
	if !c.wmu.TryLock() {
		return
	}
	defer c.wmu.Unlock()
	typ := msgPing
	if c.legacy {
		typ = msgKeepAlive
	}
	held := c.out.held
	c.out.held = true
	_ = c.out.add(opPing, nil, closeFrameWriteLimit)
	_ = c.out.add(opText, []byte(`{"type":"`+typ+`"}`), closeFrameWriteLimit)
	c.out.held = held
	if !held {
		_ = c.out.flush(closeFrameWriteLimit)
	}
}

// closeWith ends the connection once: a close frame with code and
// reason (written beside any stuck writer, as gorilla allows), then the
// socket, then every operation.
func (c *conn) closeWith(code int, reason string) {
	if c.closed.Swap(true) {
		return
	}
	c.mu.Lock()
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	c.mu.Unlock()
	// A writer stuck on a client that reads nothing holds wmu: this
	// deadline frees it within a second (the close frame then cannot be
	// delivered either).
	_ = c.out.netConn.SetWriteDeadline(time.Now().Add(closeFrameWriteLimit))
	c.wmu.Lock()
	c.out.held = false
	_ = c.out.add(opClose, websocket.FormatCloseMessage(code, truncateReason(reason)), closeFrameWriteLimit)
	c.out.failed = true
	c.wmu.Unlock()
	_ = c.ws.Close()
	c.mu.Lock()
	ops := c.ops
	c.ops = map[string]*operation{}
	for _, op := range ops {
		op.done = true
	}
	release := c.release
	c.mu.Unlock()
	for _, op := range ops {
		c.releaseOp(op)
	}
	if release != nil {
		release()
	}
	c.srv.forget(c)
}

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

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{"errors":[{"message":"internal error"}]}`)
	}
	return b
}

// group is the subscriptions that get the same result for the same event
// (the same operation and variables, run with the same permissions and
// data scope): the first to reach an event executes it, the others send
// its result. A dashboard watched by 15,000 supervisors executes each
// event once, not 15,000 times.
type group struct {
	key     string
	members int // guarded by Server.mu

	mu      sync.Mutex
	results map[int64]*result
	order   []int64 // the seqs in results, oldest first
}

// result is one event's shared result; done is closed when it is known.
type result struct {
	done    chan struct{}
	payload json.RawMessage
	ok      bool // shareable
}

// keepResults bounds the results a group keeps: subscribers further
// behind execute for themselves.
const keepResults = 64

// claim returns the event's result and whether the caller is the one to
// produce it.
func (g *group) claim(seq int64) (*result, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.results[seq]; ok {
		return r, false
	}
	r := &result{done: make(chan struct{})}
	if g.results == nil {
		g.results = map[int64]*result{}
	}
	g.results[seq] = r
	g.order = append(g.order, seq)
	if len(g.order) > keepResults {
		delete(g.results, g.order[0])
		g.order = g.order[1:]
	}
	return r, true
}

func groupKey(share string, p *graphql.RawParams) string {
	vars, _ := json.Marshal(p.Variables) // map keys sorted: equal maps, equal JSON
	h := sha256.New()
	for _, part := range []string{share, p.OperationName, p.Query, string(vars)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return string(h.Sum(nil))
}

func (s *Server) join(key string) *group {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string]*group{}
	}
	g := s.groups[key]
	if g == nil {
		g = &group{key: key}
		s.groups[key] = g
	}
	g.members++
	return g
}

// leave takes an ended operation out of its group g, once.
func (s *Server) leave(op *operation, g *group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g == nil || op.left {
		return
	}
	op.left = true
	g.members--
	if g.members == 0 && s.groups[g.key] == g {
		delete(s.groups, g.key)
	}
}
