package tickets

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/hook"
	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/tickettype"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// Install adds the engine's hooks to the client (and so to every
// transaction it opens):
//   - a new ticket gets its type, due times and an agent;
//   - a ticket whose priority, type, category or team is edited is
//     timed again (another SLA policy or calendar may apply);
//   - a public staff comment counts as a response;
//   - a form submission of a form set to open tickets opens one;
//   - a staff member who resigns has their open tickets routed again.
func (e *Engine) Install(c *ent.Client) {
	c.Ticket.Use(hook.On(e.onTicketCreated, ent.OpCreate))
	c.Ticket.Use(hook.On(e.onTicketEdited, ent.OpUpdateOne))
	c.TicketComment.Use(hook.On(e.onCommentCreated, ent.OpCreate))
	c.FormSubmission.Use(hook.On(e.onSubmissionCreated, ent.OpCreate))
	c.Staff.Use(hook.On(e.onStaffChanged, ent.OpUpdate|ent.OpUpdateOne|ent.OpCreate))
}

// withMutationTx puts the mutation's transaction (if it runs in one) in
// ctx, for txhook.AfterCommit. The engine's writes go through the mutation's
// client, so they share its transaction or, outside one, its connection.
func withMutationTx(ctx context.Context, m interface{ Tx() (*ent.Tx, error) }) context.Context {
	if tx, err := m.Tx(); err == nil {
		return ent.NewTxContext(ctx, tx)
	}
	return ctx
}

// onTicketCreated types, times and routes a new ticket before it is
// inserted, so that opening one is one insert (and one CREATED event, with
// its assignee) plus its history rows.
func (e *Engine) onTicketCreated(next ent.Mutator) ent.Mutator {
	return hook.TicketFunc(func(ctx context.Context, m *ent.TicketMutation) (ent.Value, error) {
		schema.OwnNewTicket(ctx, m)
		ctx = withMutationTx(ctx, m)
		return e.opening(engineAt(unscoped(ctx)), ctx, m.Client(), m, next)
	})
}

// draft is the ticket a create mutation will insert, as far as the engine
// looks at it.
func draft(ctx context.Context, m *ent.TicketMutation, now time.Time) (*ent.Ticket, error) {
	t := &ent.Ticket{CreatedAt: now, Priority: ticket.DefaultPriority, Status: ticket.DefaultStatus, Source: ticket.DefaultSource}
	var ok bool
	if t.TenantID, ok = m.TenantID(); !ok {
		tid, err := tenantOf(ctx)
		if err != nil {
			return nil, err
		}
		t.TenantID = tid
	}
	if v, ok := m.CreatedAt(); ok {
		t.CreatedAt = v
	}
	if v, ok := m.Priority(); ok {
		t.Priority = v
	}
	if v, ok := m.Status(); ok {
		t.Status = v
	}
	if v, ok := m.Source(); ok {
		t.Source = v
	}
	t.Category, _ = m.Category()
	t.Region, _ = m.Region()
	t.RequiredSkills, _ = m.RequiredSkills()
	t.Title, _ = m.Title()
	for _, f := range []struct {
		get func() (int, bool)
		set **int
	}{{m.TypeID, &t.TypeID}, {m.TeamID, &t.TeamID}, {m.OrderID, &t.OrderID}, {m.CustomerID, &t.CustomerID}, {m.AssigneeID, &t.AssigneeID}} {
		if v, ok := f.get(); ok {
			*f.set = &v
		}
	}
	return t, nil
}

