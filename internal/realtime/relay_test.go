package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	_ "github.com/scrm-dev/scrm/authz" // default policies of new tenants
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/event"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// inTx runs f in a transaction as a viewer of the tenant.
func inTx(t *testing.T, client *ent.Client, tenantID int, f func(ctx context.Context, tx *ent.Client) error) error {
	t.Helper()
	ctx := viewer.ForTenant(context.Background(), tenantID)
	tx, err := client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := f(ctx, tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func events(t *testing.T, client *ent.Client, tenantID int) []*ent.Event {
	t.Helper()
	return client.Event.Query().Where(event.TenantID(tenantID)).Order(event.ByID()).AllX(viewer.System(context.Background()))
}

func TestChangesWriteEventsInTheirTransaction(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			st := testenv.OpenStore(t, backend)
			sys := viewer.System(context.Background())
			tid := st.Client.Tenant.Create().SetName("T").SetSlug("events-" + backend).SaveX(sys).ID

			var id int
			if err := inTx(t, st.Client, tid, func(ctx context.Context, c *ent.Client) error {
				tk, err := c.Ticket.Create().SetTitle("退货").Save(ctx)
				id = tk.ID
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if err := inTx(t, st.Client, tid, func(ctx context.Context, c *ent.Client) error {
				if err := c.Ticket.UpdateOneID(id).SetStatus(ticket.StatusInProgress).Exec(ctx); err != nil {
					return err
				}
				if err := c.TicketComment.Create().SetTicketID(id).SetBody("已联系").Exec(ctx); err != nil {
					return err
				}
				return c.Ticket.UpdateOneID(id).SetStatus(ticket.StatusClosed).Exec(ctx)
			}); err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range events(t, st.Client, tid) {
				if e.SubjectID != id || e.Topic != event.TopicTicket || e.Seq != nil {
					t.Fatalf("event %+v", e)
				}
				kinds = append(kinds, e.Kind)
			}
			if fmt.Sprint(kinds) != "[CREATED STATUS_CHANGED COMMENTED CLOSED]" {
				t.Fatalf("kinds %v", kinds)
			}

			// A change that rolls back leaves no event.
			boom := errors.New("boom")
			if err := inTx(t, st.Client, tid, func(ctx context.Context, c *ent.Client) error {
				if err := c.Ticket.UpdateOneID(id).SetTitle("改").Exec(ctx); err != nil {
					return err
				}
				return boom
			}); !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if n := len(events(t, st.Client, tid)); n != 4 {
				t.Fatalf("%d events after a rolled-back change, want 4", n)
			}
			// Outside a transaction a tenant's change is refused: its
			// event could be lost.
			if err := st.Client.Ticket.UpdateOneID(id).SetTitle("改").Exec(viewer.ForTenant(context.Background(), tid)); err == nil {
				t.Fatal("a ticket changed outside a transaction")
			}
		})
	}
}

// TestRelayNumbersEachTenantsEventsOnceAndPublishesThem runs two relays at
// once over several tenants' events: every event gets exactly one seq, a
// tenant's seqs run 1..n without gaps, and each is published once on the
// tenant's channel, in order.
func TestRelayNumbersEachTenantsEventsOnceAndPublishesThem(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		for _, rb := range testenv.RedisBackends() {
			t.Run(backend+"/"+rb, func(t *testing.T) {
				st := testenv.OpenStore(t, backend)
				conn := testenv.OpenRedis(t, rb, 13)
				sys := viewer.System(context.Background())
				var tenants []int
				for i := range 2 {
					tenants = append(tenants, st.Client.Tenant.Create().SetName("T").SetSlug(fmt.Sprintf("relay-%d", i)).SaveX(sys).ID)
				}
				sub := conn.Client.Subscribe(context.Background(), realtime.Channel(conn.Client, tenants[0]))
				defer sub.Close()
				if _, err := sub.Receive(context.Background()); err != nil { // subscribed
					t.Fatal(err)
				}
				const perTenant = 30
				for _, tid := range tenants {
					for i := range perTenant {
						if err := inTx(t, st.Client, tid, func(ctx context.Context, c *ent.Client) error {
							return c.Ticket.Create().SetTitle(fmt.Sprint("工单", i)).Exec(ctx)
						}); err != nil {
							t.Fatal(err)
						}
					}
				}
				var wg sync.WaitGroup
				counts := make([]int, 2)
				for i := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						n, err := realtime.NewRelay(st.Client, conn.Client, quiet).RelayOnce(context.Background())
						if err != nil {
							t.Error(err)
						}
						counts[i] = n
					}()
				}
				wg.Wait()
				if counts[0]+counts[1] != 2*perTenant {
					t.Fatalf("relayed %v, want %d in all", counts, 2*perTenant)
				}
				for _, tid := range tenants {
					for i, e := range events(t, st.Client, tid) {
						if e.Seq == nil || *e.Seq != int64(i+1) {
							t.Fatalf("tenant %d event %d has seq %v", tid, i, e.Seq)
						}
					}
				}
				ch := sub.Channel()
				for want := int64(1); want <= perTenant; want++ {
					select {
					case m := <-ch:
						var msg realtime.Message
						if err := json.Unmarshal([]byte(m.Payload), &msg); err != nil {
							t.Fatal(err)
						}
						if msg.Seq != want || msg.Tenant != tenants[0] || msg.Kind != "CREATED" {
							t.Fatalf("message %+v, want seq %d of tenant %d", &msg, want, tenants[0])
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("no message %d", want)
					}
				}
				if n, _ := realtime.NewRelay(st.Client, conn.Client, quiet).RelayOnce(context.Background()); n != 0 {
					t.Fatalf("a second pass relayed %d", n)
				}
			})
		}
	}
}

