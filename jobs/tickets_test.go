package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/ticketcomment"
	"github.com/scrm-dev/scrm/internal/redisconn"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
	"github.com/scrm-dev/scrm/jobs"
)

type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.off += d; c.mu.Unlock() }

// ticketRig is a tenant whose only SLA policy wants a first response
// within firstResponse, around the clock, and escalates at breach to the
// team's leader.
type ticketRig struct {
	st     *store.Store
	rdb    *redisconn.Conn
	enq    *asynq.Client
	engine *tickets.Engine
	ctx    context.Context
	team   int
	sup    int
}

func newTicketRig(t *testing.T, db, rb, firstResponse string, now func() time.Time) *ticketRig {
	t.Helper()
	r := &ticketRig{st: testenv.OpenStore(t, db), rdb: testenv.OpenRedis(t, rb, redisDB)}
	r.enq = asynq.NewClient(r.rdb.Opt)
	t.Cleanup(func() { r.enq.Close() })
	timers := jobs.TicketTimers{Enqueuer: r.enq, Now: now}
	r.engine = tickets.New(tickets.Options{Client: r.st.Client, Redis: r.rdb.Client, Timers: timers, Notifier: timers, Now: now})
	r.engine.Install(r.st.Client)
	c := r.st.Client
	tn := c.Tenant.Create().SetName("计时").SetSlug("timers").SaveX(viewer.System(context.Background()))
	r.ctx = viewer.ForTenant(context.Background(), tn.ID)
	if err := tickets.InstallDefaults(r.ctx, c); err != nil {
		t.Fatal(err)
	}
	r.sup = c.Staff.Create().SetLogin("sup").SetName("主管").SetCapacity(0).SaveX(r.ctx).ID
	r.team = c.Department.Create().SetName("客服组").SetKind(department.KindTeam).SetLeaderID(r.sup).SaveX(r.ctx).ID
	c.SLAPolicy.Create().SetName("秒级").SetPosition(-1).SetBusinessHours(false).
		SetCondition(workflow.Condition{}).SetTargets(workflow.Targets{FirstResponse: firstResponse}).
		SetEscalations([]workflow.EscalationRule{{Target: workflow.FirstResponse, AtPercent: 100,
			Actions: []workflow.Action{workflow.NotifySupervisor, workflow.BumpLevel}}}).ExecX(r.ctx)
	return r
}