// opening does the engine's part with ctx (unscoped: routing may give the
// ticket to anyone) and the insert itself with the caller's scoped ctx, so
// the data layer still refuses links to rows the caller cannot see.
func (e *Engine) opening(ctx, callerCtx context.Context, c *ent.Client, m *ent.TicketMutation, next ent.Mutator) (*ent.Ticket, error) {
	now := e.Now()
	t, err := draft(ctx, m, now)
	if err != nil {
		return nil, err
	}
	if t.TypeID == nil {
		types, err := c.TicketType.Query().Where(tickettype.Active(true)).Order(ent.Asc(tickettype.FieldID)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, tt := range types {
			if slices.Contains(tt.DefaultForSources, workflow.Source(t.Source)) {
				m.SetTypeID(tt.ID)
				t.TypeID = &tt.ID
				break
			}
		}
	}
	reason, queued := "", false
	switch {
	case t.AssigneeID != nil:
		// opened for (or by) an agent: theirs, whatever their load
		if err := takeSlot(ctx, c, *t.AssigneeID, now, false); err != nil && err != errAtCapacity {
			return nil, err
		}
		reason = "opened by or for the assignee"
	case workflow.Open(workflow.Status(t.Status)):
		id, why, err := e.pick(ctx, c, t, nil)
		if err != nil {
			return nil, err
		}
		reason = why
		if id == nil {
			queued = true
			m.SetAssignmentReason("queued: " + why)
		} else {
			m.SetAssigneeID(*id)
			t.AssigneeID = id
		}
	}
	if t.AssigneeID != nil {
		m.SetAssignedAt(now)
		m.SetAssignmentReason(reason)
		if t.Status == ticket.StatusNew {
			m.SetStatus(ticket.StatusAssigned)
			t.Status = ticket.StatusAssigned
		}
	}
	ck, err := e.policyFor(ctx, c, t)
	if err != nil {
		return nil, err
	}
	applyDue(m, t, computeDue(ck, t))
	v, err := next.Mutate(callerCtx, m)
	if err != nil {
		return nil, err
	}
	saved := v.(*ent.Ticket)
	if err := e.record(ctx, c, saved.ID, "CREATED", "", "", string(saved.Status), fmt.Sprintf("opened from %s", saved.Source)); err != nil {
		return nil, err
	}
	switch {
	case saved.AssigneeID != nil:
		if err := e.record(ctx, c, saved.ID, "ASSIGNED", "assignee", "", idString(saved.AssigneeID), reason); err != nil {
			return nil, err
		}
		e.notify(ctx, c, saved.TenantID, []int{*saved.AssigneeID}, fmt.Sprintf("新工单 %s「%s」已分配给你", saved.Number, saved.Title),
			fmt.Sprintf("ticket:%d:assigned:%d:%d", saved.ID, *saved.AssigneeID, now.UnixMilli()))
		if err := e.scheduleClaimBack(ctx, c, saved); err != nil {
			return nil, err
		}
	case queued:
		if err := e.record(ctx, c, saved.ID, "QUEUED", "assignee", "", "", reason); err != nil {
			return nil, err
		}
		if err := e.tellSupervisorQueued(ctx, c, saved, reason); err != nil {
			return nil, err
		}
	}
	e.scheduleEscalation(ctx, c, saved)
	return saved, nil
}

func (e *Engine) onTicketEdited(next ent.Mutator) ent.Mutator {
	return hook.TicketFunc(func(ctx context.Context, m *ent.TicketMutation) (ent.Value, error) {
		v, err := next.Mutate(ctx, m)
		if err != nil || byEngine(ctx) {
			return v, err
		}
		retime := m.TypeIDCleared() || m.TeamIDCleared()
		for _, f := range []string{ticket.FieldPriority, ticket.FieldTypeID, ticket.FieldCategory, ticket.FieldTeamID} {
			if _, ok := m.Field(f); ok {
				retime = true
			}
		}
		if !retime {
			return v, nil
		}
		t := v.(*ent.Ticket)
		if err := e.record(ctx, m.Client(), t.ID, "RETIMED", "", "", "", "priority, type, category or team changed"); err != nil {
			return nil, err
		}
		return e.retime(engineAt(unscoped(withMutationTx(ctx, m))), m.Client(), t, nil)
	})
}

func (e *Engine) onCommentCreated(next ent.Mutator) ent.Mutator {
	return hook.TicketCommentFunc(func(ctx context.Context, m *ent.TicketCommentMutation) (ent.Value, error) {
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return nil, err
		}
		cm := v.(*ent.TicketComment)
		if cm.Internal || cm.AuthorID == nil || byEngine(ctx) {
			return v, nil // the engine counts its own comments
		}
		return v, e.staffResponded(engineAt(withMutationTx(ctx, m)), m.Client(), cm.TicketID)
	})
}

func (e *Engine) onSubmissionCreated(next ent.Mutator) ent.Mutator {
	return hook.FormSubmissionFunc(func(ctx context.Context, m *ent.FormSubmissionMutation) (ent.Value, error) {
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return nil, err
		}
		s := v.(*ent.FormSubmission)
		if s.TicketID != nil || s.Status != "SUBMITTED" {
			return v, nil // a survey answer, or a draft
		}
		f, err := m.Client().Form.Query().Where(form.ID(s.FormID)).Only(ctx)
		if err != nil || f.TicketTypeID == nil {
			return v, err
		}
		return v, e.openFromSubmission(engineAt(unscoped(withMutationTx(ctx, m))), m.Client(), f, s)
	})
}

