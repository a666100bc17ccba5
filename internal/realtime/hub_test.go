package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
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

func next(t *testing.T, s *realtime.Subscription) *realtime.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHubFillsGapsFromTheLog: publishes of events 2 and 3 are lost; 4
// arrives live; the subscriber still gets 1, 2, 3, 4 in order, 2 and 3
// read from the table.
func TestHubFillsGapsFromTheLog(t *testing.T) {
	f := newHubFixture(t, 4)
	f.number(t)
	sub, err := f.hub.Subscribe(context.Background(), f.tenant, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
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
	sub, err := f.hub.Subscribe(context.Background(), f.tenant, -1, nil) // from now: 0
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f.number(t)
	for want := int64(1); want <= 2; want++ {
		if m := next(t, sub); m.Seq != want {
			t.Fatalf("got seq %d, want %d", m.Seq, want)
		}
	}
}

// TestHubDropsASlowSubscriberOnly: a subscriber that stops reading is told
// once it is more than Window events behind, and its Next says why; a
// subscriber reading along misses nothing.
func TestHubDropsASlowSubscriberOnly(t *testing.T) {
	f := newHubFixture(t, 0)
	ctx := context.Background()
	var overflows atomic.Int32
	slow, err := f.hub.Subscribe(ctx, f.tenant, 0, func() { overflows.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := f.hub.Subscribe(ctx, f.tenant, 0, func() { t.Error("the fast subscriber was dropped") })
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	got := make(chan *realtime.Message, 1)
	go func() { m, _ := slow.Next(ctx); got <- m }() // a live event: from now on it is live
	f.publish(t, 1)
	if m := <-got; m == nil || m.Seq != 1 {
		t.Fatalf("slow subscriber's first event: %+v", m)
	}
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
	if n := overflows.Load(); n != 1 {
		t.Fatalf("overflow told %d times, want once", n)
	}
	if _, err := slow.Next(ctx); !errors.Is(err, realtime.ErrTooSlow) {
		t.Fatalf("slow subscriber's Next: %v", err)
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
	sub, err := hub.Subscribe(context.Background(), f.tenant, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f.publish(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if m, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("heard %+v from another deployment", m)
	}
}
