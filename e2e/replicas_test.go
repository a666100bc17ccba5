package e2e_test

// Process-level tests of live updates: the real binary, as separate
// `scrm serve` replicas and a `scrm worker` on one MariaDB database and one
// Redis, each process with its own relay (internal/realtime). A client
// that loses its replica, or whose replica loses Redis, resumes with its
// last cursor and must receive every change exactly once, in order.
//
// These run on MariaDB only: the processes share one database, which the
// embedded SQLite default cannot be. They build ./cmd/scrm and need the
// redis-server binary (required, like MariaDB, under CI=true).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// idleLimit is how long a test waits for the next event before it fails.
// It only bounds a hung test: nothing here measures time.
const idleLimit = 30 * time.Second

// changeTitle names change i: it creates the ticket with this title, so
// the one event of change i (CREATED) is known by its ticket's title.
func changeTitle(prefix string, i int) string { return fmt.Sprintf("%s-%04d", prefix, i) }

// ticketWriter makes n changes one after another through a replica's
// GraphQL API: change i is createTicket titled changeTitle(prefix, i).
// One at a time, each committed before the next starts, so the relays
// number their events in the order of the changes.
type ticketWriter struct {
	made atomic.Int64 // changes committed so far
	done chan error   // receives once, when it has made all or failed
}

// startTicketWriter starts the writer; before(ctx, i), when set, runs
// before change i (a test pauses the writer with it).
func startTicketWriter(t *testing.T, g *gqlClient, prefix string, n int, before func(ctx context.Context, i int) error) *ticketWriter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &ticketWriter{done: make(chan error, 1)}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		w.done <- w.run(ctx, g, prefix, n, before)
	}()
	t.Cleanup(func() { cancel(); <-finished })
	return w
}

func (w *ticketWriter) run(ctx context.Context, g *gqlClient, prefix string, n int, before func(context.Context, int) error) error {
	for i := range n {
		if before != nil {
			if err := before(ctx, i); err != nil {
				return err
			}
		}
		_, err := g.do(ctx, `mutation($t: String!) { createTicket(input: {title: $t}) { id } }`,
			map[string]any{"t": changeTitle(prefix, i)})
		if err != nil {
			return fmt.Errorf("change %d (%s): %w", i, changeTitle(prefix, i), err)
		}
		w.made.Add(1)
	}
	return nil
}

// ticketStream is what one client received, over all its connections.
type ticketStream struct {
	events  []ticketEventOnWire
	from    map[string]int // events received per replica
	resumes []string       // why each connection after the first was opened
}

func (s *ticketStream) last() int64 {
	if len(s.events) == 0 {
		return 0
	}
	return s.events[len(s.events)-1].Cursor
}

// check asserts that the events received are the cursors 1..n, each
// exactly once, in order (each the previous plus one, across every
// connection), and that the event with cursor k is change k-1's CREATED.
func (s *ticketStream) check(t *testing.T, prefix string, n int) {
	t.Helper()
	var problems []string
	seen := map[int64]int{}
	prev := int64(0)
	for i, ev := range s.events {
		seen[ev.Cursor]++
		if want := int64(i + 1); ev.Cursor != want {
			problems = append(problems, fmt.Sprintf("event #%d has cursor %d after %d, want %d", i+1, ev.Cursor, prev, want))
		}
		prev = ev.Cursor
		if want := changeTitle(prefix, i); ev.Title != want || ev.Kind != "CREATED" {
			problems = append(problems, fmt.Sprintf("event #%d (cursor %d) is %s of %q, want CREATED of %q", i+1, ev.Cursor, ev.Kind, ev.Title, want))
		}
	}
	var missing, repeated []string
	for c := int64(1); c <= int64(n); c++ {
		switch seen[c] {
		case 0:
			missing = append(missing, fmt.Sprint(c))
		case 1:
		default:
			repeated = append(repeated, fmt.Sprintf("%d (×%d)", c, seen[c]))
		}
	}
	if len(s.events) != n {
		problems = append(problems, fmt.Sprintf("received %d events, want %d", len(s.events), n))
	}
	if len(problems) == 0 && len(missing) == 0 && len(repeated) == 0 {
		return
	}
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("… and %d more", len(problems)-20))
	}
	t.Errorf("the stream lost, repeated or reordered changes (connections: %v, resumed: %q)\nmissing cursors: %s\nrepeated cursors: %s\n%s",
		s.from, s.resumes, abbreviate(missing), abbreviate(repeated), strings.Join(problems, "\n"))
}

