package wsgraphql_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/testserver"
	"github.com/gorilla/websocket"

	"github.com/scrm-dev/scrm/internal/streamctx"
	"github.com/scrm-dev/scrm/internal/wsgraphql"
)

type msg struct {
	Type    string         `json:"type"`
	ID      string         `json:"id,omitempty"`
	Payload map[string]any `json:"payload,omitempty"`
}

func acceptAll(ctx context.Context, _ wsgraphql.InitPayload) (context.Context, context.CancelFunc, error) {
	return ctx, nil, nil
}

// serve runs gqlgen's codegen-free test schema (subscription { name },
// query { name }) behind ws.
func serve(t *testing.T, ws *wsgraphql.Server) (*testserver.TestServer, string) {
	t.Helper()
	if ws.Init == nil {
		ws.Init = acceptAll
	}
	srv := testserver.New()
	srv.AddTransport(ws)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { ws.CloseAll(websocket.CloseGoingAway, ""); hs.Close() })
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http")
}

func dial(t *testing.T, url, subprotocol string, header http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{subprotocol}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(url, header)
	if err != nil {
		t.Fatalf("dial %s: %v", subprotocol, err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != subprotocol {
		t.Fatalf("negotiated %q, want %q", resp.Header.Get("Sec-WebSocket-Protocol"), subprotocol)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expect reads messages until one of type typ arrives, skipping keep-alives.
func expect(t *testing.T, c *websocket.Conn, typ string) msg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var m msg
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		if (m.Type == "ka" || m.Type == "ping") && typ != m.Type {
			continue
		}
		if m.Type != typ {
			t.Fatalf("got %+v, want type %q", m, typ)
		}
		return m
	}
}

// closed reads until the server closes and returns its close frame.
func closed(t *testing.T, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		if err != nil {
			t.Fatalf("want a close frame, got %v", err)
		}
	}
}

func send(t *testing.T, c *websocket.Conn, m msg) {
	t.Helper()
	if err := c.WriteJSON(m); err != nil {
		t.Fatal(err)
	}
}

func ready(t *testing.T, url, protocol string) *websocket.Conn {
	t.Helper()
	c := dial(t, url, protocol, nil)
	send(t, c, msg{Type: "connection_init"})
	expect(t, c, "connection_ack")
	return c
}

func TestGraphQLTransportWS(t *testing.T) {
	srv, url := serve(t, &wsgraphql.Server{})
	c := ready(t, url, wsgraphql.TransportWS)
	send(t, c, msg{Type: "ping", Payload: map[string]any{"at": "now"}})
	if m := expect(t, c, "pong"); m.Payload["at"] != "now" {
		t.Fatalf("pong %+v: want the ping's payload back", m)
	}
	send(t, c, msg{Type: "subscribe", ID: "1", Payload: map[string]any{"query": "subscription { name }"}})
	for range 3 {
		srv.SendNextSubscriptionMessage()
		m := expect(t, c, "next")
		if m.ID != "1" || m.Payload["data"].(map[string]any)["name"] != "test" {
			t.Fatalf("next: %+v", m)
		}
	}
	srv.SendCompleteSubscriptionMessage()
	if m := expect(t, c, "complete"); m.ID != "1" {
		t.Fatalf("complete: %+v", m)
	}
	// A query runs once: next, complete.
	send(t, c, msg{Type: "subscribe", ID: "2", Payload: map[string]any{"query": "{ name }"}})
	if m := expect(t, c, "next"); m.ID != "2" || m.Payload["data"].(map[string]any)["name"] != "test" {
		t.Fatalf("query: %+v", m)
	}
	expect(t, c, "complete")
	// A document that does not validate: error, and the connection stays.
	send(t, c, msg{Type: "subscribe", ID: "3", Payload: map[string]any{"query": "{ nope }"}})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var e struct {
		Type, ID string
		Payload  []struct{ Message string }
	}
	if err := c.ReadJSON(&e); err != nil || e.Type != "error" || e.ID != "3" || len(e.Payload) == 0 || !strings.Contains(e.Payload[0].Message, "nope") {
		t.Fatalf("error: %+v %v", e, err)
	}
	send(t, c, msg{Type: "ping"})
	expect(t, c, "pong")
}

func TestLegacyGraphQLWS(t *testing.T) {
	srv, url := serve(t, &wsgraphql.Server{KeepAlive: 50 * time.Millisecond})
	c := dial(t, url, wsgraphql.LegacyWS, nil)
	send(t, c, msg{Type: "connection_init"})
	expect(t, c, "connection_ack")
	expect(t, c, "ka") // at once, then every interval
	expect(t, c, "ka")
	send(t, c, msg{Type: "start", ID: "7", Payload: map[string]any{"query": "subscription { name }"}})
	srv.SendNextSubscriptionMessage()
	if m := expect(t, c, "data"); m.ID != "7" {
		t.Fatalf("data: %+v", m)
	}
	send(t, c, msg{Type: "stop", ID: "7"})
	expect(t, c, "complete")
	send(t, c, msg{Type: "connection_terminate"})
	if ce := closed(t, c); ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("terminate: closed %d", ce.Code)
	}
}

