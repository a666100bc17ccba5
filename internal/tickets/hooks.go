package tickets

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/hook"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/tickettype"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// Install adds the engine's hooks to the client (and so to every
// transaction it opens):
//   - a new ticket gets its type, due times and an agent;
//   - a public staff comment counts as a response;
//   - a form submission of a form set to open tickets opens one;
//   - a staff member who resigns has their open tickets routed again.
func (e *Engine) Install(c *ent.Client) {
	c.Ticket.Use(hook.On(e.onTicketCreated, ent.OpCreate))
	c.TicketComment.Use(hook.On(e.onCommentCreated, ent.OpCreate))
	c.FormSubmission.Use(hook.On(e.onSubmissionCreated, ent.OpCreate))
	c.Staff.Use(hook.On(e.onStaffChanged, ent.OpUpdate|ent.OpUpdateOne|ent.OpCreate))
}

// txOf is the mutation's transaction, or a new one the hook commits.
func txOf(ctx context.Context, m interface{ Tx() (*ent.Tx, error) }, c *ent.Client) (*ent.Tx, bool, error) {
	if tx, err := m.Tx(); err == nil {
		return tx, false, nil
	}
	tx, err := c.Tx(ctx)
	return tx, true, err
}

func finish(tx *ent.Tx, own bool, err error) error {
	if !own {
		return err
	}
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (e *Engine) onTicketCreated(next ent.Mutator) ent.Mutator {
	return hook.TicketFunc(func(ctx context.Context, m *ent.TicketMutation) (ent.Value, error) {
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return nil, err
		}
		t := v.(*ent.Ticket)
		tx, own, err := txOf(ctx, m, m.Client())
		if err != nil {
			return nil, err
		}
		opened, err := e.opened(unscoped(ctx), tx, t)
		if err := finish(tx, own, err); err != nil {
			return nil, err
		}
		return opened, nil
	})
}

// opened types, times and routes a new ticket.
func (e *Engine) opened(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (*ent.Ticket, error) {
	c := tx.Client()
	u := c.Ticket.UpdateOneID(t.ID)
	if t.TypeID == nil {
		types, err := c.TicketType.Query().Where(tickettype.Active(true)).Order(ent.Asc(tickettype.FieldID)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, tt := range types {
			if slices.Contains(tt.DefaultForSources, workflow.Source(t.Source)) {
				u.SetTypeID(tt.ID)
				t.TypeID = &tt.ID
				break
			}
		}
	}
	if err := e.record(ctx, tx, t.ID, "CREATED", "", "", string(t.Status), fmt.Sprintf("opened from %s", t.Source)); err != nil {
		return nil, err
	}
	if t.AssigneeID != nil {
		// opened for (or by) an agent: theirs
		if err := takeSlot(ctx, c, *t.AssigneeID, e.Now(), false); err != nil && err != errAtCapacity {
			return nil, err
		}
		u.SetAssignedAt(e.Now()).SetAssignmentReason("opened by or for the assignee")
		if t.Status == ticket.StatusNew {
			u.SetStatus(ticket.StatusAssigned)
		}
		return e.retime(ctx, tx, t, u)
	}
	saved, err := e.retime(ctx, tx, t, u)
	if err != nil {
		return nil, err
	}
	return e.route(ctx, tx, saved, nil)
}

func (e *Engine) onCommentCreated(next ent.Mutator) ent.Mutator {
	return hook.TicketCommentFunc(func(ctx context.Context, m *ent.TicketCommentMutation) (ent.Value, error) {
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return nil, err
		}
		cm := v.(*ent.TicketComment)
		if cm.Internal || cm.AuthorID == nil {
			return v, nil
		}
		tx, own, err := txOf(ctx, m, m.Client())
		if err != nil {
			return nil, err
		}
		err = e.staffResponded(ctx, tx, cm.TicketID)
		return v, finish(tx, own, err)
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
		tx, own, err := txOf(ctx, m, m.Client())
		if err != nil {
			return nil, err
		}
		err = e.openFromSubmission(unscoped(ctx), tx, f, s)
		return v, finish(tx, own, err)
	})
}

// openFromSubmission opens the form's ticket with its mapped fields.
func (e *Engine) openFromSubmission(ctx context.Context, tx *ent.Tx, f *ent.Form, s *ent.FormSubmission) error {
	cr := tx.Ticket.Create().SetTypeID(*f.TicketTypeID).SetSource(ticket.SourceForm).
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
	return tx.FormSubmission.UpdateOneID(s.ID).SetTicketID(t.ID).Exec(ctx)
}

func (e *Engine) onStaffChanged(next ent.Mutator) ent.Mutator {
	return hook.StaffFunc(func(ctx context.Context, m *ent.StaffMutation) (ent.Value, error) {
		status, resigning := m.Status()
		resigning = resigning && status == staff.StatusResigned
		routingFields := resigning || m.Op().Is(ent.OpCreate)
		for _, f := range []string{staff.FieldSkillTags, staff.FieldRegion, staff.FieldCapacity, staff.FieldWorkingHours, staff.FieldStatus} {
			if _, ok := m.Field(f); ok {
				routingFields = true
			}
		}
		var ids []int
		if resigning {
			var err error
			if ids, err = m.IDs(ctx); err != nil {
				return nil, err
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
		if len(ids) == 0 {
			return v, nil
		}
		tx, own, err := txOf(ctx, m, m.Client())
		if err != nil {
			return nil, err
		}
		err = e.rerouteOpenTickets(unscoped(ctx), tx, ids)
		return v, finish(tx, own, err)
	})
}

// rerouteOpenTickets routes again the open tickets of staff who left.
func (e *Engine) rerouteOpenTickets(ctx context.Context, tx *ent.Tx, staffIDs []int) error {
	open, err := tx.Ticket.Query().Where(ticket.AssigneeIDIn(staffIDs...),
		ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed)).All(ctx)
	if err != nil {
		return err
	}
	for _, t := range open {
		if _, err := e.route(ctx, tx, t, staffIDs); err != nil {
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
	err := e.inTx(ctx, func(ctx context.Context, tx *ent.Tx) error {
		ctx = unscoped(ctx)
		q := tx.Ticket.Query().Where(ticket.AssigneeID(from), ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed))
		if len(customerIDs) > 0 {
			q.Where(ticket.CustomerIDIn(customerIDs...))
		}
		open, err := q.All(ctx)
		if err != nil {
			return err
		}
		for _, t := range open {
			if _, err := e.setAssignee(ctx, tx, t, &to, fmt.Sprintf("handed over from #%d", from), true); err != nil {
				return err
			}
			moved++
		}
		return nil
	})
	return moved, err
}
