package wecomsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/ent/taggroup"
)

// Corp is the account a sync works for.
type Corp struct {
	ID string // the corp id: external user ids are scoped to it
	// WelcomeMessage is sent to new contacts when set.
	WelcomeMessage string
	// Channels, when set, names the channel (QR code) an add event's
	// state came from: its follow-up is attributed to it, its tags are
	// applied and its welcome message replaces WelcomeMessage.
	Channels Channels
}

// Channels finds channels by the state of their contact way
// (internal/channels implements it).
type Channels interface {
	// ByState returns the channel whose contact way has state, or nil.
	ByState(ctx context.Context, state string) (*Channel, error)
}

// Channel is what an add event needs of the channel it came through.
type Channel struct {
	ID             int
	WelcomeMessage string
	// TagIDs are our tags to give the customer; WecomTagIDs those of
	// them that are WeCom corp tags, marked on WeCom too.
	TagIDs      []int
	WecomTagIDs []string
}

// CustomerResult counts what a customer sync saw.
type CustomerResult struct {
	Contacts, CustomersCreated, FollowUps int
	TagGroups, Tags                       int
}

// usersPerCall is batch/get_by_user's limit on staff per call.
const usersPerCall = 100

// Customers syncs corp tags, then every external contact of every staff
// member with customer contact, page by page. resume is where a previous
// run stopped (from save); save is called after each page with the
// position to resume from, and with "" when the sync is complete, so a
// worker killed mid-sync resumes without redoing or skipping pages.
func Customers(ctx context.Context, client *ent.Client, api API, corp Corp, resume string, save func(string) error) (CustomerResult, error) {
	var res CustomerResult
	groups, tags, err := syncTags(ctx, client, api)
	if err != nil {
		return res, err
	}
	res.TagGroups, res.Tags = groups, tags
	users, err := api.FollowUsers(ctx)
	if err != nil {
		return res, fmt.Errorf("list staff with customer contact: %w", err)
	}
	slices.Sort(users)
	staffIDs, err := loadStaffIndex(ctx, client)
	if err != nil {
		return res, err
	}
	start, cursor := parseResume(resume)
	for i := start; i < len(users); i += usersPerCall {
		chunk := users[i:min(i+usersPerCall, len(users))]
		for {
			contacts, next, err := api.ContactsByUsers(ctx, chunk, cursor, 100)
			if err != nil {
				return res, fmt.Errorf("contacts of staff %d-%d: %w", i, i+len(chunk)-1, err)
			}
			for _, c := range contacts {
				for _, f := range c.Follows {
					created, err := linkContact(ctx, client, staffIDs, corp.ID, c.ExternalContact, f, f.CreateTime)
					if err != nil {
						return res, err
					}
					if created {
						res.CustomersCreated++
					}
					res.FollowUps++
				}
				res.Contacts++
			}
			cursor = next
			position := ""
			switch {
			case next != "":
				position = strconv.Itoa(i) + ":" + next
			case i+usersPerCall < len(users):
				position = strconv.Itoa(i+usersPerCall) + ":"
			}
			if err := save(position); err != nil {
				return res, err
			}
			if next == "" {
				break
			}
		}
	}
	return res, nil
}

func parseResume(s string) (int, string) {
	i, cursor, ok := strings.Cut(s, ":")
	if !ok {
		return 0, ""
	}
	n, err := strconv.Atoi(i)
	if err != nil || n < 0 {
		return 0, ""
	}
	return n, cursor
}

