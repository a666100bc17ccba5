package channels

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/channel"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/staff"
)

// OnDuty picks the staff a channel hands customers to at t (in the
// tenant's time zone): everyone of the shifts on at t, in the order
// named, minus those atLimit says took their day's share; when nobody is
// left, the backup staff who have not, and when they all have, every
// backup staff member (a QR code must name someone).
func OnDuty(rotation []schematype.ChannelShift, backup []int, t time.Time, atLimit func(staffID int) bool) []int {
	var out []int
	for _, sh := range rotation {
		if !sh.Covers(t) {
			continue
		}
		for _, id := range sh.StaffIDs {
			if !slices.Contains(out, id) && !atLimit(id) {
				out = append(out, id)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, id := range backup {
		if !slices.Contains(out, id) && !atLimit(id) {
			out = append(out, id)
		}
	}
	if len(out) > 0 {
		return out
	}
	return slices.Clone(backup)
}

// tenantLocation is the viewer's tenant's time zone (Asia/Shanghai when
// unset or unknown).
func tenantLocation(ctx context.Context, client *ent.Client) (*time.Location, error) {
	t, err := client.Tenant.Query().Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("the tenant's time zone: %w", err)
	}
	return location(t.Timezone), nil
}

func location(name string) *time.Location {
	if name == "" {
		name = "Asia/Shanghai"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	return loc
}

// startOfDay is midnight of t's day in t's location.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// addedToday counts, per staff member, the customers added through the
// channel since midnight (tenant's calendar) of now.
func addedToday(ctx context.Context, client *ent.Client, channelID int, now time.Time) (map[int]int, error) {
	var rows []struct {
		StaffID int `json:"staff_id"`
		Count   int `json:"count"`
	}
	err := client.FollowUp.Query().
		Where(followup.ChannelID(channelID), followup.AddedAtGTE(startOfDay(now).UTC())).
		GroupBy(followup.FieldStaffID).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("adds of channel %d today: %w", channelID, err)
	}
	out := make(map[int]int, len(rows))
	for _, r := range rows {
		out[r.StaffID] = r.Count
	}
	return out, nil
}

// onDuty is who the channel should name now; members must hold every
// staff member the channel names (active, with a WeCom account; others
// are left out).
func (s *Service) onDuty(ctx context.Context, client *ent.Client, ch *ent.Channel, backup []int, members map[int]*ent.Staff) ([]int, error) {
	loc, err := tenantLocation(ctx, client)
	if err != nil {
		return nil, err
	}
	now := s.now().In(loc)
	counts := map[int]int{}
	if ch.DailyAddLimit > 0 {
		if counts, err = addedToday(ctx, client, ch.ID, now); err != nil {
			return nil, err
		}
	}
	usable := func(id int) bool {
		m := members[id]
		return m != nil && m.WecomUserID != nil && m.Status == staff.StatusActive
	}
	var rotation []schematype.ChannelShift
	for _, sh := range ch.Rotation {
		sh.StaffIDs = slices.DeleteFunc(slices.Clone(sh.StaffIDs), func(id int) bool { return !usable(id) })
		rotation = append(rotation, sh)
	}
	backup = slices.DeleteFunc(slices.Clone(backup), func(id int) bool { return !usable(id) })
	return OnDuty(rotation, backup, now, func(id int) bool {
		return ch.DailyAddLimit > 0 && counts[id] >= ch.DailyAddLimit
	}), nil
}

// RotateResult counts what a rotation pass did.
type RotateResult struct {
	Channels, Pushed, Failed int
}

// Rotate re-pushes the contact way of every channel of the viewer's
// tenant (on its active WeCom accounts) whose staff on duty changed: a
// shift began or ended, someone reached the daily limit, a new day began.
// A channel WeCom refuses keeps its last staff and records why
// (last_error); the others go on.
func (s *Service) Rotate(ctx context.Context, client *ent.Client) (RotateResult, error) {
	var res RotateResult
	chs, err := client.Channel.Query().
		Where(channel.HasAccountWith(connectoraccount.StatusNEQ(connectoraccount.StatusPaused),
			connectoraccount.PlatformEQ(connectoraccount.PlatformWecom))).
		WithAccount().WithBackupStaff().Order(channel.ByID()).All(ctx)
	if err != nil || len(chs) == 0 {
		return res, err
	}
	var ids []int
	for _, ch := range chs {
		for _, sh := range ch.Rotation {
			ids = append(ids, sh.StaffIDs...)
		}
	}
	rotating, err := client.Staff.Query().Where(staff.IDIn(dedupe(ids)...)).All(ctx)
	if err != nil {
		return res, err
	}
	members := map[int]*ent.Staff{}
	for _, m := range rotating {
		members[m.ID] = m
	}
	var errs []error
	for _, ch := range chs {
		res.Channels++
		var backup []int
		for _, m := range ch.Edges.BackupStaff {
			members[m.ID] = m
			backup = append(backup, m.ID)
		}
		onDuty, err := s.onDuty(ctx, client, ch, backup, members)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ch.ConfigID != "" && slices.Equal(onDuty, ch.OnDutyStaffIds) {
			continue
		}
		configID, qr, perr := s.pushWay(ctx, ch.Edges.Account, ch, userIDs(members, onDuty))
		update := client.Channel.UpdateOneID(ch.ID)
		if perr != nil {
			res.Failed++
			update.SetLastError(refused("update the contact way", perr).Error())
		} else {
			res.Pushed++
			update.SetConfigID(configID).SetQrCode(qr).SetOnDutyStaffIds(onDuty).SetPushedAt(s.now().UTC()).ClearLastError()
		}
		if err := update.Exec(ctx); err != nil && !ent.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// Stats are the customers a channel brought and lost.
type Stats struct {
	Added, Lost int
}

// StatsOf counts the channel's adds and losses over [from, to) (either
// end open when nil). The viewer's data scope applies: an agent counts
// their own customers.
func StatsOf(ctx context.Context, client *ent.Client, channelID int, from, to *time.Time) (Stats, error) {
	var st Stats
	added := client.FollowUp.Query().Where(followup.ChannelID(channelID))
	lost := client.FollowUp.Query().Where(followup.ChannelID(channelID), followup.LostAtNotNil(),
		followup.LostByIn(followup.LostByStaff, followup.LostByCustomer))
	if from != nil {
		added.Where(followup.AddedAtGTE(from.UTC()))
		lost.Where(followup.LostAtGTE(from.UTC()))
	}
	if to != nil {
		added.Where(followup.AddedAtLT(to.UTC()))
		lost.Where(followup.LostAtLT(to.UTC()))
	}
	var err error
	if st.Added, err = added.Count(ctx); err != nil {
		return st, err
	}
	st.Lost, err = lost.Count(ctx)
	return st, err
}
