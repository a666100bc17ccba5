package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeServer speaks just enough graphql-transport-ws: it acknowledges a
// connection_init carrying the token, takes one subscribe, and lets the
// test push frames to every subscription.
type fakeServer struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	subs  []*websocket.Conn
	pongs chan string
}

func newFakeServer(t *testing.T, token string) *fakeServer {
	f := &fakeServer{t: t, pongs: make(chan string, 100)}
	up := websocket.Upgrader{Subprotocols: []string{"graphql-transport-ws"}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		var init struct {
			Type    string
			Payload map[string]string
		}
		if err := c.ReadJSON(&init); err != nil || init.Type != "connection_init" || init.Payload["authorization"] != "Bearer "+token {
			t.Errorf("connection_init %+v %v", init, err)
			c.Close()
			return
		}
		_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ka"}`)) // skipped before the ack
		_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"connection_ack"}`))
		var sub struct {
			ID, Type string
			Payload  struct {
				Query     string
				Variables map[string]any
			}
		}
		if err := c.ReadJSON(&sub); err != nil || sub.Type != "subscribe" || sub.Payload.Query == "" || sub.Payload.Variables["ids"] == nil {
			t.Errorf("subscribe %+v %v", sub, err)
		}
		f.mu.Lock()
		f.subs = append(f.subs, c)
		f.mu.Unlock()
		go func() {
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					return
				}
				f.pongs <- string(b)
			}
		}()
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) push(n int, frame string) {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		f.mu.Lock()
		subscribed := len(f.subs)
		f.mu.Unlock()
		if subscribed >= n {
			break
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d subscriptions, want %d", subscribed, n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.subs[:n] {
		if err := c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			f.t.Fatal(err)
		}
	}
}

func event(marker string, seq int) string {
	return fmt.Sprintf(`{"payload":{"data":{"ticketUpdated":{"cursor":"%d","kind":"UPDATED","ticket":{"id":"VGlja2V0OjA","title":"%s%d","status":"NEW"},"at":"2026-01-01T00:00:00Z"}}},"id":"1","type":"next"}`, seq, marker, seq)
}

// TestLoadProcess drives one load process through its commands against a
// fake server: connect, receptions counted per event (done when every
// subscription has one, live when each has had any), ping answered,
// status, latency against given send times, quit.
func TestLoadProcess(t *testing.T) {
	const conns, marker = 7, "bench-rt 1.1 #"
	f := newFakeServer(t, "tok")
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exited := make(chan error, 1)
	go func() {
		exited <- RunClient(ctx, ClientOptions{
			URL: "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/graphql", Token: "tok", Conns: conns,
			Query:     "subscription($ids: [ID!]) { ticketUpdated(filter: {ticketIDs: $ids}) { ticket { title } } }",
			Variables: map[string]any{"ids": []string{"VGlja2V0OjA"}}, Marker: marker, DialConcurrency: 3,
		}, inR, outW)
		outW.Close()
	}()
	dec := json.NewDecoder(outR)
	send := func(m Msg) {
		b, _ := json.Marshal(m)
		if _, err := inW.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
	next := func(types ...string) Msg {
		t.Helper()
		var m Msg
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("waiting for %v: %v", types, err)
		}
		for _, typ := range types {
			if m.Type == typ {
				return m
			}
		}
		t.Fatalf("got %+v, want %v", m, types)
		return m
	}

	if m := next(msgReady); m.PID == 0 {
		t.Error("ready without a pid")
	}
	before := time.Now().UnixNano()
	send(Msg{Cmd: cmdConnect})
	c := next(msgConnected)
	if c.OK != conns || c.Failed != 0 || c.FirstDial < before || c.LastAck < c.FirstDial || c.LastAck > time.Now().UnixNano() {
		t.Fatalf("connected %+v", c)
	}

	sent1 := time.Now().UnixNano()
	f.push(conns, event(marker, 1))
	done, live := next(msgDone, msgLive), next(msgDone, msgLive)
	if done.Type == msgLive {
		done, live = live, done
	}
	if done.Seq != 1 || done.Count != conns || done.First < sent1 || done.Last < done.First || live.Live != conns {
		t.Fatalf("done %+v live %+v", done, live)
	}

	f.push(1, `{"payload":{},"type":"ping"}`)
	select {
	case p := <-f.pongs:
		if p != `{"type":"pong"}` {
			t.Errorf("answered ping with %s", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ping not answered")
	}

	// Event 2 reaches only some; frames without the marker are not counted.
	sent2 := time.Now().UnixNano()
	f.push(conns-1, event(marker, 2))
	f.push(conns, event("another run #", 3))
	f.push(conns, `{"type":"ka"}`)
	var st Msg
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		send(Msg{Cmd: cmdStatus, Seq: 2})
		if st = next(msgStatus); st.Count == conns-1 || time.Now().After(deadline) {
			break
		}
	}
	if st.Seq != 2 || st.Count != conns-1 || st.Live != conns || st.Open != conns || st.Ended != 0 || st.First < sent2 {
		t.Fatalf("status %+v", st)
	}

	send(Msg{Cmd: cmdLatency, From: 1, To: 4, Sent: []int64{sent1, sent2, time.Now().UnixNano()}})
	lat := next(msgLatency)
	if lat.Count != 2*conns-1 || lat.Hist == nil || lat.Hist.N != uint64(2*conns-1) || lat.Hist.Max > time.Since(time.Unix(0, sent1)).Microseconds() {
		t.Fatalf("latency %+v", lat)
	}

	// The server ends one subscription: reported as lost.
	f.push(1, `{"id":"1","type":"complete"}`)
	if l := next(msgLost); l.Ended != 1 || !strings.Contains(l.Err, "complete") {
		t.Errorf("lost %+v", l)
	}

	send(Msg{Cmd: cmdQuit})
	if err := <-exited; err != nil {
		t.Fatal(err)
	}
}

// TestLoadProcessReportsFailedConnections: connections the server
// refuses are counted, with an error to show.
func TestLoadProcessReportsFailedConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go func() {
		_ = RunClient(context.Background(), ClientOptions{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Conns: 3,
			Query: "subscription { x }", Marker: "m #"}, inR, outW)
		outW.Close()
	}()
	dec := json.NewDecoder(outR)
	var m Msg
	_ = dec.Decode(&m) // ready
	_, _ = inW.Write([]byte(`{"cmd":"connect"}` + "\n"))
	if err := dec.Decode(&m); err != nil || m.Type != msgConnected || m.OK != 0 || m.Failed != 3 || !strings.Contains(m.Err, "bad handshake") {
		t.Fatalf("%+v %v", m, err)
	}
	inW.Close()
}