// syncTags sends WeCom the tags added here (pushLocalTags), then upserts
// corp tag groups and tags by their WeCom ids.
func syncTags(ctx context.Context, client *ent.Client, api API) (int, int, error) {
	if _, err := pushLocalTags(ctx, client, api); err != nil {
		return 0, 0, err
	}
	groups, err := api.CorpTags(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("corp tags: %w", err)
	}
	tags := 0
	for _, g := range groups {
		if g.Deleted {
			continue
		}
		gid, err := client.TagGroup.Query().Where(taggroup.WecomGroupID(g.ID)).OnlyID(ctx)
		switch {
		case ent.IsNotFound(err):
			saved, err := client.TagGroup.Create().SetName(g.Name).SetSource(taggroup.SourceWecom).
				SetWecomGroupID(g.ID).SetSortOrder(int(g.Order)).Save(ctx)
			if err != nil {
				return 0, 0, fmt.Errorf("tag group %s: %w", g.ID, err)
			}
			gid = saved.ID
		case err != nil:
			return 0, 0, err
		default:
			if err := client.TagGroup.UpdateOneID(gid).SetName(g.Name).SetSortOrder(int(g.Order)).Exec(ctx); err != nil {
				return 0, 0, err
			}
		}
		for _, t := range g.Tags {
			if t.Deleted {
				continue
			}
			tags++
			id, err := client.Tag.Query().Where(tag.WecomTagID(t.ID)).OnlyID(ctx)
			switch {
			case ent.IsNotFound(err):
				err = client.Tag.Create().SetName(t.Name).SetSource(tag.SourceWecom).SetWecomTagID(t.ID).
					SetSortOrder(int(t.Order)).SetGroupID(gid).Exec(ctx)
			case err == nil:
				err = client.Tag.UpdateOneID(id).SetName(t.Name).SetSortOrder(int(t.Order)).SetGroupID(gid).Exec(ctx)
			}
			if err != nil {
				return 0, 0, fmt.Errorf("tag %s: %w", t.ID, err)
			}
		}
	}
	return len(groups), tags, nil
}

// staffIndex maps WeCom user ids to staff ids, so a sync of thousands of
// contacts reads the staff once; nil looks each one up.
type staffIndex map[string]int

func loadStaffIndex(ctx context.Context, client *ent.Client) (staffIndex, error) {
	rows, err := client.Staff.Query().Where(staff.WecomUserIDNotNil()).All(ctx)
	if err != nil {
		return nil, err
	}
	idx := make(staffIndex, len(rows))
	for _, s := range rows {
		idx[*s.WecomUserID] = s.ID
	}
	return idx, nil
}

// id finds the staff member of a WeCom user id (staffID), remembering it.
func (idx staffIndex) id(ctx context.Context, client *ent.Client, userID string) (int, error) {
	if id, ok := idx[userID]; ok {
		return id, nil
	}
	id, err := staffID(ctx, client, userID)
	if err == nil && idx != nil {
		idx[userID] = id
	}
	return id, err
}

// staffID finds the staff member of a WeCom user id, adding a placeholder
// (named by the id, corrected by the next org sync) when a callback
// arrives before the org sync has seen them.
func staffID(ctx context.Context, client *ent.Client, userID string) (int, error) {
	id, err := client.Staff.Query().Where(staff.WecomUserID(userID)).OnlyID(ctx)
	if ent.IsNotFound(err) {
		s, err := client.Staff.Create().SetLogin(LoginOf(userID)).SetName(nameOr("", userID)).
			SetWecomUserID(userID).SetRoles([]string{"agent"}).Save(ctx)
		if err != nil {
			return 0, fmt.Errorf("add staff %s: %w", userID, err)
		}
		return s.ID, nil
	}
	return id, err
}

// customerOf finds the customer of an external contact: by the contact's
// id in this corp, then by its WeChat unionid (the same person met on
// another platform); it adds the identities found missing. created says
// the customer is new.
func customerOf(ctx context.Context, client *ent.Client, corpID string, c wecom.ExternalContact) (id int, created bool, err error) {
	id, err = client.CustomerIdentity.Query().
		Where(customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal), customeridentity.AppID(corpID),
			customeridentity.ExternalID(c.ExternalUserID)).
		QueryCustomer().OnlyID(ctx)
	if err == nil {
		if c.UnionID != "" {
			err = addIdentity(ctx, client, id, customeridentity.PlatformWechatUnionid, "", c.UnionID)
		}
		return id, false, err
	}
	if !ent.IsNotFound(err) {
		return 0, false, err
	}
	if c.UnionID != "" {
		id, err = client.CustomerIdentity.Query().
			Where(customeridentity.PlatformEQ(customeridentity.PlatformWechatUnionid), customeridentity.AppID(""),
				customeridentity.ExternalID(c.UnionID)).
			QueryCustomer().OnlyID(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return 0, false, err
		}
	}
	if id == 0 {
		cu, err := client.Customer.Create().SetName(displayName(c)).SetGender(genderOf(c.Gender)).
			SetSourceChannel(customer.SourceChannelWecom).Save(ctx)
		if err != nil {
			return 0, false, fmt.Errorf("add customer: %w", err)
		}
		id, created = cu.ID, true
		if c.UnionID != "" {
			if err := addIdentity(ctx, client, id, customeridentity.PlatformWechatUnionid, "", c.UnionID); err != nil {
				return 0, false, err
			}
		}
	}
	return id, created, addIdentity(ctx, client, id, customeridentity.PlatformWecomExternal, corpID, c.ExternalUserID)
}

