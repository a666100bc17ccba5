package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ClientOptions configure one load process.
type ClientOptions struct {
	URL       string // ws://127.0.0.1:port/graphql
	Token     string // staff token, sent in connection_init
	Conns     int    // connections to open, one subscription each
	Query     string // the subscription document
	Variables map[string]any
	// Marker is the text before the event number in the titles the
	// coordinator writes ("bench-rt #" for "bench-rt #17").
	Marker string
	// DialConcurrency bounds connection attempts in flight; beyond the
	// listen backlog, more only turns into SYN retransmits.
	DialConcurrency  int
	HandshakeTimeout time.Duration // dial, upgrade and connection_ack
	// ReadTimeout is the read deadline of a subscribed connection, set
	// once: it must outlast the whole run (the server need not send
	// keep-alives on graphql-transport-ws).
	ReadTimeout time.Duration
	MaxSeq      int // event numbers are below this
}

func (o *ClientOptions) defaults() {
	if o.DialConcurrency <= 0 {
		o.DialConcurrency = 100
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 60 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 2 * time.Hour
	}
	if o.MaxSeq <= 0 {
		o.MaxSeq = 1 << 16
	}
}

// RunClient is a load process: it reads commands (JSON lines) from in and
// reports on out until in ends, a quit command arrives, or ctx ends.
func RunClient(ctx context.Context, o ClientOptions, in io.Reader, out io.Writer) error {
	o.defaults()
	if o.Conns <= 0 || o.URL == "" || o.Query == "" || o.Marker == "" {
		return errors.New("realtime-client: --url, --conns, --query and --marker are required")
	}
	initMsg, err := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]string{"authorization": "Bearer " + o.Token}})
	if err != nil {
		return err
	}
	subMsg, err := json.Marshal(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": o.Query, "variables": o.Variables}})
	if err != nil {
		return err
	}
	markerJSON, _ := json.Marshal(o.Marker) // the title as it appears in a frame
	cl := &client{
		o:       o,
		initMsg: initMsg,
		subMsg:  subMsg,
		marker:  append([]byte(`"title":`), markerJSON[:len(markerJSON)-1]...),
		out:     &lineWriter{w: bufio.NewWriter(out)},
		counts:  make([]atomic.Int32, o.MaxSeq),
		first:   make([]atomic.Int64, o.MaxSeq),
		last:    make([]atomic.Int64, o.MaxSeq),
	}
	defer cl.closeAll()
	cl.out.send(Msg{Type: msgReady, PID: os.Getpid()})

	cmds := make(chan Msg)
	errc := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 256<<20)
		for sc.Scan() {
			var m Msg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				errc <- fmt.Errorf("realtime-client: bad command %q: %w", sc.Text(), err)
				return
			}
			cmds <- m
		}
		errc <- sc.Err() // nil at the end of input: the coordinator has gone
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case m := <-cmds:
			switch m.Cmd {
			case cmdConnect:
				go cl.connect(ctx)
			case cmdStatus:
				cl.out.send(cl.status(m.Seq))
			case cmdLatency:
				cl.out.send(cl.latency(m))
			case cmdQuit:
				return nil
			default:
				return fmt.Errorf("realtime-client: unknown command %q", m.Cmd)
			}
		}
	}
}

type client struct {
	o               ClientOptions
	initMsg, subMsg []byte
	marker          []byte
	out             *lineWriter

	mu    sync.Mutex
	conns []*conn

	expected atomic.Int32 // acknowledged connections, set once connected
	counts   []atomic.Int32
	first    []atomic.Int64
	last     []atomic.Int64
	live     atomic.Int32 // subscriptions that have received an event
	open     atomic.Int32
	ended    atomic.Int32 // subscriptions or connections that ended
	foreign  atomic.Int32 // events with a number out of range
	closing  atomic.Bool
}

type conn struct {
	ws  *websocket.Conn
	wmu sync.Mutex // one writer at a time

	mu   sync.Mutex
	recs []rec // receptions of bench events
	live bool
}

type rec struct {
	seq int32
	at  int64
}

var writeBufferPool sync.Pool

// connect opens every connection with at most DialConcurrency in flight
// and reports connected.
func (cl *client) connect(ctx context.Context) {
	d := &websocket.Dialer{
		NetDialContext:   (&net.Dialer{}).DialContext,
		Subprotocols:     []string{"graphql-transport-ws"},
		HandshakeTimeout: cl.o.HandshakeTimeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		WriteBufferPool:  &writeBufferPool,
	}
	var (
		mu       sync.Mutex
		ok, bad  int
		lastAck  int64
		firstErr error
		next     atomic.Int32
		wg       sync.WaitGroup
	)
	firstDial := time.Now().UnixNano()
	for range min(cl.o.DialConcurrency, cl.o.Conns) {
		wg.Go(func() {
			for int(next.Add(1)) <= cl.o.Conns {
				c, ackAt, err := cl.dial(ctx, d)
				mu.Lock()
				if err != nil {
					bad++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					ok++
					lastAck = max(lastAck, ackAt)
				}
				mu.Unlock()
				if err == nil {
					cl.mu.Lock()
					cl.conns = append(cl.conns, c)
					cl.mu.Unlock()
					cl.open.Add(1)
				}
			}
		})
	}
	wg.Wait()
	cl.expected.Store(int32(ok))
	m := Msg{Type: msgConnected, OK: ok, Failed: bad, FirstDial: firstDial, LastAck: lastAck}
	if firstErr != nil {
		m.Err = firstErr.Error()
	}
	cl.out.send(m)
}

