package tickets_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/scrm-dev/scrm/authz" // registers the default policies new tenants get
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/event"
	"github.com/scrm-dev/scrm/ent/formsubmission"
	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/slapolicy"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/ticketapproval"
	"github.com/scrm-dev/scrm/ent/ticketchange"
	"github.com/scrm-dev/scrm/ent/ticketcomment"
	"github.com/scrm-dev/scrm/ent/tickettype"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/businesstime"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// Redis database of these tests (see internal/testenv for the others).
const redisDB = 1

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// fakeClock is the engine's clock in these tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recorder stands in for asynq and WeCom: it keeps what the engine asked.
type recorder struct {
	mu          sync.Mutex
	escalations map[int]time.Time // ticket → latest scheduled instant
	claimBacks  []int
	notes       []note
}

type note struct {
	staff []int
	text  string
}

func (r *recorder) ScheduleEscalation(_ context.Context, _, ticketID, _ int, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.escalations[ticketID] = at
	return nil
}

func (r *recorder) ScheduleClaimBack(_ context.Context, _, ticketID, _ int, _, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.claimBacks = append(r.claimBacks, ticketID)
	return nil
}

func (r *recorder) NotifyStaff(_ context.Context, _ int, staffIDs []int, text, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, note{slices.Clone(staffIDs), text})
	return nil
}

// notified reports whether staffID got a message containing part.
func (r *recorder) notified(staffID int, part string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.notes {
		if slices.Contains(n.staff, staffID) && strings.Contains(n.text, part) {
			return true
		}
	}
	return false
}

// org is a tenant with the default ticket configuration, a small tree
// (HQ led by boss, 华东 led by sup, its store team) and agents.
type org struct {
	c                 *ent.Client
	e                 *tickets.Engine
	clock             *fakeClock
	rec               *recorder
	ctx               context.Context
	tenantID          int
	hq, region, store int
	boss, sup, sup2   int
	li, wang, zhao    int // agents: li and wang in the store (售后), zhao elsewhere (投诉)
}

func newOrg(t *testing.T, backend string) *org {
	t.Helper()
	st := testenv.OpenStore(t, backend)
	rdb := testenv.OpenRedis(t, testenv.EmbeddedRedis, redisDB).Client
	c := st.Client
	o := &org{c: c, rec: &recorder{escalations: map[int]time.Time{}},
		clock: &fakeClock{now: time.Date(2026, 11, 20, 9, 0, 0, 0, shanghai).UTC()}} // a Friday, opening time
	schema.Clock = o.clock.Now
	t.Cleanup(func() { schema.Clock = time.Now })
	o.e = tickets.New(tickets.Options{Client: c, Redis: rdb, Timers: o.rec, Notifier: o.rec, Now: o.clock.Now,
		PublicURL: "https://scrm.example.com", PoolTTL: time.Nanosecond})
	o.e.Install(c)
	tn, err := c.Tenant.Create().SetName("门店").SetSlug("store-" + strings.ToLower(backend)).Save(viewer.System(context.Background()))
	if err != nil {
		t.Fatal("tenant: ", err)
	}
	o.tenantID = tn.ID
	o.ctx = viewer.ForTenant(context.Background(), tn.ID)
	if err := tickets.InstallDefaults(o.ctx, c); err != nil {
		t.Fatal("defaults: ", err)
	}
	staff := func(login string, roles []string, skills []string, region string, capacity int) int {
		return c.Staff.Create().SetLogin(login).SetName(login).SetRoles(roles).SetSkillTags(skills).
			SetRegion(region).SetCapacity(capacity).SaveX(o.ctx).ID
	}
	o.boss = staff("boss", []string{"admin"}, nil, "", 0)
	o.sup = staff("sup", []string{"supervisor"}, nil, "", 0)
	o.sup2 = staff("sup2", []string{"supervisor"}, nil, "", 0)
	o.li = staff("li", []string{"agent"}, []string{"售后", "退换货"}, "310000", 3)
	o.wang = staff("wang", []string{"agent"}, []string{"售后"}, "310000", 3)
	o.zhao = staff("zhao", []string{"agent"}, []string{"投诉"}, "440100", 3)
	o.hq = c.Department.Create().SetName("总部").SetKind(department.KindHQ).SetLeaderID(o.boss).AddStaffIDs(o.boss).SaveX(o.ctx).ID
	o.region = c.Department.Create().SetName("华东").SetKind(department.KindRegion).SetParentID(o.hq).SetLeaderID(o.sup).AddStaffIDs(o.sup, o.sup2).SaveX(o.ctx).ID
	o.store = c.Department.Create().SetName("南京西路店").SetKind(department.KindStore).SetParentID(o.region).AddStaffIDs(o.li, o.wang).SaveX(o.ctx).ID
	return o
}

