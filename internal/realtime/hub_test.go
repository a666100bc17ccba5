package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// hubFixture is a tenant with n tickets created (so n events numbered 1..n
// once relayed) and a hub over an embedded Redis.
type hubFixture struct {
	client *ent.Client
	rdb    *redis.Client
	tenant int
	hub    *realtime.Hub
}

func newHubFixture(t *testing.T, n int) *hubFixture {
	t.Helper()
	st := testenv.OpenStore(t, testenv.SQLite)
	conn := testenv.OpenRedis(t, testenv.EmbeddedRedis, 0)
	tid := st.Client.Tenant.Create().SetName("T").SetSlug("hub").SaveX(viewer.System(context.Background())).ID
	for i := range n {
		if err := inTx(t, st.Client, tid, func(ctx context.Context, c *ent.Client) error {
			return c.Ticket.Create().SetTitle(fmt.Sprint("工单", i)).Exec(ctx)
		}); err != nil {
			t.Fatal(err)
		}
	}
	hub := realtime.NewHub(conn.Client, st.Client, quiet)
	hub.Every = 50 * time.Millisecond
	return &hubFixture{client: st.Client, rdb: conn.Client.(*redis.Client), tenant: tid, hub: hub}
}

// number gives the pending events their seq without publishing them, as
// if every publish were lost.
func (f *hubFixture) number(t *testing.T) {
	t.Helper()
	r := realtime.NewRelay(f.client, redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), quiet)
	if _, err := r.RelayOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (f *hubFixture) publish(t *testing.T, seqs ...int64) {
	t.Helper()
	for _, s := range seqs {
		body, _ := json.Marshal(&realtime.Message{Tenant: f.tenant, Seq: s, Topic: "TICKET", Kind: "UPDATED", Subject: 1})
		if err := f.rdb.Publish(context.Background(), realtime.Channel(f.rdb, f.tenant), body).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// identity subscribes to every event as it is.
func subscribe(t *testing.T, f *hubFixture, ctx context.Context, after int64, onEnd func(error)) <-chan *realtime.Message {
	t.Helper()
	ch, err := realtime.Subscribe(ctx, f.hub, f.tenant, after,
		func(m *realtime.Message) (*realtime.Message, error) { return m, nil }, onEnd)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func next(t *testing.T, ch <-chan *realtime.Message) *realtime.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("the subscription ended")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return nil
}

// TestHubFillsGapsFromTheLog: publishes of events 2 and 3 are lost; 4
// arrives live; the subscriber still gets 1, 2, 3, 4 in order, 2 and 3
// read from the table.
func TestHubFillsGapsFromTheLog(t *testing.T) {
	f := newHubFixture(t, 4)
	f.hub.Every = time.Hour // only the gap can reveal 2 and 3
	sub := subscribe(t, f, t.Context(), -1, nil)
	f.number(t)
	f.publish(t, 1, 4)
	for want := int64(1); want <= 4; want++ {
		if m := next(t, sub); m.Seq != want {
			t.Fatalf("got seq %d, want %d", m.Seq, want)
		}
	}
}

// TestHubFindsEventsWhosePublishWasLost: nothing is published at all
// (Redis was down when the relay ran, and nothing happened after): the
// feed's poll of the tenant's newest number still brings them.
func TestHubFindsEventsWhosePublishWasLost(t *testing.T) {
	f := newHubFixture(t, 2)
	sub := subscribe(t, f, t.Context(), -1, nil) // from now: 0
	f.number(t)
	for want := int64(1); want <= 2; want++ {
		if m := next(t, sub); m.Seq != want {
			t.Fatalf("got seq %d, want %d", m.Seq, want)
		}
	}
}

// TestHubReplaysAfterACursor: a subscriber resuming after cursor 2 gets 3
// to 5 from the table, then live events, in order.
func TestHubReplaysAfterACursor(t *testing.T) {
	f := newHubFixture(t, 5)
	f.number(t)
	sub := subscribe(t, f, t.Context(), 2, nil)
	for want := int64(3); want <= 5; want++ {
		if m := next(t, sub); m.Seq != want {
			t.Fatalf("got seq %d, want %d", m.Seq, want)
		}
	}
	f.publish(t, 6) // not in the table: only the live path can bring it
	if m := next(t, sub); m.Seq != 6 {
		t.Fatalf("live after the replay: seq %d", m.Seq)
	}
}

// TestHubDropsASlowSubscriberOnly: a subscriber that stops reading falls
// out of the live set, and once more than Window events behind its
// subscription ends with ErrTooSlow; a subscriber reading along misses
// nothing and is never held up.
func TestHubDropsASlowSubscriberOnly(t *testing.T) {
	f := newHubFixture(t, 0)
	f.hub.Every = time.Hour
	ctx := t.Context()
	ended := make(chan error, 1)
	slow := subscribe(t, f, ctx, -1, func(err error) { ended <- err })
	fast := subscribe(t, f, ctx, -1, func(err error) {
		if !errors.Is(err, context.Canceled) { // the test's end
			t.Errorf("the fast subscriber ended: %v", err)
		}
	})
	total := int64(realtime.Window + 100)
	for seq := int64(1); seq <= total; seq += 100 {
		batch := make([]int64, 0, 100)
		for s := seq; s < seq+100 && s <= total; s++ {
			batch = append(batch, s)
		}
		f.publish(t, batch...)
		for _, want := range batch {
			if m := next(t, fast); m.Seq != want {
				t.Fatalf("fast subscriber got %d, want %d", m.Seq, want)
			}
		}
	}
	select {
	case err := <-ended:
		if !errors.Is(err, realtime.ErrTooSlow) {
			t.Fatalf("the slow subscriber ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the slow subscriber was never dropped")
	}
	n := 0
	for m := range slow {
		if m.Seq != int64(n+1) {
			t.Fatalf("the slow subscriber's buffer holds %d at %d", m.Seq, n)
		}
		n++
	}
	if n != realtime.Buffer {
		t.Fatalf("the slow subscriber got %d events before it ended, want its buffer's %d", n, realtime.Buffer)
	}
}

// TestHubIgnoresOtherDeployments: Pub/Sub channels are shared by every
// database of a Redis server; a hub on database 1 never hears events
// published for the same tenant number on database 0.
func TestHubIgnoresOtherDeployments(t *testing.T) {
	f := newHubFixture(t, 0)
	other := redis.NewClient(&redis.Options{Addr: f.rdb.Options().Addr, DB: 1})
	defer other.Close()
	hub := realtime.NewHub(other, f.client, quiet)
	sub, err := realtime.Subscribe(t.Context(), hub, f.tenant, -1,
		func(m *realtime.Message) (*realtime.Message, error) { return m, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.publish(t, 1)
	select {
	case m := <-sub:
		t.Fatalf("heard %+v from another deployment", m)
	case <-time.After(300 * time.Millisecond):
	}
}