func (r *ticketRig) open(t *testing.T) int {
	t.Helper()
	tx, err := r.st.Client.Tx(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tx.Ticket.Create().SetTitle("等回复").SetTeamID(r.team).Save(ent.NewTxContext(r.ctx, tx))
	if err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return tk.ID
}

func (r *ticketRig) level(id int) int { return r.st.Client.Ticket.GetX(r.ctx, id).EscalationLevel }

func (r *ticketRig) worker(t *testing.T) *jobs.Worker {
	t.Helper()
	w, err := jobs.NewWorker(jobs.WorkerOptions{Redis: r.rdb.Opt, Concurrency: 2, Logger: slog.New(slog.DiscardHandler),
		PollInterval: 50 * time.Millisecond, Deps: jobs.Deps{Client: r.st.Client, Enqueuer: r.enq, Tickets: r.engine}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestTicketTimers(t *testing.T) {
	for _, db := range testenv.DatabaseBackends() {
		for _, rb := range testenv.RedisBackends() {
			t.Run(db+"/"+rb, func(t *testing.T) {
				t.Run("an escalation timer fires through the worker", func(t *testing.T) {
					r := newTicketRig(t, db, rb, "1s", nil)
					w := r.worker(t)
					defer w.Shutdown()
					id := r.open(t)
					waitFor(t, func() bool { return r.level(id) == 1 })
					tk := r.st.Client.Ticket.GetX(r.ctx, id)
					if tk.FirstResponseBreachedAt == nil || tk.NextEscalationAt != nil {
						t.Fatalf("after the breach: %+v", tk)
					}
				})

				t.Run("a fake clock drives the sweep through asynq", func(t *testing.T) {
					clock := &testClock{}
					r := newTicketRig(t, db, rb, "4h", clock.Now)
					w := r.worker(t)
					defer w.Shutdown()
					id := r.open(t)
					if _, err := r.enq.Enqueue(asynq.NewTask(jobs.TypeSweepEscalations, nil)); err != nil {
						t.Fatal(err)
					}
					// The sweep ran and found nothing due: 4h have not passed.
					waitFor(t, func() bool {
						infos, _ := asynq.NewInspector(r.rdb.Opt).ListCompletedTasks(jobs.QueueDefault)
						q, _ := asynq.NewInspector(r.rdb.Opt).GetQueueInfo(jobs.QueueDefault)
						return len(infos) > 0 || (q != nil && q.Pending == 0 && q.Active == 0)
					})
					if r.level(id) != 0 {
						t.Fatal("escalated before the target passed")
					}
					clock.Advance(4*time.Hour + time.Minute)
					if _, err := r.enq.Enqueue(asynq.NewTask(jobs.TypeSweepEscalations, nil)); err != nil {
						t.Fatal(err)
					}
					waitFor(t, func() bool { return r.level(id) == 1 })
				})

				t.Run("a timer due while every worker was down fires when one comes back", func(t *testing.T) {
					r := newTicketRig(t, db, rb, "1s", nil)
					first := r.worker(t)
					id := r.open(t)
					first.Shutdown()
					time.Sleep(1500 * time.Millisecond) // past due, nobody running
					if r.level(id) != 0 {
						t.Fatal("escalated with no worker running")
					}
					second := r.worker(t)
					defer second.Shutdown()
					waitFor(t, func() bool { return r.level(id) == 1 })
				})
			})
		}
	}
}

func TestArchivedCustomerMessagesOpenTickets(t *testing.T) {
	for _, db := range testenv.DatabaseBackends() {
		t.Run(db, func(t *testing.T) {
			r := newTicketRig(t, db, testenv.EmbeddedRedis, "4h", nil)
			c := r.st.Client
			acc := c.ConnectorAccount.Create().SetPlatform(connectoraccount.PlatformWecom).SetName("corp").
				SetExternalID("wwarchive").SetAgentID(1).SetCredentials(`{"secret":"s"}`).SetCallbackKey("k-archive-" + db).SaveX(r.ctx)
			// Customers are created in a transaction: their CREATED event is written with them.
			tx, err := c.Tx(r.ctx)
			if err != nil {
				t.Fatal(err)
			}
			cust := tx.Customer.Create().SetName("王女士").SaveX(ent.NewTxContext(r.ctx, tx))
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			c.CustomerIdentity.Create().SetCustomerID(cust.ID).SetPlatform(customeridentity.PlatformWecomExternal).
				SetAppID("wwarchive").SetExternalID("wmWANG").ExecX(r.ctx)
			archive := &wecomfake.Archive{}
			say := func(from, text string) {
				archive.Add(wecom.ArchivedMessage{MsgID: fmt.Sprint("m", text), Action: "send", From: from, ToList: []string{"zhang"},
					MsgType: "text", Text: text, Time: time.Now()})
			}
			say("wmWANG", "你好，在吗")
			say("zhang", "您好，请问有什么可以帮您") // staff: never a ticket
			say("wmWANG", "我要投诉，店员态度太差")
			say("wmNOBODY", "投诉！") // a contact we do not know
			w, err := jobs.NewWorker(jobs.WorkerOptions{Redis: r.rdb.Opt, Concurrency: 2, Logger: slog.New(slog.DiscardHandler),
				PollInterval: 50 * time.Millisecond, Deps: jobs.Deps{Client: c, Enqueuer: r.enq, Tickets: r.engine, Redis: r.rdb.Client,
					Archives: func(a *ent.ConnectorAccount) wecom.Archive {
						if a.ID == acc.ID {
							return archive
						}
						return nil
					}}})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			defer w.Shutdown()
			read := func(slot string) {
				payload, _ := json.Marshal(jobs.ReadArchive{TenantID: acc.TenantID, AccountID: acc.ID, Slot: slot})
				if _, err := r.enq.Enqueue(asynq.NewTask(jobs.TypeReadArchive, payload)); err != nil {
					t.Fatal(err)
				}
			}
			read("1")
			complaints := func() []*ent.Ticket {
				return c.Ticket.Query().Where(ticket.SourceEQ(ticket.SourceWecom), ticket.CustomerID(cust.ID)).AllX(r.ctx)
			}
			waitFor(t, func() bool { return len(complaints()) == 1 })
			tk := complaints()[0]
			if tt := c.TicketType.GetX(r.ctx, *tk.TypeID); tt.Key != "COMPLAINT" || !strings.Contains(tk.Title, "店员态度太差") {
				t.Fatalf("ticket %q of type %s", tk.Title, tt.Key)
			}
			say("wmWANG", "还是要投诉，没人回复")
			read("2")
			waitFor(t, func() bool {
				return c.TicketComment.Query().Where(ticketcomment.TicketID(tk.ID), ticketcomment.BodyContains("没人回复")).ExistX(r.ctx)
			})
			if n := len(complaints()); n != 1 {
				t.Fatalf("%d tickets: a second complaint while one is open opened another", n)
			}
			if n := c.Ticket.Query().CountX(r.ctx); n != 1 {
				t.Fatalf("%d tickets in all: greetings, staff messages and unknown contacts open none", n)
			}
		})
	}
}