// as is ctx signed in as a staff member (no data scope: the engine's
// callers check scopes through ent, tested in e2e).
func (o *org) as(staffID int, roles ...string) context.Context {
	return viewer.NewContext(context.Background(), &viewer.Viewer{TenantID: o.tenantID, StaffID: staffID, Roles: roles})
}

// write runs fn in a transaction, as the API does every mutation.
func (o *org) write(t *testing.T, ctx context.Context, fn func(ctx context.Context, c *ent.Client) error) {
	t.Helper()
	tx, err := o.c.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(ent.NewTxContext(ctx, tx), tx.Client()); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (o *org) open(t *testing.T, title string, edit func(*ent.TicketCreate)) *ent.Ticket {
	t.Helper()
	var tk *ent.Ticket
	o.write(t, o.ctx, func(ctx context.Context, c *ent.Client) (err error) {
		cr := c.Ticket.Create().SetTitle(title)
		if edit != nil {
			edit(cr)
		}
		tk, err = cr.Save(ctx)
		return err
	})
	return tk
}

func (o *org) get(t *testing.T, id int) *ent.Ticket {
	t.Helper()
	return o.c.Ticket.GetX(o.ctx, id)
}

func (o *org) load(t *testing.T, staffID int) int {
	t.Helper()
	return o.c.Staff.GetX(o.ctx, staffID).OpenTickets
}

func (o *org) typeID(t *testing.T, key string) int {
	t.Helper()
	return o.c.TicketType.Query().Where(tickettype.Key(key)).OnlyX(o.ctx).ID
}

func wantCode(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	ae, ok := apperr.As(err)
	if !ok || ae.Code != code || (field != "" && ae.Field != field) {
		t.Fatalf("got %v, want %s on %q", err, code, field)
	}
}

func TestEngine(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) { testEngine(t, backend) })
	}
}

