package tickets

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/ticketapproval"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// requestApproval parks the ticket in PENDING_APPROVAL behind step of the
// transition and tells the approvers.
func (e *Engine) requestApproval(ctx context.Context, c *ent.Client, t *ent.Ticket, u *ent.TicketUpdateOne, tr workflow.Transition, step int) (*ent.Ticket, error) {
	st := tr.Approvals[step]
	need := 1
	if st.Mode == workflow.ModeAllOf {
		need = len(st.StaffIDs)
	}
	if th := st.Threshold; th != nil && amountFen(t.CustomFields[th.Field]) > th.AboveFen {
		need = max(need, th.MinApprovers)
	}
	rejectTo := tr.RejectTo
	if rejectTo == "" {
		rejectTo = tr.From
	}
	cr := c.TicketApproval.Create().SetTicketID(t.ID).SetStep(step).SetName(st.Name).
		SetFromStatus(tr.From).SetToStatus(tr.To).SetRejectTo(rejectTo).SetApprover(st).
		SetRequiredApprovals(need)
	if a := actorID(ctx); a != nil {
		cr.SetRequestedByID(*a)
	} else if step > 0 {
		// later steps keep the original requester
		prev, err := c.TicketApproval.Query().Where(ticketapproval.TicketID(t.ID), ticketapproval.Step(0)).
			Order(ent.Desc(ticketapproval.FieldID)).First(ctx)
		if err == nil && prev.RequestedByID != nil {
			cr.SetRequestedByID(*prev.RequestedByID)
		}
	}
	ap, err := cr.Save(ctx)
	if err != nil {
		return nil, err
	}
	if t.Status != ticket.StatusPendingApproval {
		from := t.Status
		u.SetStatus(ticket.StatusPendingApproval)
		t.Status = ticket.StatusPendingApproval
		if err := e.record(ctx, c, t.ID, "STATUS_CHANGED", "status", string(from), string(ticket.StatusPendingApproval), ""); err != nil {
			return nil, err
		}
	}
	if err := e.record(ctx, c, t.ID, "APPROVAL_REQUESTED", "approval", "", st.Name,
		fmt.Sprintf("to move to %s; needs %d approver(s)", tr.To, need)); err != nil {
		return nil, err
	}
	approvers, err := approverIDs(ctx, c, t, st)
	if err != nil {
		return nil, err
	}
	e.notify(ctx, c, t.TenantID, approvers, fmt.Sprintf("工单 %s「%s」等待你的审批：%s", t.Number, t.Title, st.Name),
		fmt.Sprintf("ticket:%d:approval:%d", t.ID, ap.ID))
	return e.retime(ctx, c, t, u)
}

// amountFen reads an amount in fen from a custom field (a number or a
// numeric string).
func amountFen(v any) int64 {
	switch x := v.(type) {
	case json.Number: // how GraphQL variables arrive
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return int64(f)
	case float64:
		return int64(x)
	case int:
		return int64(x)
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n
	}
	return 0
}

// approverIDs lists who may decide a step, for notifying them.
func approverIDs(ctx context.Context, c *ent.Client, t *ent.Ticket, st workflow.ApprovalStep) ([]int, error) {
	switch st.Approver {
	case workflow.ApproverStaff:
		return st.StaffIDs, nil
	case workflow.ApproverDepartmentHead:
		heads, err := departmentHeads(ctx, c, t)
		if len(heads) > 0 {
			heads = heads[:1]
		}
		return heads, err
	default:
		// role holders: roles are a JSON list, so filter in Go over the
		// active staff of the tenant; approval roles are few people.
		rows, err := c.Staff.Query().Where(staff.StatusEQ(staff.StatusActive)).
			Select(staff.FieldID, staff.FieldRoles).Limit(5000).All(ctx)
		if err != nil {
			return nil, err
		}
		var ids []int
		for _, s := range rows {
			if slices.Contains(s.Roles, st.Role) {
				ids = append(ids, s.ID)
			}
		}
		return ids, nil
	}
}

// departmentHeads are the leaders from the ticket's team upwards.
func departmentHeads(ctx context.Context, c *ent.Client, t *ent.Ticket) ([]int, error) {
	var heads []int
	for level := 1; level <= 8; level++ {
		id, err := supervisorAt(ctx, c, t, level)
		if err != nil {
			return nil, err
		}
		if id == 0 || slices.Contains(heads, id) {
			break
		}
		heads = append(heads, id)
	}
	return heads, nil
}