func addIdentity(ctx context.Context, client *ent.Client, customerID int, p customeridentity.Platform, app, ext string) error {
	exists, err := client.CustomerIdentity.Query().
		Where(customeridentity.PlatformEQ(p), customeridentity.AppID(app), customeridentity.ExternalID(ext)).Exist(ctx)
	if err != nil || exists {
		return err
	}
	return client.CustomerIdentity.Create().SetCustomerID(customerID).SetPlatform(p).SetAppID(app).SetExternalID(ext).Exec(ctx)
}

func displayName(c wecom.ExternalContact) string {
	if r := []rune(c.Name); len(r) > 100 {
		return string(r[:100])
	}
	return c.Name
}

func genderOf(g int) customer.Gender {
	switch g {
	case 1:
		return customer.GenderMale
	case 2:
		return customer.GenderFemale
	}
	return customer.GenderUnknown
}

// linkContact records that staff member f.UserID follows the contact (as
// of WeCom time at), creating or linking the customer; an older change
// than the newest applied one is ignored.
func linkContact(ctx context.Context, client *ent.Client, staffIDs staffIndex, corpID string, c wecom.ExternalContact, f wecom.FollowInfo, at int64) (created bool, err error) {
	// One transaction: the customer, identities, follow-up and tags land
	// together, and tag changes write their timeline event with them.
	err = inTx(ctx, client, func(client *ent.Client) error {
		created, err = link(ctx, client, staffIDs, corpID, c, f, at)
		return err
	})
	return created, err
}

