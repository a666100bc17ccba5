package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// Assign gives a ticket to a staff member (a supervisor's call: capacity
// may be exceeded), or back to the queue when staffID is nil. Who may call
// it is policy (Mutation.assignTicket); the ticket must be in the caller's
// data scope.
func (e *Engine) Assign(ctx context.Context, id int, staffID *int, note string) (*ent.Ticket, error) {
	var out *ent.Ticket
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		t, err := c.Ticket.Get(ctx, id)
		if err != nil {
			return err
		}
		if !workflow.Open(workflow.Status(t.Status)) {
			return apperr.Invalid("id", "ticket %s is %s; reopen it first", t.Number, t.Status)
		}
		ctx = unscoped(ctx)
		if staffID != nil {
			ok, err := c.Staff.Query().Where(staff.ID(*staffID), staff.StatusEQ(staff.StatusActive)).Exist(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return apperr.Invalid("staffID", "no active staff member with this id")
			}
			if t.AssigneeID != nil && *t.AssigneeID == *staffID {
				out = t
				return nil
			}
		}
		reason := "assigned by hand"
		if staffID == nil {
			reason = "returned to the queue by hand"
		}
		if strings.TrimSpace(note) != "" {
			reason += ": " + note
		}
		out, err = e.setAssignee(ctx, c, t, staffID, reason, true)
		return err
	})
	return out, err
}

// Claim lets the signed-in agent take a ticket from the queue, within
// their capacity.
func (e *Engine) Claim(ctx context.Context, id int) (*ent.Ticket, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.StaffID == 0 {
		return nil, apperr.Forbidden("only staff claim tickets")
	}
	var out *ent.Ticket
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		// Queued tickets are outside an agent's own scope; authz decides
		// from the ticket's facts instead.
		uctx := unscoped(ctx)
		t, err := c.Ticket.Get(uctx, id)
		if err != nil {
			return err
		}
		mine, err := c.Staff.Query().Where(staff.ID(v.StaffID)).QueryDepartments().IDs(uctx)
		if err != nil {
			return err
		}
		if err := authz.MayClaim(v, t.AssigneeID, t.TeamID, mine); err != nil {
			if ae, ok := apperr.As(err); ok && ae.Code == apperr.CodeForbidden {
				return apperr.NotFound("ticket not found")
			}
			return err
		}
		if t.AssigneeID != nil { // already theirs
			out = t
			return nil
		}
		if !workflow.Open(workflow.Status(t.Status)) {
			return apperr.Invalid("id", "ticket %s is %s", t.Number, t.Status)
		}
		switch err := takeSlot(uctx, c, v.StaffID, e.Now(), true); {
		case errors.Is(err, errAtCapacity):
			return apperr.Conflict("id", "you are at your capacity of open tickets; finish one first")
		case err != nil:
			return err
		}
		out, err = e.setAssignee(uctx, c, t, &v.StaffID, fmt.Sprintf("claimed by #%d", v.StaffID), false)
		return err
	})
	return out, err
}

// Reroute runs routing again for a ticket in the caller's scope.
func (e *Engine) Reroute(ctx context.Context, id int) (*ent.Ticket, error) {
	var out *ent.Ticket
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		t, err := c.Ticket.Get(ctx, id)
		if err != nil {
			return err
		}
		if !workflow.Open(workflow.Status(t.Status)) {
			return apperr.Invalid("id", "ticket %s is %s", t.Number, t.Status)
		}
		ctx = unscoped(ctx)
		if t.AssigneeID != nil {
			if t, err = e.setAssignee(ctx, c, t, nil, "routing again", false); err != nil {
				return err
			}
		}
		out, err = e.route(ctx, c, t, nil)
		return err
	})
	return out, err
}
