package wecomsync

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tag"
)

// applyChannel attributes the follow-up an add event made to the channel
// its state names, gives the customer the channel's tags and marks its
// WeCom tags on WeCom. Replays do the same again, harmlessly.
func applyChannel(ctx context.Context, client *ent.Client, api API, corpID string, ev *wecom.Event, ch *Channel, logger *slog.Logger) error {
	cid, sid, err := relationship(ctx, client, corpID, ev.ExternalUserID, ev.UserID)
	if err != nil || cid == 0 {
		return err
	}
	if err := client.FollowUp.Update().Where(followup.CustomerID(cid), followup.StaffID(sid)).
		SetChannelID(ch.ID).Exec(ctx); err != nil {
		return fmt.Errorf("attribute the follow-up to channel %d: %w", ch.ID, err)
	}
	if len(ch.TagIDs) > 0 {
		have, err := client.Customer.Query().Where(customer.ID(cid)).QueryTags().Where(tag.IDIn(ch.TagIDs...)).IDs(ctx)
		if err != nil {
			return err
		}
		var missing []int
		for _, id := range ch.TagIDs {
			if !slices.Contains(have, id) {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			if err := addTags(ctx, client, cid, missing); err != nil {
				return fmt.Errorf("channel tags: %w", err)
			}
		}
	}
	if len(ch.WecomTagIDs) > 0 {
		err := api.MarkTags(ctx, ev.UserID, ev.ExternalUserID, ch.WecomTagIDs, nil)
		switch {
		case transport.IsKind(err, transport.KindPermanent) || transport.IsKind(err, transport.KindNotFound):
			// A tag deleted on WeCom, a customer gone again: retrying
			// would not help.
			logger.WarnContext(ctx, "channel tags not marked on WeCom", "channel", ch.ID, "external_user", ev.ExternalUserID, "error", err)
		case err != nil:
			return fmt.Errorf("mark channel tags on WeCom: %w", err)
		}
	}
	return nil
}

// addTags gives a customer tags in a transaction (inTx): tag changes are
// written with their timeline event (ent/schema/events.go).
func addTags(ctx context.Context, client *ent.Client, customerID int, ids []int) error {
	return inTx(ctx, client, func(c *ent.Client) error {
		return c.Customer.UpdateOneID(customerID).AddTagIDs(ids...).Exec(ctx)
	})
}

// relationship finds our customer and staff member of a WeCom contact and
// member; cid is 0 when either is unknown.
func relationship(ctx context.Context, client *ent.Client, corpID, externalUserID, userID string) (cid, sid int, err error) {
	cid, err = client.CustomerIdentity.Query().
		Where(customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal), customeridentity.AppID(corpID),
			customeridentity.ExternalID(externalUserID)).
		QueryCustomer().OnlyID(ctx)
	if ent.IsNotFound(err) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	sid, err = client.Staff.Query().Where(staff.WecomUserID(userID)).OnlyID(ctx)
	if ent.IsNotFound(err) {
		return 0, 0, nil
	}
	return cid, sid, err
}

// undoTransfer applies transfer_fail: the customer refused (or the
// takeover member had too many customers), so the hand-over we recorded
// (handOverCustomers) is undone: the takeover member's relationship ends
// with the reason recorded and the handover member's comes back. A
// transfer we did not record (made in the WeCom console) changes nothing.
func undoTransfer(ctx context.Context, client *ent.Client, corpID, externalUserID, takeoverUserID, reason string, at int64) error {
	cid, takeover, err := relationship(ctx, client, corpID, externalUserID, takeoverUserID)
	if err != nil || cid == 0 {
		return err
	}
	fu, err := client.FollowUp.Query().Where(followup.CustomerID(cid), followup.StaffID(takeover)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if fu.HandedOverFromID == nil || at < fu.PlatformEventAt {
		return nil
	}
	from := *fu.HandedOverFromID
	if reason == "" {
		reason = "unknown"
	}
	if err := fu.Update().SetLostAt(time.Unix(at, 0)).SetLostBy(followup.LostByTransfer).
		SetTransferFailReason(trim(reason, 64)).SetPlatformEventAt(at).Exec(ctx); err != nil {
		return err
	}
	back, err := client.FollowUp.Query().Where(followup.CustomerID(cid), followup.StaffID(from)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		err = client.FollowUp.Create().SetCustomerID(cid).SetStaffID(from).SetPlatformEventAt(at).Exec(ctx)
	case err == nil:
		err = back.Update().ClearLostAt().ClearLostBy().SetPlatformEventAt(at).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("give the customer back to staff %d: %w", from, err)
	}
	update := client.Customer.UpdateOneID(cid).RemoveFollowerIDs(takeover)
	following, err := client.Customer.Query().Where(customer.ID(cid), customer.HasFollowersWith(staff.ID(from))).Exist(ctx)
	if err != nil {
		return err
	}
	if !following {
		update.AddFollowerIDs(from)
	}
	return update.Exec(ctx)
}