// inTx runs fn in a transaction of client, or in client's own when it
// is a transaction already.
func inTx(ctx context.Context, client *ent.Client, fn func(*ent.Client) error) error {
	tx, err := client.Tx(ctx)
	if errors.Is(err, ent.ErrTxStarted) {
		return fn(client)
	}
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func link(ctx context.Context, client *ent.Client, staffIDs staffIndex, corpID string, c wecom.ExternalContact, f wecom.FollowInfo, at int64) (created bool, err error) {
	cid, created, err := customerOf(ctx, client, corpID, c)
	if err != nil {
		return false, err
	}
	sid, err := staffIDs.id(ctx, client, f.UserID)
	if err != nil {
		return false, err
	}
	fu, err := client.FollowUp.Query().Where(followup.CustomerID(cid), followup.StaffID(sid)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		create := client.FollowUp.Create().SetCustomerID(cid).SetStaffID(sid).SetRemark(trim(f.Remark, 255)).
			SetDescription(f.Description).SetAddWay(f.AddWay).SetState(trim(f.State, 30)).SetPlatformEventAt(at)
		if f.CreateTime > 0 {
			create.SetAddedAt(time.Unix(f.CreateTime, 0))
		}
		if err := create.Exec(ctx); err != nil {
			return false, fmt.Errorf("add follow-up: %w", err)
		}
	case err != nil:
		return false, err
	case at < fu.PlatformEventAt:
		return created, nil // a newer change of this relationship was applied already
	default:
		update := fu.Update().SetRemark(trim(f.Remark, 255)).SetDescription(f.Description).
			SetPlatformEventAt(at).ClearLostAt().ClearLostBy()
		if f.AddWay != 0 {
			update.SetAddWay(f.AddWay)
		}
		if f.State != "" {
			update.SetState(trim(f.State, 30))
		}
		if f.CreateTime > 0 {
			update.SetAddedAt(time.Unix(f.CreateTime, 0))
		}
		if err := update.Exec(ctx); err != nil {
			return false, err
		}
	}
	following, err := client.Customer.Query().Where(customer.ID(cid), customer.HasFollowersWith(staff.ID(sid))).Exist(ctx)
	if err != nil {
		return false, err
	}
	// link runs in a transaction (linkContact): one update adds the
	// follower and the tags (whose timeline event needs the transaction).
	update := client.Customer.UpdateOneID(cid)
	changed := !following
	if !following {
		update.AddFollowerIDs(sid)
	}
	if len(f.TagIDs) > 0 {
		have, err := client.Customer.Query().Where(customer.ID(cid)).QueryTags().Where(tag.WecomTagIDIn(f.TagIDs...)).IDs(ctx)
		if err != nil {
			return false, err
		}
		missing, err := client.Tag.Query().Where(tag.WecomTagIDIn(f.TagIDs...), tag.IDNotIn(have...)).IDs(ctx)
		if err != nil {
			return false, err
		}
		if len(missing) > 0 {
			update.AddTagIDs(missing...)
			changed = true
		}
	}
	if changed {
		if err := update.Exec(ctx); err != nil {
			return false, err
		}
	}
	return created, nil
}

func trim(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// markLost records that the relationship of the contact and staff member
// ended at WeCom time at; the follower edge (and so the staff member's
// data scope) goes with it. A contact or staff member not seen yet is
// added (as an add event would), so that the loss is remembered even when
// it arrives before every event about them: the older add coming later
// must not make the staff member a follower again.
func markLost(ctx context.Context, client *ent.Client, corpID, externalUserID, userID string, by followup.LostBy, at int64) error {
	// One transaction: a customer added here writes its event with it.
	return inTx(ctx, client, func(client *ent.Client) error {
		cid, _, err := customerOf(ctx, client, corpID, wecom.ExternalContact{ExternalUserID: externalUserID})
		if err != nil {
			return err
		}
		sid, err := staffID(ctx, client, userID)
		if err != nil {
			return err
		}
		fu, err := client.FollowUp.Query().Where(followup.CustomerID(cid), followup.StaffID(sid)).Only(ctx)
		if ent.IsNotFound(err) {
			// The loss arrived before the add it ends: remember it, so the
			// older add is ignored when it comes.
			return client.FollowUp.Create().SetCustomerID(cid).SetStaffID(sid).SetLostAt(time.Unix(at, 0)).
				SetLostBy(by).SetPlatformEventAt(at).Exec(ctx)
		}
		if err != nil {
			return err
		}
		if at < fu.PlatformEventAt {
			return nil
		}
		if err := fu.Update().SetLostAt(time.Unix(at, 0)).SetLostBy(by).SetPlatformEventAt(at).Exec(ctx); err != nil {
			return err
		}
		return client.Customer.UpdateOneID(cid).RemoveFollowerIDs(sid).Exec(ctx)
	})
}

// welcomeWindow is how long WeCom accepts a welcome code after the add
// event; we give up a little earlier rather than be refused.
const welcomeWindow = 18 * time.Second

// ApplyEvent applies one callback event. receivedAt is when the callback
// arrived; now is the clock.
func ApplyEvent(ctx context.Context, client *ent.Client, api API, corp Corp, ev *wecom.Event, receivedAt time.Time, now func() time.Time, logger *slog.Logger) error {
	at := ev.CreateTime
	switch ev.Event {
	case wecom.EventChangeExternalContact:
		switch ev.ChangeType {
		case wecom.ChangeAddExternalContact, wecom.ChangeAddHalfExternalContact:
			var ch *Channel
			if ev.State != "" && corp.Channels != nil {
				var err error
				if ch, err = corp.Channels.ByState(ctx, ev.State); err != nil {
					return fmt.Errorf("channel of state %q: %w", ev.State, err)
				}
			}
			welcome := corp.WelcomeMessage
			if ch != nil && ch.WelcomeMessage != "" {
				welcome = ch.WelcomeMessage
			}
			if ev.WelcomeCode != "" && welcome != "" {
				if now().Sub(receivedAt) < welcomeWindow {
					if err := api.SendWelcome(ctx, ev.WelcomeCode, welcome); err != nil {
						logger.WarnContext(ctx, "welcome message not sent", "external_user", ev.ExternalUserID, "error", err)
					}
				} else {
					logger.WarnContext(ctx, "welcome message skipped: too late for the welcome code", "external_user", ev.ExternalUserID)
				}
			}
			// Link at once from the event, then fill in the details.
			f := wecom.FollowInfo{UserID: ev.UserID, State: ev.State, CreateTime: at}
			if _, err := linkContact(ctx, client, nil, corp.ID, wecom.ExternalContact{ExternalUserID: ev.ExternalUserID}, f, at); err != nil {
				return err
			}
			if ch != nil {
				if err := applyChannel(ctx, client, api, corp.ID, ev, ch, logger); err != nil {
					return err
				}
			}
			return refreshContact(ctx, client, api, corp, ev.ExternalUserID, ev.UserID, at)
		case wecom.ChangeEditExternalContact:
			return refreshContact(ctx, client, api, corp, ev.ExternalUserID, ev.UserID, at)
		case wecom.ChangeDelExternalContact:
			by := followup.LostByStaff
			if ev.Source == "DELETE_BY_TRANSFER" {
				by = followup.LostByTransfer
			}
			return markLost(ctx, client, corp.ID, ev.ExternalUserID, ev.UserID, by, at)
		case wecom.ChangeDelFollowUser:
			return markLost(ctx, client, corp.ID, ev.ExternalUserID, ev.UserID, followup.LostByCustomer, at)
		case wecom.ChangeTransferFail:
			logger.WarnContext(ctx, "customer transfer failed", "external_user", ev.ExternalUserID, "staff", ev.UserID, "reason", ev.FailReason)
			return undoTransfer(ctx, client, corp.ID, ev.ExternalUserID, ev.UserID, ev.FailReason, at)
		}
	case wecom.EventChangeExternalTag:
		_, _, err := syncTags(ctx, client, api)
		return err
	case wecom.EventChangeContact:
		return applyContactChange(ctx, client, api, ev)
	}
	logger.DebugContext(ctx, "wecom event ignored", "event", ev.Event, "change", ev.ChangeType)
	return nil
}

// refreshContact re-reads the contact and stores its current details:
// name, unionid, and userID's remark, state and tags.
func refreshContact(ctx context.Context, client *ent.Client, api API, corp Corp, externalUserID, userID string, at int64) error {
	c, err := api.Contact(ctx, externalUserID)
	if transport.IsKind(err, transport.KindNotFound) {
		return nil // gone again already; its del event will follow
	}
	if err != nil {
		return fmt.Errorf("contact details: %w", err)
	}
	// The contact was read first: no transaction waits on WeCom.
	return inTx(ctx, client, func(client *ent.Client) error {
		cid, _, err := customerOf(ctx, client, corp.ID, c.ExternalContact)
		if err != nil {
			return err
		}
		if c.Name != "" {
			if err := client.Customer.UpdateOneID(cid).Where(customer.NameEQ("")).SetName(displayName(c.ExternalContact)).
				SetGender(genderOf(c.Gender)).Exec(ctx); err != nil && !ent.IsNotFound(err) {
				return err
			}
		}
		for _, f := range c.Follows {
			if f.UserID != userID {
				continue
			}
			if _, err := linkContact(ctx, client, nil, corp.ID, c.ExternalContact, f, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// applyContactChange applies change_contact: staff and departments.
func applyContactChange(ctx context.Context, client *ent.Client, api API, ev *wecom.Event) error {
	switch ev.ChangeType {
	case wecom.ChangeCreateUser, wecom.ChangeUpdateUser:
		userID := ev.UserID
		id, err := staffID(ctx, client, userID)
		if err != nil {
			return err
		}
		update := client.Staff.UpdateOneID(id).SetStatus(staff.StatusActive)
		if ev.NewUserID != "" && ev.NewUserID != userID {
			update.SetWecomUserID(ev.NewUserID)
		}
		if ev.Name != "" {
			update.SetName(nameOr(ev.Name, userID))
		}
		if ev.Status == "5" {
			update.SetStatus(staff.StatusResigned)
		}
		return update.Exec(ctx)
	case wecom.ChangeDeleteUser:
		n, err := client.Staff.Update().Where(staff.WecomUserID(ev.UserID)).SetStatus(staff.StatusResigned).Save(ctx)
		if err == nil && n == 0 {
			return nil
		}
		return err
	case wecom.ChangeCreateParty, wecom.ChangeUpdateParty:
		id, err := strconv.ParseInt(ev.ID, 10, 64)
		if err != nil {
			return fmt.Errorf("party id %q: %w", ev.ID, errors.Join(err, ErrBadEvent))
		}
		parent, _ := strconv.ParseInt(ev.ParentID, 10, 64)
		order, _ := strconv.ParseInt(ev.Order, 10, 64)
		d := wecom.Department{ID: id, Name: ev.Name, ParentID: parent, Order: order}
		if ev.ChangeType == wecom.ChangeUpdateParty && ev.Name == "" {
			return nil // only the parent or order moved; the next org sync places it
		}
		_, _, err = upsertDepartments(ctx, client, []wecom.Department{d})
		return err
	case wecom.ChangeDeleteParty:
		// Departments stay: tickets, stores and history name them. The
		// next org sync moves their staff.
		return nil
	}
	return nil
}

// ErrBadEvent is an event that can never be applied (do not retry it).
var ErrBadEvent = errors.New("wecom event cannot be applied")