// TestProtocolViolationsClose: each breach of graphql-transport-ws closes
// the connection with the code its specification gives.
func TestProtocolViolationsClose(t *testing.T) {
	_, url := serve(t, &wsgraphql.Server{InitTimeout: 100 * time.Millisecond})
	subscribe := msg{Type: "subscribe", ID: "1", Payload: map[string]any{"query": "subscription { name }"}}
	for _, tc := range []struct {
		name string
		init bool
		send []msg
		code int
	}{
		{"no connection_init in time", false, nil, wsgraphql.CloseInitTimeout},
		{"subscribe before connection_init", false, []msg{subscribe}, wsgraphql.CloseUnauthorized},
		{"a second connection_init", true, []msg{{Type: "connection_init"}}, wsgraphql.CloseTooManyInits},
		{"a subscription id in use", true, []msg{subscribe, subscribe}, wsgraphql.CloseDuplicateID},
		{"an unknown message", true, []msg{{Type: "start", ID: "1"}}, wsgraphql.CloseBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *websocket.Conn
			if tc.init {
				c = ready(t, url, wsgraphql.TransportWS)
			} else {
				c = dial(t, url, wsgraphql.TransportWS, nil)
			}
			for _, m := range tc.send {
				send(t, c, m)
			}
			if ce := closed(t, c); ce.Code != tc.code || ce.Text == "" {
				t.Fatalf("closed %d %q, want %d with a reason", ce.Code, ce.Text, tc.code)
			}
		})
	}
	c := dial(t, url, wsgraphql.TransportWS, nil)
	if err := c.WriteMessage(websocket.TextMessage, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if ce := closed(t, c); ce.Code != wsgraphql.CloseBadRequest {
		t.Fatalf("garbage: closed %d", ce.Code)
	}
}

// TestInitRefusalClosesWithTheGivenCode: what Init decides (4403 and a
// reason) reaches the client as the close frame; the legacy protocol
// gets connection_error first.
func TestInitRefusalClosesWithTheGivenCode(t *testing.T) {
	_, url := serve(t, &wsgraphql.Server{
		Init: func(ctx context.Context, p wsgraphql.InitPayload) (context.Context, context.CancelFunc, error) {
			return nil, nil, &wsgraphql.CloseError{Code: 4403, Reason: "forbidden: the token is not valid"}
		},
	})
	c := dial(t, url, wsgraphql.TransportWS, nil)
	send(t, c, msg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer nope"}})
	if ce := closed(t, c); ce.Code != 4403 || ce.Text != "forbidden: the token is not valid" {
		t.Fatalf("closed with %d %q", ce.Code, ce.Text)
	}
	c = dial(t, url, wsgraphql.LegacyWS, nil)
	send(t, c, msg{Type: "connection_init"})
	if m := expect(t, c, "connection_error"); m.Payload["message"] != "forbidden: the token is not valid" {
		t.Fatalf("connection_error %+v", m)
	}
	if ce := closed(t, c); ce.Code != 4403 {
		t.Fatalf("closed with %d", ce.Code)
	}
}

// TestConnectionEndsWithItsContext: when the context Init returned ends
// (a token's expiry), the connection closes with the cause's code.
func TestConnectionEndsWithItsContext(t *testing.T) {
	_, url := serve(t, &wsgraphql.Server{
		Init: func(ctx context.Context, _ wsgraphql.InitPayload) (context.Context, context.CancelFunc, error) {
			ctx, cancel := context.WithTimeoutCause(ctx, 100*time.Millisecond, &wsgraphql.CloseError{Code: 4401, Reason: "expired"})
			return ctx, cancel, nil
		},
	})
	c := ready(t, url, wsgraphql.TransportWS)
	if ce := closed(t, c); ce.Code != 4401 || ce.Text != "expired" {
		t.Fatalf("closed %d %q", ce.Code, ce.Text)
	}
}

// TestDisconnectFromAnOperation: a resolver (a subscriber too slow to
// keep up) can close its whole connection with a code and reason.
func TestDisconnectFromAnOperation(t *testing.T) {
	ctxs := make(chan context.Context, 1)
	_, url := serve(t, &wsgraphql.Server{
		Init: func(ctx context.Context, _ wsgraphql.InitPayload) (context.Context, context.CancelFunc, error) {
			ctxs <- ctx
			return ctx, nil, nil
		},
	})
	c := ready(t, url, wsgraphql.TransportWS)
	if !streamctx.Disconnect(<-ctxs, "too slow: reconnect with your last cursor") {
		t.Fatal("no way to disconnect in the connection's context")
	}
	if ce := closed(t, c); ce.Code != 1013 || ce.Text != "too slow: reconnect with your last cursor" {
		t.Fatalf("closed %d %q", ce.Code, ce.Text)
	}
}

// TestSilentClientsAreDropped: a client that answers nothing, not even
// WebSocket pings, is gone after three keep-alive intervals.
func TestSilentClientsAreDropped(t *testing.T) {
	ws := &wsgraphql.Server{KeepAlive: 30 * time.Millisecond}
	_, url := serve(t, ws)
	c := ready(t, url, wsgraphql.TransportWS)
	c.SetPingHandler(func(string) error { return nil }) // a dead peer answers no ping
	if ce := closed(t, c); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("closed %d %q", ce.Code, ce.Text)
	}
	for deadline := time.Now().Add(5 * time.Second); ws.Len() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", ws.Len())
		}
	}
}