func abbreviate(list []string) string {
	if len(list) > 40 {
		return strings.Join(list[:40], " ") + fmt.Sprintf(" … (%d in all)", len(list))
	}
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, " ")
}

// checkLog asserts that the tenant's event log holds n events, numbered
// 1..n once each.
func checkLog(t *testing.T, c *cluster, n int) {
	t.Helper()
	want := tenantLog{Events: int64(n), Numbered: int64(n), Distinct: int64(n), MinSeq: 1, MaxSeq: int64(n)}
	if got := c.eventLog("demo"); got != want {
		t.Errorf("demo's event log: %+v, want %+v", got, want)
	}
}

// TestReplicaFailoverKeepsEveryTicketEvent: two `scrm serve` replicas and
// a worker. A client subscribes on replica B while 1,000 changes are made
// through replica A; when it has received 300 events, B is killed
// (SIGKILL: no goodbye, its relay possibly mid-transaction). The client
// resumes on A after the last cursor it received (once 50 more changes
// were made, so that A first replays them), and in the end has
// received every change exactly once, in order, with cursors 1..1000 each
// the previous plus one.
func TestReplicaFailoverKeepsEveryTicketEvent(t *testing.T) {
	const changes, killAt, reconnectLag = 1000, 300, 50
	c := newCluster(t)
	c.worker("worker")
	_, addrA := c.serve("replica A")
	b, addrB := c.serve("replica B")
	token := c.token("demo", "admin") // sees every ticket
	addrs := map[string]string{"A": addrA, "B": addrB}
	open := func(replica string, after int64) *ticketFeed {
		t.Helper()
		f, err := openTicketFeed(replica, addrs[replica], token, after)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.close)
		return f
	}

	// From the start of the log (seeding writes no events), so nothing is
	// missed while the subscription becomes live.
	feed := open("B", 0)
	w := startTicketWriter(t, &gqlClient{http: &http.Client{Timeout: 30 * time.Second}, addr: addrA, token: token},
		"replica", changes, nil)
	s := &ticketStream{from: map[string]int{}}
	writing := w.done
	idle := time.NewTimer(idleLimit)
	defer idle.Stop()
	for len(s.events) < changes {
		select {
		case it := <-feed.items:
			if it.err == nil {
				s.events = append(s.events, it.ev)
				s.from[feed.replica]++
				idle.Reset(idleLimit)
				if feed.replica == "B" && len(s.events) == killAt {
					b.kill()
					t.Logf("killed replica B after cursor %d; %d changes made", s.last(), w.made.Load())
				}
				continue
			}
			feed.close()
			switch {
			case feed.replica == "B" && b.exited():
				// Resume on A once at least reconnectLag more changes
				// were made, as a client backing off would: A replays
				// those from the log, then goes on live.
				target := min(w.made.Load()+reconnectLag, changes)
				for w.made.Load() < target && len(writing) == 0 { // (a writer's failure is in writing)
					time.Sleep(10 * time.Millisecond)
				}
				s.resumes = append(s.resumes, fmt.Sprintf("on A after %d, %d changes made: B is gone (%v)", s.last(), w.made.Load(), it.err))
				feed = open("A", s.last())
			case errors.Is(it.err, errFeedEnded):
				s.resumes = append(s.resumes, fmt.Sprintf("on %s after %d: %v", feed.replica, s.last(), it.err))
				feed = open(feed.replica, s.last())
			default:
				t.Fatalf("after cursor %d: %v", s.last(), it.err)
			}
		case err := <-writing:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			writing = nil
		case <-idle.C:
			t.Fatalf("no event for %s on replica %s after cursor %d (%d received, %d changes made)",
				idleLimit, feed.replica, s.last(), len(s.events), w.made.Load())
		}
	}
	t.Logf("received %d events: %v; resumed %q", len(s.events), s.from, s.resumes)
	s.check(t, "replica", changes)
	if s.from["B"] < killAt || s.from["A"] == 0 {
		t.Errorf("events per replica %v: want the first %d from B, the rest from A", s.from, killAt)
	}
	if writing != nil {
		if err := <-writing; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	checkLog(t, c, changes)
}

