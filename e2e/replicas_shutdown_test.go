package e2e_test

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestShutdownSendsClientsElsewhere: told to stop (SIGTERM), a replica
// closes its WebSockets with 1001 (going away) so clients reconnect to
// another replica, ends its event streams without `complete` (so SSE
// clients reconnect with Last-Event-ID), and exits by itself.
func TestShutdownSendsClientsElsewhere(t *testing.T) {
	c := newCluster(t)
	replica, addr := c.serve("replica")
	token := c.token("demo", "admin")

	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 10 * time.Second}
	ws, _, err := d.Dial("ws://"+addr+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_ = ws.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + token}})
	wsNext(t, ws, "connection_ack")
	_ = ws.WriteJSON(wsMsg{Type: "subscribe", ID: "t", Payload: map[string]any{"query": ticketFeedQuery, "variables": map[string]any{}}})

	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql",
		strings.NewReader(`{"query":"subscription { ticketUpdated { cursor } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	if line, err := stream.ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
		t.Fatalf("the event stream did not open: %q %v", line, err)
	}

	replica.stop() // SIGTERM; fails the test unless it exits cleanly by itself
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.CloseGoingAway {
				t.Fatalf("WebSocket closed with %d %q, want 1001", ce.Code, ce.Text)
			}
			break
		}
		if err != nil {
			t.Fatalf("WebSocket ended without a close frame: %v", err)
		}
	}
	rest, _ := io.ReadAll(stream)
	if strings.Contains(string(rest), "event: complete") {
		t.Fatalf("the event stream completed on shutdown (clients would not resume): %q", rest)
	}
	if replica.err != nil {
		t.Fatalf("the replica did not exit cleanly: %v", replica.err)
	}
}