func testEngine(t *testing.T, backend string) {
	o := newOrg(t, backend)
	ctx := o.ctx

	t.Run("a new ticket is typed, timed and routed in one insert", func(t *testing.T) {
		tk := o.open(t, "退货", func(c *ent.TicketCreate) { c.SetRequiredSkills([]string{"售后"}).SetRegion("310000") })
		if tk.TypeID == nil || *tk.TypeID != o.typeID(t, "AFTER_SALES") {
			t.Fatalf("type %v, want AFTER_SALES (the default for MANUAL)", tk.TypeID)
		}
		if tk.AssigneeID == nil || (*tk.AssigneeID != o.li && *tk.AssigneeID != o.wang) || tk.Status != ticket.StatusAssigned {
			t.Fatalf("assignee %v status %s; want li or wang (skills 售后, region 310000), ASSIGNED", tk.AssigneeID, tk.Status)
		}
		name := o.c.Staff.GetX(ctx, *tk.AssigneeID).Name
		for _, part := range []string{"skills 售后", "region 310000", "picked " + name + " (load 0/3"} {
			if !strings.Contains(tk.AssignmentReason, part) {
				t.Fatalf("reason %q does not say %q", tk.AssignmentReason, part)
			}
		}
		// 标准: first response 4h, resolution 48h of weekday working time
		// (09:00-12:00, 13:30-18:00 Shanghai) from Friday 09:00.
		wantFR := time.Date(2026, 11, 20, 14, 30, 0, 0, shanghai)
		wantRes := time.Date(2026, 11, 30, 12, 0, 0, 0, shanghai) // 7.5 h a working day: 48 h = 6 days and 3 h
		if !tk.FirstResponseDueAt.Equal(wantFR) || !tk.ResolutionDueAt.Equal(wantRes) {
			t.Fatalf("due %v / %v, want %v / %v", tk.FirstResponseDueAt.In(shanghai), tk.ResolutionDueAt.In(shanghai), wantFR, wantRes)
		}
		// first response 80% = 3.2 h of working time: 12:00 + 0.2 h → 13:42
		if want := time.Date(2026, 11, 20, 13, 42, 0, 0, shanghai); tk.NextEscalationAt == nil || !tk.NextEscalationAt.Equal(want) {
			t.Fatalf("next escalation %v, want %v", tk.NextEscalationAt, want)
		}
		if at, ok := o.rec.escalations[tk.ID]; !ok || !at.Equal(*tk.NextEscalationAt) {
			t.Fatalf("timer at %v (%v), want the next escalation", at, ok)
		}
		if o.load(t, *tk.AssigneeID) != 1 {
			t.Fatalf("assignee's open tickets %d, want 1", o.load(t, *tk.AssigneeID))
		}
		kinds := o.c.TicketChange.Query().Where(ticketchange.TicketID(tk.ID)).Order(ent.Asc(ticketchange.FieldID)).
			Select(ticketchange.FieldKind).StringsX(ctx)
		if !slices.Equal(kinds, []string{"CREATED", "ASSIGNED"}) {
			t.Fatalf("history %v", kinds)
		}
		if !o.rec.notified(*tk.AssigneeID, tk.Number) {
			t.Fatal("the assignee was not told")
		}
	})

	t.Run("least loaded first; capacity is never exceeded", func(t *testing.T) {
		for _, id := range []int{o.li, o.wang} {
			o.c.Staff.UpdateOneID(id).SetOpenTickets(0).ExecX(ctx)
		}
		o.write(t, ctx, func(ctx context.Context, c *ent.Client) error {
			return c.Ticket.Update().Where(ticket.AssigneeIDIn(o.li, o.wang)).ClearAssigneeID().SetStatus(ticket.StatusClosed).Exec(ctx)
		})
		var got []int
		for i := range 6 {
			tk := o.open(t, fmt.Sprint("售后 ", i), func(c *ent.TicketCreate) { c.SetRequiredSkills([]string{"售后"}) })
			if tk.AssigneeID == nil {
				t.Fatalf("ticket %d queued with room left: %s", i, tk.AssignmentReason)
			}
			got = append(got, *tk.AssigneeID)
		}
		if n := countOf(got, o.li); n != 3 || countOf(got, o.wang) != 3 {
			t.Fatalf("assignments %v: want 3 each (capacity 3, least loaded first)", got)
		}
		full := o.open(t, "第七张", func(c *ent.TicketCreate) { c.SetRequiredSkills([]string{"售后"}).SetTeamID(o.store) })
		if full.AssigneeID != nil || !strings.HasPrefix(full.AssignmentReason, "queued:") {
			t.Fatalf("7th ticket: assignee %v reason %q; want the queue", full.AssigneeID, full.AssignmentReason)
		}
		if !o.rec.notified(o.sup, full.Number) {
			t.Fatal("the team's supervisor (the region's leader) was not told of the queued ticket")
		}
		if o.load(t, o.li) != 3 || o.load(t, o.wang) != 3 {
			t.Fatalf("loads %d/%d", o.load(t, o.li), o.load(t, o.wang))
		}
	})

	t.Run("off shift staff are skipped", func(t *testing.T) {
		night := &businesstime.Spec{TimeZone: "Asia/Shanghai", Weekly: []businesstime.DayHours{{Weekday: "SATURDAY", Windows: []businesstime.Window{{Start: "20:00", End: "23:00"}}}}}
		o.c.Staff.UpdateOneID(o.zhao).SetWorkingHours(night).SetOpenTickets(0).ExecX(ctx)
		tk := o.open(t, "投诉", func(c *ent.TicketCreate) { c.SetRequiredSkills([]string{"投诉"}) })
		if tk.AssigneeID != nil || !strings.Contains(tk.AssignmentReason, "off shift") {
			t.Fatalf("assignee %v reason %q; zhao is off shift on Friday morning", tk.AssigneeID, tk.AssignmentReason)
		}
		o.c.Staff.UpdateOneID(o.zhao).ClearWorkingHours().ExecX(ctx)
		tk = o.open(t, "投诉二", func(c *ent.TicketCreate) { c.SetRequiredSkills([]string{"投诉"}) })
		if tk.AssigneeID == nil || *tk.AssigneeID != o.zhao {
			t.Fatalf("with shifts cleared: %v %q", tk.AssigneeID, tk.AssignmentReason)
		}
	})

	t.Run("the state machine refuses illegal moves and changes nothing", func(t *testing.T) {
		tk := o.open(t, "状态机", func(c *ent.TicketCreate) { c.SetAssigneeID(o.zhao) })
		before := o.c.TicketChange.Query().Where(ticketchange.TicketID(tk.ID)).CountX(ctx)
		_, err := o.e.Transition(o.as(o.zhao, "agent"), tk.ID, tickets.TransitionInput{To: ticket.StatusClosed})
		wantCode(t, err, apperr.CodeBadUserInput, "to")
		if !strings.Contains(err.Error(), "IN_PROGRESS") || !strings.Contains(err.Error(), "RESOLVED") {
			t.Fatalf("%v does not name the allowed moves", err)
		}
		_, err = o.e.Transition(o.as(o.zhao, "agent"), tk.ID, tickets.TransitionInput{To: ticket.StatusResolved})
		wantCode(t, err, apperr.CodeBadUserInput, "comment")
		if got := o.get(t, tk.ID); got.Status != ticket.StatusAssigned || o.c.TicketChange.Query().Where(ticketchange.TicketID(tk.ID)).CountX(ctx) != before {
			t.Fatalf("refused moves changed the ticket: %s", got.Status)
		}
		done, err := o.e.Transition(o.as(o.zhao, "agent"), tk.ID, tickets.TransitionInput{To: ticket.StatusResolved, Comment: "已退款"})
		if err != nil || done.Status != ticket.StatusResolved || done.FirstRespondedAt == nil || done.NextEscalationAt != nil {
			t.Fatalf("resolve: %v %+v", err, done)
		}
		last := o.c.TicketChange.Query().Where(ticketchange.TicketID(tk.ID), ticketchange.Kind("STATUS_CHANGED")).
			Order(ent.Desc(ticketchange.FieldID)).FirstX(ctx)
		if last.Before != "ASSIGNED" || last.After != "RESOLVED" || last.Note != "已退款" || last.ActorID == nil || *last.ActorID != o.zhao {
			t.Fatalf("history %+v", last)
		}
	})

	t.Run("pending customer pauses the clock; priority change retimes", func(t *testing.T) {
		tk := o.open(t, "暂停", func(c *ent.TicketCreate) { c.SetAssigneeID(o.zhao) })
		res := *tk.ResolutionDueAt
		agent := o.as(o.zhao, "agent")
		o.clock.Advance(time.Hour)
		paused, err := o.e.Transition(agent, tk.ID, tickets.TransitionInput{To: ticket.StatusPendingCustomer})
		if err != nil || paused.ResolutionDueAt != nil || paused.NextEscalationAt != nil || paused.SLAPausedAt == nil {
			t.Fatalf("paused: %v %+v", err, paused)
		}
		// Paused from Friday 10:00 over the weekend to Monday 10:00: only
		// the working time in between moves the due time.
		o.clock.Advance(72 * time.Hour)
		resumed, err := o.e.Transition(agent, tk.ID, tickets.TransitionInput{To: ticket.StatusInProgress})
		if err != nil {
			t.Fatal(err)
		}
		bt, _ := businesstime.Compile(tickets.DefaultCalendar())
		pausedFor := bt.Between(*paused.SLAPausedAt, o.clock.Now())
		// Friday 10:00-18:00 less lunch, and Monday 09:00-10:00.
		if resumed.SLAPausedSeconds != int64(pausedFor/time.Second) || pausedFor != 7*time.Hour+30*time.Minute {
			t.Fatalf("paused %ds, want %v of working time", resumed.SLAPausedSeconds, pausedFor)
		}
		want, _ := bt.Add(tk.CreatedAt, 48*time.Hour+pausedFor)
		if want.Equal(res) {
			t.Fatal("the pause did not move the due time")
		}
		if !resumed.ResolutionDueAt.Equal(want) {
			t.Fatalf("resolution due %v, want %v (moved by the paused working time)", resumed.ResolutionDueAt.In(shanghai), want.In(shanghai))
		}
		// Urgent tickets fall under 紧急: 8 h around the clock.
		o.write(t, ctx, func(ctx context.Context, c *ent.Client) error {
			return c.Ticket.UpdateOneID(tk.ID).SetPriority(ticket.PriorityUrgent).Exec(ctx)
		})
		urgent := o.get(t, tk.ID)
		if p := o.c.SLAPolicy.GetX(ctx, *urgent.SLAPolicyID); p.Name != "紧急" || !urgent.ResolutionDueAt.Equal(tk.CreatedAt.Add(8*time.Hour+pausedFor)) {
			t.Fatalf("urgent: policy %s due %v", p.Name, urgent.ResolutionDueAt)
		}
	})
}

