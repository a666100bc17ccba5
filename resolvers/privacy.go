package resolvers

import (
	"context"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/privacy"
)

func (r *Resolver) exportCustomer(ctx context.Context, customerID int) (map[string]any, error) {
	g := authz.FromContext(ctx)
	if g == nil {
		return nil, apperr.Forbidden("no authorization for this request")
	}
	inAPI := func(typ, field string) bool {
		def := r.schema.Types[typ]
		return def != nil && def.Fields.ForName(field) != nil
	}
	doc, err := privacy.Export(ctx, r.db(ctx), g, inAPI, customerID)
	if err != nil {
		return nil, err
	}
	record(ctx, audit.Entry{Action: auditlog.ActionExport, Operation: "exportCustomerData",
		ObjectType: "Customer", ObjectIDs: []string{gid.Encode(customerID)}})
	return doc, nil
}

func (r *Resolver) eraseCustomer(ctx context.Context, customerID int) (*model.ErasureReport, error) {
	res, err := privacy.Erase(ctx, r.db(ctx), customerID)
	if err != nil {
		return nil, err
	}
	if !res.AlreadyErased {
		record(ctx, audit.Entry{Action: auditlog.ActionErase, Operation: "eraseCustomer",
			ObjectType: "Customer", ObjectIDs: []string{gid.Encode(customerID)}})
	}
	return &model.ErasureReport{CustomerID: customerID, ErasedAt: res.ErasedAt, AlreadyErased: res.AlreadyErased}, nil
}

// customersByPhone looks customers up by a phone the viewer may at least
// see masked: a role denied phones must not be able to test numbers.
func (r *Resolver) customersByPhone(ctx context.Context, phone string) ([]*ent.Customer, error) {
	if g := authz.FromContext(ctx); g == nil || g.Read("Customer", "phone") == authz.Deny {
		return nil, apperr.Forbidden("your role may not look customers up by phone")
	}
	return privacy.ByPhone(ctx, r.client, phone)
}

// record adds e to the request's audit trail.
func record(ctx context.Context, e audit.Entry) {
	if rec := audit.FromContext(ctx); rec != nil {
		rec.Add(e)
	}
}