// TestRedisRestartKeepsEveryTicketEvent: one `scrm serve` and a worker.
// While a client follows ticketUpdated and changes are made one after
// another, the Redis server is killed, changes go on without it, and a new,
// empty Redis starts on the same port.
//
// Expected: mutations do not need Redis (the change and its event commit
// in the database; only the relay's wake-up kick is lost). Relays keep
// numbering events on their poll; what they publish while Redis is down
// is lost, and the go-redis clients reconnect and resubscribe to the new
// server. The replica's hub notices the gap at the next live event and
// fills it from the event log. The client's WebSocket may end during the
// outage; then it resumes with its last cursor, as any client does. In
// every case the client receives every change exactly once, in order.
func TestRedisRestartKeepsEveryTicketEvent(t *testing.T) {
	const changes, outageAt, duringOutage = 400, 150, 20
	c := newCluster(t)
	c.worker("worker")
	_, addr := c.serve("replica A")
	token := c.token("demo", "admin")

	// The writer pauses at change outageAt until Redis is down, makes
	// duringOutage changes without Redis, then waits until it is back.
	atOutage, outageDone := make(chan struct{}), make(chan struct{})
	down, up := make(chan struct{}), make(chan struct{})
	wait := func(ctx context.Context, ch <-chan struct{}) error {
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	before := func(ctx context.Context, i int) error {
		switch i {
		case outageAt:
			close(atOutage)
			return wait(ctx, down)
		case outageAt + duringOutage:
			close(outageDone)
			return wait(ctx, up)
		}
		return nil
	}

	open := func(after int64) (*ticketFeed, error) {
		f, err := openTicketFeed("A", addr, token, after)
		if err == nil {
			t.Cleanup(f.close)
		}
		return f, err
	}
	feed, err := open(0)
	if err != nil {
		t.Fatal(err)
	}
	w := startTicketWriter(t, &gqlClient{http: &http.Client{Timeout: 30 * time.Second}, addr: addr, token: token},
		"redis", changes, before)
	s := &ticketStream{from: map[string]int{}}
	writing, startOutage, endOutage := w.done, (<-chan struct{})(atOutage), (<-chan struct{})(outageDone)
	idle := time.NewTimer(idleLimit)
	defer idle.Stop()
	var outage time.Time
	for len(s.events) < changes {
		select {
		case it := <-feed.items:
			if it.err == nil {
				s.events = append(s.events, it.ev)
				s.from[feed.replica]++
				idle.Reset(idleLimit)
				continue
			}
			feed.close()
			if errors.Is(it.err, errFeedBadEvent) {
				t.Fatalf("after cursor %d: %v", s.last(), it.err)
			}
			// Ended by the outage (or a subscriber falling behind): resume
			// with the last cursor, retrying while the replica cannot yet
			// take the subscription.
			s.resumes = append(s.resumes, fmt.Sprintf("after %d: %v", s.last(), it.err))
			if len(s.resumes) > 50 {
				t.Fatalf("resumed more than 50 times: %q", s.resumes)
			}
			for deadline := time.Now().Add(idleLimit); ; time.Sleep(200 * time.Millisecond) {
				if feed, err = open(s.last()); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("cannot resume after cursor %d: %v", s.last(), err)
				}
			}
		case <-startOutage:
			startOutage = nil
			c.killRedis()
			outage = time.Now()
			t.Logf("killed Redis: %d events received, %d changes made", len(s.events), w.made.Load())
			close(down)
		case <-endOutage:
			endOutage = nil
			c.startRedis()
			t.Logf("Redis back after %s: %d events received, %d changes made",
				time.Since(outage).Round(time.Millisecond), len(s.events), w.made.Load())
			close(up)
		case err := <-writing:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			writing = nil
		case <-idle.C:
			t.Fatalf("no event for %s after cursor %d (%d received, %d changes made)",
				idleLimit, s.last(), len(s.events), w.made.Load())
		}
	}
	t.Logf("received %d events; resumed %d times: %q", len(s.events), len(s.resumes), s.resumes)
	s.check(t, "redis", changes)
	if writing != nil {
		if err := <-writing; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	checkLog(t, c, changes)
}
