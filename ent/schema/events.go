package schema

import (
	"context"
	"errors"

	"entgo.io/ent"

	gen "github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/event"
	"github.com/scrm-dev/scrm/ent/hook"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Events come from the data layer, not from resolvers, so that every
// change — a GraphQL mutation, a platform sync job, a scheduled
// escalation — produces them. They are written through the mutation's own
// client, in its transaction: an event exists exactly when its change
// does (the transactional outbox). A change a tenant viewer makes outside
// a transaction is refused, since its event could be lost; system writes
// (seeding, backfills) produce none.

var errNeedsTx = errors.New("changes to tickets, orders and customers must run in a transaction (their events are written with them)")

// eventWriter decides whether m's changes produce events.
func eventsFor(ctx context.Context, m interface{ Tx() (*gen.Tx, error) }) (bool, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.IsSystem() {
		return false, nil
	}
	if _, err := m.Tx(); err != nil {
		return false, errNeedsTx
	}
	return true, nil
}

func actorOf(ctx context.Context) *int {
	if v := viewer.FromContext(ctx); v != nil && v.StaffID != 0 {
		id := v.StaffID
		return &id
	}
	return nil
}

// ticketEvents records what happened to tickets: created, assigned,
// status changed, closed, or otherwise updated.
func ticketEvents() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.TicketFunc(func(ctx context.Context, m *gen.TicketMutation) (gen.Value, error) {
			on, err := eventsFor(ctx, m)
			if err != nil || !on {
				if err != nil {
					return nil, err
				}
				return next.Mutate(ctx, m)
			}
			var ids []int
			if m.Op().Is(ent.OpUpdate) {
				if ids, err = m.IDs(ctx); err != nil {
					return nil, err
				}
			}
			kind := "UPDATED"
			status, statusSet := m.Status()
			_, assigned := m.AssigneeID()
			switch {
			case m.Op().Is(ent.OpCreate):
				kind = "CREATED"
			case statusSet && status == ticket.StatusClosed:
				kind = "CLOSED"
			case escalated(m):
				kind = "ESCALATED"
			case statusSet:
				kind = "STATUS_CHANGED"
			case assigned || m.AssigneeCleared():
				kind = "ASSIGNED"
			}
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			var tickets []*gen.Ticket
			if t, ok := v.(*gen.Ticket); ok {
				tickets = []*gen.Ticket{t}
			} else if len(ids) > 0 {
				if tickets, err = m.Client().Ticket.Query().Where(ticket.IDIn(ids...)).All(ctx); err != nil {
					return nil, err
				}
			}
			return v, writeTicketEvents(ctx, m.Client(), kind, tickets)
		})
	}, opWrite)
}

func escalated(m *gen.TicketMutation) bool {
	_, ok := m.EscalatedAt()
	return ok
}

// commentEvents records comments as COMMENTED events of their ticket.
func commentEvents() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.TicketCommentFunc(func(ctx context.Context, m *gen.TicketCommentMutation) (gen.Value, error) {
			on, err := eventsFor(ctx, m)
			if err != nil {
				return nil, err
			}
			v, err := next.Mutate(ctx, m)
			if err != nil || !on {
				return v, err
			}
			id, _ := m.TicketID()
			t, err := m.Client().Ticket.Get(ctx, id)
			if err != nil {
				return nil, err
			}
			return v, writeTicketEvents(ctx, m.Client(), "COMMENTED", []*gen.Ticket{t})
		})
	}, ent.OpCreate)
}

func writeTicketEvents(ctx context.Context, c *gen.Client, kind string, tickets []*gen.Ticket) error {
	if len(tickets) == 0 {
		return nil
	}
	creates := make([]*gen.EventCreate, len(tickets))
	for i, t := range tickets {
		creates[i] = c.Event.Create().
			SetTopic(event.TopicTicket).SetKind(kind).SetSubjectID(t.ID).
			SetNillableCustomerID(t.CustomerID).SetNillableAssigneeID(t.AssigneeID).SetNillableTeamID(t.TeamID).
			SetStatus(string(t.Status)).SetNillableActorID(actorOf(ctx))
	}
	return c.Event.CreateBulk(creates...).Exec(ctx)
}

// orderKinds names the event of an order reaching a status.
var orderKinds = map[order.Status]string{
	order.StatusPaid:      "PAID",
	order.StatusShipped:   "SHIPPED",
	order.StatusCompleted: "COMPLETED",
	order.StatusRefunding: "REFUND_REQUESTED",
	order.StatusRefunded:  "REFUNDED",
	order.StatusCancelled: "CANCELLED",
}

