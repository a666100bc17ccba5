// Package contactops changes customers' WeCom relationships on request of
// staff: tagging a customer (our tags locally, WeCom corp tags on WeCom
// too, for every staff member following them) and handing customers over
// from one staff member to another (transfer_customer, or the resigned
// variant), moving the follow-ups with them. The follow-up's undo on a
// later transfer_fail is internal/wecomsync's. It calls WeCom through
// connectors/wecom and stores through ent (scopes apply: a caller acts on
// the customers they see); it knows nothing of GraphQL.
package contactops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/internal/apperr"
)

// Platform builds a WeCom account's client (a *connectoraccounts.Clients).
type Platform interface {
	Wecom(a *ent.ConnectorAccount) (*wecom.Client, error)
}

// refused turns WeCom's refusal of a call into an error the caller can
// act on.
func refused(what string, err error) error {
	var pe *transport.Error
	switch {
	case errors.As(err, &pe) && (pe.Kind == transport.KindRateLimited || pe.Kind == transport.KindBusy):
		return &apperr.Error{Code: apperr.CodeRateLimited, Message: fmt.Sprintf("WeCom is busy and did not %s; try again shortly", what)}
	case errors.As(err, &pe):
		return &apperr.Error{Code: apperr.CodeBadUserInput,
			Message: fmt.Sprintf("WeCom refused to %s: errcode %s %s", what, pe.Code, pe.Message)}
	case errors.Is(err, transport.ErrCircuitOpen):
		return &apperr.Error{Code: apperr.CodeRateLimited, Message: fmt.Sprintf("WeCom keeps failing for this account, so we did not %s; try again later", what)}
	}
	return fmt.Errorf("%s on WeCom: %w", what, err)
}

// wecomLink is one WeCom relationship of a customer: a corp's client,
// the customer's external user id there and a member following them.
type wecomLink struct {
	account  *ent.ConnectorAccount
	external string
	userID   string
}

// links lists the customer's live WeCom relationships.
func links(ctx context.Context, client *ent.Client, customerID int) ([]wecomLink, error) {
	ids, err := client.CustomerIdentity.Query().
		Where(customeridentity.CustomerID(customerID), customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal)).All(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	follows, err := client.FollowUp.Query().
		Where(followup.CustomerID(customerID), followup.LostAtIsNil()).
		QueryStaff().Where(staff.WecomUserIDNotNil(), staff.StatusEQ(staff.StatusActive)).Order(staff.ByID()).All(ctx)
	if err != nil || len(follows) == 0 {
		return nil, err
	}
	accounts, err := client.ConnectorAccount.Query().Where(connectoraccount.PlatformEQ(connectoraccount.PlatformWecom)).All(ctx)
	if err != nil {
		return nil, err
	}
	var out []wecomLink
	for _, id := range ids {
		for _, a := range accounts {
			if a.ExternalID != id.AppID {
				continue
			}
			for _, s := range follows {
				out = append(out, wecomLink{account: a, external: id.ExternalID, userID: *s.WecomUserID})
			}
		}
	}
	return out, nil
}

