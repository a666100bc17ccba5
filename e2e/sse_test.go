package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sseEvent is one server-sent event.
type sseEvent struct{ id, name, data string }

// sseStream opens a GraphQL subscription over server-sent events.
func sseStream(t *testing.T, ctx context.Context, url, token, query, lastEventID string) *bufio.Reader {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return bufio.NewReader(resp.Body)
}

// nextSSE reads the next event, skipping comments (keep-alives).
func nextSSE(t *testing.T, r *bufio.Reader) sseEvent {
	t.Helper()
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// TestSubscriptionOverServerSentEvents: each event of a subscription
// carries its cursor as the SSE id, even when the client did not select
// cursor, and a client reconnecting with Last-Event-ID gets what it
// missed, in order, then live events.
func TestSubscriptionOverServerSentEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		startRelay(t, e)
		srv := httptest.NewServer(e.handler)
		defer srv.Close()
		admin := e.token(t, "demo", "admin")
		const query = `subscription { ticketUpdated { kind ticket { title } } }`
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		first, stop := context.WithCancel(ctx)
		// From the start of the (empty) log: no need to wait until live.
		stream := sseStream(t, first, srv.URL, admin, query, "0")

		title := func(s string) {
			e.post(t, admin, `mutation($t: String!) { createTicket(input: {title: $t}) { id } }`, map[string]any{"t": s}).ok(t)
		}
		title("SSE 一")
		ev := nextSSE(t, stream)
		if ev.name != "next" || ev.id == "" || !strings.Contains(ev.data, `"title":"SSE 一"`) || !strings.Contains(ev.data, `"kind":"CREATED"`) {
			t.Fatalf("first event %+v", ev)
		}
		stop()

		title("SSE 二")
		title("SSE 三")
		resumed := sseStream(t, ctx, srv.URL, admin, query, ev.id)
		last, _ := strconv.Atoi(ev.id)
		for _, want := range []string{"SSE 二", "SSE 三"} {
			got := nextSSE(t, resumed)
			n, _ := strconv.Atoi(got.id)
			if got.name != "next" || n != last+1 || !strings.Contains(got.data, want) {
				t.Fatalf("after %d got %+v, want %s with the next cursor", last, got, want)
			}
			last = n
		}
		title("SSE 四")
		if got := nextSSE(t, resumed); !strings.Contains(got.data, "SSE 四") {
			t.Fatalf("live after the replay: %+v", got)
		}

		// GET with the operation in the query string works the same way.
		getReq, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/graphql?query="+url.QueryEscape(query), nil)
		getReq.Header.Set("Accept", "text/event-stream")
		getReq.Header.Set("Authorization", "Bearer "+admin)
		getReq.Header.Set("Last-Event-ID", strconv.Itoa(last))
		getResp, err := http.DefaultClient.Do(getReq)
		if err != nil {
			t.Fatal(err)
		}
		defer getResp.Body.Close()
		title("SSE 五")
		got := nextSSE(t, bufio.NewReader(getResp.Body))
		if n, _ := strconv.Atoi(got.id); n != last+1 || !strings.Contains(got.data, "SSE 四") {
			t.Fatalf("over GET after %d: %+v", last, got)
		}

		// A cursor that is not one is refused like the after argument.
		bad := nextSSE(t, sseStream(t, ctx, srv.URL, admin, query, "yesterday"))
		if !strings.Contains(bad.data, `"code":"BAD_USER_INPUT"`) || !strings.Contains(bad.data, `"field":"after"`) {
			t.Fatalf("a bad Last-Event-ID: %+v", bad)
		}
	})
}
