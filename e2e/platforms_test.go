package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/connectors/douyin/douyinfake"
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/ent/taggroup"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/demoplatforms"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/jobs"
)

// platformRig is a tenant's platforms (the demo fakes) and a running
// worker wired to them, with the callback endpoints served over HTTP.
type platformRig struct {
	fakes   *demoplatforms.Servers
	fakeTS  *httptest.Server
	api     *httptest.Server // our server, as the platforms reach it
	tenant  int
	clients *connectoraccounts.Clients
}

func startPlatforms(t *testing.T, e *env, sz demoplatforms.Sizes) *platformRig {
	t.Helper()
	r := &platformRig{fakes: demoplatforms.New("demo", sz), tenant: e.tenantID(t, "demo")}
	r.fakeTS = httptest.NewServer(r.fakes)
	t.Cleanup(r.fakeTS.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	prefix := "test:" + strings.ReplaceAll(t.Name(), "/", ":") + ":"
	clients := &connectoraccounts.Clients{
		Transport:     transport.New(transport.Options{Redis: e.rdb.Client, Prefix: prefix, Logger: logger}),
		Tokens:        tokens.New(e.rdb.Client, prefix+"token:"),
		WecomBaseURL:  r.fakeTS.URL,
		TaobaoBaseURL: r.fakeTS.URL + "/router/rest",
		DouyinBaseURL: r.fakeTS.URL,
	}
	r.clients = clients
	enq := asynq.NewClient(e.rdb.Opt)
	t.Cleanup(func() { enq.Close() })
	w, err := jobs.NewWorker(jobs.WorkerOptions{Redis: e.rdb.Opt, Concurrency: 8, Logger: logger, PollInterval: 20 * time.Millisecond,
		Deps: jobs.Deps{Client: e.st.Client, Enqueuer: enq, Clients: clients, Redis: e.rdb.Client, Logger: logger}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	r.api = httptest.NewServer(e.handler)
	t.Cleanup(r.api.Close)
	return r
}

func (r *platformRig) account(t *testing.T, e *env, p connectoraccount.Platform) *ent.ConnectorAccount {
	t.Helper()
	a, err := e.st.Client.ConnectorAccount.Query().
		Where(connectoraccount.TenantID(r.tenant), connectoraccount.PlatformEQ(p)).Only(sys())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// eventually polls cond for up to 20 seconds.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after 20s", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPlatformSync drives every connector against its fake over HTTP, on
// an environment of its own (org sync renames and moves staff).
func TestPlatformSync(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) { testPlatformSync(t, fresh(t, backend)) })
	}
}

func testPlatformSync(t *testing.T, e *env) {
	{
		r := startPlatforms(t, e, demoplatforms.Sizes{Departments: 6, Staff: 40, ContactsPerStaff: 2, Orders: 60})
		// The corp has the seeded staff too, as a real corp would.
		members, err := demoplatforms.MembersOf(viewer.ForTenant(context.Background(), r.tenant), e.st.Client)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range members {
			r.fakes.Wecom.AddUser(m)
		}
		admin := e.token(t, "demo", seed.Admin)
		ctx := viewer.ForTenant(context.Background(), r.tenant)
		wecomAcc := r.account(t, e, connectoraccount.PlatformWecom)
		syncNow := func(acc *ent.ConnectorAccount, kind string) {
			e.post(t, admin, `mutation($id: ID!, $k: [SyncKind!]) { syncNow(id: $id, kinds: $k) { jobs { id } } }`,
				map[string]any{"id": gid.Encode(acc.ID), "k": []string{kind}}).ok(t)
		}

		// syncAndWait runs a sync and waits until the sync queue is idle.
		inspector := asynq.NewInspector(e.rdb.Opt)
		t.Cleanup(func() { inspector.Close() })
		syncAndWait := func(acc *ent.ConnectorAccount, kind string) {
			t.Helper()
			syncNow(acc, kind)
			eventually(t, kind+" sync done", func() (bool, string) {
				q, err := inspector.GetQueueInfo(jobs.QueueSync)
				if err != nil {
					return false, err.Error()
				}
				busy := q.Active + q.Pending + q.Retry + q.Scheduled
				return busy == 0, itoa(busy) + " sync tasks"
			})
		}

		t.Run("org sync", func(t *testing.T) {
			active := 0
			for _, u := range r.fakes.Wecom.Users() {
				if u.Status != wecomfake.UserResigned {
					active++
				}
			}
			syncAndWait(wecomAcc, "ORGANIZATION")
			if n := e.st.Client.Staff.Query().Where(staff.WecomUserIDNotNil(), staff.StatusEQ(staff.StatusActive)).CountX(ctx); n != active {
				t.Fatalf("%d active staff with WeCom ids, want %d", n, active)
			}
			// A member who leaves is marked resigned, not deleted.
			gone := r.fakes.Wecom.Users()[3].UserID
			r.fakes.Wecom.RemoveUser(gone)
			syncAndWait(wecomAcc, "ORGANIZATION")
			s, err := e.st.Client.Staff.Query().Where(staff.WecomUserID(gone)).Only(ctx)
			if err != nil || s.Status != staff.StatusResigned {
				t.Fatalf("staff who left: %v %v", s, err)
			}
			a, _ := e.st.Client.ConnectorAccount.Get(ctx, wecomAcc.ID)
			if a.LastSyncAt == nil || a.Status != connectoraccount.StatusActive || a.LastError != "" {
				t.Fatalf("account after sync: status %s last sync %v error %q", a.Status, a.LastSyncAt, a.LastError)
			}
		})

		t.Run("customer sync", func(t *testing.T) {
			want := 0 // the fake's generated contacts
			for n := 1; len(r.fakes.Wecom.Follows(fmt.Sprintf("wmGEN%08x%019d", 1, n))) > 0; n++ {
				want++
			}
			syncAndWait(wecomAcc, "CUSTOMERS")
			n := e.st.Client.CustomerIdentity.Query().Where(customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal),
				customeridentity.AppID(demoplatforms.CorpID("demo")), customeridentity.ExternalIDHasPrefix("wmGEN")).CountX(ctx)
			a, _ := e.st.Client.ConnectorAccount.Get(ctx, wecomAcc.ID)
			if want == 0 || n != want || a.Cursors["customers"] != "" || a.LastError != "" {
				t.Fatalf("%d contacts linked, want %d; cursor %q, error %q", n, want, a.Cursors["customers"], a.LastError)
			}
			// The contacts' WeCom tags are on their customers.
			tagged := e.st.Client.Customer.Query().Where(customer.HasTagsWith(tag.SourceEQ(tag.SourceWecom), tag.WecomTagIDNotNil())).CountX(ctx)
			if tagged == 0 {
				t.Fatal("no customer carries a WeCom tag after the customer sync")
			}
		})

		t.Run("tags made here reach WeCom", func(t *testing.T) {
			wecomGroup := e.st.Client.TagGroup.Query().Where(taggroup.WecomGroupID(r.fakes.Wecom.TagGroups()[0].ID)).OnlyX(ctx)
			e.st.Client.Tag.Create().SetName("本地新增").SetSource(tag.SourceWecom).SetGroupID(wecomGroup.ID).ExecX(ctx)
			g := e.st.Client.TagGroup.Create().SetName("门店活动").SetSource(taggroup.SourceWecom).SaveX(ctx)
			e.st.Client.Tag.Create().SetName("到店核销").SetSource(tag.SourceWecom).SetGroupID(g.ID).ExecX(ctx)
			syncAndWait(wecomAcc, "CUSTOMERS")
			if n := e.st.Client.Tag.Query().Where(tag.NameIn("本地新增", "到店核销"), tag.WecomTagIDNotNil()).CountX(ctx); n != 2 {
				a, _ := e.st.Client.ConnectorAccount.Get(ctx, wecomAcc.ID)
				t.Fatalf("%d of 2 tags have WeCom ids (last error: %s)", n, a.LastError)
			}
			inWecom := map[string]string{}
			for _, grp := range r.fakes.Wecom.TagGroups() {
				for _, tg := range grp.Tags {
					inWecom[grp.Name+"/"+tg.Name] = tg.ID
				}
			}
			for _, name := range []string{wecomGroup.Name + "/本地新增", "门店活动/到店核销"} {
				if inWecom[name] == "" {
					t.Fatalf("WeCom lacks tag %s", name)
				}
			}
			local := e.st.Client.Tag.Query().Where(tag.Name("到店核销")).OnlyX(ctx)
			if local.WecomTagID == nil || *local.WecomTagID != inWecom["门店活动/到店核销"] {
				t.Fatalf("local tag's WeCom id %v, want %s", local.WecomTagID, inWecom["门店活动/到店核销"])
			}
		})

		t.Run("callbacks", func(t *testing.T) {
			url := r.api.URL + "/connectors/wecom/" + demoplatforms.CallbackKey("demo", connectoraccount.PlatformWecom) + "/callback"
			if echo, err := r.fakes.Wecom.VerifyURL(context.Background(), url); err != nil || echo == "" {
				t.Fatalf("URL verification: %q %v", echo, err)
			}
			user := r.fakes.Wecom.Users()[0].UserID
			for _, u := range r.fakes.Wecom.Users() {
				if u.Status == 1 {
					user = u.UserID
					break
				}
			}
			contact := wecomfake.ExternalContact{ExternalUserID: "wmNEWCUSTOMER001", Name: "新客户", Type: 1, Gender: 2, UnionID: "oUnewunion001"}
			if _, err := r.fakes.Wecom.SimulateAdd(context.Background(), url, user, contact, "store-7"); err != nil {
				t.Fatal(err)
			}
			var fu *ent.FollowUp
			// The event links the contact first and fetches its details
			// after: wait for both.
			eventually(t, "new contact linked", func() (bool, string) {
				var err error
				fu, err = e.st.Client.FollowUp.Query().Where(followup.HasCustomerWith()).
					Where(followup.State("store-7")).Only(ctx)
				if err != nil {
					return false, "no follow-up"
				}
				c, err := e.st.Client.Customer.Get(ctx, fu.CustomerID)
				return err == nil && c.Name != "", "no name yet"
			})
			c, _ := e.st.Client.Customer.Get(ctx, fu.CustomerID)
			if c.Name != "新客户" {
				t.Fatalf("customer name %q; want the details fetched", c.Name)
			}
			if n := len(r.fakes.Wecom.WelcomeMessages()); n != 1 {
				t.Fatalf("%d welcome messages sent, want 1", n)
			}
			// A duplicate delivery of the same event changes nothing.
			before := e.st.Client.FollowUp.Query().Where(followup.CustomerID(fu.CustomerID)).CountX(ctx)
			ev := r.fakes.Wecom.EventDelFollowUser(user, contact.ExternalUserID, time.Now())
			for range 2 {
				if status, _, err := r.fakes.Wecom.SendCallback(context.Background(), url, ev); err != nil || status != 200 {
					t.Fatalf("callback: %d %v", status, err)
				}
			}
			eventually(t, "loss recorded", func() (bool, string) {
				f, _ := e.st.Client.FollowUp.Get(ctx, fu.ID)
				return f.LostAt != nil && f.LostBy != nil && *f.LostBy == followup.LostByCustomer, "not lost"
			})
			if after := e.st.Client.FollowUp.Query().Where(followup.CustomerID(fu.CustomerID)).CountX(ctx); after != before {
				t.Fatalf("follow-ups %d → %d", before, after)
			}
			// Tampered or foreign callbacks are refused before anything is read.
			body := `<xml><ToUserName>x</ToUserName><Encrypt>AAAA</Encrypt></xml>`
			resp, err := http.Post(url+"?msg_signature=bad&timestamp=1&nonce=2", "text/xml", bytes.NewBufferString(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("tampered callback answered %d", resp.StatusCode)
			}
			resp, _ = http.Post(url, "text/xml", bytes.NewBufferString("<not xml"))
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("malformed callback answered %d", resp.StatusCode)
			}
		})

		t.Run("orders by pull and push", func(t *testing.T) {
			dy := r.account(t, e, connectoraccount.PlatformDouyin)
			tb := r.account(t, e, connectoraccount.PlatformTaobao)
			countOrders := func(p order.Platform) int {
				ids := r.fakes.Douyin.OrderIDs()
				if p == order.PlatformTaobao {
					ids = r.fakes.Taobao.OrderIDs()
				}
				return e.st.Client.Order.Query().Where(order.PlatformEQ(p), order.PlatformOrderIDIn(ids...)).CountX(ctx)
			}
			syncNow(dy, "ORDERS")
			syncNow(tb, "ORDERS")
			wantDy, wantTb := len(r.fakes.Douyin.OrderIDs()), len(r.fakes.Taobao.OrderIDs())
			eventually(t, "orders pulled", func() (bool, string) {
				return countOrders(order.PlatformDouyin) == wantDy && countOrders(order.PlatformTaobao) == wantTb,
					itoa(countOrders(order.PlatformDouyin)) + "/" + itoa(countOrders(order.PlatformTaobao))
			})
			// Pulling again duplicates nothing.
			a, _ := e.st.Client.ConnectorAccount.Get(ctx, dy.ID)
			_ = e.st.Client.ConnectorAccount.UpdateOne(a).SetCursors(map[string]string{}).Exec(ctx)
			syncNow(dy, "ORDERS")
			time.Sleep(300 * time.Millisecond)
			eventually(t, "second pull done", func() (bool, string) {
				a, _ := e.st.Client.ConnectorAccount.Get(ctx, dy.ID)
				return a.Cursors["orders"] != "", "no cursor"
			})
			if n := countOrders(order.PlatformDouyin); n != wantDy {
				t.Fatalf("second pull: %d orders, want %d", n, wantDy)
			}
			// A push delivers a change; a refund request opens one ticket.
			var id string
			for _, oid := range r.fakes.Douyin.OrderIDs() {
				if o, _ := r.fakes.Douyin.Order(oid); o.RefundStatus == "" || o.RefundStatus == douyinfake.RefundNone {
					id = oid
					break
				}
			}
			r.fakes.Douyin.Touch(id, douyinfake.StatusShipped, time.Now())
			push := r.api.URL + "/connectors/douyin/" + demoplatforms.CallbackKey("demo", connectoraccount.PlatformDouyin) + "/push"
			if _, err := r.fakes.Douyin.SendPush(context.Background(), push, []douyinfake.PushMessage{r.fakes.Douyin.PushFor(id, douyinfake.TagTradeSellerShip)}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "push applied", func() (bool, string) {
				o := e.st.Client.Order.Query().Where(order.PlatformOrderID(id)).OnlyX(ctx)
				return o.Status == order.StatusShipped, string(o.Status)
			})
			if n := countOrders(order.PlatformDouyin); n != wantDy {
				t.Fatalf("push duplicated an order: %d, want %d", n, wantDy)
			}
			// A tampered push is refused.
			req, _ := http.NewRequest(http.MethodPost, push, strings.NewReader(`[{"tag":"101","msg_id":"1","data":"{}"}]`))
			req.Header.Set("app-id", dy.AppKey)
			req.Header.Set("event-sign", "00")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("tampered push answered %d", resp.StatusCode)
			}
			refundTickets := func() int {
				return e.st.Client.Ticket.Query().Where(ticket.SourceEQ(ticket.SourceOrderReturn), ticket.HasOrderWith(order.PlatformOrderID(id))).CountX(ctx)
			}
			r.fakes.Douyin.Touch(id, douyinfake.StatusShipped, time.Now().Add(time.Second))
			fakeOrder, _ := r.fakes.Douyin.Order(id)
			fakeOrder.RefundStatus = douyinfake.RefundToRefund
			fakeOrder.Modified = time.Now().Add(2 * time.Second)
			r.fakes.Douyin.AddOrder(fakeOrder)
			for range 2 {
				if _, err := r.fakes.Douyin.SendPush(context.Background(), push, []douyinfake.PushMessage{r.fakes.Douyin.PushFor(id, douyinfake.TagRefundCreated)}); err != nil {
					t.Fatal(err)
				}
			}
			eventually(t, "return ticket", func() (bool, string) { return refundTickets() == 1, itoa(refundTickets()) + " tickets" })
			time.Sleep(200 * time.Millisecond)
			if n := refundTickets(); n != 1 {
				t.Fatalf("%d return tickets, want 1", n)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
