// Package channels owns channel QR codes (WeCom contact ways, 活码):
// checking what a marketer enters, keeping each code's contact way on
// WeCom in step (created, updated, deleted; the staff on duty re-pushed
// as the rotation and the daily add limits change), naming the channel
// an add event came through (for internal/wecomsync), and counting the
// customers each channel brought and lost. It calls WeCom only through
// connectors/wecom and stores only through ent; it knows nothing of
// GraphQL.
package channels

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/channel"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/internal/apperr"
)

// Platform builds a WeCom account's client (a *connectoraccounts.Clients).
type Platform interface {
	Wecom(a *ent.ConnectorAccount) (*wecom.Client, error)
}

// Service manages channels. Now is the clock (time.Now when nil); tests
// set it to put the rotation at a chosen time.
type Service struct {
	Platform Platform
	Now      func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CreateInput is a new channel (graph/wecom.graphql).
type CreateInput struct {
	AccountID      *int
	Name           string
	State          *string
	Rotation       []*schematype.ChannelShift
	BackupStaffIDs []int
	DailyAddLimit  *int
	TagIDs         []int
	WelcomeMessage *string
}

// UpdateInput changes a channel: nil fields are kept, lists given
// replace the stored ones.
type UpdateInput struct {
	Name                *string
	Rotation            []*schematype.ChannelShift
	BackupStaffIDs      []int
	DailyAddLimit       *int
	TagIDs              []int
	WelcomeMessage      *string
	ClearWelcomeMessage *bool
}

// Limits of what a channel holds.
const (
	maxName     = 100
	maxWelcome  = 4000
	maxShifts   = 50
	maxMembers  = 100 // WeCom: users per contact way
	maxStateLen = 30
)

var statePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,30}$`)

// spec is a channel's settings, checked.
type spec struct {
	name     string
	rotation []schematype.ChannelShift
	backup   []int
	limit    int
	tags     []int
	welcome  string
	staff    map[int]*ent.Staff // every staff member named, by id
}

// check validates the settings; errors name the input field at fault.
func check(ctx context.Context, client *ent.Client, sp *spec) error {
	sp.name = strings.TrimSpace(sp.name)
	if sp.name == "" || utf8.RuneCountInString(sp.name) > maxName {
		return apperr.Invalid("name", "name must be 1 to %d characters", maxName)
	}
	if len(sp.rotation) > maxShifts {
		return apperr.Invalid("rotation", "at most %d shifts", maxShifts)
	}
	for i, sh := range sp.rotation {
		if err := sh.Check(); err != nil {
			return apperr.Invalid(fmt.Sprintf("rotation[%d]", i), "%v", err)
		}
		if len(sh.StaffIDs) == 0 || len(sh.StaffIDs) > maxMembers {
			return apperr.Invalid(fmt.Sprintf("rotation[%d].staffIDs", i), "a shift names 1 to %d staff members", maxMembers)
		}
	}
	if len(sp.backup) == 0 || len(sp.backup) > maxMembers {
		return apperr.Invalid("backupStaffIDs", "name 1 to %d backup staff members: they take the customers when nobody is on duty", maxMembers)
	}
	if sp.limit < 0 {
		return apperr.Invalid("dailyAddLimit", "dailyAddLimit must be 0 (no limit) or more")
	}
	if utf8.RuneCountInString(sp.welcome) > maxWelcome {
		return apperr.Invalid("welcomeMessage", "welcomeMessage must be at most %d characters", maxWelcome)
	}
	ids := slices.Clone(sp.backup)
	for _, sh := range sp.rotation {
		ids = append(ids, sh.StaffIDs...)
	}
	members, err := client.Staff.Query().Where(staff.IDIn(ids...)).All(ctx)
	if err != nil {
		return err
	}
	sp.staff = map[int]*ent.Staff{}
	for _, m := range members {
		sp.staff[m.ID] = m
	}
	checkStaff := func(field string, ids []int) error {
		for _, id := range ids {
			m := sp.staff[id]
			switch {
			case m == nil:
				return apperr.Invalid(field, "no staff member with ID %s", gid.Encode(id))
			case m.WecomUserID == nil:
				return apperr.Invalid(field, "%s has no WeCom account (run an organisation sync)", m.Name)
			case m.Status != staff.StatusActive:
				return apperr.Invalid(field, "%s has resigned", m.Name)
			}
		}
		return nil
	}
	for i, sh := range sp.rotation {
		if err := checkStaff(fmt.Sprintf("rotation[%d].staffIDs", i), sh.StaffIDs); err != nil {
			return err
		}
	}
	if err := checkStaff("backupStaffIDs", sp.backup); err != nil {
		return err
	}
	sp.tags = dedupe(sp.tags)
	if n, err := client.Tag.Query().Where(tag.IDIn(sp.tags...)).Count(ctx); err != nil {
		return err
	} else if n != len(sp.tags) {
		return apperr.Invalid("tagIDs", "no tag with one of those IDs")
	}
	sp.backup = dedupe(sp.backup)
	return nil
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

func shifts(in []*schematype.ChannelShift) []schematype.ChannelShift {
	out := make([]schematype.ChannelShift, 0, len(in))
	for _, s := range in {
		if s != nil {
			c := *s
			c.StaffIDs = dedupe(c.StaffIDs)
			out = append(out, c)
		}
	}
	return out
}

// wecomAccount loads the channel's account, which must be a WeCom one.
func wecomAccount(ctx context.Context, client *ent.Client, id int) (*ent.ConnectorAccount, error) {
	a, err := client.ConnectorAccount.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, apperr.Invalid("accountID", "no connector account with ID %s", gid.Encode(id))
	}
	if err != nil {
		return nil, err
	}
	if a.Platform != connectoraccount.PlatformWecom {
		return nil, apperr.Invalid("accountID", "channel QR codes need a WECOM account, not %s", a.Platform)
	}
	return a, nil
}

// pickAccount is the account named, else the tenant's only WeCom one.
func pickAccount(ctx context.Context, client *ent.Client, id *int) (*ent.ConnectorAccount, error) {
	if id != nil {
		return wecomAccount(ctx, client, *id)
	}
	accs, err := client.ConnectorAccount.Query().Where(connectoraccount.PlatformEQ(connectoraccount.PlatformWecom)).Limit(2).All(ctx)
	if err != nil {
		return nil, err
	}
	switch len(accs) {
	case 0:
		return nil, apperr.Invalid("accountID", "the tenant has no WeCom account")
	case 2:
		return nil, apperr.Invalid("accountID", "the tenant has several WeCom accounts: name one")
	}
	return accs[0], nil
}

// Create checks the input, creates the contact way on WeCom with the
// staff on duty now, and stores the channel with WeCom's config id and QR
// code. When WeCom refuses, nothing is stored.
func (s *Service) Create(ctx context.Context, client *ent.Client, in CreateInput) (*ent.Channel, error) {
	acc, err := pickAccount(ctx, client, in.AccountID)
	if err != nil {
		return nil, err
	}
	sp := &spec{name: in.Name, rotation: shifts(in.Rotation), backup: in.BackupStaffIDs, tags: in.TagIDs}
	if in.DailyAddLimit != nil {
		sp.limit = *in.DailyAddLimit
	}
	if in.WelcomeMessage != nil {
		sp.welcome = *in.WelcomeMessage
	}
	if err := check(ctx, client, sp); err != nil {
		return nil, err
	}
	state := ""
	if in.State != nil {
		state = *in.State
		if !statePattern.MatchString(state) {
			return nil, apperr.Invalid("state", "state must be 1 to %d letters, digits, '-' or '_'", maxStateLen)
		}
	} else {
		state = newState()
	}
	taken, err := client.Channel.Query().Where(channel.AccountID(acc.ID), channel.State(state)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	if taken {
		return nil, apperr.Conflict("state", "another channel of this account has the state %q", state)
	}
	loc, err := tenantLocation(ctx, client)
	if err != nil {
		return nil, err
	}
	onDuty := OnDuty(sp.rotation, sp.backup, s.now().In(loc), func(int) bool { return false })
	wc, err := s.Platform.Wecom(acc)
	if err != nil {
		return nil, err
	}
	configID, qr, err := wc.AddContactWay(ctx, contactWay("", state, sp.name, userIDs(sp.staff, onDuty)))
	if err != nil {
		return nil, refused("create the contact way", err)
	}
	create := client.Channel.Create().SetAccountID(acc.ID).SetName(sp.name).SetState(state).
		SetRotation(sp.rotation).SetDailyAddLimit(sp.limit).AddBackupStaffIDs(sp.backup...).AddTagIDs(sp.tags...).
		SetConfigID(configID).SetQrCode(qr).SetOnDutyStaffIds(onDuty).SetPushedAt(s.now().UTC())
	if sp.welcome != "" {
		create.SetWelcomeMessage(sp.welcome)
	}
	ch, err := create.Save(ctx)
	if err != nil {
		// Do not leave a contact way nobody knows of.
		_ = wc.DeleteContactWay(context.WithoutCancel(ctx), configID)
		return nil, err
	}
	return ch, nil
}

// Update changes a channel and pushes it (name, staff on duty) to WeCom;
// when WeCom refuses, nothing changes.
func (s *Service) Update(ctx context.Context, client *ent.Client, id int, in UpdateInput) (*ent.Channel, error) {
	ch, err := client.Channel.Query().Where(channel.ID(id)).WithBackupStaff().WithTags().Only(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := wecomAccount(ctx, client, ch.AccountID)
	if err != nil {
		return nil, err
	}
	sp := &spec{name: ch.Name, rotation: ch.Rotation, limit: ch.DailyAddLimit, welcome: ch.WelcomeMessage}
	for _, m := range ch.Edges.BackupStaff {
		sp.backup = append(sp.backup, m.ID)
	}
	for _, t := range ch.Edges.Tags {
		sp.tags = append(sp.tags, t.ID)
	}
	if in.Name != nil {
		sp.name = *in.Name
	}
	if in.Rotation != nil {
		sp.rotation = shifts(in.Rotation)
	}
	if in.BackupStaffIDs != nil {
		sp.backup = in.BackupStaffIDs
	}
	if in.DailyAddLimit != nil {
		sp.limit = *in.DailyAddLimit
	}
	if in.TagIDs != nil {
		sp.tags = in.TagIDs
	}
	if in.ClearWelcomeMessage != nil && *in.ClearWelcomeMessage {
		sp.welcome = ""
	}
	if in.WelcomeMessage != nil {
		sp.welcome = *in.WelcomeMessage
	}
	if err := check(ctx, client, sp); err != nil {
		return nil, err
	}
	ch.Name, ch.Rotation, ch.DailyAddLimit = sp.name, sp.rotation, sp.limit
	onDuty, err := s.onDuty(ctx, client, ch, sp.backup, sp.staff)
	if err != nil {
		return nil, err
	}
	configID, qr, err := s.pushWay(ctx, acc, ch, userIDs(sp.staff, onDuty))
	if err != nil {
		return nil, refused("update the contact way", err)
	}
	update := client.Channel.UpdateOne(ch).SetName(sp.name).SetRotation(sp.rotation).SetDailyAddLimit(sp.limit).
		ClearBackupStaff().AddBackupStaffIDs(sp.backup...).ClearTags().AddTagIDs(sp.tags...).
		SetConfigID(configID).SetQrCode(qr).SetOnDutyStaffIds(onDuty).SetPushedAt(s.now().UTC()).ClearLastError()
	if sp.welcome != "" {
		update.SetWelcomeMessage(sp.welcome)
	} else {
		update.ClearWelcomeMessage()
	}
	return update.Save(ctx)
}

// Delete deletes the contact way on WeCom, then the channel.
func (s *Service) Delete(ctx context.Context, client *ent.Client, id int) error {
	ch, err := client.Channel.Get(ctx, id)
	if err != nil {
		return err
	}
	if ch.ConfigID != "" {
		acc, err := client.ConnectorAccount.Get(ctx, ch.AccountID)
		if err != nil {
			return err
		}
		wc, err := s.Platform.Wecom(acc)
		if err != nil {
			return err
		}
		if err := wc.DeleteContactWay(ctx, ch.ConfigID); err != nil {
			return refused("delete the contact way", err)
		}
	}
	return client.Channel.DeleteOneID(id).Exec(ctx)
}

// pushWay sends the channel's contact way to WeCom with users on it:
// created when the channel has none yet (a seeded one), else updated.
func (s *Service) pushWay(ctx context.Context, acc *ent.ConnectorAccount, ch *ent.Channel, users []string) (configID, qr string, err error) {
	wc, err := s.Platform.Wecom(acc)
	if err != nil {
		return "", "", err
	}
	if ch.ConfigID == "" {
		return wc.AddContactWay(ctx, contactWay("", ch.State, ch.Name, users))
	}
	return ch.ConfigID, ch.QrCode, wc.UpdateContactWay(ctx, contactWay(ch.ConfigID, ch.State, ch.Name, users))
}

// contactWay is a channel's contact way: several members, a QR code, no
// verification (customers are added at once), the name as remark.
func contactWay(configID, state, name string, users []string) wecom.ContactWay {
	remark := name
	if r := []rune(remark); len(r) > 30 {
		remark = string(r[:30])
	}
	return wecom.ContactWay{ConfigID: configID, Type: 2, Scene: 2, State: state, Users: users, SkipVerify: true, Remark: remark}
}

func userIDs(members map[int]*ent.Staff, ids []int) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if m := members[id]; m != nil && m.WecomUserID != nil {
			out = append(out, *m.WecomUserID)
		}
	}
	return out
}

// refused turns WeCom's refusal into an error the caller can act on.
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

// newState returns a random state for a channel that names none.
func newState() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ch-" + string(b)
}
