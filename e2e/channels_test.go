package e2e_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/internal/channels"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/demoplatforms"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/resolvers"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// TestChannels drives channel QR codes, customer tags and hand-overs over
// HTTP against the fake WeCom, each backend on an environment of its own.
func TestChannels(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) { testChannels(t, fresh(t, backend)) })
	}
}

const channelFields = `id name state configID qrCode dailyAddLimit welcomeMessage
	rotation { weekdays start end staffIDs } backupStaff { login } tags { name } onDuty { login }`

type channelJSON struct {
	ID, Name, State, ConfigID, QrCode string
	DailyAddLimit                     int
	WelcomeMessage                    *string
	OnDuty                            []struct{ Login string }
}

func testChannels(t *testing.T, e *env) {
	r := startPlatforms(t, e, demoplatforms.Sizes{Departments: 2, Staff: 4, ContactsPerStaff: 1, Orders: 2})
	ctx := viewer.ForTenant(context.Background(), r.tenant)
	members, err := demoplatforms.MembersOf(ctx, e.st.Client)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		r.fakes.Wecom.AddUser(m)
	}
	// The clock: today in Shanghai (adds happen now, and the daily limit
	// counts today's), at the hour each step sets.
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	today := time.Now().In(shanghai)
	at := func(hour int) time.Time {
		return time.Date(today.Year(), today.Month(), today.Day(), hour, 0, 0, 0, shanghai)
	}
	weekday := int(today.Weekday())
	if weekday == 0 {
		weekday = 7
	}
	clock := &testClock{t: at(10)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	prefix := "test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":api:"
	clients := &connectoraccounts.Clients{
		Transport:    transport.New(transport.Options{Redis: e.rdb.Client, Prefix: prefix, Logger: logger}),
		Tokens:       tokens.New(e.rdb.Client, prefix+"token:"),
		WecomBaseURL: r.fakeTS.URL,
	}
	api := e.withResolverOptions(func(o *resolvers.Options) { o.Platforms = clients; o.Now = clock.Now })
	rotate := func(t *testing.T) {
		t.Helper()
		svc := &channels.Service{Platform: clients, Now: clock.Now}
		if _, err := svc.Rotate(ctx, e.st.Client); err != nil {
			t.Fatal(err)
		}
	}
	way := func(t *testing.T, state string) *wecomfake.ContactWay {
		t.Helper()
		for _, w := range r.fakes.Wecom.ContactWays() {
			if w.State == state {
				return &w
			}
		}
		return nil
	}
	staffID := func(login string) string {
		return gid.Encode(e.st.Client.Staff.Query().Where(staff.Login(login)).OnlyIDX(ctx))
	}
	wecomAcc := r.account(t, e, connectoraccount.PlatformWecom)
	admin, mkt, agent1, agent2 := e.token(t, "demo", seed.Admin), e.token(t, "demo", seed.Mkt1), e.token(t, "demo", seed.Agent1), e.token(t, "demo", seed.Agent2)
	callback := r.api.URL + "/connectors/wecom/" + demoplatforms.CallbackKey("demo", connectoraccount.PlatformWecom) + "/callback"

	// A WeCom corp tag the fake knows, and our copy of it.
	r.fakes.Wecom.AddTagGroup(wecomfake.TagGroup{ID: "etChanGroup", Name: "渠道", Tags: []wecomfake.Tag{
		{ID: "etChanStore", Name: "扫码进店"}, {ID: "etChanVIP", Name: "渠道VIP"}}})
	group := e.st.Client.TagGroup.Create().SetTenantID(r.tenant).SetName("渠道").SetSource("WECOM").SetWecomGroupID("etChanGroup").SaveX(ctx)
	storeTag := e.st.Client.Tag.Create().SetTenantID(r.tenant).SetGroupID(group.ID).SetName("扫码进店").
		SetSource(tag.SourceWecom).SetWecomTagID("etChanStore").SaveX(ctx)
	vipTag := e.st.Client.Tag.Create().SetTenantID(r.tenant).SetGroupID(group.ID).SetName("渠道VIP").
		SetSource(tag.SourceWecom).SetWecomTagID("etChanVIP").SaveX(ctx)
	manualGroup := e.st.Client.TagGroup.Create().SetTenantID(r.tenant).SetName("手工").SaveX(ctx)
	manualTag := e.st.Client.Tag.Create().SetTenantID(r.tenant).SetGroupID(manualGroup.ID).SetName("回访过").SaveX(ctx)

	input := func(state string) map[string]any {
		return map[string]any{
			"accountID": gid.Encode(wecomAcc.ID), "name": "门店一楼活码", "state": state,
			"rotation": []map[string]any{
				{"weekdays": []int{weekday}, "start": "09:00", "end": "12:00", "staffIDs": []string{staffID(seed.Agent1)}},
				{"weekdays": []int{weekday}, "start": "12:00", "end": "18:00", "staffIDs": []string{staffID(seed.Agent2)}},
			},
			"backupStaffIDs": []string{staffID(seed.Sup1)},
			"tagIDs":         []string{gid.Encode(storeTag.ID)},
			"welcomeMessage": "欢迎扫码！一楼导购为您服务。",
		}
	}
	create := func(token string, in map[string]any) *response {
		return api.post(t, token, `mutation($in: CreateChannelInput!) { createChannel(input: $in) { `+channelFields+` } }`,
			map[string]any{"in": in})
	}
	var ch channelJSON

	t.Run("bad input is refused naming the field, and nothing reaches WeCom", func(t *testing.T) {
		ways := len(r.fakes.Wecom.ContactWays())
		ghost := e.st.Client.Staff.Create().SetTenantID(r.tenant).SetLogin("ghost").SetName("幽灵").
			SetWecomUserID("ghost-user").SaveX(ctx)
		cases := []struct {
			name, field, code string
			change            func(map[string]any)
		}{
			{"empty name", "name", "BAD_USER_INPUT", func(in map[string]any) { in["name"] = " " }},
			{"state too long", "state", "BAD_USER_INPUT", func(in map[string]any) { in["state"] = strings.Repeat("s", 31) }},
			{"state with spaces", "state", "BAD_USER_INPUT", func(in map[string]any) { in["state"] = "a b" }},
			{"a time that is none", "rotation[1]", "BAD_USER_INPUT", func(in map[string]any) {
				in["rotation"].([]map[string]any)[1]["end"] = "25:00"
			}},
			{"a weekday that is none", "rotation[0]", "BAD_USER_INPUT", func(in map[string]any) {
				in["rotation"].([]map[string]any)[0]["weekdays"] = []int{8}
			}},
			{"no backup staff", "backupStaffIDs", "BAD_USER_INPUT", func(in map[string]any) { in["backupStaffIDs"] = []string{} }},
			{"a negative limit", "dailyAddLimit", "BAD_USER_INPUT", func(in map[string]any) { in["dailyAddLimit"] = -1 }},
			{"a shop account", "accountID", "BAD_USER_INPUT", func(in map[string]any) {
				in["accountID"] = gid.Encode(r.account(t, e, connectoraccount.PlatformTaobao).ID)
			}},
			{"a tag that is none", "tagIDs", "BAD_USER_INPUT", func(in map[string]any) { in["tagIDs"] = []string{staffID(seed.Admin)} }},
			{"WeCom does not know the staff member", "", "BAD_USER_INPUT", func(in map[string]any) {
				in["backupStaffIDs"] = []string{gid.Encode(ghost.ID)}
				in["rotation"] = []map[string]any{}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in := input("bad-input")
				tc.change(in)
				got := create(admin, in).only(t)
				if got.code() != tc.code || got.field() != tc.field {
					t.Fatalf("got %s %q (%s), want %s %q", got.code(), got.field(), got.Message, tc.code, tc.field)
				}
			})
		}
		if n := len(r.fakes.Wecom.ContactWays()); n != ways {
			t.Fatalf("contact ways %d → %d", ways, n)
		}
		if n := e.st.Client.Channel.Query().CountX(ctx); n != 1 {
			t.Fatalf("%d channels stored, want the seeded one only", n)
		}
	})

	t.Run("agents read channels but may not manage them", func(t *testing.T) {
		if got := create(agent1, input("agent-made")).only(t); got.code() != "FORBIDDEN" {
			t.Fatalf("agent createChannel: %+v", got)
		}
		api.post(t, agent1, `{ channels(first: 5) { totalCount edges { node { name state } } } }`, nil).ok(t)
	})

	t.Run("create puts the staff on duty now on a WeCom QR code", func(t *testing.T) {
		create(admin, input("store-1f")).ok(t).decode(t, &struct{ CreateChannel *channelJSON }{&ch})
		w := way(t, "store-1f")
		if w == nil || w.ConfigID != ch.ConfigID || ch.QrCode == "" || w.QRCode != ch.QrCode {
			t.Fatalf("channel %+v, contact way %+v", ch, w)
		}
		if w.Type != 2 || w.Scene != 2 || !slices.Equal(w.Users, []string{seed.Agent1}) {
			t.Fatalf("contact way %+v: want a multi-member QR code with agent1 (on duty at 10:00)", w)
		}
		if len(ch.OnDuty) != 1 || ch.OnDuty[0].Login != seed.Agent1 {
			t.Fatalf("onDuty %+v", ch.OnDuty)
		}
		if got := create(mkt, input("store-1f")).only(t); got.code() != "CONFLICT" || got.field() != "state" {
			t.Fatalf("a second channel with the same state: %+v", got)
		}
		// A marketer may manage channels; a state is made up when none is given.
		in := input("")
		delete(in, "state")
		var generated channelJSON
		create(mkt, in).ok(t).decode(t, &struct{ CreateChannel *channelJSON }{&generated})
		if generated.State == "" || len(generated.State) > 30 || way(t, generated.State) == nil {
			t.Fatalf("generated state %q", generated.State)
		}
	})

	t.Run("the rotation follows the clock", func(t *testing.T) {
		clock.Set(at(13))
		rotate(t)
		if w := way(t, "store-1f"); !slices.Equal(w.Users, []string{seed.Agent2}) {
			t.Fatalf("at 13:00: %v, want agent2", w.Users)
		}
		clock.Set(at(20))
		rotate(t)
		if w := way(t, "store-1f"); !slices.Equal(w.Users, []string{seed.Sup1}) {
			t.Fatalf("at 20:00: %v, want the backup sup1", w.Users)
		}
		clock.Set(at(13))
		rotate(t)
	})

	t.Run("update changes the QR code on WeCom", func(t *testing.T) {
		var got channelJSON
		api.post(t, mkt, `mutation($id: ID!) { updateChannel(id: $id, input: {name: "门店一楼", dailyAddLimit: 1}) { `+channelFields+` } }`,
			map[string]any{"id": ch.ID}).ok(t).decode(t, &struct{ UpdateChannel *channelJSON }{&got})
		if got.Name != "门店一楼" || got.DailyAddLimit != 1 || got.ConfigID != ch.ConfigID {
			t.Fatalf("updated: %+v", got)
		}
		if w := way(t, "store-1f"); w.Remark != "门店一楼" || !slices.Equal(w.Users, []string{seed.Agent2}) {
			t.Fatalf("contact way after update: %+v", w)
		}
		r := api.post(t, admin, `mutation($id: ID!) { updateChannel(id: $id, input: {backupStaffIDs: []}) { id } }`, map[string]any{"id": ch.ID})
		if got := r.only(t); got.code() != "BAD_USER_INPUT" || got.field() != "backupStaffIDs" {
			t.Fatalf("update without backup staff: %+v", got)
		}
	})

	contact := wecomfake.ExternalContact{ExternalUserID: "wmCHANNEL0001", Name: "扫码客", Type: 1, Gender: 2}
	var customerID int
	t.Run("a customer added through the QR code is attributed, tagged and welcomed", func(t *testing.T) {
		if _, err := r.fakes.Wecom.SimulateAdd(context.Background(), callback, seed.Agent2, contact, "store-1f"); err != nil {
			t.Fatal(err)
		}
		chID, _ := gid.Decode(ch.ID)
		var fu *ent.FollowUp
		eventually(t, "follow-up attributed", func() (bool, string) {
			var err error
			fu, err = e.st.Client.FollowUp.Query().Where(followup.ChannelID(chID)).Only(ctx)
			return err == nil, "no attributed follow-up"
		})
		customerID = fu.CustomerID
		eventually(t, "channel tag given", func() (bool, string) {
			ok := e.st.Client.Customer.Query().Where(customer.ID(customerID), customer.HasTagsWith(tag.ID(storeTag.ID))).ExistX(ctx)
			return ok, "no tag"
		})
		eventually(t, "channel tag marked on WeCom", func() (bool, string) {
			marked := slices.ContainsFunc(r.fakes.Wecom.MarkTags(), func(m wecomfake.MarkTag) bool {
				return m.UserID == seed.Agent2 && m.ExternalUserID == contact.ExternalUserID && slices.Equal(m.AddTag, []string{"etChanStore"})
			})
			return marked, "not marked"
		})
		welcomed := slices.ContainsFunc(r.fakes.Wecom.WelcomeMessages(), func(m wecomfake.WelcomeMessage) bool {
			return m.ExternalUserID == contact.ExternalUserID && m.Text == "欢迎扫码！一楼导购为您服务。"
		})
		if !welcomed {
			t.Fatalf("welcome messages: %+v", r.fakes.Wecom.WelcomeMessages())
		}
	})

	t.Run("the daily limit hands the code to the backup staff", func(t *testing.T) {
		rotate(t) // agent2 took one customer today; the limit is 1
		if w := way(t, "store-1f"); !slices.Equal(w.Users, []string{seed.Sup1}) {
			t.Fatalf("after agent2's daily limit: %v, want the backup sup1", w.Users)
		}
	})

	stats := func(t *testing.T, from, to *time.Time) (added, lost int) {
		t.Helper()
		vars := map[string]any{"id": ch.ID, "from": from, "to": to}
		var got struct {
			Node struct{ Stats struct{ Added, Lost int } }
		}
		api.post(t, admin, `query($id: ID!, $from: Time, $to: Time) { node(id: $id) { ... on Channel { stats(from: $from, to: $to) { added lost } } } }`,
			vars).ok(t).decode(t, &got)
		return got.Node.Stats.Added, got.Node.Stats.Lost
	}

	t.Run("markCustomerTags marks WeCom tags on WeCom and manual ones here", func(t *testing.T) {
		before := len(r.fakes.Wecom.MarkTags())
		q := `mutation($c: ID!, $add: [ID!], $rm: [ID!]) { markCustomerTags(customerID: $c, add: $add, remove: $rm) { id tags { name } } }`
		vars := map[string]any{"c": gid.Encode(customerID), "add": []string{gid.Encode(vipTag.ID), gid.Encode(manualTag.ID)},
			"rm": []string{gid.Encode(storeTag.ID)}}
		if got := api.post(t, agent1, q, vars).only(t); got.code() != "NOT_FOUND" {
			t.Fatalf("agent1 tagging agent2's customer: %+v", got)
		}
		api.post(t, agent2, q, vars).ok(t)
		calls := r.fakes.Wecom.MarkTags()[before:]
		if len(calls) != 1 || calls[0].UserID != seed.Agent2 || !slices.Equal(calls[0].AddTag, []string{"etChanVIP"}) ||
			!slices.Equal(calls[0].RemoveTag, []string{"etChanStore"}) {
			t.Fatalf("mark_tag calls: %+v", calls)
		}
		tags := e.st.Client.Customer.Query().Where(customer.ID(customerID)).QueryTags().IDsX(ctx)
		if !slices.Contains(tags, vipTag.ID) || !slices.Contains(tags, manualTag.ID) || slices.Contains(tags, storeTag.ID) {
			t.Fatalf("tags %v", tags)
		}
	})

	t.Run("handOverCustomers moves follow-ups on WeCom and here; transfer_fail puts them back", func(t *testing.T) {
		// WeCom's events carry real times: the hand-over is stamped now.
		clock.Set(time.Now())
		q := `mutation($from: ID!, $to: ID!, $c: [ID!]) { handOverCustomers(from: $from, to: $to, customerIDs: $c) {
			moved results { customer { id } ok error } } }`
		other := e.st.Client.Customer.Query().Where(customer.Not(customer.HasFollowersWith(staff.Login(seed.Agent2)))).FirstIDX(ctx)
		vars := map[string]any{"from": staffID(seed.Agent2), "to": staffID(seed.Agent1), "c": []string{gid.Encode(customerID), gid.Encode(other)}}
		if got := api.post(t, agent2, q, vars).only(t); got.code() != "FORBIDDEN" {
			t.Fatalf("an agent handing over: %+v", got)
		}
		var got struct {
			HandOverCustomers struct {
				Moved   int
				Results []struct {
					OK    bool
					Error *string
				}
			}
		}
		api.post(t, admin, q, vars).ok(t).decode(t, &got)
		res := got.HandOverCustomers
		if res.Moved != 1 || len(res.Results) != 2 || !res.Results[0].OK || res.Results[1].OK || res.Results[1].Error == nil {
			t.Fatalf("hand-over: %+v", res)
		}
		transfers := r.fakes.Wecom.Transfers()
		if n := len(transfers); n != 1 || transfers[0].HandoverUserID != seed.Agent2 || transfers[0].TakeoverUserID != seed.Agent1 ||
			transfers[0].ExternalUserID != contact.ExternalUserID || transfers[0].Resigned {
			t.Fatalf("transfers: %+v", transfers)
		}
		followers := func() []string {
			return e.st.Client.Customer.Query().Where(customer.ID(customerID)).QueryFollowers().Select(staff.FieldLogin).StringsX(ctx)
		}
		if f := followers(); !slices.Equal(f, []string{seed.Agent1}) {
			t.Fatalf("followers after hand-over: %v", f)
		}
		fu := func(login string) *ent.FollowUp {
			return e.st.Client.FollowUp.Query().Where(followup.CustomerID(customerID), followup.HasStaffWith(staff.Login(login))).OnlyX(ctx)
		}
		if old := fu(seed.Agent2); old.LostAt == nil || *old.LostBy != followup.LostByTransfer {
			t.Fatalf("agent2's follow-up after hand-over: %+v", old)
		}
		if added, lost := stats(t, nil, nil); added != 1 || lost != 0 {
			t.Fatalf("a hand-over is no loss: added %d lost %d", added, lost)
		}

		ev := r.fakes.Wecom.EventTransferFail(seed.Agent1, contact.ExternalUserID, "customer_refused", time.Now())
		if status, _, err := r.fakes.Wecom.SendCallback(context.Background(), callback, ev); err != nil || status != 200 {
			t.Fatalf("callback: %d %v", status, err)
		}
		eventually(t, "customer back with agent2", func() (bool, string) {
			f := followers()
			return slices.Equal(f, []string{seed.Agent2}), strings.Join(f, ",")
		})
		if back, refused := fu(seed.Agent2), fu(seed.Agent1); back.LostAt != nil || refused.LostAt == nil ||
			refused.TransferFailReason != "customer_refused" {
			t.Fatalf("after transfer_fail: agent2 %+v, agent1 %+v", back, refused)
		}
	})

	t.Run("channel stats count adds and losses", func(t *testing.T) {
		ev := r.fakes.Wecom.EventDelFollowUser(seed.Agent2, contact.ExternalUserID, time.Now().Add(time.Second))
		if status, _, err := r.fakes.Wecom.SendCallback(context.Background(), callback, ev); err != nil || status != 200 {
			t.Fatalf("callback: %d %v", status, err)
		}
		eventually(t, "loss counted", func() (bool, string) {
			added, lost := stats(t, nil, nil)
			return added == 1 && lost == 1, itoa(added) + "/" + itoa(lost)
		})
		past, before := time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
		if added, lost := stats(t, &past, &before); added != 0 || lost != 0 {
			t.Fatalf("over two days ago: added %d lost %d", added, lost)
		}
		if added, _ := stats(t, &past, nil); added != 1 {
			t.Fatalf("since two days ago: added %d", added)
		}
		// agent1 follows none of the channel's customers: their count is theirs.
		var got struct {
			Node struct{ Stats struct{ Added int } }
		}
		api.post(t, agent1, `query($id: ID!) { node(id: $id) { ... on Channel { stats { added } } } }`, map[string]any{"id": ch.ID}).ok(t).decode(t, &got)
		if got.Node.Stats.Added != 0 {
			t.Fatalf("agent1 counts %d adds of others' customers", got.Node.Stats.Added)
		}
	})

	t.Run("delete removes the QR code from WeCom", func(t *testing.T) {
		q := `mutation($id: ID!) { deleteChannel(id: $id) { deletedID } }`
		if got := api.post(t, agent1, q, map[string]any{"id": ch.ID}).only(t); got.code() != "FORBIDDEN" {
			t.Fatalf("agent deleteChannel: %+v", got)
		}
		api.post(t, mkt, q, map[string]any{"id": ch.ID}).ok(t)
		if w := way(t, "store-1f"); w != nil {
			t.Fatalf("contact way still on WeCom: %+v", w)
		}
		if got := api.post(t, admin, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": ch.ID}).only(t); got.code() != "NOT_FOUND" {
			t.Fatalf("deleted channel: %+v", got)
		}
		// Its customers keep their attribution.
		if n := e.st.Client.FollowUp.Query().Where(followup.ChannelIDNotNil(), followup.CustomerID(customerID)).CountX(ctx); n != 1 {
			t.Fatalf("%d attributed follow-ups", n)
		}
	})
}
