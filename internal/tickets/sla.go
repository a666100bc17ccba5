package tickets

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/businesscalendar"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/slapolicy"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/businesstime"
	"github.com/scrm-dev/scrm/internal/txhook"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// clock is an SLA policy as the engine applies it to one ticket: parsed
// targets on a calendar (business or around the clock).
type clock struct {
	policy  *ent.SLAPolicy
	targets workflow.Durations
	cal     *businesstime.Calendar
}

// add is d of SLA time after from.
func (c *clock) add(from time.Time, d time.Duration) *time.Time {
	at, ok := c.cal.Add(from, d)
	if !ok {
		return nil
	}
	at = at.UTC()
	return &at
}

// compiled calendars by id, each with the version it was compiled from:
// compiling is cheap, but a sweep of 100k tickets would do it 100k times.
var calendars sync.Map // id -> compiledCalendar

type compiledCalendar struct {
	version time.Time
	cal     *businesstime.Calendar
}

func compiled(c *ent.BusinessCalendar) (*businesstime.Calendar, error) {
	if v, ok := calendars.Load(c.ID); ok && v.(compiledCalendar).version.Equal(c.UpdatedAt) {
		return v.(compiledCalendar).cal, nil
	}
	cal, err := businesstime.Compile(c.Spec)
	if err != nil {
		return nil, fmt.Errorf("calendar %d: %w", c.ID, err)
	}
	calendars.Store(c.ID, compiledCalendar{version: c.UpdatedAt, cal: cal})
	return cal, nil
}

// tenantConfig is what timing a ticket reads of its tenant: the active
// SLA policies in order and the default calendar. It is kept for a moment
// (configTTL) because a sweep times thousands of tickets of one tenant;
// the engine's own configuration mutations drop it at once, and other
// replicas see a change within configTTL.
type tenantConfig struct {
	policies []*ent.SLAPolicy
	calendar *businesstime.Calendar
	read     time.Time
}

const configTTL = 2 * time.Second

