package tickets_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/sqlstats"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/viewer"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func benchBackend() string {
	if b := os.Getenv("SCRM_TICKETBENCH_DB"); b != "" {
		return b
	}
	return testenv.SQLite
}

// inTx runs fn in a transaction (ticket writes need one).
func inTx(b *testing.B, c *ent.Client, ctx context.Context, fn func(ctx context.Context, c *ent.Client) error) {
	tx, err := c.Tx(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := fn(ent.NewTxContext(ctx, tx), tx.Client()); err != nil {
		_ = tx.Rollback()
		b.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpenAndRoute opens tickets in a tenant of 30,000 staff (500
// regions, 40 skills): each op types, times and routes one ticket and
// inserts it with its history, in one transaction.
//
//	go test ./internal/tickets -run '^$' -bench OpenAndRoute -benchtime 2000x
//	SCRM_TICKETBENCH_DB=mariadb go test ./internal/tickets -run '^$' -bench OpenAndRoute -benchtime 2000x
func BenchmarkOpenAndRoute(b *testing.B) {
	nStaff := envInt("SCRM_TICKETBENCH_STAFF", 30_000)
	st := testenv.OpenStore(b, benchBackend())
	c := st.Client
	e := tickets.New(tickets.Options{Client: c, PoolTTL: time.Hour})
	e.Install(c)
	tn := c.Tenant.Create().SetName("连锁").SetSlug("chain").SaveX(viewer.System(context.Background()))
	ctx := viewer.ForTenant(context.Background(), tn.ID)
	if err := tickets.InstallDefaults(ctx, c); err != nil {
		b.Fatal(err)
	}
	skills := make([]string, 40)
	for i := range skills {
		skills[i] = fmt.Sprintf("skill-%02d", i)
	}
	for i := 0; i < nStaff; i += 1000 {
		bulk := make([]*ent.StaffCreate, 0, 1000)
		for j := i; j < min(i+1000, nStaff); j++ {
			bulk = append(bulk, c.Staff.Create().SetLogin(fmt.Sprintf("agent%05d", j)).SetName(fmt.Sprintf("坐席%d", j)).
				SetRegion(fmt.Sprintf("%06d", 110000+j%500*100)).SetSkillTags([]string{skills[j%40], skills[(j/40)%40]}).
				SetCapacity(1_000_000).SetRoles([]string{"agent"}))
		}
		c.Staff.CreateBulk(bulk...).ExecX(ctx)
	}
	// warm the routing snapshot
	inTx(b, c, ctx, func(ctx context.Context, c *ent.Client) error {
		return c.Ticket.Create().SetTitle("warm").Exec(ctx)
	})
	cctx, counter := sqlstats.WithCounter(ctx)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		inTx(b, c, cctx, func(ctx context.Context, c *ent.Client) error {
			t, err := c.Ticket.Create().SetTitle("售后").SetRequiredSkills([]string{skills[i%40]}).
				SetRegion(fmt.Sprintf("%06d", 110000+i%500*100)).Save(ctx)
			if err == nil && t.AssigneeID == nil {
				err = fmt.Errorf("ticket %d queued: %s", i, t.AssignmentReason)
			}
			return err
		})
	}
	b.ReportMetric(float64(counter.Count())/float64(b.N), "statements/op")
}

// BenchmarkSweep escalates the due tickets among many open ones, as the
// minute sweep does after an outage: SCRM_TICKETBENCH_OPEN open tickets
// (100,000), SCRM_TICKETBENCH_DUE of them due (1,000). One op is one sweep
// over fresh data.
//
//	go test ./internal/tickets -run '^$' -bench Sweep -benchtime 1x
//	SCRM_TICKETBENCH_DUE=100000 SCRM_TICKETBENCH_DB=mariadb go test ./internal/tickets -run '^$' -bench Sweep -benchtime 1x -timeout 60m
func BenchmarkSweep(b *testing.B) {
	nOpen := envInt("SCRM_TICKETBENCH_OPEN", 100_000)
	nDue := min(envInt("SCRM_TICKETBENCH_DUE", 1_000), nOpen)
	st := testenv.OpenStore(b, benchBackend())
	c := st.Client
	clock := &fakeClock{now: time.Date(2026, 11, 20, 9, 0, 0, 0, shanghai).UTC()}
	schema.Clock = clock.Now
	b.Cleanup(func() { schema.Clock = time.Now })
	tn := c.Tenant.Create().SetName("连锁").SetSlug("chain").SaveX(viewer.System(context.Background()))
	ctx := viewer.ForTenant(context.Background(), tn.ID)
	if err := tickets.InstallDefaults(ctx, c); err != nil {
		b.Fatal(err)
	}
	agent := c.Staff.Create().SetLogin("agent").SetName("坐席").SaveX(ctx).ID
	// Tickets inserted without the engine (an import), then timed by it.
	e := tickets.New(tickets.Options{Client: c, Now: clock.Now})
	past := clock.Now().Add(-time.Hour)
	future := clock.Now().Add(240 * time.Hour)
	start := time.Now()
	for i := 0; i < nOpen; i += 1000 {
		inTx(b, c, ctx, func(ctx context.Context, c *ent.Client) error {
			bulk := make([]*ent.TicketCreate, 0, 1000)
			for j := i; j < min(i+1000, nOpen); j++ {
				due := future
				if j%(nOpen/nDue) == 0 && j/(nOpen/nDue) < nDue {
					due = past
				}
				bulk = append(bulk, c.Ticket.Create().SetTitle("待处理").SetNumber(fmt.Sprintf("T-%07d", j)).
					SetAssigneeID(agent).SetStatus(ticket.StatusAssigned).SetNextEscalationAt(due).
					SetCreatedAt(clock.Now().Add(-10*24*time.Hour)))
			}
			return c.Ticket.CreateBulk(bulk...).Exec(ctx)
		})
	}
	b.Logf("loaded %d open tickets (%d due) in %v", nOpen, nDue, time.Since(start).Round(time.Millisecond))
	e.Install(c)
	b.ResetTimer()
	for b.Loop() {
		res, err := e.Sweep(context.Background(), 500)
		if err != nil {
			b.Fatal(err)
		}
		if res.Escalated != nDue {
			b.Fatalf("escalated %d, want %d", res.Escalated, nDue)
		}
		b.StopTimer()
		// the next op sweeps the same tickets again
		inTx(b, c, ctx, func(ctx context.Context, c *ent.Client) error {
			return c.Ticket.Update().Where(ticket.NextEscalationAtIsNil()).SetNextEscalationAt(past).
				SetEscalationsDone([]string{}).SetEscalationLevel(0).Exec(ctx)
		})
		b.StartTimer()
	}
	b.ReportMetric(float64(nDue)/(b.Elapsed().Seconds()/float64(b.N)), "escalations/s")
}
