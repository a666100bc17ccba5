package gorillaws_test

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
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"

	"github.com/scrm-dev/scrm/internal/gorillaws"
)

type msg struct {
	Type    string         `json:"type"`
	ID      string         `json:"id,omitempty"`
	Payload map[string]any `json:"payload,omitempty"`
}

// serve runs gqlgen's codegen-free test schema (subscription { name })
// behind the gorilla adapter.
func serve(t *testing.T, ws transport.Websocket) (*testserver.TestServer, string) {
	t.Helper()
	srv := testserver.New()
	if ws.Implementation == nil {
		ws.Implementation = gorillaws.Implementation{}
	}
	srv.AddTransport(ws)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
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
		if m.Type == "ka" && typ != "ka" {
			continue
		}
		if m.Type != typ {
			t.Fatalf("got %+v, want type %q", m, typ)
		}
		return m
	}
}

func send(t *testing.T, c *websocket.Conn, m msg) {
	t.Helper()
	if err := c.WriteJSON(m); err != nil {
		t.Fatal(err)
	}
}

func TestGraphQLTransportWS(t *testing.T) {
	srv, url := serve(t, transport.Websocket{})
	c := dial(t, url, "graphql-transport-ws", nil)
	send(t, c, msg{Type: "connection_init"})
	expect(t, c, "connection_ack")
	send(t, c, msg{Type: "ping"})
	expect(t, c, "pong")
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
}

func TestLegacyGraphQLWS(t *testing.T) {
	srv, url := serve(t, transport.Websocket{KeepAlivePingInterval: 50 * time.Millisecond})
	c := dial(t, url, "graphql-ws", nil)
	send(t, c, msg{Type: "connection_init"})
	expect(t, c, "connection_ack")
	expect(t, c, "ka") // the legacy protocol's keep-alive
	send(t, c, msg{Type: "start", ID: "7", Payload: map[string]any{"query": "subscription { name }"}})
	srv.SendNextSubscriptionMessage()
	if m := expect(t, c, "data"); m.ID != "7" {
		t.Fatalf("data: %+v", m)
	}
	send(t, c, msg{Type: "stop", ID: "7"})
	expect(t, c, "complete")
}

// TestInitRefusalClosesWithTheGivenCode: what connection_init's handler
// decides (an invalid token: 4403 and a reason) reaches the client as the
// close frame, through the adapter.
func TestInitRefusalClosesWithTheGivenCode(t *testing.T) {
	_, url := serve(t, transport.Websocket{
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx = transport.WithWebsocketCloseCode(ctx, 4403)
			ctx = transport.AppendCloseReason(ctx, "forbidden: the token is not valid")
			return ctx, nil, errors.New("the token is not valid")
		},
	})
	c := dial(t, url, "graphql-transport-ws", nil)
	send(t, c, msg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer nope"}})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != 4403 || ce.Text != "forbidden: the token is not valid" {
				t.Fatalf("closed with %d %q", ce.Code, ce.Text)
			}
			return
		}
		if err != nil {
			t.Fatalf("want a close frame, got %v", err)
		}
	}
}

func TestOriginIsChecked(t *testing.T) {
	allowed := func(r *http.Request) bool { return r.Header.Get("Origin") == "https://console.example.com" }
	_, url := serve(t, transport.Websocket{Implementation: gorillaws.Implementation{CheckOrigin: allowed}})
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	_, resp, err := d.Dial(url, http.Header{"Origin": {"https://evil.example.net"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a foreign origin connected: %v %v", err, resp)
	}
	dial(t, url, "graphql-transport-ws", http.Header{"Origin": {"https://console.example.com"}})

	// Without a configured check, a browser page from another host is
	// refused (never CheckOrigin: true).
	_, url = serve(t, transport.Websocket{})
	if _, resp, err := d.Dial(url, http.Header{"Origin": {"https://evil.example.net"}}); err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the default check let a foreign origin in: %v", err)
	}
}

func TestOversizedMessageClosesTheConnection(t *testing.T) {
	limit := int64(1024)
	_, url := serve(t, transport.Websocket{PayloadReadLimit: &limit})
	c := dial(t, url, "graphql-transport-ws", nil)
	send(t, c, msg{Type: "connection_init"})
	expect(t, c, "connection_ack")
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
	_, url := serve(t, transport.Websocket{
		InitFunc: func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			return transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, 4401), reason), nil, errors.New("no")
		},
	})
	c := dial(t, url, "graphql-transport-ws", nil)
	send(t, c, msg{Type: "connection_init"})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != 4401 || len(ce.Text) > 123 || !strings.HasPrefix(reason, ce.Text) || ce.Text == "" {
				t.Fatalf("closed with %d %q (%d bytes)", ce.Code, ce.Text, len(ce.Text))
			}
			return
		}
		if err != nil {
			t.Fatalf("want a close frame, got %v", err)
		}
	}
}

// TestShutdownClosesEveryConnectionGoingAway: a replica shutting down
// tells each client 1001 so it reconnects elsewhere at once.
func TestShutdownClosesEveryConnectionGoingAway(t *testing.T) {
	reg := &gorillaws.Registry{}
	_, url := serve(t, transport.Websocket{Implementation: gorillaws.Implementation{Registry: reg}})
	var clients []*websocket.Conn
	for range 3 {
		c := dial(t, url, "graphql-transport-ws", nil)
		send(t, c, msg{Type: "connection_init"})
		expect(t, c, "connection_ack")
		clients = append(clients, c)
	}
	if n := reg.CloseAll(websocket.CloseGoingAway, "server shutting down; reconnect"); n != 3 {
		t.Fatalf("closed %d connections, want 3", n)
	}
	for i, c := range clients {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				if ce.Code != websocket.CloseGoingAway || ce.Text != "server shutting down; reconnect" {
					t.Fatalf("client %d: closed %d %q", i, ce.Code, ce.Text)
				}
				break
			}
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
		}
	}
	if reg.Len() != 0 {
		t.Fatalf("%d connections still registered", reg.Len())
	}
}

// TestCloseConnectionFromAnOperation: code running in an operation's
// context (a subscription dropping a subscriber that fell behind) can
// close the whole connection with its own code and reason.
func TestCloseConnectionFromAnOperation(t *testing.T) {
	if gorillaws.CloseConnection(context.Background(), 1013, "x") {
		t.Fatal("closed a connection from a context without one")
	}
	ctxs := make(chan context.Context, 1)
	srv := testserver.New()
	srv.AddTransport(transport.Websocket{
		Implementation: gorillaws.Implementation{},
		InitFunc: func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctxs <- ctx
			return ctx, nil, nil
		},
	})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r.WithContext(gorillaws.WithConnection(r.Context())))
	}))
	t.Cleanup(hs.Close)
	c := dial(t, "ws"+strings.TrimPrefix(hs.URL, "http"), "graphql-transport-ws", nil)
	send(t, c, msg{Type: "connection_init"})
	expect(t, c, "connection_ack")
	if !gorillaws.CloseConnection(<-ctxs, 1013, "too slow: reconnect with your last cursor") {
		t.Fatal("CloseConnection found no connection")
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != 1013 || ce.Text != "too slow: reconnect with your last cursor" {
				t.Fatalf("closed %d %q", ce.Code, ce.Text)
			}
			return
		}
		if err != nil {
			t.Fatalf("want a close frame, got %v", err)
		}
	}
}
