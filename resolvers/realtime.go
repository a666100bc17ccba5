package resolvers

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/realtime"
)

// stream turns the tenant's events of one topic (or all, "") into a subscription's
// payloads. load reads the event's subject through the subscriber's own
// context, so their data scope decides (a subject outside it reads as not
// found and is skipped) and the field guard masks the payload as for any
// query.
func stream[T any](ctx context.Context, r *Resolver, after *string, topic string,
	keep func(realtime.Message) bool, load func(realtime.Message) (*T, error),
) (<-chan *T, error) {
	if r.realtime == nil {
		return nil, apperr.Forbidden("live updates are not available on this server")
	}
	from := int64(-1)
	if after != nil {
		n, err := strconv.ParseInt(*after, 10, 64)
		if err != nil || n < 0 {
			return nil, apperr.Invalid("after", "%q is not a cursor from an earlier event", *after)
		}
		from = n
	}
	events, err := r.realtime.Subscribe(ctx, viewerFrom(ctx).TenantID, from)
	if errors.Is(err, realtime.ErrCursorExpired) {
		return nil, &apperr.Error{Code: apperr.CodeCursorExpired, Field: "after", Message: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	out := make(chan *T, 1)
	go func() {
		defer close(out)
		for m := range events {
			if (topic != "" && m.Topic != topic) || !keep(m) {
				continue
			}
			payload, err := load(m)
			if ent.IsNotFound(err) {
				continue
			}
			if err != nil {
				return // ends the subscription; the client resumes from its cursor
			}
			select {
			case out <- payload:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (r *Resolver) actor(ctx context.Context, m realtime.Message) *ent.Staff {
	if m.Actor == nil {
		return nil
	}
	s, _ := r.client.Staff.Get(ctx, *m.Actor)
	return s
}

func (r *Resolver) ticketUpdated(ctx context.Context, f *model.TicketEventFilter, after *string) (<-chan *model.TicketEvent, error) {
	me := viewerFrom(ctx).StaffID
	return stream(ctx, r, after, "TICKET",
		func(m realtime.Message) bool { return ticketFilter(f, me, m) },
		func(m realtime.Message) (*model.TicketEvent, error) {
			t, err := r.client.Ticket.Get(ctx, m.Subject)
			if err != nil {
				return nil, err
			}
			return &model.TicketEvent{Cursor: strconv.FormatInt(m.Seq, 10), Kind: model.TicketEventKind(m.Kind),
				Ticket: t, Actor: r.actor(ctx, m), At: m.At}, nil
		})
}

func (r *Resolver) orderUpdated(ctx context.Context, f *model.OrderEventFilter, after *string) (<-chan *model.OrderEvent, error) {
	return stream(ctx, r, after, "ORDER",
		func(m realtime.Message) bool { return orderFilter(f, m) },
		func(m realtime.Message) (*model.OrderEvent, error) {
			o, err := r.client.Order.Get(ctx, m.Subject)
			if err != nil {
				return nil, err
			}
			return &model.OrderEvent{Cursor: strconv.FormatInt(m.Seq, 10), Kind: model.OrderEventKind(m.Kind),
				Order: o, Actor: r.actor(ctx, m), At: m.At}, nil
		})
}

func matchesID(ids []int, id *int) bool {
	return len(ids) == 0 || id != nil && slices.Contains(ids, *id)
}

func ticketFilter(f *model.TicketEventFilter, me int, m realtime.Message) bool {
	if f == nil {
		return true
	}
	switch {
	case f.AssignedToMe != nil && *f.AssignedToMe && (m.Assignee == nil || *m.Assignee != me):
		return false
	case !matchesID(f.TeamIDs, m.Team), !matchesID(f.CustomerIDs, m.Customer):
		return false
	case len(f.TicketIDs) > 0 && !slices.Contains(f.TicketIDs, m.Subject):
		return false
	case len(f.Kinds) > 0 && !slices.Contains(f.Kinds, model.TicketEventKind(m.Kind)):
		return false
	}
	return true
}

func orderFilter(f *model.OrderEventFilter, m realtime.Message) bool {
	if f == nil {
		return true
	}
	switch {
	case !matchesID(f.CustomerIDs, m.Customer):
		return false
	case len(f.Platforms) > 0 && !slices.Contains(f.Platforms, order.Platform(m.Platform)):
		return false
	case len(f.ShopIDs) > 0 && !slices.Contains(f.ShopIDs, m.Shop):
		return false
	case len(f.Statuses) > 0 && !slices.Contains(f.Statuses, order.Status(m.Status)):
		return false
	case len(f.Kinds) > 0 && !slices.Contains(f.Kinds, model.OrderEventKind(m.Kind)):
		return false
	}
	return true
}

func (r *Resolver) customerTimeline(ctx context.Context, customerID int, after *string) (<-chan *model.CustomerTimelineEvent, error) {
	// The customer must be one the subscriber may see at all.
	if _, err := r.client.Customer.Get(ctx, customerID); err != nil {
		return nil, err
	}
	return stream(ctx, r, after, "",
		func(m realtime.Message) bool { return m.Customer != nil && *m.Customer == customerID },
		func(m realtime.Message) (*model.CustomerTimelineEvent, error) {
			c, err := r.client.Customer.Get(ctx, customerID)
			if err != nil {
				return nil, err
			}
			e := &model.CustomerTimelineEvent{Cursor: strconv.FormatInt(m.Seq, 10), Topic: model.TimelineTopic(m.Topic),
				Kind: m.Kind, Customer: c, Actor: r.actor(ctx, m), At: m.At}
			switch m.Topic {
			case "TICKET":
				e.Ticket, err = r.client.Ticket.Get(ctx, m.Subject)
			case "ORDER":
				e.Order, err = r.client.Order.Get(ctx, m.Subject)
			case "FORM_SUBMISSION":
				e.FormSubmission, err = r.client.FormSubmission.Get(ctx, m.Subject)
			}
			return e, err
		})
}
