package tickets

import (
	"context"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/tickettype"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// CustomerTicket is what a signed-in mini-program customer asks for
// (createMyTicket).
type CustomerTicket struct {
	Title       string
	Description *string
	// TypeKey names the ticket type; nil takes the type that defaults for
	// the MINI_PROGRAM source (咨询 in the defaults).
	TypeKey *string
	// OrderID, when set, must be one of the customer's orders.
	OrderID *int
}

// OpenForCustomer opens a ticket for the mini-program customer signed in
// (ctx's viewer): source MINI_PROGRAM, the customer theirs, typed, timed
// and routed like any other. What they name (the order, the type) is
// looked up as them, so another customer's order does not exist; the
// insert and routing run as the tenant, since routing reads staff a
// customer may not see.
func (e *Engine) OpenForCustomer(ctx context.Context, in CustomerTicket) (*ent.Ticket, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.CustomerID == 0 || v.IsSystem() {
		return nil, apperr.Forbidden("only a signed-in customer opens tickets this way")
	}
	var out *ent.Ticket
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		cr := c.Ticket.Create().SetTitle(in.Title).SetNillableDescription(in.Description).
			SetSource(ticket.SourceMiniProgram).SetCustomerID(v.CustomerID)
		if in.OrderID != nil {
			ok, err := c.Order.Query().Where(order.ID(*in.OrderID)).Exist(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return apperr.Invalid("orderID", "no Order with that ID")
			}
			cr.SetOrderID(*in.OrderID)
		}
		if in.TypeKey != nil {
			tt, err := c.TicketType.Query().Where(tickettype.Key(*in.TypeKey), tickettype.Active(true)).Only(ctx)
			if ent.IsNotFound(err) {
				return apperr.Invalid("typeKey", "no active ticket type %q", *in.TypeKey)
			}
			if err != nil {
				return err
			}
			cr.SetTypeID(tt.ID)
		}
		var err error
		out, err = cr.Save(unscoped(ctx))
		return err
	})
	return out, err
}
