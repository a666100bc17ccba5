package wecommsg_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	_ "github.com/scrm-dev/scrm/authz" // registers the default policies new tenants get
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/wecommsg"
)

// Redis database of these tests (see internal/testenv for the others).
const redisDB = 2

const corp = "wwmsgtest"

func TestMessages(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			st := testenv.OpenStore(t, backend)
			rdb := testenv.OpenRedis(t, testenv.RealRedis, redisDB).Client
			tn, err := st.Client.Tenant.Create().SetName("msg").SetSlug("msg").Save(viewer.System(context.Background()))
			if err != nil {
				t.Fatal(err)
			}
			ctx := viewer.ForTenant(context.Background(), tn.ID)
			c := st.Client
			acc := c.ConnectorAccount.Create().SetPlatform(connectoraccount.PlatformWecom).SetName("corp").
				SetExternalID(corp).SetAgentID(1).SetCredentials(`{"secret":"s"}`).SetCallbackKey("k-" + backend).SaveX(ctx)

			fake := wecomfake.New(wecomfake.Options{CorpID: corp, AgentID: 1, Secret: "s"})
			ts := httptest.NewServer(fake)
			t.Cleanup(ts.Close)
			api := wecom.New(wecom.Config{BaseURL: ts.URL, CorpID: corp, AgentID: 1, Secret: "s", Account: "msg-" + backend,
				Transport: transport.New(transport.Options{Redis: rdb, Prefix: "test:" + t.Name() + ":", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}),
				Tokens:    tokens.New(rdb, "test:"+t.Name()+":token:")})

			fake.AddUser(wecomfake.User{UserID: "zhang", Name: "张", Departments: []int64{1}})
			zhang := c.Staff.Create().SetLogin("zhang").SetName("张").SetWecomUserID("zhang").SaveX(ctx)
			nobody := c.Staff.Create().SetLogin("nobody").SetName("无企微").SaveX(ctx)
			ghost := c.Staff.Create().SetLogin("ghost").SetName("已离开").SetWecomUserID("ghost").SaveX(ctx)
			s := &wecommsg.Sender{Client: c, Redis: rdb, Now: func() time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) }}

			t.Run("app messages stay within WeCom's per-member limit", func(t *testing.T) {
				first, err := s.NotifyStaff(ctx, api, acc, []int{zhang.ID, nobody.ID, ghost.ID}, "工单 T-000001 分配给你")
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(first.Sent, []int{zhang.ID}) || len(first.Unreachable) != 2 {
					t.Fatalf("first: %+v", first)
				}
				for i := 2; i <= 30; i++ {
					if n, err := s.NotifyStaff(ctx, api, acc, []int{zhang.ID}, fmt.Sprint("通知 ", i)); err != nil || len(n.Sent) != 1 {
						t.Fatalf("message %d: %+v %v", i, n, err)
					}
				}
				over, err := s.NotifyStaff(ctx, api, acc, []int{zhang.ID}, "第 31 条")
				if err != nil || len(over.Sent) != 0 || !slices.Equal(over.Deferred, []int{zhang.ID}) || over.RetryAfter <= 0 {
					t.Fatalf("31st in a minute: %+v %v; want it deferred", over, err)
				}
				got := 0
				for _, m := range fake.AppMessages() {
					if slices.Contains(m.ToUsers, "zhang") {
						got++
					}
				}
				if got != 30 {
					t.Fatalf("WeCom received %d messages for zhang, want 30", got)
				}
			})

			t.Run("mass messages: four a month per customer", func(t *testing.T) {
				var followed, stranger *ent.Customer
				for i, ext := range []string{"wmfollowed", "wmstranger"} {
					// In a transaction: the customer's CREATED event is written with it.
					tx, err := c.Tx(ctx)
					if err != nil {
						t.Fatal(err)
					}
					cu := tx.Customer.Create().SetName(ext).SaveX(ctx)
					if err := tx.Commit(); err != nil {
						t.Fatal(err)
					}
					c.CustomerIdentity.Create().SetCustomerID(cu.ID).SetPlatform(customeridentity.PlatformWecomExternal).
						SetAppID(corp).SetExternalID(ext).ExecX(ctx)
					if i == 0 {
						c.Customer.UpdateOne(cu).AddFollowerIDs(zhang.ID).ExecX(ctx)
						fake.AddExternalContact(wecomfake.ExternalContact{ExternalUserID: ext, Name: ext, Type: 1},
							wecomfake.Follow{UserID: "zhang", CreateTime: 1})
						followed = cu
					} else {
						stranger = cu
					}
				}
				for i := 1; i <= 4; i++ {
					r, err := s.MassMessage(ctx, api, acc, zhang.ID, []int{followed.ID, stranger.ID}, fmt.Sprint("双十一 ", i))
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(r.Sent, []int{followed.ID}) || !slices.Equal(r.NotReachable, []int{stranger.ID}) || r.MsgID == "" {
						t.Fatalf("mass message %d: %+v", i, r)
					}
				}
				fifth, err := s.MassMessage(ctx, api, acc, zhang.ID, []int{followed.ID}, "第五条")
				if err != nil || len(fifth.Sent) != 0 || !slices.Equal(fifth.OverMonthlyLimit, []int{followed.ID}) {
					t.Fatalf("fifth this month: %+v %v", fifth, err)
				}
				if n := len(fake.MsgTemplates()); n != 4 {
					t.Fatalf("WeCom got %d tasks, want 4", n)
				}
				// A new month starts a new count.
				s.Now = func() time.Time { return time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC) } // 1 Dec in China
				if r, err := s.MassMessage(ctx, api, acc, zhang.ID, []int{followed.ID}, "十二月"); err != nil || len(r.OverMonthlyLimit) != 0 {
					t.Fatalf("next month: %+v %v", r, err)
				}
			})
		})
	}
}