func (e *Engine) config(ctx context.Context, c *ent.Client, tenantID int) (*tenantConfig, error) {
	e.cfgMu.Lock()
	cfg := e.cfg[tenantID]
	e.cfgMu.Unlock()
	if cfg != nil && time.Since(cfg.read) < configTTL {
		return cfg, nil
	}
	cfg = &tenantConfig{read: time.Now()}
	var err error
	cfg.policies, err = c.SLAPolicy.Query().Where(slapolicy.Active(true)).
		Order(ent.Asc(slapolicy.FieldPosition), ent.Asc(slapolicy.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	row, err := c.BusinessCalendar.Query().Where(businesscalendar.IsDefault(true)).First(ctx)
	switch {
	case err == nil:
		if cfg.calendar, err = compiled(row); err != nil {
			return nil, err
		}
	case ent.IsNotFound(err):
		tn, err := c.Tenant.Query().Where(tenant.ID(tenantID)).Only(ctx)
		if err != nil {
			return nil, err
		}
		loc, err := time.LoadLocation(tn.Timezone)
		if err != nil {
			loc = time.UTC
		}
		cfg.calendar = businesstime.Always(loc)
	default:
		return nil, err
	}
	e.cfgMu.Lock()
	e.cfg[tenantID] = cfg
	e.cfgMu.Unlock()
	return cfg, nil
}

// forgetConfig drops the tenant's cached configuration after a change.
func (e *Engine) forgetConfig(ctx context.Context) {
	if tid, err := tenantOf(ctx); err == nil {
		e.cfgMu.Lock()
		delete(e.cfg, tid)
		e.cfgMu.Unlock()
	}
}

// policyFor finds the first active policy matching the ticket, and its
// calendar: the policy's own, else the team's (or the nearest department
// above with one), else the tenant's default, else around the clock.
func (e *Engine) policyFor(ctx context.Context, c *ent.Client, t *ent.Ticket) (*clock, error) {
	cfg, err := e.config(ctx, c, t.TenantID)
	if err != nil {
		return nil, err
	}
	policies := cfg.policies
	typeID := 0
	if t.TypeID != nil {
		typeID = *t.TypeID
	}
	var p *ent.SLAPolicy
	for _, cand := range policies {
		if cand.Condition.Matches(typeID, workflow.Priority(t.Priority), workflow.Source(t.Source), t.Category) {
			p = cand
			break
		}
	}
	if p == nil {
		return nil, nil
	}
	d, err := p.Targets.Parse()
	if err != nil {
		return nil, fmt.Errorf("SLA policy %d: %w", p.ID, err)
	}
	cal, err := e.calendarFor(ctx, c, p, t)
	if err != nil {
		return nil, err
	}
	return &clock{policy: p, targets: d, cal: cal}, nil
}

func (e *Engine) calendarFor(ctx context.Context, c *ent.Client, p *ent.SLAPolicy, t *ent.Ticket) (*businesstime.Calendar, error) {
	if !p.BusinessHours {
		return businesstime.Always(time.UTC), nil
	}
	var row *ent.BusinessCalendar
	var err error
	switch {
	case p.CalendarID != nil:
		row, err = c.BusinessCalendar.Get(ctx, *p.CalendarID)
	case t.TeamID != nil:
		row, err = teamCalendar(ctx, c, *t.TeamID)
	}
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	if row != nil {
		return compiled(row)
	}
	cfg, err := e.config(ctx, c, t.TenantID)
	if err != nil {
		return nil, err
	}
	return cfg.calendar, nil
}

// teamCalendar walks up from the team to the first department with a
// calendar.
func teamCalendar(ctx context.Context, c *ent.Client, teamID int) (*ent.BusinessCalendar, error) {
	id := &teamID
	for range 32 { // a tree deeper than 32 is a cycle
		if id == nil {
			return nil, nil
		}
		d, err := c.Department.Query().Where(department.ID(*id)).
			Select(department.FieldParentID, department.FieldCalendarID).Only(ctx)
		if err != nil {
			return nil, err
		}
		if d.CalendarID != nil {
			return c.BusinessCalendar.Get(ctx, *d.CalendarID)
		}
		id = d.ParentID
	}
	return nil, nil
}

// slaStart is where the clocks count from: creation, or the last reopening.
func slaStart(t *ent.Ticket) time.Time {
	if t.ReopenedAt != nil {
		return *t.ReopenedAt
	}
	return t.CreatedAt
}

// dueTimes are a ticket's SLA fields as the engine computes them.
type dueTimes struct {
	policyID                       *int
	firstResponse, nextUpdate, res *time.Time
	nextEscalation                 *time.Time
	done                           []string
}

// computeDue works out a ticket's due times and its next escalation from
// its policy. A paused clock (PENDING_CUSTOMER) has no due times: they are
// set again, moved by the time paused, when it resumes.
func computeDue(ck *clock, t *ent.Ticket) dueTimes {
	var d dueTimes
	if ck == nil {
		return d
	}
	d.policyID = &ck.policy.ID
	d.done = t.EscalationsDone
	if t.SLAPolicyID == nil || *t.SLAPolicyID != ck.policy.ID {
		d.done = nil // a new policy's rules have not fired
	}
	if t.SLAPausedAt != nil || !workflow.Open(workflow.Status(t.Status)) {
		// Keep the due times of a finished ticket for the record; a paused
		// one has none.
		if t.SLAPausedAt == nil {
			d.firstResponse, d.nextUpdate, d.res = t.FirstResponseDueAt, nil, t.ResolutionDueAt
		}
		return d
	}
	paused := time.Duration(t.SLAPausedSeconds) * time.Second
	start := slaStart(t)
	if ck.targets.FirstResponse > 0 {
		d.firstResponse = ck.add(start, ck.targets.FirstResponse+paused)
	}
	if ck.targets.NextUpdate > 0 && t.LastUpdateAt != nil && t.Status != ticket.StatusPendingApproval {
		// the customer waits for news: due a target after the last staff
		// update (or the end of the last pause)
		d.nextUpdate = ck.add(*t.LastUpdateAt, ck.targets.NextUpdate)
	}
	if ck.targets.Resolution > 0 {
		d.res = ck.add(start, ck.targets.Resolution+paused)
	}
	for _, r := range ck.policy.Escalations {
		if slices.Contains(d.done, r.Key()) {
			continue
		}
		if at := ruleAt(ck, t, r); at != nil && (d.nextEscalation == nil || at.Before(*d.nextEscalation)) {
			d.nextEscalation = at
		}
	}
	return d
}

// ruleAt is when an escalation rule is due on a ticket, or nil when it
// does not apply (its target is met, unset, or has no clock running):
// first response and resolution count from the SLA start plus the time
// paused, next update from the last staff update.
func ruleAt(ck *clock, t *ent.Ticket, r workflow.EscalationRule) *time.Time {
	target := ck.targets.Of(r.Target)
	if target <= 0 {
		return nil
	}
	span := target * time.Duration(r.AtPercent) / 100
	switch r.Target {
	case workflow.NextUpdate:
		if t.LastUpdateAt == nil || t.Status == ticket.StatusPendingApproval {
			return nil
		}
		return ck.add(*t.LastUpdateAt, span)
	case workflow.FirstResponse:
		if t.FirstRespondedAt != nil {
			return nil
		}
	}
	return ck.add(slaStart(t), span+time.Duration(t.SLAPausedSeconds)*time.Second)
}

// applyDue stores due times on a ticket's mutation (create or update) and
// reports whether the escalation timer must be (re)scheduled.
func applyDue(m *ent.TicketMutation, t *ent.Ticket, d dueTimes) (changed bool) {
	setTime := func(old, v *time.Time, set func(time.Time), clear func()) {
		switch {
		case v == nil && old != nil:
			clear()
		case v != nil && (old == nil || !old.Equal(*v)):
			set(*v)
		}
	}
	setTime(t.FirstResponseDueAt, d.firstResponse, m.SetFirstResponseDueAt, m.ClearFirstResponseDueAt)
	setTime(t.NextUpdateDueAt, d.nextUpdate, m.SetNextUpdateDueAt, m.ClearNextUpdateDueAt)
	setTime(t.ResolutionDueAt, d.res, m.SetResolutionDueAt, m.ClearResolutionDueAt)
	if !sameTime(t.NextEscalationAt, d.nextEscalation) {
		changed = true
		if d.nextEscalation == nil {
			m.ClearNextEscalationAt()
		} else {
			m.SetNextEscalationAt(*d.nextEscalation)
		}
	}
	if d.policyID == nil && t.SLAPolicyID != nil {
		m.ClearSLAPolicyID()
	} else if d.policyID != nil && (t.SLAPolicyID == nil || *t.SLAPolicyID != *d.policyID) {
		m.SetSLAPolicyID(*d.policyID)
	}
	if !slices.Equal(d.done, t.EscalationsDone) {
		m.SetEscalationsDone(nonNil(d.done))
	}
	if changed {
		m.SetSLAGeneration(t.SLAGeneration + 1)
	}
	return changed
}

func sameTime(a, b *time.Time) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// retime recomputes a ticket's due times (after its priority, type,
// status or pause changed) and schedules its next escalation after
// commit. It returns the saved ticket.
func (e *Engine) retime(ctx context.Context, c *ent.Client, t *ent.Ticket, u *ent.TicketUpdateOne) (*ent.Ticket, error) {
	ck, err := e.policyFor(ctx, c, t)
	if err != nil {
		return nil, err
	}
	if u == nil {
		u = c.Ticket.UpdateOneID(t.ID)
	}
	d := computeDue(ck, t)
	changed := applyDue(u.Mutation(), t, d)
	saved, err := u.Save(ctx)
	if err != nil {
		return nil, err
	}
	if changed && saved.NextEscalationAt != nil {
		e.scheduleEscalation(ctx, c, saved)
	}
	return saved, nil
}

func (e *Engine) scheduleEscalation(ctx context.Context, c *ent.Client, t *ent.Ticket) {
	if e.timers == nil || t.NextEscalationAt == nil {
		return
	}
	tenantID, id, gen, at := t.TenantID, t.ID, t.SLAGeneration, *t.NextEscalationAt
	txhook.AfterCommit(ctx, func() {
		if err := e.timers.ScheduleEscalation(context.WithoutCancel(ctx), tenantID, id, gen, at); err != nil {
			// the sweep escalates it anyway
			e.log.WarnContext(ctx, "schedule escalation", "ticket", id, "err", err)
		}
	})
}