func TestResignedAgentsTicketsAreRoutedAgain(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			o := newOrg(t, backend)
			tk := o.open(t, "离职交接", func(c *ent.TicketCreate) { c.SetAssigneeID(o.zhao).SetRequiredSkills([]string{"售后"}) })
			// as WeCom's sync does it: for the system, outside a transaction
			if err := o.c.Staff.Update().Where(staff.ID(o.zhao)).SetStatus(staff.StatusResigned).
				Exec(viewer.System(context.Background())); err != nil {
				t.Fatal(err)
			}
			got := o.get(t, tk.ID)
			if got.AssigneeID == nil || *got.AssigneeID == o.zhao || !got.ResolutionDueAt.Equal(*tk.ResolutionDueAt) {
				t.Fatalf("after zhao resigned: assignee %v, due %v (was %v)", got.AssigneeID, got.ResolutionDueAt, tk.ResolutionDueAt)
			}
			if o.load(t, o.zhao) != 0 {
				t.Fatalf("zhao still counts %d open tickets", o.load(t, o.zhao))
			}
		})
	}
}

func countOf(s []int, v int) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

var (
	_ = errors.New
	_ = slapolicy.Active
	_ = workflow.Open
)

func TestEscalationsApprovalsSurveys(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) { testEscalationsApprovalsSurveys(t, backend) })
	}
}