func TestOriginIsChecked(t *testing.T) {
	allowed := func(r *http.Request) bool { return r.Header.Get("Origin") == "https://console.example.com" }
	_, url := serve(t, &wsgraphql.Server{CheckOrigin: allowed})
	d := websocket.Dialer{Subprotocols: []string{wsgraphql.TransportWS}}
	_, resp, err := d.Dial(url, http.Header{"Origin": {"https://evil.example.net"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign origin connected: %v %v", err, resp)
	}
	dial(t, url, wsgraphql.TransportWS, http.Header{"Origin": {"https://console.example.com"}})

	// Without a configured check, a browser page from another host is
	// refused (never CheckOrigin: true).
	_, url = serve(t, &wsgraphql.Server{})
	if _, resp, err := d.Dial(url, http.Header{"Origin": {"https://evil.example.net"}}); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the default check let a foreign origin in: %v", err)
	}
}

func TestOversizedMessageClosesTheConnection(t *testing.T) {
	_, url := serve(t, &wsgraphql.Server{MaxMessageBytes: 1024})
	c := ready(t, url, wsgraphql.TransportWS)
	// The server may close before the client has finished writing; what
	// matters is that the connection ends.
	_ = c.WriteJSON(msg{Type: "subscribe", ID: "1", Payload: map[string]any{"query": "subscription { name }" + strings.Repeat(" ", 4096)}})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the connection stayed open after an oversized message")
		}
		if ce := (*websocket.CloseError)(nil); errors.As(err, &ce) && ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("closed with %d, want %d (message too big)", ce.Code, websocket.CloseMessageTooBig)
		}
		return // closed: by a close frame, or reset while the client still wrote
	}
}

func TestCloseReasonsFitAControlFrame(t *testing.T) {
	reason := strings.Repeat("原因", 50) // 300 bytes
	_, url := serve(t, &wsgraphql.Server{
		Init: func(ctx context.Context, _ wsgraphql.InitPayload) (context.Context, context.CancelFunc, error) {
			return nil, nil, &wsgraphql.CloseError{Code: 4401, Reason: reason}
		},
	})
	c := dial(t, url, wsgraphql.TransportWS, nil)
	send(t, c, msg{Type: "connection_init"})
	ce := closed(t, c)
	if ce.Code != 4401 || len(ce.Text) > 123 || ce.Text == "" || !strings.HasPrefix(reason, ce.Text) {
		t.Fatalf("closed with %d %q (%d bytes)", ce.Code, ce.Text, len(ce.Text))
	}
}

// TestShutdownClosesEveryConnectionGoingAway: a replica shutting down
// tells each client 1001 so it reconnects elsewhere at once.
func TestShutdownClosesEveryConnectionGoingAway(t *testing.T) {
	ws := &wsgraphql.Server{}
	_, url := serve(t, ws)
	var clients []*websocket.Conn
	for range 3 {
		clients = append(clients, ready(t, url, wsgraphql.TransportWS))
	}
	if n := ws.CloseAll(websocket.CloseGoingAway, "server shutting down; reconnect"); n != 3 {
		t.Fatalf("closed %d connections, want 3", n)
	}
	for i, c := range clients {
		if ce := closed(t, c); ce.Code != websocket.CloseGoingAway || ce.Text != "server shutting down; reconnect" {
			t.Fatalf("client %d: closed %d %q", i, ce.Code, ce.Text)
		}
	}
	if ws.Len() != 0 {
		t.Fatalf("%d connections still registered", ws.Len())
	}
}
