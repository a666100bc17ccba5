package e2e_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/internal/auth"
)

type wsMsg struct {
	Type    string         `json:"type"`
	ID      string         `json:"id,omitempty"`
	Payload map[string]any `json:"payload,omitempty"`
}

func wsDial(t *testing.T, e *env, protocol string) *websocket.Conn {
	t.Helper()
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	d := websocket.Dialer{Subprotocols: []string{protocol}, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c
}

// wsNext reads until a message of type typ, skipping keep-alives.
func wsNext(t *testing.T, c *websocket.Conn, typ string) wsMsg {
	t.Helper()
	for {
		var m wsMsg
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == "ka" || m.Type == "ping" || m.Type == "pong" {
			continue
		}
		if m.Type != typ {
			t.Fatalf("got %+v, want %s", m, typ)
		}
		return m
	}
}

// wsClosed reads until the server closes and returns its close frame.
func wsClosed(t *testing.T, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
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

// TestGraphQLOverWebSocket runs an operation over each sub-protocol with
// the token in connection_init: the same authorization applies (agent1's
// phones masked) as over HTTP.
func TestGraphQLOverWebSocket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "agent1")
		masked := regexp.MustCompile(`^1\d{2}\*{4}\d{4}$`)
		query := map[string]any{"query": `{ me { login } customers(first: 20) { edges { node { phone } } } }`}
		for protocol, start := range map[string]string{"graphql-transport-ws": "subscribe", "graphql-ws": "start"} {
			t.Run(protocol, func(t *testing.T) {
				c := wsDial(t, e, protocol)
				if err := c.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + tok}}); err != nil {
					t.Fatal(err)
				}
				wsNext(t, c, "connection_ack")
				if err := c.WriteJSON(wsMsg{Type: start, ID: "1", Payload: query}); err != nil {
					t.Fatal(err)
				}
				data := "next"
				if protocol == "graphql-ws" {
					data = "data"
				}
				m := wsNext(t, c, data)
				d, _ := m.Payload["data"].(map[string]any)
				if me, _ := d["me"].(map[string]any); me["login"] != "agent1" {
					t.Fatalf("payload %+v", m.Payload)
				}
				phones := 0
				for _, edge := range d["customers"].(map[string]any)["edges"].([]any) {
					p, _ := edge.(map[string]any)["node"].(map[string]any)["phone"].(string)
					if p == "" {
						continue
					}
					phones++
					if !masked.MatchString(p) {
						t.Fatalf("agent1 read phone %q over WebSocket", p)
					}
				}
				if phones == 0 {
					t.Fatal("no phones to check")
				}
				wsNext(t, c, "complete")
			})
		}
	})
}

func TestWebSocketSignIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		t.Run("no token: 4401", func(t *testing.T) {
			c := wsDial(t, e, "graphql-transport-ws")
			_ = c.WriteJSON(wsMsg{Type: "connection_init"})
			if ce := wsClosed(t, c); ce.Code != 4401 || !strings.HasPrefix(ce.Text, "unauthorized") {
				t.Fatalf("closed %d %q", ce.Code, ce.Text)
			}
		})
		t.Run("a forged token: 4401", func(t *testing.T) {
			other, _ := auth.NewIssuer(strings.Repeat("x", 40), "scrm")
			forged, _ := other.Issue(auth.Staff{TenantID: e.tenantID(t, "demo"), StaffID: 1}, time.Hour)
			c := wsDial(t, e, "graphql-transport-ws")
			_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"token": forged}})
			if ce := wsClosed(t, c); ce.Code != 4401 || !strings.Contains(ce.Text, "signature") {
				t.Fatalf("closed %d %q", ce.Code, ce.Text)
			}
		})
		t.Run("a resigned staff member: 4403", func(t *testing.T) {
			e := fresh(t, e.backend)
			tok := e.token(t, "demo", "agent2")
			e.st.Client.Staff.Update().Where(staff.TenantID(e.tenantID(t, "demo")), staff.Login("agent2")).
				SetStatus(staff.StatusResigned).ExecX(sys())
			c := wsDial(t, e, "graphql-transport-ws")
			_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + tok}})
			if ce := wsClosed(t, c); ce.Code != 4403 || !strings.HasPrefix(ce.Text, "forbidden") {
				t.Fatalf("closed %d %q", ce.Code, ce.Text)
			}
		})
		t.Run("the connection ends with its token", func(t *testing.T) {
			s := e.st.Client.Staff.Query().Where(staff.TenantID(e.tenantID(t, "demo")), staff.Login("agent1")).OnlyX(sys())
			short, _ := e.iss.Issue(auth.Staff{TenantID: s.TenantID, StaffID: s.ID}, time.Second)
			c := wsDial(t, e, "graphql-transport-ws")
			_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + short}})
			wsNext(t, c, "connection_ack")
			if ce := wsClosed(t, c); ce.Code != 4401 || !strings.Contains(ce.Text, "expired") {
				t.Fatalf("closed %d %q", ce.Code, ce.Text)
			}
		})
		t.Run("a page from another origin is refused", func(t *testing.T) {
			srv := httptest.NewServer(e.handler)
			defer srv.Close()
			d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
			_, resp, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql", http.Header{"Origin": {"https://evil.example.net"}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("a foreign page connected: %v", err)
			}
		})
	})
}

// TestGraphQLOverServerSentEvents: a client that cannot open WebSockets
// streams the same operation as server-sent events, signed in with the
// Authorization header, under the same authorization.
func TestGraphQLOverServerSentEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		srv := httptest.NewServer(e.handler)
		defer srv.Close()
		body := strings.NewReader(`{"query":"{ me { login } customers(first: 5) { edges { node { phone } } } }"}`)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+e.token(t, "demo", "agent1"))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		stream := string(raw)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), stream)
		}
		if !strings.Contains(stream, "event: next") || !strings.Contains(stream, `"login":"agent1"`) || !strings.Contains(stream, "event: complete") {
			t.Fatalf("stream: %s", stream)
		}
		if !regexp.MustCompile(`"phone":"1\d{2}\*{4}\d{4}"`).MatchString(stream) || regexp.MustCompile(`"phone":"1\d{10}"`).MatchString(stream) {
			t.Fatalf("phones not masked in the stream: %s", stream)
		}

		req, _ = http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(`{"query":"{ me { login } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		resp, err = srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("an unsigned stream: %d", resp.StatusCode)
		}
	})
}
