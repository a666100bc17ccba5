// Package privacy carries out personal-information rights (PIPL): finding
// a person by phone through the blind index, exporting everything held
// about them, erasing them, and recording their marketing consent. It
// works through the ent client it is given (a mutation's transaction), so
// tenancy and data scopes apply as to any other read or write.
package privacy

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/formsubmission"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/ticketcomment"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/gqlname"
	"github.com/scrm-dev/scrm/internal/pii"
)

// ByPhone returns the customers whose phone is exactly phone, in any
// common spelling. The blind index narrows the search; the decrypted
// phone confirms it (the index is truncated, so it may collide).
func ByPhone(ctx context.Context, db *ent.Client, phone string) ([]*ent.Customer, error) {
	want, ok := pii.NormalizePhone(phone)
	if !ok {
		return nil, apperr.Invalid("phone", "%q is not a phone number", phone)
	}
	kr, err := pii.Current()
	if err != nil {
		return nil, err
	}
	found, err := db.Customer.Query().Where(customer.PhoneIndex(kr.PhoneIndex(phone))).Limit(100).All(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(found, func(c *ent.Customer) bool {
		got, _ := pii.NormalizePhone(c.Phone)
		return got != want
	}), nil
}

// Export returns everything held about one customer as one document,
// shaped like the API (GraphQL field names, global IDs, only fields the
// API has, per inAPI) and with the viewer's field decisions applied: what
// they may not read is left out, what they see masked is masked.
func Export(ctx context.Context, db *ent.Client, g *authz.Grants, inAPI func(typ, field string) bool, customerID int) (map[string]any, error) {
	e := exporter{g: g, inAPI: inAPI}
	c, err := db.Customer.Query().Where(customer.ID(customerID)).
		WithIdentities().
		WithTags().
		WithOrders(func(q *ent.OrderQuery) { q.WithItems() }).
		WithTickets(func(q *ent.TicketQuery) { q.WithComments() }).
		WithFormSubmissions().
		Only(ctx)
	if err != nil {
		return nil, err
	}
	doc := e.object("Customer", c)
	doc["identities"] = list(e, "CustomerIdentity", c.Edges.Identities)
	doc["tags"] = list(e, "Tag", c.Edges.Tags)
	orders := make([]any, 0, len(c.Edges.Orders))
	for _, o := range c.Edges.Orders {
		m := e.object("Order", o)
		m["items"] = list(e, "OrderItem", o.Edges.Items)
		orders = append(orders, m)
	}
	doc["orders"] = orders
	tickets := make([]any, 0, len(c.Edges.Tickets))
	for _, t := range c.Edges.Tickets {
		m := e.object("Ticket", t)
		m["comments"] = list(e, "TicketComment", t.Edges.Comments)
		tickets = append(tickets, m)
	}
	doc["tickets"] = tickets
	doc["formSubmissions"] = list(e, "FormSubmission", c.Edges.FormSubmissions)
	return map[string]any{
		"exportedAt": time.Now().UTC().Format(time.RFC3339),
		"customer":   doc,
	}, nil
}

type exporter struct {
	g     *authz.Grants
	inAPI func(typ, field string) bool
}

func list[T any](e exporter, typ string, items []T) []any {
	out := make([]any, 0, len(items))
	for _, it := range items {
		out = append(out, e.object(typ, it))
	}
	return out
}

// object turns an ent entity into the fields a client would see: json
// names made lowerCamel like the API's, ids global, field decisions
// applied.
func (e exporter) object(typ string, entity any) map[string]any {
	v := reflect.ValueOf(entity).Elem()
	t := v.Type()
	out := map[string]any{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "" || tag == "-" || tag == "edges" || tag == "tenant_id" {
			continue
		}
		name := gqlname.Field(tag)
		if !e.inAPI(typ, name) {
			continue // internal columns such as the phone's blind index
		}
		decision := e.g.Read(typ, name)
		if decision == authz.Deny {
			continue
		}
		val := v.Field(i).Interface()
		switch {
		case (name == "id" || strings.HasSuffix(name, "ID")) && isIntID(val):
			val = globalID(val)
		case typ == "CustomerIdentity" && name == "externalID" && strings.HasPrefix(val.(string), schema.PhoneIdentityPrefix):
			val = "(the customer's phone, kept only as a keyed index)"
		case decision == authz.Mask:
			if s, ok := val.(string); ok {
				val = authz.MaskValue(typ+"."+name, s, entity)
			}
		}
		out[name] = val
	}
	return out
}

func isIntID(v any) bool {
	switch v.(type) {
	case int, *int:
		return true
	}
	return false
}

func globalID(v any) any {
	switch id := v.(type) {
	case int:
		return gid.Encode(id)
	case *int:
		if id != nil {
			return gid.Encode(*id)
		}
	}
	return nil
}

// Erasure is the outcome of Erase.
type Erasure struct {
	ErasedAt      time.Time
	AlreadyErased bool
}

// ErasedName replaces an erased customer's name.
const ErasedName = "已删除用户"

// Erase removes one customer's personal data from every table, keeping
// what is not personal (order totals and lines, ticket numbers and
// statuses) and the audit trail. Encrypted values are overwritten, not
// merely re-keyed, so backups taken afterwards hold nothing either.
// Erasing twice changes nothing the second time.
func Erase(ctx context.Context, db *ent.Client, customerID int) (Erasure, error) {
	c, err := db.Customer.Get(ctx, customerID)
	if err != nil {
		return Erasure{}, err
	}
	if c.ErasedAt != nil {
		return Erasure{ErasedAt: *c.ErasedAt, AlreadyErased: true}, nil
	}
	now := time.Now().UTC()
	if err := db.Customer.UpdateOneID(customerID).
		SetName(ErasedName).
		SetGender(customer.GenderUnknown).
		ClearPhone().ClearPhoneIndex().ClearEmail().ClearBirthday().
		ClearProvince().ClearCity().ClearDistrict().ClearAddress().ClearIDNumber().
		ClearCustomAttributes().ClearMarketingConsents().
		ClearFollowers().
		SetErasedAt(now).
		Exec(ctx); err != nil {
		return Erasure{}, err
	}
	if _, err := db.CustomerIdentity.Delete().Where(customeridentity.CustomerID(customerID)).Exec(ctx); err != nil {
		return Erasure{}, err
	}
	ticketIDs, err := db.Ticket.Query().Where(ticket.CustomerID(customerID)).IDs(ctx)
	if err != nil {
		return Erasure{}, err
	}
	if len(ticketIDs) > 0 {
		if err := db.Ticket.Update().Where(ticket.IDIn(ticketIDs...)).
			SetTitle("[已删除]").SetDescription("").ClearCustomFields().Exec(ctx); err != nil {
			return Erasure{}, err
		}
		if err := db.TicketComment.Update().Where(ticketcomment.TicketIDIn(ticketIDs...)).
			SetBody("[已删除]").Exec(ctx); err != nil {
			return Erasure{}, err
		}
	}
	if err := db.FormSubmission.Update().Where(formsubmission.CustomerID(customerID)).
		SetData(map[string]any{}).Exec(ctx); err != nil {
		return Erasure{}, err
	}
	return Erasure{ErasedAt: now}, nil
}

// SetConsent records the customer's latest answer for one channel.
func SetConsent(ctx context.Context, db *ent.Client, customerID int, channel string, granted bool, source string) (*ent.Customer, error) {
	if !slices.Contains(schematype.ConsentChannels, channel) {
		return nil, apperr.Invalid("channel", "unknown channel %q", channel)
	}
	source = strings.TrimSpace(source)
	if source == "" || utf8.RuneCountInString(source) > 100 {
		return nil, apperr.Invalid("source", "say how the answer was collected (1-100 characters), for example \"mini-program form\"")
	}
	c, err := db.Customer.Get(ctx, customerID)
	if err != nil {
		return nil, err
	}
	consents := slices.DeleteFunc(slices.Clone(c.MarketingConsents), func(x schematype.Consent) bool { return x.Channel == channel })
	consents = append(consents, schematype.Consent{Channel: channel, Granted: granted, At: time.Now().UTC().Truncate(time.Second), Source: source})
	slices.SortFunc(consents, func(a, b schematype.Consent) int { return strings.Compare(a.Channel, b.Channel) })
	return db.Customer.UpdateOneID(customerID).SetMarketingConsents(consents).Save(ctx)
}
