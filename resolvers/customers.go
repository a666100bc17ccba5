package resolvers

import (
	"context"
	"errors"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/tickets"
)

var errNoCustomerAuth = errors.New("mini-program sign-in is not configured")

// loginWithMiniProgram runs without a viewer (the HTTP layer lets it
// through without a token); customerauth does its reads and writes with
// contexts of its own.
func (r *Resolver) loginWithMiniProgram(ctx context.Context, appID, code string) (*model.CustomerLoginPayload, error) {
	if r.customers == nil {
		return nil, errNoCustomerAuth
	}
	l, err := r.customers.Login(ctx, appID, code)
	if err != nil {
		return nil, err
	}
	return &model.CustomerLoginPayload{Token: l.Token, ExpiresAt: l.ExpiresAt, CustomerID: l.CustomerID, Created: l.Created}, nil
}

func (r *Resolver) createMyTicket(ctx context.Context, input model.CreateMyTicketInput) (*ent.Ticket, error) {
	e, err := r.engine()
	if err != nil {
		return nil, err
	}
	if viewerFrom(ctx).CustomerID == 0 {
		return nil, apperr.Forbidden("createMyTicket is for signed-in customers; staff use createTicket")
	}
	return e.OpenForCustomer(ctx, tickets.CustomerTicket{Title: input.Title, Description: input.Description,
		TypeKey: input.TypeKey, OrderID: input.OrderID})
}

// myCustomer is the signed-in customer; null for anyone else.
func (r *Resolver) myCustomer(ctx context.Context) (*ent.Customer, error) {
	id := viewerFrom(ctx).CustomerID
	if id == 0 {
		return nil, nil
	}
	return r.client.Customer.Get(ctx, id)
}

// signInOnly reports whether the operation selects nothing but the
// mini-program sign-in: such a request has no viewer and no tenant, and
// customerauth runs its own transaction (after the call to WeChat, so no
// database transaction waits on the network).
func signInOnly(op *ast.OperationDefinition) bool {
	if op == nil || op.Operation != ast.Mutation || len(op.SelectionSet) == 0 {
		return false
	}
	for _, sel := range op.SelectionSet {
		f, ok := sel.(*ast.Field)
		if !ok || (f.Name != "loginWithMiniProgram" && f.Name != "__typename") {
			return false
		}
	}
	return true
}
