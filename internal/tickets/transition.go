package tickets

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// TransitionInput is one move along a ticket's workflow.
type TransitionInput struct {
	To           ticket.Status
	Comment      string
	CustomFields map[string]any
}

// Transition moves a ticket along its type's workflow. The ticket is read
// under the caller's data scope (a ticket outside it is NOT_FOUND); a move
// the workflow does not allow is BAD_USER_INPUT naming the moves it does.
func (e *Engine) Transition(ctx context.Context, id int, in TransitionInput) (*ent.Ticket, error) {
	var out *ent.Ticket
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		t, err := c.Ticket.Get(ctx, id)
		if err != nil {
			return err
		}
		ctx = unscoped(ctx)
		wf, tt, err := workflowOf(ctx, c, t)
		if err != nil {
			return err
		}
		from, to := workflow.Status(t.Status), workflow.Status(in.To)
		if from == workflow.Status(ticket.StatusPendingApproval) {
			return apperr.Invalid("to", "ticket %s waits for approval: decide the approval instead", t.Number)
		}
		tr, ok := wf.Find(from, to)
		if !ok {
			return apperr.Invalid("to", "a %s ticket cannot move to %s; allowed: %s", from, to, allowed(wf.From(from)))
		}
		if to == "REOPENED" && t.ClosedAt != nil && tt != nil {
			window, _ := time.ParseDuration(tt.ReopenWindow)
			if window > 0 && e.Now().Sub(*t.ClosedAt) > window {
				return apperr.Invalid("to", "ticket %s was closed more than %s ago and can no longer be reopened", t.Number, tt.ReopenWindow)
			}
		}
		u := c.Ticket.UpdateOneID(t.ID)
		if len(in.CustomFields) > 0 {
			merged := maps.Clone(t.CustomFields)
			if merged == nil {
				merged = map[string]any{}
			}
			maps.Copy(merged, in.CustomFields)
			t.CustomFields = merged
			u.SetCustomFields(merged)
		}
		if err := checkRequired(tr, t, in.Comment); err != nil {
			return err
		}
		if strings.TrimSpace(in.Comment) != "" {
			// The engine's own comment: it counts the response here, not
			// through the comment hook (which would update the ticket
			// under this transition's feet).
			cr := c.TicketComment.Create().SetTicketID(t.ID).SetBody(in.Comment)
			if a := actorID(ctx); a != nil {
				cr.SetAuthorID(*a)
				if err := e.markResponse(ctx, c, t, u); err != nil {
					return err
				}
			}
			if err := cr.Exec(ctx); err != nil {
				return err
			}
		}
		if len(tr.Approvals) > 0 {
			out, err = e.requestApproval(ctx, c, t, u, tr, 0)
			return err
		}
		out, err = e.applyStatus(ctx, c, t, u, in.To, in.Comment)
		return err
	})
	return out, err
}

func allowed(s []workflow.Status) string {
	if len(s) == 0 {
		return "none (the workflow ends here)"
	}
	names := make([]string, len(s))
	for i, v := range s {
		names[i] = string(v)
	}
	return strings.Join(names, ", ")
}

