package resolvers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/audit"
)

// revealable maps the API's field names to the Customer fields they
// reveal.
var revealable = map[model.CustomerSensitiveField]string{
	model.CustomerSensitiveFieldPhone:    "phone",
	model.CustomerSensitiveFieldAddress:  "address",
	model.CustomerSensitiveFieldEmail:    "email",
	model.CustomerSensitiveFieldIDNumber: "idNumber",
	model.CustomerSensitiveFieldBirthday: "birthday",
}

func (r *Resolver) reveal(ctx context.Context, customerID int, field model.CustomerSensitiveField, purpose string) (string, error) {
	name := revealable[field]
	g := authz.FromContext(ctx)
	if g == nil || !g.CanReveal("Customer", name) {
		return "", apperr.Forbidden("your role may not reveal Customer.%s", name)
	}
	if len(strings.TrimSpace(purpose)) < 4 {
		return "", apperr.Invalid("purpose", "say why you need the value (at least 4 characters), for example: call back about ticket T-000123")
	}
	c, err := r.db(ctx).Customer.Get(ctx, customerID)
	if err != nil {
		return "", err
	}
	v := viewerFrom(ctx)
	if r.revealLimit != nil {
		ok, retry, err := r.revealLimit.Allow(ctx, fmt.Sprintf("%d:%d", v.TenantID, v.StaffID), r.revealsPerHour, time.Hour)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", &apperr.Error{Code: apperr.CodeRateLimited,
				Message: fmt.Sprintf("you have revealed %d values this hour; try again in %s", r.revealsPerHour, retry.Round(time.Minute))}
		}
	}
	record(ctx, audit.Entry{
		Action: auditlog.ActionReveal, Operation: "revealCustomerField", ObjectType: "Customer",
		ObjectIDs: []string{gid.Encode(c.ID)}, Fields: []string{name}, Purpose: strings.TrimSpace(purpose),
	})
	return customerValue(c, name), nil
}

func customerValue(c *ent.Customer, field string) string {
	switch field {
	case "phone":
		return c.Phone
	case "address":
		return c.Address
	case "email":
		return c.Email
	case "idNumber":
		return c.IDNumber
	case "birthday":
		return c.Birthday
	}
	return ""
}