func testEscalationsApprovalsSurveys(t *testing.T, backend string) {
	o := newOrg(t, backend)
	ctx := o.ctx

	t.Run("escalation rules fire in order, up the tree, once", func(t *testing.T) {
		tk := o.open(t, "没人理", func(c *ent.TicketCreate) { c.SetAssigneeID(o.li).SetTeamID(o.store) })
		gen := tk.SLAGeneration
		// Not due yet: an early timer reschedules and does nothing else.
		if err := o.e.Escalate(ctx, tk.ID, gen); err != nil {
			t.Fatal(err)
		}
		if got := o.get(t, tk.ID); got.EscalationLevel != 0 || len(got.EscalationsDone) != 0 {
			t.Fatalf("escalated early: %+v", got)
		}
		// 80% of the first response (13:42): the assignee is warned.
		o.clock.Advance(4*time.Hour + 45*time.Minute) // 13:45
		if err := o.e.Escalate(ctx, tk.ID, gen); err != nil {
			t.Fatal(err)
		}
		got := o.get(t, tk.ID)
		if !slices.Equal(got.EscalationsDone, []string{"FIRST_RESPONSE@80"}) || !o.rec.notified(o.li, "SLA 预警") {
			t.Fatalf("at 80%%: done %v", got.EscalationsDone)
		}
		// A timer of the older generation is superseded.
		if err := o.e.Escalate(ctx, tk.ID, gen); err != nil {
			t.Fatal(err)
		}
		if again := o.get(t, tk.ID); again.SLAGeneration != got.SLAGeneration {
			t.Fatal("a superseded timer did work")
		}
		// Breach at 14:30: supervisor (the store has no leader: the
		// region's, sup) told, level 1, breach recorded.
		o.clock.Advance(time.Hour)
		if err := o.e.Escalate(ctx, tk.ID, got.SLAGeneration); err != nil {
			t.Fatal(err)
		}
		got = o.get(t, tk.ID)
		if got.EscalationLevel != 1 || got.FirstResponseBreachedAt == nil || !got.FirstResponseBreachedAt.Equal(*tk.FirstResponseDueAt) {
			t.Fatalf("at breach: level %d breached %v", got.EscalationLevel, got.FirstResponseBreachedAt)
		}
		if !o.rec.notified(o.sup, "已升级（1 级）") {
			t.Fatal("the supervisor was not told")
		}
		// Days later the resolution rules: 75% warns, 100% raises priority
		// and bumps to level 2 (the boss above sup), 150% reassigns to the
		// level-2 supervisor. The sweep runs them all at once.
		o.clock.Advance(30 * 24 * time.Hour)
		res, err := o.e.Sweep(context.Background(), 100)
		if err != nil || res.Escalated < 1 {
			t.Fatalf("sweep %+v %v", res, err)
		}
		got = o.get(t, tk.ID)
		if got.Priority != ticket.PriorityHigh || got.EscalationLevel != 3 || got.AssigneeID == nil || *got.AssigneeID != o.boss {
			t.Fatalf("after the resolution rules: priority %s level %d assignee %v", got.Priority, got.EscalationLevel, got.AssigneeID)
		}
		if got.NextEscalationAt != nil {
			t.Fatalf("every rule fired; next escalation %v", got.NextEscalationAt)
		}
		if o.load(t, o.li) != 0 || o.load(t, o.boss) != 1 {
			t.Fatalf("loads li %d boss %d after the reassignment", o.load(t, o.li), o.load(t, o.boss))
		}
		kinds := o.c.TicketChange.Query().Where(ticketchange.TicketID(tk.ID), ticketchange.KindIn("ESCALATED", "SLA_BREACHED")).
			Order(ent.Asc(ticketchange.FieldID)).Select(ticketchange.FieldAfter).StringsX(ctx)
		if !slices.Equal(kinds, []string{"FIRST_RESPONSE@80", "FIRST_RESPONSE@100", "RESOLUTION@75", "RESOLUTION@100", "RESOLUTION@150"}) {
			t.Fatalf("escalation history %v", kinds)
		}
		// Agents' consoles see it live: the outbox has ESCALATED events.
		if n := o.c.Event.Query().Where(event.SubjectID(tk.ID), event.Kind("ESCALATED")).CountX(ctx); n < 3 {
			t.Fatalf("%d ESCALATED events", n)
		}
		if res, _ := o.e.Sweep(context.Background(), 100); res.Escalated != 0 {
			t.Fatalf("a second sweep escalated %d", res.Escalated)
		}
	})

	t.Run("a refund above the threshold needs two distinct approvers, not the requester", func(t *testing.T) {
		refund := o.typeID(t, "REFUND")
		tk := o.open(t, "退款", func(c *ent.TicketCreate) { c.SetTypeID(refund).SetAssigneeID(o.li) })
		agent := o.as(o.li, "agent")
		if _, err := o.e.Transition(agent, tk.ID, tickets.TransitionInput{To: ticket.StatusInProgress}); err != nil {
			t.Fatal(err)
		}
		_, err := o.e.Transition(agent, tk.ID, tickets.TransitionInput{To: ticket.StatusResolved, Comment: "退款"})
		wantCode(t, err, apperr.CodeBadUserInput, "customFields.refund_amount")
		pending, err := o.e.Transition(agent, tk.ID, tickets.TransitionInput{To: ticket.StatusResolved, Comment: "退款 6 万",
			CustomFields: map[string]any{"refund_amount": 6_000_000}})
		if err != nil || pending.Status != ticket.StatusPendingApproval {
			t.Fatalf("%v %+v", err, pending)
		}
		ap := o.c.TicketApproval.Query().OnlyX(ctx)
		if ap.RequiredApprovals != 2 || ap.RequestedByID == nil || *ap.RequestedByID != o.li {
			t.Fatalf("approval %+v", ap)
		}
		if !o.rec.notified(o.sup, "等待你的审批") || !o.rec.notified(o.sup2, "等待你的审批") {
			t.Fatal("the supervisors were not asked")
		}
		_, err = o.e.Decide(agent, ap.ID, true, "我批准我自己")
		wantCode(t, err, apperr.CodeForbidden, "")
		if mine, _ := o.e.PendingFor(o.as(o.sup, "supervisor")); len(mine) != 1 {
			t.Fatalf("sup sees %d approvals", len(mine))
		}
		if _, err := o.e.Decide(o.as(o.sup, "supervisor"), ap.ID, true, "同意"); err != nil {
			t.Fatal(err)
		}
		_, err = o.e.Decide(o.as(o.sup, "supervisor"), ap.ID, true, "再同意一次")
		wantCode(t, err, apperr.CodeForbidden, "")
		if o.get(t, tk.ID).Status != ticket.StatusPendingApproval {
			t.Fatal("one approval of two completed the step")
		}
		done, err := o.e.Decide(o.as(o.sup2, "supervisor"), ap.ID, true, "同意")
		if err != nil || done.Status != "APPROVED" || len(done.Decisions) != 2 {
			t.Fatalf("%v %+v", err, done)
		}
		if got := o.get(t, tk.ID); got.Status != ticket.StatusResolved || got.ResolvedAt == nil {
			t.Fatalf("after two approvals: %s", got.Status)
		}

		// A rejection sends the ticket back to IN_PROGRESS.
		tk2 := o.open(t, "小额退款", func(c *ent.TicketCreate) { c.SetTypeID(refund).SetAssigneeID(o.li) })
		o.e.Transition(agent, tk2.ID, tickets.TransitionInput{To: ticket.StatusInProgress})
		if _, err := o.e.Transition(agent, tk2.ID, tickets.TransitionInput{To: ticket.StatusResolved, Comment: "退 50",
			CustomFields: map[string]any{"refund_amount": "5000"}}); err != nil {
			t.Fatal(err)
		}
		ap2 := o.c.TicketApproval.Query().Where(ticketapproval.TicketID(tk2.ID)).OnlyX(ctx)
		if ap2.RequiredApprovals != 1 {
			t.Fatalf("below the threshold: %d approvers", ap2.RequiredApprovals)
		}
		if _, err := o.e.Decide(o.as(o.sup2, "supervisor"), ap2.ID, false, "金额不对"); err != nil {
			t.Fatal(err)
		}
		if got := o.get(t, tk2.ID); got.Status != ticket.StatusInProgress {
			t.Fatalf("after a rejection: %s", got.Status)
		}
	})

	t.Run("closing sends a survey; the answer feeds the agent's CSAT; reopen within the window", func(t *testing.T) {
		tk := o.open(t, "评价", func(c *ent.TicketCreate) { c.SetAssigneeID(o.wang) })
		agent := o.as(o.wang, "agent")
		o.e.Transition(agent, tk.ID, tickets.TransitionInput{To: ticket.StatusResolved, Comment: "已处理"})
		closed, err := o.e.Transition(agent, tk.ID, tickets.TransitionInput{To: ticket.StatusClosed})
		if err != nil || closed.SurveySentAt == nil {
			t.Fatalf("%v %+v", err, closed)
		}
		link := o.c.TicketComment.Query().Where(ticketcomment.TicketID(tk.ID), ticketcomment.BodyContains("/survey/")).OnlyX(ctx).Body
		token := link[strings.LastIndex(link, "/survey/")+len("/survey/"):]
		view, err := o.e.Survey(context.Background(), token)
		if err != nil || view.Ticket.ID != tk.ID || view.Form.Fields[0].Key != "rating" {
			t.Fatalf("%v %+v", err, view)
		}
		_, err = o.e.AnswerSurvey(context.Background(), token, tickets.SurveyAnswer{Rating: 9})
		wantCode(t, err, apperr.CodeBadUserInput, "rating")
		rated, err := o.e.AnswerSurvey(context.Background(), token, tickets.SurveyAnswer{Rating: 4, Comment: "还行", Reopen: true})
		if err != nil || rated.Csat == nil || *rated.Csat != 4 {
			t.Fatalf("%v %+v", err, rated)
		}
		if got := o.get(t, tk.ID); got.Status != ticket.StatusAssigned || got.ReopenedAt == nil {
			t.Fatalf("reopened from the survey: %s", got.Status)
		}
		if s := o.c.Staff.GetX(ctx, o.wang); s.CsatCount != 1 || s.CsatAverage != 4 {
			t.Fatalf("wang's CSAT %v from %d", s.CsatAverage, s.CsatCount)
		}
		if sub := o.c.FormSubmission.Query().Where(formsubmission.TicketID(tk.ID)).OnlyX(ctx); sub.Data["rating"] != "4" {
			t.Fatalf("submission %+v", sub.Data)
		}
		_, err = o.e.AnswerSurvey(context.Background(), token, tickets.SurveyAnswer{Rating: 5})
		wantCode(t, err, apperr.CodeNotFound, "")
	})

	t.Run("claim-back returns a ticket nobody picked up, past its agent", func(t *testing.T) {
		o.c.Staff.Update().Where(staff.IDIn(o.li, o.wang)).SetOpenTickets(0).ExecX(ctx)
		tk := o.open(t, "没人接", func(c *ent.TicketCreate) { c.SetRequiredSkills([]string{"售后"}) })
		first := *tk.AssigneeID
		if !slices.Contains(o.rec.claimBacks, tk.ID) {
			t.Fatal("no claim-back timer (AFTER_SALES claims back after 30m)")
		}
		o.clock.Advance(31 * time.Minute)
		if err := o.e.ClaimBack(ctx, tk.ID, first, *tk.AssignedAt); err != nil {
			t.Fatal(err)
		}
		got := o.get(t, tk.ID)
		if got.AssigneeID == nil || *got.AssigneeID == first {
			t.Fatalf("claimed back to %v (was %d)", got.AssigneeID, first)
		}
		// A stale timer (the ticket was reassigned since) does nothing.
		if err := o.e.ClaimBack(ctx, tk.ID, first, *tk.AssignedAt); err != nil {
			t.Fatal(err)
		}
		if again := o.get(t, tk.ID); *again.AssigneeID != *got.AssigneeID {
			t.Fatal("a stale claim-back moved the ticket")
		}
	})

	t.Run("a hand-over keeps the SLA clocks", func(t *testing.T) {
		tk := o.open(t, "交接", func(c *ent.TicketCreate) { c.SetAssigneeID(o.zhao) })
		n, err := o.e.HandOver(ctx, o.zhao, o.li, nil)
		if err != nil || n < 1 {
			t.Fatalf("%d %v", n, err)
		}
		got := o.get(t, tk.ID)
		if *got.AssigneeID != o.li || !got.ResolutionDueAt.Equal(*tk.ResolutionDueAt) || !got.NextEscalationAt.Equal(*tk.NextEscalationAt) {
			t.Fatalf("after the hand-over: %+v", got)
		}
	})

	t.Run("a form set to open tickets opens one with mapped fields; an order return gets the REFUND type", func(t *testing.T) {
		consult := o.typeID(t, "CONSULTATION")
		f := o.c.Form.Create().SetName("门店反馈").SetStatus("PUBLISHED").SetTicketTypeID(consult).
			SetFields([]schematype.FormField{{Key: "topic", Label: "主题", Type: schematype.FormFieldText, Required: true},
				{Key: "detail", Label: "详情", Type: schematype.FormFieldTextarea}}).
			SetTicketFields([]workflow.FieldMapping{{Ticket: "title", Form: "topic"}, {Ticket: "description", Form: "detail"}}).SaveX(ctx)
		var sub *ent.FormSubmission
		o.write(t, ctx, func(ctx context.Context, c *ent.Client) (err error) {
			sub, err = c.FormSubmission.Create().SetFormID(f.ID).SetData(map[string]any{"topic": "会员卡积分没到账", "detail": "上周消费"}).Save(ctx)
			return err
		})
		sub = o.c.FormSubmission.GetX(ctx, sub.ID)
		if sub.TicketID == nil {
			t.Fatal("no ticket opened")
		}
		got := o.get(t, *sub.TicketID)
		if got.Title != "会员卡积分没到账" || got.Description != "上周消费" || *got.TypeID != consult || got.Source != ticket.SourceForm {
			t.Fatalf("ticket %+v", got)
		}
		ret := o.open(t, "退货申请", func(c *ent.TicketCreate) { c.SetSource(ticket.SourceOrderReturn) })
		if *ret.TypeID != o.typeID(t, "REFUND") {
			t.Fatalf("order return typed %v", ret.TypeID)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		m, err := o.e.Metrics(ctx, o.clock.Now().Add(-60*24*time.Hour), o.clock.Now().Add(time.Hour), nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.Opened < 8 || m.FirstResponse.Count == 0 || m.FirstResponse.P50 == nil || m.SLABreachRate <= 0 || m.SLABreachRate > 1 {
			t.Fatalf("metrics %+v", m)
		}
		if len(m.CsatByAgent) != 1 || m.CsatByAgent[0].Staff.ID != o.wang || m.CsatByAgent[0].Average != 4 {
			t.Fatalf("CSAT %+v", m.CsatByAgent)
		}
		total := 0
		for _, r := range m.Backlog {
			total += r.Total
		}
		if open := o.c.Ticket.Query().Where(ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed)).CountX(ctx); total != open {
			t.Fatalf("backlog %d, open %d", total, open)
		}
		_, err = o.e.Metrics(ctx, o.clock.Now(), o.clock.Now().Add(-time.Hour), nil)
		wantCode(t, err, apperr.CodeBadUserInput, "to")
	})
}