// dial opens one connection: upgrade, connection_init, connection_ack
// (the time returned), then subscribe; the connection's reader runs from
// then on.
func (cl *client) dial(ctx context.Context, d *websocket.Dialer) (*conn, int64, error) {
	ws, resp, err := d.DialContext(ctx, cl.o.URL, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, 0, err
	}
	fail := func(err error) (*conn, int64, error) { ws.Close(); return nil, 0, err }
	_ = ws.SetReadDeadline(time.Now().Add(cl.o.HandshakeTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, cl.initMsg); err != nil {
		return fail(err)
	}
	c := &conn{ws: ws}
	var buf []byte
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			return fail(fmt.Errorf("waiting for connection_ack: %w", err))
		}
		if buf, err = readAll(r, buf[:0]); err != nil {
			return fail(err)
		}
		k, _ := Scan(buf, cl.marker)
		if k == KindAck {
			break
		}
		switch k {
		case KindPing:
			if err := c.write(pongMsg); err != nil {
				return fail(err)
			}
		case KindPong, KindKeepAlive:
		default:
			return fail(fmt.Errorf("want connection_ack, got %s", truncate(buf, 200)))
		}
	}
	ackAt := time.Now().UnixNano()
	if err := c.write(cl.subMsg); err != nil {
		return fail(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(cl.o.ReadTimeout))
	go cl.read(c, buf)
	return c, ackAt, nil
}

var pongMsg = []byte(`{"type":"pong"}`)

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// read receives one subscription's frames until the connection ends. Per
// frame it reads the bytes, takes the time, and scans them (Scan).
func (cl *client) read(c *conn, buf []byte) {
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			cl.lost(fmt.Errorf("connection ended: %w", err))
			return
		}
		if buf, err = readAll(r, buf[:0]); err != nil {
			cl.lost(fmt.Errorf("connection ended: %w", err))
			return
		}
		now := time.Now().UnixNano()
		switch k, seq := Scan(buf, cl.marker); k {
		case KindEvent:
			cl.record(c, seq, now)
		case KindPing:
			if err := c.write(pongMsg); err != nil {
				cl.lost(fmt.Errorf("answering ping: %w", err))
				return
			}
		case KindError, KindComplete:
			cl.ended.Add(1)
			cl.out.send(Msg{Type: msgLost, Err: "subscription ended: " + truncate(buf, 300), Ended: int(cl.ended.Load())})
		}
	}
}

// record counts one reception of event seq at time now.
func (cl *client) record(c *conn, seq int, now int64) {
	if seq <= 0 || seq >= len(cl.counts) {
		cl.foreign.Add(1)
		return
	}
	c.mu.Lock()
	c.recs = append(c.recs, rec{int32(seq), now})
	wasLive := c.live
	c.live = true
	c.mu.Unlock()
	// first and last are updated before the count, so whoever brings the
	// count to expected sees every earlier reception's time.
	storeMin(&cl.first[seq], now)
	storeMax(&cl.last[seq], now)
	want := cl.expected.Load()
	if n := cl.counts[seq].Add(1); n == want {
		cl.out.send(Msg{Type: msgDone, Seq: seq, Count: int(n), First: cl.first[seq].Load(), Last: cl.last[seq].Load()})
	}
	if !wasLive && cl.live.Add(1) == want {
		cl.out.send(Msg{Type: msgLive, Live: int(want)})
	}
}

// lost reports a connection that ended while the process was not
// shutting down (every one is counted; the first few are reported at
// once, then every thousandth).
func (cl *client) lost(err error) {
	if cl.closing.Load() {
		return
	}
	cl.open.Add(-1)
	n := cl.ended.Add(1)
	if n <= 5 || n%1000 == 0 {
		cl.out.send(Msg{Type: msgLost, Err: err.Error(), Ended: int(n), Open: int(cl.open.Load())})
	}
}

func (cl *client) status(seq int) Msg {
	m := Msg{Type: msgStatus, Seq: seq, Live: int(cl.live.Load()), Open: int(cl.open.Load()), Ended: int(cl.ended.Load())}
	if seq > 0 && seq < len(cl.counts) {
		m.Count, m.First, m.Last = int(cl.counts[seq].Load()), cl.first[seq].Load(), cl.last[seq].Load()
	}
	return m
}

// latency answers a latency command: the histogram of reception − send
// over every reception of events From..To-1.
func (cl *client) latency(q Msg) Msg {
	h := &Histogram{}
	cl.mu.Lock()
	conns := cl.conns
	cl.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		for _, r := range c.recs {
			i := int(r.seq) - q.From
			if int(r.seq) < q.From || int(r.seq) >= q.To || i >= len(q.Sent) || q.Sent[i] == 0 {
				continue
			}
			h.Add(time.Duration(r.at - q.Sent[i]))
		}
		c.mu.Unlock()
	}
	return Msg{Type: msgLatency, From: q.From, To: q.To, Count: int(h.N), Hist: h}
}

func (cl *client) closeAll() {
	cl.closing.Store(true)
	cl.mu.Lock()
	conns := cl.conns
	cl.mu.Unlock()
	for _, c := range conns {
		c.ws.Close()
	}
	cl.out.flush()
}

func storeMin(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old != 0 && old <= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old >= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// readAll appends r's bytes to b, reusing b's capacity.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	if cap(b) == 0 {
		b = make([]byte, 0, 512)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// lineWriter writes one JSON line per report, from any goroutine.
type lineWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lineWriter) send(m Msg) {
	b, _ := json.Marshal(m)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(b)
	l.w.WriteByte('\n')
	l.w.Flush()
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Flush()
}