// MarkTags adds and removes tags of a customer the viewer can see. Our
// tags change locally; WeCom corp tags among them are marked on WeCom
// for every member following the customer there. When WeCom refuses, the
// local change is the caller's transaction to roll back.
func MarkTags(ctx context.Context, client *ent.Client, platform Platform, customerID int, add, remove []int) (*ent.Customer, error) {
	if _, err := client.Customer.Query().Where(customer.ID(customerID)).OnlyID(ctx); err != nil {
		return nil, err
	}
	add, remove = dedupe(add), dedupe(remove)
	for _, id := range remove {
		if slices.Contains(add, id) {
			return nil, apperr.Invalid("remove", "tag %s is both added and removed", gid.Encode(id))
		}
	}
	wecomIDs := func(field string, ids []int) ([]string, error) {
		tags, err := client.Tag.Query().Where(tag.IDIn(ids...)).All(ctx)
		if err != nil {
			return nil, err
		}
		if len(tags) != len(ids) {
			return nil, apperr.Invalid(field, "no tag with one of those IDs")
		}
		var out []string
		for _, t := range tags {
			if t.Source == tag.SourceWecom && t.WecomTagID != nil && *t.WecomTagID != "" {
				out = append(out, *t.WecomTagID)
			}
		}
		return out, nil
	}
	addW, err := wecomIDs("add", add)
	if err != nil {
		return nil, err
	}
	removeW, err := wecomIDs("remove", remove)
	if err != nil {
		return nil, err
	}
	if len(add)+len(remove) > 0 {
		if err := client.Customer.UpdateOneID(customerID).AddTagIDs(add...).RemoveTagIDs(remove...).Exec(ctx); err != nil {
			return nil, err
		}
	}
	if len(addW)+len(removeW) > 0 {
		ls, err := links(ctx, client, customerID)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			wc, err := platform.Wecom(l.account)
			if err != nil {
				return nil, err
			}
			if err := wc.MarkTags(ctx, l.userID, l.external, addW, removeW); err != nil {
				return nil, refused("mark the tags", err)
			}
		}
	}
	return client.Customer.Get(ctx, customerID)
}

func dedupe(ids []int) []int {
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// Result is one customer's outcome of a hand-over.
type Result struct {
	Customer *ent.Customer
	OK       bool
	Error    *string
}

// HandOverResult is the outcome of a hand-over.
type HandOverResult struct {
	Results []*Result
	Moved   int
}

// maxHandOver is WeCom's limit of customers per transfer call.
const maxHandOver = 100

// HandOver hands customers of staff member from over to staff member to
// on WeCom (all of from's customers, up to 100, when customerIDs is nil)
// and moves the follow-ups WeCom accepted: from's relationship ends (lost
// by transfer), to's begins, remembering from so that a later
// transfer_fail puts the customer back. now stamps the change.
func HandOver(ctx context.Context, client *ent.Client, platform Platform, now time.Time, from, to int, customerIDs []int) (*HandOverResult, error) {
	fromStaff, err := client.Staff.Get(ctx, from)
	if ent.IsNotFound(err) {
		return nil, apperr.Invalid("from", "no staff member with ID %s", gid.Encode(from))
	}
	if err != nil {
		return nil, err
	}
	toStaff, err := client.Staff.Get(ctx, to)
	if ent.IsNotFound(err) {
		return nil, apperr.Invalid("to", "no staff member with ID %s", gid.Encode(to))
	}
	if err != nil {
		return nil, err
	}
	switch {
	case from == to:
		return nil, apperr.Invalid("to", "the takeover staff member must differ from the handover one")
	case fromStaff.WecomUserID == nil:
		return nil, apperr.Invalid("from", "%s has no WeCom account", fromStaff.Name)
	case toStaff.WecomUserID == nil:
		return nil, apperr.Invalid("to", "%s has no WeCom account", toStaff.Name)
	case toStaff.Status != staff.StatusActive:
		return nil, apperr.Invalid("to", "%s has resigned", toStaff.Name)
	case len(customerIDs) > maxHandOver:
		return nil, apperr.Invalid("customerIDs", "at most %d customers at a time", maxHandOver)
	}
	var customers []*ent.Customer
	if customerIDs == nil {
		customers, err = client.Customer.Query().Where(customer.HasFollowersWith(staff.ID(from))).
			Order(customer.ByID()).Limit(maxHandOver).All(ctx)
	} else {
		customerIDs = dedupe(customerIDs)
		customers, err = client.Customer.Query().Where(customer.IDIn(customerIDs...)).All(ctx)
		if err == nil && len(customers) != len(customerIDs) {
			return nil, apperr.Invalid("customerIDs", "no customer with one of those IDs")
		}
		slices.SortFunc(customers, func(a, b *ent.Customer) int {
			return slices.Index(customerIDs, a.ID) - slices.Index(customerIDs, b.ID)
		})
	}
	if err != nil {
		return nil, err
	}
	accounts, err := client.ConnectorAccount.Query().Where(connectoraccount.PlatformEQ(connectoraccount.PlatformWecom)).All(ctx)
	if err != nil {
		return nil, err
	}
	res := &HandOverResult{}
	type pending struct {
		result   *Result
		external string
	}
	byAccount := map[int][]pending{}
	fail := func(r *Result, msg string) { r.Error = &msg }
	for _, c := range customers {
		r := &Result{Customer: c}
		res.Results = append(res.Results, r)
		live, err := client.FollowUp.Query().Where(followup.CustomerID(c.ID), followup.StaffID(from), followup.LostAtIsNil()).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if !live {
			fail(r, fmt.Sprintf("not a WeCom contact of %s", fromStaff.Name))
			continue
		}
		found := false
		for _, a := range accounts {
			ext, err := client.CustomerIdentity.Query().Where(customeridentity.CustomerID(c.ID),
				customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal), customeridentity.AppID(a.ExternalID)).First(ctx)
			if ent.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			byAccount[a.ID] = append(byAccount[a.ID], pending{r, ext.ExternalID})
			found = true
			break
		}
		if !found {
			fail(r, "no WeCom identity in a connected corp")
		}
	}
	resigned := fromStaff.Status == staff.StatusResigned
	for _, a := range accounts {
		batch := byAccount[a.ID]
		if len(batch) == 0 {
			continue
		}
		wc, err := platform.Wecom(a)
		if err != nil {
			return nil, err
		}
		exts := make([]string, len(batch))
		for i, p := range batch {
			exts[i] = p.external
		}
		outcome, err := wc.TransferCustomers(ctx, resigned, *fromStaff.WecomUserID, *toStaff.WecomUserID, exts)
		if err != nil {
			return nil, refused("transfer the customers", err)
		}
		codes := map[string]int{}
		for _, o := range outcome {
			codes[o.ExternalUserID] = o.ErrCode
		}
		for _, p := range batch {
			code, ok := codes[p.external]
			switch {
			case !ok:
				fail(p.result, "WeCom did not answer for this customer")
			case code != 0:
				fail(p.result, fmt.Sprintf("WeCom refused: errcode %d", code))
			default:
				if err := move(ctx, client, p.result.Customer.ID, from, to, now); err != nil {
					return nil, err
				}
				p.result.OK = true
				res.Moved++
			}
		}
	}
	return res, nil
}

