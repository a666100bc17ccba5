package resolvers

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/streamctx"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// subject is what the subscribers of one event may need of it, read once
// per process (realtime.Message.Shared) through a context that sees the
// whole tenant; each subscriber's data scope is then decided in memory
// with the data layer's own rules (schema.TicketInScope, CustomerInScope),
// and its field permissions by the field guard as the payload is
// resolved. Reading per subscriber would cost a statement per subscriber
// per event.
type subject struct {
	ticket     *ent.Ticket
	order      *ent.Order
	submission *ent.FormSubmission
	customer   *ent.Customer
	actor      *ent.Staff

	ticketFacts   schema.TicketScopeFacts
	customerFacts schema.CustomerScopeFacts
}

// visible reports whether the scope s may see the event's subject.
func (sj *subject) visible(s *viewer.Scope, topic string) bool {
	if topic == "TICKET" {
		return schema.TicketInScope(s, sj.ticketFacts)
	}
	// Orders, submissions and tag changes follow their customer.
	return sj.customer != nil && schema.CustomerInScope(s, sj.customerFacts)
}

// loadTimeout bounds the shared read of an event's subject: it runs on
// behalf of every subscriber, so no one subscriber's context governs it.
const loadTimeout = 10 * time.Second

func (r *Resolver) loadSubject(m *realtime.Message) (*subject, error) {
	v, err := m.Shared(func() (any, error) {
		ctx, cancel := context.WithTimeout(viewer.ForTenant(context.Background(), m.Tenant), loadTimeout)
		defer cancel()
		sj := &subject{}
		var err error
		customerID := m.Customer
		switch m.Topic {
		case "TICKET":
			if sj.ticket, err = r.client.Ticket.Get(ctx, m.Subject); err == nil {
				customerID = sj.ticket.CustomerID
				sj.ticketFacts, err = schema.ReadTicketScopeFacts(ctx, sj.ticket)
			}
		case "ORDER":
			if sj.order, err = r.client.Order.Get(ctx, m.Subject); err == nil {
				customerID = sj.order.CustomerID
			}
		case "FORM_SUBMISSION":
			if sj.submission, err = r.client.FormSubmission.Get(ctx, m.Subject); err == nil {
				customerID = sj.submission.CustomerID
			}
		}
		if err == nil && customerID != nil {
			// The customer is in every timeline payload; its scope facts
			// decide only what is not a ticket (tickets have their own).
			if sj.customer, err = r.client.Customer.Get(ctx, *customerID); err == nil && m.Topic != "TICKET" {
				sj.customerFacts, err = schema.ReadCustomerScopeFacts(ctx, r.client, *customerID)
			}
		}
		if err == nil && m.Actor != nil {
			if sj.actor, err = r.client.Staff.Get(ctx, *m.Actor); ent.IsNotFound(err) {
				err = nil
			}
		}
		return sj, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*subject), nil
}

// stream turns the tenant's events of one topic (or all, "") into a
// subscription's payloads: keep filters on what the event says, the
// subject is loaded once per process and must be in the subscriber's data
// scope, and build makes the payload from it.
func stream[T any](ctx context.Context, r *Resolver, after *string, topic string,
	keep func(*realtime.Message) bool, build func(*realtime.Message, *subject) *T,
) (<-chan *T, error) {
	if r.realtime == nil {
		return nil, apperr.Forbidden("live updates are not available on this server")
	}
	from := int64(-1)
	if after == nil {
		after = streamctx.LastEventID(ctx)
	}
	if after != nil {
		n, err := strconv.ParseInt(*after, 10, 64)
		if err != nil || n < 0 {
			return nil, apperr.Invalid("after", "%q is not a cursor from an earlier event", *after)
		}
		from = n
	}
	v := viewerFrom(ctx)
	convert := func(m *realtime.Message) (*T, error) {
		if (topic != "" && m.Topic != topic) || !keep(m) {
			return nil, nil
		}
		sj, err := r.loadSubject(m)
		if ent.IsNotFound(err) {
			return nil, nil // deleted since
		}
		if err != nil {
			r.logger.Error("live update: read the subject", "tenant", m.Tenant, "seq", m.Seq, "err", err)
			return nil, err // ends the subscription; the client resumes from its cursor
		}
		if !sj.visible(v.Scope, m.Topic) {
			return nil, nil
		}
		return build(m, sj), nil
	}
	onEnd := func(err error) {
		switch {
		case errors.Is(err, realtime.ErrCursorExpired):
			endWith(ctx, apperr.CodeCursorExpired, err)
		case errors.Is(err, realtime.ErrTooSlow):
			endWith(ctx, apperr.CodeTooSlow, err)
			go streamctx.Disconnect(ctx, "too slow: "+err.Error())
		}
	}
	out, err := realtime.Subscribe(ctx, r.realtime, v.TenantID, from, convert, onEnd)
	if errors.Is(err, realtime.ErrCursorExpired) {
		return nil, &apperr.Error{Code: apperr.CodeCursorExpired, Field: "after", Message: err.Error()}
	}
	return out, err
}

// endWith tells the subscriber why its subscription ends.
func endWith(ctx context.Context, code apperr.Code, err error) {
	e := &gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": string(code)}}
	if !streamctx.ReportStreamError(ctx, e) {
		transport.AddSubscriptionError(ctx, e)
	}
}

func (r *Resolver) ticketUpdated(ctx context.Context, f *model.TicketEventFilter, after *string) (<-chan *model.TicketEvent, error) {
	me := viewerFrom(ctx).StaffID
	return stream(ctx, r, after, "TICKET",
		func(m *realtime.Message) bool { return ticketFilter(f, me, m) },
		func(m *realtime.Message, sj *subject) *model.TicketEvent {
			return &model.TicketEvent{Cursor: strconv.FormatInt(m.Seq, 10), Kind: model.TicketEventKind(m.Kind),
				Ticket: sj.ticket, Actor: sj.actor, At: m.At}
		})
}

func (r *Resolver) orderUpdated(ctx context.Context, f *model.OrderEventFilter, after *string) (<-chan *model.OrderEvent, error) {
	return stream(ctx, r, after, "ORDER",
		func(m *realtime.Message) bool { return orderFilter(f, m) },
		func(m *realtime.Message, sj *subject) *model.OrderEvent {
			return &model.OrderEvent{Cursor: strconv.FormatInt(m.Seq, 10), Kind: model.OrderEventKind(m.Kind),
				Order: sj.order, Actor: sj.actor, At: m.At}
		})
}

func matchesID(ids []int, id *int) bool {
	return len(ids) == 0 || id != nil && slices.Contains(ids, *id)
}

func ticketFilter(f *model.TicketEventFilter, me int, m *realtime.Message) bool {
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

func orderFilter(f *model.OrderEventFilter, m *realtime.Message) bool {
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
		func(m *realtime.Message) bool { return m.Customer != nil && *m.Customer == customerID },
		func(m *realtime.Message, sj *subject) *model.CustomerTimelineEvent {
			return &model.CustomerTimelineEvent{Cursor: strconv.FormatInt(m.Seq, 10), Topic: model.TimelineTopic(m.Topic),
				Kind: m.Kind, Customer: sj.customer, Ticket: sj.ticket, Order: sj.order, FormSubmission: sj.submission,
				Actor: sj.actor, At: m.At}
		})
}
