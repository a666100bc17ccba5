package resolvers

import (
	"context"
	"slices"
	"strconv"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/realtime"
)

// ticketUpdated streams the tenant's ticket events that pass the filter
// and that the subscriber may see: each ticket is read through the
// subscriber's own context, so their data scope decides (a ticket outside
// it is skipped) and the field guard masks the payload as for any query.
func (r *Resolver) ticketUpdated(ctx context.Context, filter *model.TicketEventFilter, after *string) (<-chan *model.TicketEvent, error) {
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
	v := viewerFrom(ctx)
	events, err := r.realtime.Subscribe(ctx, v.TenantID, from)
	if err != nil {
		return nil, err
	}
	out := make(chan *model.TicketEvent, 1)
	go func() {
		defer close(out)
		for m := range events {
			if m.Topic != "TICKET" || !ticketFilter(filter, v.StaffID, m) {
				continue
			}
			t, err := r.client.Ticket.Get(ctx, m.Subject)
			if ent.IsNotFound(err) {
				continue // outside the subscriber's scope (or gone)
			}
			if err != nil {
				return
			}
			e := &model.TicketEvent{Cursor: strconv.FormatInt(m.Seq, 10), Kind: model.TicketEventKind(m.Kind), Ticket: t, At: m.At}
			if m.Actor != nil {
				e.Actor, _ = r.client.Staff.Get(ctx, *m.Actor)
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func ticketFilter(f *model.TicketEventFilter, me int, m realtime.Message) bool {
	if f == nil {
		return true
	}
	in := func(ids []int, id *int) bool { return len(ids) == 0 || id != nil && slices.Contains(ids, *id) }
	switch {
	case f.AssignedToMe != nil && *f.AssignedToMe && (m.Assignee == nil || *m.Assignee != me):
		return false
	case !in(f.TeamIDs, m.Team), !in(f.CustomerIDs, m.Customer):
		return false
	case len(f.TicketIDs) > 0 && !slices.Contains(f.TicketIDs, m.Subject):
		return false
	case len(f.Kinds) > 0 && !slices.Contains(f.Kinds, model.TicketEventKind(m.Kind)):
		return false
	}
	return true
}
