package tickets

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// Escalate runs the escalation rules that are due on a ticket, then sets
// its next escalation and schedules it. A timer from an older SLA
// generation (the ticket changed since) is superseded and does nothing;
// one that fires early (a clock ahead of the engine's) reschedules.
// generation < 0 skips the check (the sweep).
func (e *Engine) Escalate(ctx context.Context, ticketID, generation int) error {
	return e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		t, err := c.Ticket.Get(ctx, ticketID)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if generation >= 0 && t.SLAGeneration != generation {
			return nil
		}
		if t.NextEscalationAt == nil {
			return nil
		}
		now := e.Now()
		if now.Before(*t.NextEscalationAt) {
			e.scheduleEscalation(ctx, c, t)
			return nil
		}
		return e.escalate(ctx, c, t, now)
	})
}

func (e *Engine) escalate(ctx context.Context, c *ent.Client, t *ent.Ticket, now time.Time) error {
	ck, err := e.policyFor(ctx, c, t)
	if err != nil || ck == nil {
		if err == nil { // the policy went away: nothing is due any more
			_, err = e.retime(ctx, c, t, nil)
		}
		return err
	}
	u := c.Ticket.UpdateOneID(t.ID)
	done := slices.Clone(t.EscalationsDone)
	fired := false
	for _, r := range ck.policy.Escalations {
		if slices.Contains(done, r.Key()) {
			continue
		}
		at := ruleAt(ck, t, r)
		if at == nil || now.Before(*at) {
			continue
		}
		done = append(done, r.Key())
		fired = true
		if r.AtPercent >= 100 {
			switch {
			case r.Target == workflow.FirstResponse && t.FirstResponseBreachedAt == nil:
				u.SetFirstResponseBreachedAt(*at)
				t.FirstResponseBreachedAt = at
			case r.Target == workflow.Resolution && t.ResolutionBreachedAt == nil:
				u.SetResolutionBreachedAt(*at)
				t.ResolutionBreachedAt = at
			}
		}
		if t, u, err = e.runActions(ctx, c, t, u, r); err != nil {
			return err
		}
	}
	t.EscalationsDone = done
	u.SetEscalationsDone(nonNil(done))
	if fired {
		// one ESCALATED event for the live views
		u.SetEscalatedAt(now)
	}
	_, err = e.retime(ctx, c, t, u)
	return err
}

// runActions performs one rule's actions in order and records it. Its
// changes go on u (saved once, with the new due times, by escalate); only
// a reassignment saves on the way, and returns a fresh ticket and update.
func (e *Engine) runActions(ctx context.Context, c *ent.Client, t *ent.Ticket, u *ent.TicketUpdateOne, r workflow.EscalationRule) (*ent.Ticket, *ent.TicketUpdateOne, error) {
	what := fmt.Sprintf("%s %d%%", strings.ToLower(strings.ReplaceAll(string(r.Target), "_", " ")), r.AtPercent)
	if r.AtPercent >= 100 {
		what += " (breached)"
	}
	var notes []string
	for _, a := range r.Actions {
		level := max(t.EscalationLevel, 1)
		switch a {
		case workflow.NotifyAssignee:
			if t.AssigneeID != nil {
				e.notify(ctx, c, t.TenantID, []int{*t.AssigneeID}, fmt.Sprintf("工单 %s「%s」SLA 预警：%s", t.Number, t.Title, what),
					fmt.Sprintf("ticket:%d:esc:%s:assignee", t.ID, r.Key()))
				notes = append(notes, "notified the assignee")
			}
		case workflow.NotifySupervisor:
			sup, err := supervisorAt(ctx, c, t, level)
			if err != nil {
				return nil, nil, err
			}
			if sup != 0 {
				e.notify(ctx, c, t.TenantID, []int{sup}, fmt.Sprintf("工单 %s「%s」已升级（%d 级）：%s", t.Number, t.Title, level, what),
					fmt.Sprintf("ticket:%d:esc:%s:sup:%d", t.ID, r.Key(), sup))
				notes = append(notes, fmt.Sprintf("notified supervisor #%d (level %d)", sup, level))
			}
		case workflow.RaisePriority:
			if next := raised(t.Priority); next != t.Priority {
				if err := e.record(ctx, c, t.ID, "PRIORITY_CHANGED", "priority", string(t.Priority), string(next), "escalation "+what); err != nil {
					return nil, nil, err
				}
				u.SetPriority(next)
				t.Priority = next
				notes = append(notes, "raised priority to "+string(next))
			}
		case workflow.ReassignSupervisor, workflow.ReassignQueue:
			var to *int
			if a == workflow.ReassignSupervisor {
				sup, err := supervisorAt(ctx, c, t, level)
				if err != nil {
					return nil, nil, err
				}
				if sup == 0 || (t.AssigneeID != nil && *t.AssigneeID == sup) {
					continue
				}
				to = &sup
			} else if t.AssigneeID == nil {
				continue
			}
			saved, err := u.Save(ctx)
			if err != nil {
				return nil, nil, err
			}
			done := t.EscalationsDone
			if t, err = e.setAssignee(ctx, c, saved, to, "escalation "+what, true); err != nil {
				return nil, nil, err
			}
			t.EscalationsDone = done
			u = c.Ticket.UpdateOneID(t.ID)
			if to != nil {
				notes = append(notes, fmt.Sprintf("reassigned to supervisor #%d", *to))
			} else {
				notes = append(notes, "returned to the team queue")
			}
		case workflow.BumpLevel:
			t.EscalationLevel++
			u.SetEscalationLevel(t.EscalationLevel)
			notes = append(notes, fmt.Sprintf("escalation level %d", t.EscalationLevel))
		}
	}
	kind := "ESCALATED"
	if r.AtPercent >= 100 {
		kind = "SLA_BREACHED"
	}
	return t, u, e.record(ctx, c, t.ID, kind, "sla", "", r.Key(), what+": "+strings.Join(notes, ", "))
}

func raised(p ticket.Priority) ticket.Priority {
	switch p {
	case ticket.PriorityLow:
		return ticket.PriorityNormal
	case ticket.PriorityNormal:
		return ticket.PriorityHigh
	default:
		return ticket.PriorityUrgent
	}
}

// sweepParallel is how many tickets a sweep escalates at once.
const sweepParallel = 8

// SweepResult counts a sweep's work.
type SweepResult struct {
	Scanned, Escalated int
}

// Sweep escalates every ticket whose next escalation is due, across all
// tenants, oldest first, in batches: the safety net under the timers (a
// timer lost with Redis, or due while every worker was down).
func (e *Engine) Sweep(ctx context.Context, batch int) (SweepResult, error) {
	var res SweepResult
	if batch <= 0 {
		batch = 500
	}
	sys := viewer.System(ctx)
	now := e.Now()
	after := 0
	for {
		due, err := e.client.Ticket.Query().
			Where(ticket.NextEscalationAtLTE(now), ticket.IDGT(after)).
			Order(ent.Asc(ticket.FieldID)).Limit(batch).
			Select(ticket.FieldID, ticket.FieldTenantID).All(sys)
		if err != nil {
			return res, err
		}
		// Each ticket escalates in its own transaction; a few at a time,
		// so that the database's commits overlap.
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(sweepParallel)
		for _, t := range due {
			res.Scanned++
			after = t.ID
			g.Go(func() error {
				if err := e.Escalate(viewer.ForTenant(gctx, t.TenantID), t.ID, -1); err != nil {
					return fmt.Errorf("escalate ticket %d: %w", t.ID, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return res, err
		}
		res.Escalated += len(due)
		if len(due) < batch {
			return res, nil
		}
	}
}