// Decide records the signed-in staff member's decision on an approval. A
// rejection sends the ticket back (to the transition's rejectTo); the last
// approval a step needs moves to the next step, or completes the
// transition. Every decision is audited.
func (e *Engine) Decide(ctx context.Context, approvalID int, approve bool, comment string) (*ent.TicketApproval, error) {
	var out *ent.TicketApproval
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		v := viewer.FromContext(ctx)
		// Read outside the caller's scope: approvers are often outside the
		// ticket's team. authz decides below whether they may decide it.
		ap, err := c.TicketApproval.Get(unscoped(ctx), approvalID)
		if err != nil {
			return err
		}
		if ap.Status != ticketapproval.StatusPending {
			return apperr.Conflict("id", "this approval was already %s", strings.ToLower(string(ap.Status)))
		}
		// The ticket is read without the caller's scope: approvers are
		// often outside the ticket's team.
		uctx := unscoped(ctx)
		t, err := c.Ticket.Get(uctx, ap.TicketID)
		if err != nil {
			return err
		}
		facts := authz.ApprovalFacts{RequestedBy: ap.RequestedByID}
		for _, d := range ap.Decisions {
			facts.Decided = append(facts.Decided, d.StaffID)
		}
		if ap.Approver.Approver == workflow.ApproverDepartmentHead {
			if facts.DepartmentHeads, err = departmentHeads(uctx, c, t); err != nil {
				return err
			}
		}
		if err := authz.MayApprove(v, ap.Approver, facts); err != nil {
			return err
		}
		me, err := c.Staff.Get(uctx, v.StaffID)
		if err != nil {
			return err
		}
		now := e.Now()
		decisions := append(slices.Clone(ap.Decisions), workflow.Decision{StaffID: me.ID, StaffName: me.Name,
			Approved: approve, Comment: comment, At: now})
		upd := c.TicketApproval.UpdateOneID(ap.ID).SetDecisions(decisions)
		approvals := 0
		for _, d := range decisions {
			if d.Approved {
				approvals++
			}
		}
		done := !approve || approvals >= ap.RequiredApprovals
		if done {
			status := ticketapproval.StatusApproved
			if !approve {
				status = ticketapproval.StatusRejected
			}
			upd.SetStatus(status).SetDecidedAt(now)
		}
		if out, err = upd.Save(uctx); err != nil {
			return err
		}
		if rec := audit.FromContext(ctx); rec != nil {
			verb := "approved"
			if !approve {
				verb = "rejected"
			}
			rec.Add(audit.Entry{Action: auditlog.ActionMutation, Operation: "decideApproval",
				ObjectType: "TicketApproval", ObjectIDs: []string{strconv.Itoa(ap.ID)},
				Fields: []string{"decision:" + verb}, Purpose: comment})
		}
		kind := "APPROVED"
		if !approve {
			kind = "REJECTED"
		}
		if err := e.record(uctx, c, t.ID, kind, "approval", "", ap.Name, comment); err != nil {
			return err
		}
		// The answer carries its ticket, which the approver may not be able
		// to read through their own scope.
		out.Edges.Ticket = t
		if !done {
			return nil
		}
		u := c.Ticket.UpdateOneID(t.ID)
		if !approve {
			out.Edges.Ticket, err = e.applyStatus(uctx, c, t, u, ticket.Status(ap.RejectTo), "rejected: "+comment)
			return err
		}
		wf, _, err := workflowOf(uctx, c, t)
		if err != nil {
			return err
		}
		tr, ok := wf.Find(ap.FromStatus, ap.ToStatus)
		if ok && ap.Step+1 < len(tr.Approvals) {
			out.Edges.Ticket, err = e.requestApproval(uctx, c, t, u, tr, ap.Step+1)
			return err
		}
		out.Edges.Ticket, err = e.applyStatus(uctx, c, t, u, ticket.Status(ap.ToStatus), "approved")
		return err
	})
	return out, err
}

// PendingFor lists the approvals the signed-in staff member may decide now.
func (e *Engine) PendingFor(ctx context.Context) ([]*ent.TicketApproval, error) {
	v := viewer.FromContext(ctx)
	uctx := unscoped(ctx)
	pending, err := e.client.TicketApproval.Query().Where(ticketapproval.StatusEQ(ticketapproval.StatusPending)).
		Order(ent.Asc(ticketapproval.FieldID)).Limit(500).WithTicket().All(uctx)
	if err != nil {
		return nil, err
	}
	var out []*ent.TicketApproval
	for _, ap := range pending {
		facts := authz.ApprovalFacts{RequestedBy: ap.RequestedByID}
		for _, d := range ap.Decisions {
			facts.Decided = append(facts.Decided, d.StaffID)
		}
		if ap.Approver.Approver == workflow.ApproverDepartmentHead && ap.Edges.Ticket != nil {
			if facts.DepartmentHeads, err = departmentHeads(uctx, e.client, ap.Edges.Ticket); err != nil {
				return nil, err
			}
		}
		if authz.MayApprove(v, ap.Approver, facts) == nil {
			out = append(out, ap)
		}
	}
	return out, nil
}