var _ = redis.Nil

// TestTrimmedCursorsExpire: after old events are trimmed, a subscriber
// resuming from a cursor whose successors are gone is told to refetch,
// while one resuming from a kept cursor replays in order.
func TestTrimmedCursorsExpire(t *testing.T) {
	st := testenv.OpenStore(t, testenv.SQLite)
	conn := testenv.OpenRedis(t, testenv.EmbeddedRedis, 14)
	sys := viewer.System(context.Background())
	tid := st.Client.Tenant.Create().SetName("T").SetSlug("trim").SaveX(sys).ID
	for i := range 5 {
		if err := inTx(t, st.Client, tid, func(ctx context.Context, c *ent.Client) error {
			return c.Ticket.Create().SetTitle(fmt.Sprint("工单", i)).Exec(ctx)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := realtime.NewRelay(st.Client, conn.Client, quiet).RelayOnce(context.Background()); err != nil || n != 5 {
		t.Fatalf("relayed %d: %v", n, err)
	}
	// Age the first three, then trim what is older than an hour.
	old := time.Now().Add(-2 * time.Hour)
	if _, err := st.DB.Exec("UPDATE events SET created_at = ? WHERE tenant_id = ? AND seq <= 3", old, tid); err != nil {
		t.Fatal(err) // created_at is immutable through ent
	}
	if n, err := realtime.Trim(context.Background(), st.Client, time.Now().Add(-time.Hour)); err != nil || n != 3 {
		t.Fatalf("trimmed %d: %v", n, err)
	}
	hub := realtime.NewHub(conn.Client, st.Client, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	identity := func(m *realtime.Message) (*realtime.Message, error) { return m, nil }
	if _, err := realtime.Subscribe(ctx, hub, tid, 1, identity, nil); !errors.Is(err, realtime.ErrCursorExpired) {
		t.Fatalf("cursor 1 after trimming 1-3: %v", err)
	}
	sub, err := realtime.Subscribe(ctx, hub, tid, 3, identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(4); want <= 5; want++ {
		select {
		case m := <-sub:
			if m == nil || m.Seq != want {
				t.Fatalf("replayed %+v, want seq %d", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no replay of %d", want)
		}
	}
}