// openFromSubmission opens the form's ticket with its mapped fields.
func (e *Engine) openFromSubmission(ctx context.Context, c *ent.Client, f *ent.Form, s *ent.FormSubmission) error {
	cr := c.Ticket.Create().SetTypeID(*f.TicketTypeID).SetSource(ticket.SourceForm).
		SetTitle(clip(fmt.Sprintf("%s #%d", f.Name, s.ID), 200))
	custom := map[string]any{"formSubmissionID": s.ID}
	for _, mp := range f.TicketFields {
		val, ok := s.Data[mp.Form]
		if !ok || val == nil {
			continue
		}
		text := strings.TrimSpace(fmt.Sprint(val))
		switch {
		case mp.Ticket == "title" && text != "":
			cr.SetTitle(clip(text, 200))
		case mp.Ticket == "description":
			cr.SetDescription(text)
		case mp.Ticket == "category":
			cr.SetCategory(clip(text, 64))
		case mp.Ticket == "priority":
			if p := ticket.Priority(strings.ToUpper(text)); ticket.PriorityValidator(p) == nil {
				cr.SetPriority(p)
			}
		case strings.HasPrefix(mp.Ticket, "customFields."):
			custom[strings.TrimPrefix(mp.Ticket, "customFields.")] = val
		}
	}
	cr.SetCustomFields(custom)
	if s.CustomerID != nil {
		cr.SetCustomerID(*s.CustomerID)
	}
	t, err := cr.Save(ctx)
	if err != nil {
		return fmt.Errorf("open the ticket of submission %d: %w", s.ID, err)
	}
	return c.FormSubmission.UpdateOneID(s.ID).SetTicketID(t.ID).Exec(ctx)
}

func (e *Engine) onStaffChanged(next ent.Mutator) ent.Mutator {
	return hook.StaffFunc(func(ctx context.Context, m *ent.StaffMutation) (ent.Value, error) {
		status, resigning := m.Status()
		resigning = resigning && status == staff.StatusResigned
		routingFields := resigning || m.Op().Is(ent.OpCreate)
		for _, f := range append(m.Fields(), m.ClearedFields()...) {
			if slices.Contains([]string{staff.FieldSkillTags, staff.FieldRegion, staff.FieldCapacity, staff.FieldWorkingHours,
				staff.FieldStatus, staff.FieldRoles}, f) {
				routingFields = true
			}
		}
		var leaving []*ent.Staff
		if resigning {
			ids, err := m.IDs(ctx)
			if err != nil {
				return nil, err
			}
			if len(ids) > 0 {
				// their tenants: the update may run for the system. Staff
				// resigned already are included: a retry after a failed
				// reroute finds their tickets still with them.
				if leaving, err = m.Client().Staff.Query().Where(staff.IDIn(ids...)).
					Select(staff.FieldID, staff.FieldTenantID).All(ctx); err != nil {
					return nil, err
				}
			}
		}
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return nil, err
		}
		if routingFields {
			if tid, err := tenantOf(ctx); err == nil {
				e.pools.forget(tid)
			} else {
				e.pools.forgetAll()
			}
		}
		byTenant := map[int][]int{}
		for _, s := range leaving {
			byTenant[s.TenantID] = append(byTenant[s.TenantID], s.ID)
		}
		ctx = withMutationTx(ctx, m)
		for tid, ids := range byTenant {
			tctx := engineAt(viewer.ForTenant(ctx, tid))
			if v := viewer.FromContext(ctx); v != nil && v.TenantID == tid {
				tctx = engineAt(unscoped(ctx)) // keep the actor
			}
			var err error
			if _, inTx := m.Tx(); inTx == nil {
				err = e.rerouteOpenTickets(tctx, m.Client(), ids)
			} else {
				// WeCom's sync resigns staff outside a transaction; ticket
				// writes need one
				err = e.inTx(tctx, func(ctx context.Context, c *ent.Client) error { return e.rerouteOpenTickets(ctx, c, ids) })
			}
			if err != nil {
				return nil, err
			}
		}
		return v, nil
	})
}

// rerouteOpenTickets routes again the open tickets of staff who left.
func (e *Engine) rerouteOpenTickets(ctx context.Context, c *ent.Client, staffIDs []int) error {
	open, err := c.Ticket.Query().Where(ticket.AssigneeIDIn(staffIDs...),
		ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed)).All(ctx)
	if err != nil {
		return err
	}
	for _, t := range open {
		if _, err := e.route(ctx, c, t, staffIDs); err != nil {
			return err
		}
	}
	return nil
}

// HandOver moves the open tickets of the given customers from one staff
// member to another (WeCom's hand-over of a leaving or moving colleague's
// customers). Due times and escalations stay as they were: the customer
// has waited as long as they have.
func (e *Engine) HandOver(ctx context.Context, from, to int, customerIDs []int) (int, error) {
	moved := 0
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		ctx = unscoped(ctx)
		q := c.Ticket.Query().Where(ticket.AssigneeID(from), ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed))
		if len(customerIDs) > 0 {
			q.Where(ticket.CustomerIDIn(customerIDs...))
		}
		open, err := q.All(ctx)
		if err != nil {
			return err
		}
		for _, t := range open {
			if _, err := e.setAssignee(ctx, c, t, &to, fmt.Sprintf("handed over from #%d", from), true); err != nil {
				return err
			}
			moved++
		}
		return nil
	})
	return moved, err
}
