package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRedisOutageLastEventStillArrives: an event whose publish was lost
// (numbered while Redis was down) must still reach a subscriber when no
// later change follows: an agent looking at a quiet tenant's tickets
// should not miss the last change until somebody makes another one.
//
// A relay numbers the event on its poll while Redis is down and its
// publish fails ("realtime: publish" in its log); Redis comes back and the
// client's connection survives. Nothing is published afterwards, so no
// gap before a later live event can reveal it: the hub's feed finds it by
// comparing its last event with the tenant's newest number (the same
// holds for a relay killed between numbering events and publishing them).
func TestRedisOutageLastEventStillArrives(t *testing.T) {
	c := newCluster(t)
	w := c.worker("worker")
	a, addr := c.serve("replica A")
	token := c.token("demo", "admin")
	g := &gqlClient{http: &http.Client{Timeout: 30 * time.Second}, addr: addr, token: token}
	feed, err := openTicketFeed("A", addr, token, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(feed.close)
	change := func(title string) {
		t.Helper()
		if _, err := g.do(t.Context(), `mutation($t: String!) { createTicket(input: {title: $t}) { id } }`, map[string]any{"t": title}); err != nil {
			t.Fatal(err)
		}
	}
	next := func(what string) ticketEventOnWire {
		t.Helper()
		select {
		case it := <-feed.items:
			if it.err != nil {
				t.Fatalf("%s: %v", what, it.err)
			}
			return it.ev
		case <-time.After(idleLimit):
			t.Fatalf("%s: no event for %s; the event log: %+v", what, idleLimit, c.eventLog("demo"))
			panic("unreachable")
		}
	}

	change(changeTitle("quiet", 0))
	if ev := next("the first change"); ev.Cursor != 1 || ev.Title != changeTitle("quiet", 0) {
		t.Fatalf("first event %+v", ev)
	}
	c.killRedis()
	change(changeTitle("quiet", 1))
	// A relay's poll numbers it without Redis, and gives up publishing it.
	for deadline := time.Now().Add(idleLimit); !strings.Contains(a.out.String()+w.out.String(), `"msg":"realtime: publish"`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no relay failed to publish the second change; the event log: %+v", c.eventLog("demo"))
		}
	}
	c.startRedis()
	if ev := next("the change made while Redis was down"); ev.Cursor != 2 || ev.Title != changeTitle("quiet", 1) {
		t.Fatalf("second event %+v", ev)
	}
}
