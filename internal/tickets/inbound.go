package tickets

import (
	"context"
	"fmt"
	"strings"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/tickettype"
)

// InboundMessage is a customer's message to staff in WeCom (from the
// session archive).
type InboundMessage struct {
	CorpID     string
	ExternalID string // the customer's external userid
	MsgID      string
	Text       string
}

// InboundResult counts what OpenFromMessages did.
type InboundResult struct {
	Opened, Appended, Unmatched, UnknownCustomer int
}

// OpenFromMessages opens a ticket for each customer message that contains
// a keyword of an active ticket type (the first such type wins). A
// customer who already has an open ticket of that type gets the message
// added to it as a comment instead of a second ticket.
func (e *Engine) OpenFromMessages(ctx context.Context, msgs []InboundMessage) (InboundResult, error) {
	var res InboundResult
	err := e.inTx(ctx, func(ctx context.Context, c *ent.Client) error {
		types, err := c.TicketType.Query().Where(tickettype.Active(true)).Order(ent.Asc(tickettype.FieldID)).All(ctx)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			tt := matchKeywords(types, m.Text)
			if tt == nil {
				res.Unmatched++
				continue
			}
			id, err := c.CustomerIdentity.Query().Where(customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal),
				customeridentity.AppID(m.CorpID), customeridentity.ExternalID(m.ExternalID)).Only(ctx)
			if ent.IsNotFound(err) {
				res.UnknownCustomer++
				continue
			}
			if err != nil {
				return err
			}
			open, err := c.Ticket.Query().Where(ticket.CustomerID(id.CustomerID), ticket.TypeID(tt.ID),
				ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed)).First(ctx)
			if err != nil && !ent.IsNotFound(err) {
				return err
			}
			if open != nil {
				if err := c.TicketComment.Create().SetTicketID(open.ID).SetBody("客户在企业微信中说：" + m.Text).Exec(ctx); err != nil {
					return err
				}
				res.Appended++
				continue
			}
			title := clip(fmt.Sprintf("%s：%s", tt.Name, strings.TrimSpace(m.Text)), 200)
			if err := c.Ticket.Create().SetTitle(title).SetDescription(m.Text).SetSource(ticket.SourceWecom).
				SetTypeID(tt.ID).SetCustomerID(id.CustomerID).
				SetCustomFields(map[string]any{"wecomMsgID": m.MsgID}).Exec(ctx); err != nil {
				return err
			}
			res.Opened++
		}
		return nil
	})
	return res, err
}

func matchKeywords(types []*ent.TicketType, text string) *ent.TicketType {
	for _, tt := range types {
		for _, k := range tt.Keywords {
			if k != "" && strings.Contains(text, k) {
				return tt
			}
		}
	}
	return nil
}