// move ends from's relationship with the customer (by transfer) and
// starts to's, remembering from.
func move(ctx context.Context, client *ent.Client, customerID, from, to int, now time.Time) error {
	at := now.Unix()
	if err := client.FollowUp.Update().Where(followup.CustomerID(customerID), followup.StaffID(from)).
		SetLostAt(now.UTC()).SetLostBy(followup.LostByTransfer).SetPlatformEventAt(at).Exec(ctx); err != nil {
		return fmt.Errorf("end the handover follow-up: %w", err)
	}
	fu, err := client.FollowUp.Query().Where(followup.CustomerID(customerID), followup.StaffID(to)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		err = client.FollowUp.Create().SetCustomerID(customerID).SetStaffID(to).SetAddedAt(now.UTC()).
			SetHandedOverFromID(from).SetPlatformEventAt(at).Exec(ctx)
	case err == nil:
		err = fu.Update().ClearLostAt().ClearLostBy().ClearTransferFailReason().SetHandedOverFromID(from).
			SetPlatformEventAt(at).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("start the takeover follow-up: %w", err)
	}
	update := client.Customer.UpdateOneID(customerID).RemoveFollowerIDs(from)
	following, err := client.Customer.Query().Where(customer.ID(customerID), customer.HasFollowersWith(staff.ID(to))).Exist(ctx)
	if err != nil {
		return err
	}
	if !following {
		update.AddFollowerIDs(to)
	}
	return update.Exec(ctx)
}