// checkRequired refuses a move whose required fields are missing, naming
// each.
func checkRequired(tr workflow.Transition, t *ent.Ticket, comment string) error {
	var missing []string
	for _, r := range tr.Required {
		present := true
		switch r {
		case "comment":
			present = strings.TrimSpace(comment) != ""
		case "assignee":
			present = t.AssigneeID != nil
		case "order":
			present = t.OrderID != nil
		case "category":
			present = t.Category != ""
		default:
			v, ok := t.CustomFields[strings.TrimPrefix(r, "customFields.")]
			present = ok && v != nil && v != ""
		}
		if !present {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		field := missing[0]
		if field != "comment" && !strings.HasPrefix(field, "customFields.") {
			field = "id"
		}
		return apperr.Invalid(field, "moving to %s needs %s", tr.To, strings.Join(missing, ", "))
	}
	return nil
}

// applyStatus makes the move and everything that follows from it: open
// ticket counts, the SLA clock (first response, pause and resume,
// reopening), the satisfaction survey on close, and the history.
func (e *Engine) applyStatus(ctx context.Context, c *ent.Client, t *ent.Ticket, u *ent.TicketUpdateOne, to ticket.Status, note string) (*ent.Ticket, error) {
	now := e.Now()
	from := t.Status
	wasOpen, isOpen := workflow.Open(workflow.Status(from)), workflow.Open(workflow.Status(to))
	if t.AssigneeID != nil && wasOpen != isOpen {
		var err error
		if isOpen {
			err = takeSlot(ctx, c, *t.AssigneeID, now, false)
		} else {
			err = releaseSlot(ctx, c, *t.AssigneeID)
		}
		if err != nil && err != errAtCapacity {
			return nil, err
		}
	}
	u.SetStatus(to)
	t.Status = to
	switch to {
	case ticket.StatusInProgress, ticket.StatusResolved, ticket.StatusPendingCustomer:
		// taking the ticket up, resolving it or asking the customer is a
		// response
		if err := e.markResponse(ctx, c, t, u); err != nil {
			return nil, err
		}
	case ticket.StatusReopened:
		// Resolution is counted again from now; the first response stands.
		u.SetReopenedAt(now).SetSLAPausedSeconds(0).SetLastUpdateAt(now).
			SetEscalationsDone([]string{}).SetEscalationLevel(0)
		t.ReopenedAt, t.SLAPausedSeconds, t.LastUpdateAt = &now, 0, &now
		t.EscalationsDone, t.EscalationLevel = nil, 0
		if err := e.record(ctx, c, t.ID, "REOPENED", "", "", "", note); err != nil {
			return nil, err
		}
	}
	// The clock stops while the customer owes an answer.
	if to == ticket.StatusPendingCustomer && t.SLAPausedAt == nil {
		u.SetSLAPausedAt(now)
		t.SLAPausedAt = &now
	} else if to != ticket.StatusPendingCustomer && t.SLAPausedAt != nil {
		ck, err := e.policyFor(ctx, c, t)
		if err != nil {
			return nil, err
		}
		paused := now.Sub(*t.SLAPausedAt)
		if ck != nil {
			paused = ck.cal.Between(*t.SLAPausedAt, now)
		}
		t.SLAPausedSeconds += int64(paused / time.Second)
		t.SLAPausedAt = nil
		u.SetSLAPausedSeconds(t.SLAPausedSeconds).ClearSLAPausedAt().SetLastUpdateAt(now)
		t.LastUpdateAt = &now
	}
	if to == ticket.StatusResolved && t.ResolutionDueAt != nil && now.After(*t.ResolutionDueAt) && t.ResolutionBreachedAt == nil {
		u.SetResolutionBreachedAt(*t.ResolutionDueAt)
	}
	if err := e.record(ctx, c, t.ID, "STATUS_CHANGED", "status", string(from), string(to), note); err != nil {
		return nil, err
	}
	if to == ticket.StatusClosed {
		if err := e.issueSurvey(ctx, c, t, u); err != nil {
			return nil, err
		}
	}
	saved, err := e.retime(ctx, c, t, u)
	if err != nil {
		return nil, err
	}
	if to == ticket.StatusResolved && saved.AssigneeID != nil {
		if err := refreshAgentStats(ctx, c, *saved.AssigneeID, now); err != nil {
			return nil, err
		}
	}
	return saved, nil
}

// workflowOf is the ticket's type's workflow, or the built-in default for
// tickets without a type.
func workflowOf(ctx context.Context, c *ent.Client, t *ent.Ticket) (workflow.Workflow, *ent.TicketType, error) {
	tt, err := typeOf(ctx, c, t)
	if err != nil {
		return workflow.Workflow{}, nil, err
	}
	if tt == nil || len(tt.Workflow.Transitions) == 0 {
		return DefaultWorkflow(), tt, nil
	}
	return tt.Workflow, tt, nil
}

// staffResponded counts a public staff comment as a response: it stops the
// first-response clock and restarts the next-update one.
func (e *Engine) staffResponded(ctx context.Context, c *ent.Client, ticketID int) error {
	t, err := c.Ticket.Get(unscoped(ctx), ticketID)
	if err != nil {
		return err
	}
	if !workflow.Open(workflow.Status(t.Status)) {
		return nil
	}
	u := c.Ticket.UpdateOneID(t.ID)
	if err := e.markResponse(ctx, c, t, u); err != nil {
		return err
	}
	_, err = e.retime(unscoped(ctx), c, t, u)
	return err
}

// markResponse records a staff response on t and its update: the first
// response (and whether it was late), and the restart of the next-update
// clock, whose rules may fire again.
func (e *Engine) markResponse(ctx context.Context, c *ent.Client, t *ent.Ticket, u *ent.TicketUpdateOne) error {
	now := e.Now()
	u.SetLastUpdateAt(now)
	t.LastUpdateAt = &now
	if t.FirstRespondedAt == nil {
		u.SetFirstRespondedAt(now)
		t.FirstRespondedAt = &now
		if t.FirstResponseDueAt != nil && now.After(*t.FirstResponseDueAt) && t.FirstResponseBreachedAt == nil {
			u.SetFirstResponseBreachedAt(*t.FirstResponseDueAt)
			t.FirstResponseBreachedAt = t.FirstResponseDueAt
		}
		if err := e.record(ctx, c, t.ID, "FIRST_RESPONSE", "", "", "", ""); err != nil {
			return err
		}
	}
	t.EscalationsDone = slices.DeleteFunc(slices.Clone(t.EscalationsDone), func(k string) bool {
		return strings.HasPrefix(k, string(workflow.NextUpdate)+"@")
	})
	u.SetEscalationsDone(nonNil(t.EscalationsDone))
	return nil
}

// DefaultWorkflow is the workflow of tickets without a type, and of the
// default types.
func DefaultWorkflow() workflow.Workflow {
	mv := func(from, to string, required ...string) workflow.Transition {
		return workflow.Transition{From: workflow.Status(from), To: workflow.Status(to), Required: required}
	}
	return workflow.Workflow{Transitions: []workflow.Transition{
		mv("NEW", "ASSIGNED", "assignee"), mv("NEW", "IN_PROGRESS"), mv("NEW", "CLOSED", "comment"),
		mv("ASSIGNED", "IN_PROGRESS"), mv("ASSIGNED", "PENDING_CUSTOMER"), mv("ASSIGNED", "RESOLVED", "comment"),
		mv("IN_PROGRESS", "PENDING_CUSTOMER"), mv("IN_PROGRESS", "RESOLVED", "comment"),
		mv("PENDING_CUSTOMER", "IN_PROGRESS"), mv("PENDING_CUSTOMER", "RESOLVED", "comment"),
		mv("RESOLVED", "CLOSED"), mv("RESOLVED", "REOPENED"),
		mv("CLOSED", "REOPENED"),
		mv("REOPENED", "ASSIGNED", "assignee"), mv("REOPENED", "IN_PROGRESS"),
	}}
}