// orderEvents records orders created and their status changes.
func orderEvents() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.OrderFunc(func(ctx context.Context, m *gen.OrderMutation) (gen.Value, error) {
			on, err := eventsFor(ctx, m)
			if err != nil || !on {
				if err != nil {
					return nil, err
				}
				return next.Mutate(ctx, m)
			}
			var ids []int
			if m.Op().Is(ent.OpUpdate) {
				if ids, err = m.IDs(ctx); err != nil {
					return nil, err
				}
			}
			kind := "UPDATED"
			if status, ok := m.Status(); ok && orderKinds[status] != "" {
				kind = orderKinds[status]
			}
			if m.Op().Is(ent.OpCreate) {
				kind = "CREATED"
			}
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			var orders []*gen.Order
			if o, ok := v.(*gen.Order); ok {
				orders = []*gen.Order{o}
			} else if len(ids) > 0 {
				if orders, err = m.Client().Order.Query().Where(order.IDIn(ids...)).All(ctx); err != nil {
					return nil, err
				}
			}
			if len(orders) == 0 {
				return v, nil
			}
			creates := make([]*gen.EventCreate, len(orders))
			for i, o := range orders {
				creates[i] = m.Client().Event.Create().
					SetTopic(event.TopicOrder).SetKind(kind).SetSubjectID(o.ID).
					SetNillableCustomerID(o.CustomerID).SetStatus(string(o.Status)).
					SetPlatform(string(o.Platform)).SetShopID(o.ShopID).SetNillableActorID(actorOf(ctx))
			}
			return v, m.Client().Event.CreateBulk(creates...).Exec(ctx)
		})
	}, opWrite)
}

// submissionEvents records form submissions of customers (their timeline).
func submissionEvents() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.FormSubmissionFunc(func(ctx context.Context, m *gen.FormSubmissionMutation) (gen.Value, error) {
			if _, has := m.CustomerID(); !has {
				return next.Mutate(ctx, m) // anonymous: on nobody's timeline
			}
			on, err := eventsFor(ctx, m)
			if err != nil {
				return nil, err
			}
			v, err := next.Mutate(ctx, m)
			if err != nil || !on {
				return v, err
			}
			s := v.(*gen.FormSubmission)
			return v, m.Client().Event.Create().
				SetTopic(event.TopicFormSubmission).SetKind("SUBMITTED").SetSubjectID(s.ID).
				SetNillableCustomerID(s.CustomerID).SetNillableActorID(actorOf(ctx)).Exec(ctx)
		})
	}, ent.OpCreate)
}

// tagEvents records tags added to or removed from a customer.
func tagEvents() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.CustomerFunc(func(ctx context.Context, m *gen.CustomerMutation) (gen.Value, error) {
			if len(m.TagsIDs()) == 0 && len(m.RemovedTagsIDs()) == 0 && !m.TagsCleared() {
				return next.Mutate(ctx, m)
			}
			on, err := eventsFor(ctx, m)
			if err != nil {
				return nil, err
			}
			v, err := next.Mutate(ctx, m)
			if err != nil || !on {
				return v, err
			}
			c, ok := v.(*gen.Customer)
			if !ok {
				return v, nil // bulk tag changes: not on a timeline yet
			}
			id := c.ID
			return v, m.Client().Event.Create().
				SetTopic(event.TopicCustomer).SetKind("TAGS_CHANGED").SetSubjectID(id).
				SetCustomerID(id).SetNillableActorID(actorOf(ctx)).Exec(ctx)
		})
	}, ent.OpUpdateOne)
}

// customerEvents records customers created (CREATED) and merged into
// another (MERGED, when merged_into_id is set; the survivor is read from
// the row). These events name no customer_id: that keeps them off
// customer timelines, which show what happened to a customer (orders,
// tickets, submissions, tags), not the record's own life.
func customerEvents() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.CustomerFunc(func(ctx context.Context, m *gen.CustomerMutation) (gen.Value, error) {
			_, merging := m.MergedIntoID()
			created := m.Op().Is(ent.OpCreate)
			if !created && !merging {
				return next.Mutate(ctx, m)
			}
			on, err := eventsFor(ctx, m)
			if err != nil {
				return nil, err
			}
			if !on {
				return next.Mutate(ctx, m)
			}
			var ids []int
			if m.Op().Is(ent.OpUpdate) {
				if ids, err = m.IDs(ctx); err != nil {
					return nil, err
				}
			}
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			if c, ok := v.(*gen.Customer); ok {
				ids = []int{c.ID}
			}
			kind := "MERGED"
			if created {
				kind = "CREATED"
			}
			if len(ids) == 0 {
				return v, nil
			}
			creates := make([]*gen.EventCreate, len(ids))
			for i, id := range ids {
				creates[i] = m.Client().Event.Create().
					SetTopic(event.TopicCustomer).SetKind(kind).SetSubjectID(id).SetNillableActorID(actorOf(ctx))
			}
			return v, m.Client().Event.CreateBulk(creates...).Exec(ctx)
		})
	}, opWrite)
}
