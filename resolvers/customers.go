package resolvers

import (
	"context"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph/model"
)

func (r *Resolver) loginWithMiniProgram(ctx context.Context, appID, code string) (*model.CustomerLoginPayload, error) {
	return nil, errNotImplemented
}

func (r *Resolver) createMyTicket(ctx context.Context, input model.CreateMyTicketInput) (*ent.Ticket, error) {
	return nil, errNotImplemented
}

func (r *Resolver) myCustomer(ctx context.Context) (*ent.Customer, error) {
	return nil, errNotImplemented
}
