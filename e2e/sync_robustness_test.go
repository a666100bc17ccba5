package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/connectors"
	"github.com/scrm-dev/scrm/connectors/douyin"
	"github.com/scrm-dev/scrm/connectors/wecom/msgcrypt"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/demoplatforms"
	"github.com/scrm-dev/scrm/internal/ordersync"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/jobs"
)

// queued counts every task in every queue, finished ones included.
func queued(t *testing.T, ins *asynq.Inspector) int {
	t.Helper()
	qs, err := ins.Queues()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range qs {
		info, err := ins.GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size + info.Completed
	}
	return n
}

// rowCounts is what a refused callback must not change.
func rowCounts(t *testing.T, e *env) string {
	t.Helper()
	ctx := sys()
	return fmt.Sprintf("customers %d identities %d follow-ups %d staff %d orders %d tickets %d",
		e.st.Client.Customer.Query().CountX(ctx), e.st.Client.CustomerIdentity.Query().CountX(ctx),
		e.st.Client.FollowUp.Query().CountX(ctx), e.st.Client.Staff.Query().CountX(ctx),
		e.st.Client.Order.Query().CountX(ctx), e.st.Client.Ticket.Query().CountX(ctx))
}

// TestCallbackRefusals sends the WeCom callback and Douyin push endpoints
// what a forger, a misconfigured platform or a broken proxy would: each
// is answered with the right 4xx and a log line, and nothing is written
// or enqueued. A genuine callback and push at the end are accepted, so
// the counting would have seen a task.
func TestCallbackRefusals(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) { testCallbackRefusals(t, fresh(t, backend)) })
	}
}

func testCallbackRefusals(t *testing.T, e *env) {
	fakes := demoplatforms.New("demo", demoplatforms.Sizes{Departments: 2, Staff: 3, ContactsPerStaff: 1, Orders: 2})
	srv := httptest.NewServer(e.handler)
	t.Cleanup(srv.Close)
	ins := asynq.NewInspector(e.rdb.Opt)
	t.Cleanup(func() { ins.Close() })
	tenant := e.tenantID(t, "demo")
	acc := func(p connectoraccount.Platform) (int, connectoraccounts.Secrets, string, string) {
		a, err := e.st.Client.ConnectorAccount.Query().Where(connectoraccount.TenantID(tenant), connectoraccount.PlatformEQ(p)).Only(sys())
		if err != nil {
			t.Fatal(err)
		}
		s, err := connectoraccounts.SecretsOf(a)
		if err != nil {
			t.Fatal(err)
		}
		return a.ID, s, a.AppKey, a.ExternalID
	}
	_, wsec, _, corp := acc(connectoraccount.PlatformWecom)
	_, dsec, appKey, _ := acc(connectoraccount.PlatformDouyin)
	wecomURL := srv.URL + "/connectors/wecom/" + demoplatforms.CallbackKey("demo", connectoraccount.PlatformWecom) + "/callback"
	pushURL := srv.URL + "/connectors/douyin/" + demoplatforms.CallbackKey("demo", connectoraccount.PlatformDouyin) + "/push"

	event := fakes.Wecom.EventAddExternalContact("u0000001", "wmFORGED0001", "", "", time.Now())
	// sealed encrypts and signs msg with the given token and receive id
	// (the account's key), as WeCom would for that configuration.
	sealed := func(token, receiver, msg string) (query, body string) {
		c, err := msgcrypt.New(token, wsec.EncodingAESKey, receiver)
		if err != nil {
			t.Fatal(err)
		}
		ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), "1234567890"
		enc, sig, err := c.Encrypt([]byte(msg), ts, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return "?msg_signature=" + sig + "&timestamp=" + ts + "&nonce=" + nonce,
			"<xml><ToUserName><![CDATA[" + corp + "]]></ToUserName><AgentID>1000002</AgentID><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>"
	}
	goodQuery, goodBody := sealed(wsec.CallbackToken, corp, event)
	pushBody := `[{"tag":"101","msg_id":"forged-1","data":"{\"p_id\":\"6900000000001\",\"shop_id\":\"4463798\",\"update_time\":1700000000}"}]`

	type attempt struct {
		name, method, url, body string
		header                  map[string]string
		status                  int
		reason                  string
	}
	var attempts []attempt
	add := func(a attempt) { attempts = append(attempts, a) }
	{
		q := strings.Replace(goodQuery, "msg_signature=", "msg_signature=0", 1)
		add(attempt{name: "tampered signature", url: wecomURL + q, body: goodBody, status: 403, reason: "not from WeCom"})
		body := strings.Replace(goodBody, "<Encrypt><![CDATA[", "<Encrypt><![CDATA[QUFB", 1)
		add(attempt{name: "tampered message", url: wecomURL + goodQuery, body: body, status: 403, reason: "not from WeCom"})
		q, body = sealed(wsec.CallbackToken, "wwanothercorp", event)
		add(attempt{name: "another corp's message", url: wecomURL + q, body: body, status: 403, reason: "not from WeCom"})
		q, body = sealed("WrongCallbackToken", corp, event)
		add(attempt{name: "wrong token", url: wecomURL + q, body: body, status: 403, reason: "not from WeCom"})
		add(attempt{name: "malformed envelope", url: wecomURL + goodQuery, body: "<xml><Encrypt>", status: 400, reason: "malformed envelope"})
		add(attempt{name: "envelope without Encrypt", url: wecomURL + goodQuery, body: "<xml><ToUserName>x</ToUserName></xml>", status: 400, reason: "malformed envelope"})
		q, body = sealed(wsec.CallbackToken, corp, "<xml><ToUserName>"+corp+"</ToUserName><Event>oops")
		add(attempt{name: "malformed decrypted XML", url: wecomURL + q, body: body, status: 400, reason: "malformed event"})
		q, body = sealed(wsec.CallbackToken, corp, "not xml at all")
		add(attempt{name: "decrypted text not XML", url: wecomURL + q, body: body, status: 400, reason: "malformed event"})
		add(attempt{name: "oversized body", url: wecomURL + goodQuery, body: goodBody + strings.Repeat(" ", 300<<10), status: 413, reason: "body too large"})
		add(attempt{name: "unknown account", url: srv.URL + "/connectors/wecom/nobody-wecom/callback" + goodQuery, body: goodBody, status: 404, reason: "no such account"})
		add(attempt{name: "douyin key on the wecom path", url: srv.URL + "/connectors/wecom/" + demoplatforms.CallbackKey("demo", connectoraccount.PlatformDouyin) + "/callback" + goodQuery, body: goodBody, status: 404, reason: "no such account"})
		add(attempt{name: "URL verification, bad signature", method: http.MethodGet, url: wecomURL + "?msg_signature=00&timestamp=1&nonce=2&echostr=QUFBQQ%3D%3D", status: 403, reason: "URL verification failed"})
	}
	sign := douyin.PushSignature(appKey, dsec.AppSecret, []byte(pushBody))
	{
		add(attempt{name: "push, bad sign", url: pushURL, body: pushBody, header: map[string]string{"app-id": appKey, "event-sign": strings.Repeat("0", 32)}, status: 401, reason: "push refused"})
		add(attempt{name: "push, sign of another body", url: pushURL, body: strings.Replace(pushBody, "6900000000001", "6900000000002", 1), header: map[string]string{"app-id": appKey, "event-sign": sign}, status: 401, reason: "push refused"})
		add(attempt{name: "push, no headers", url: pushURL, body: pushBody, status: 401, reason: "push refused"})
		add(attempt{name: "push, no event-sign", url: pushURL, body: pushBody, header: map[string]string{"app-id": appKey}, status: 401, reason: "push refused"})
		add(attempt{name: "push, another app", url: pushURL, body: pushBody, header: map[string]string{"app-id": "7000000000000000999", "event-sign": sign}, status: 401, reason: "push refused"})
		for _, bad := range []string{`[{"tag":"101","msg_id":"x","data":`, `{"tag":"101"}`, `[{"tag":"101","msg_id":"x","data":"{not json"}]`, `[{"tag":"101"}]`, `[] []`} {
			add(attempt{name: "push, malformed JSON " + bad, url: pushURL, body: bad,
				header: map[string]string{"app-id": appKey, "event-sign": douyin.PushSignature(appKey, dsec.AppSecret, []byte(bad))}, status: 400, reason: "push refused"})
		}
		add(attempt{name: "push, unknown sign-method", url: pushURL, body: pushBody, header: map[string]string{"app-id": appKey, "event-sign": sign, "sign-method": "sha1"}, status: 400, reason: "push refused"})
		add(attempt{name: "push, oversized", url: pushURL, body: pushBody + strings.Repeat(" ", 300<<10), header: map[string]string{"app-id": appKey, "event-sign": sign}, status: 413, reason: "body too large"})
		add(attempt{name: "push, unknown account", url: srv.URL + "/connectors/douyin/nobody/push", body: pushBody, header: map[string]string{"app-id": appKey, "event-sign": sign}, status: 404, reason: "no such account"})
	}

	rows, tasks := rowCounts(t, e), queued(t, ins)
	send := func(a attempt) int {
		t.Helper()
		method := a.method
		if method == "" {
			method = http.MethodPost
		}
		req, err := http.NewRequest(method, a.url, strings.NewReader(a.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range a.header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, a := range attempts {
		t.Run(a.name, func(t *testing.T) {
			logs := strings.Count(e.logs.String(), "platform callback refused")
			if got := send(a); got != a.status {
				t.Fatalf("answered %d, want %d", got, a.status)
			}
			after := e.logs.String()
			if strings.Count(after, "platform callback refused") != logs+1 {
				t.Fatalf("no log line for the refusal")
			}
			last := after[strings.LastIndex(after, "platform callback refused"):]
			if !strings.Contains(last, a.reason) || !strings.Contains(last, "status="+strconv.Itoa(a.status)) {
				t.Fatalf("log line %q does not give the reason %q and status", strings.SplitN(last, "\n", 2)[0], a.reason)
			}
			if n := queued(t, ins); n != tasks {
				t.Fatalf("%d tasks enqueued", n-tasks)
			}
			if r := rowCounts(t, e); r != rows {
				t.Fatalf("rows changed: %s → %s", rows, r)
			}
		})
	}

	// The genuine articles are accepted (and only they enqueue).
	if got := send(attempt{url: wecomURL + goodQuery, body: goodBody}); got != http.StatusOK {
		t.Fatalf("genuine callback answered %d", got)
	}
	if got := send(attempt{url: pushURL, body: pushBody, header: map[string]string{"app-id": appKey, "event-sign": sign}}); got != http.StatusOK {
		t.Fatalf("genuine push answered %d", got)
	}
	if n := queued(t, ins); n != tasks+2 {
		t.Fatalf("genuine callback and push enqueued %d tasks, want 2", n-tasks)
	}
	if r := rowCounts(t, e); r != rows {
		t.Fatalf("the endpoints wrote rows themselves: %s → %s", rows, r)
	}
}

// TestShuffledCallbacksThroughWorkers delivers the life of several
// contacts (B adds; A adds, is deleted by the customer, adds again,
// edits; B deletes the customer) as real callbacks, each contact's
// events shuffled and all sent at once, to eight workers. Every contact
// must end as in order: A a live follower, B lost by staff and no
// follower, one customer, two follow-ups.
func TestShuffledCallbacksThroughWorkers(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) { testShuffledCallbacks(t, fresh(t, backend)) })
	}
}

func testShuffledCallbacks(t *testing.T, e *env) {
	r := startPlatforms(t, e, demoplatforms.Sizes{Departments: 2, Staff: 4, ContactsPerStaff: 1, Orders: 2})
	ctx := viewer.ForTenant(context.Background(), r.tenant)
	fake := r.fakes.Wecom
	var users []string
	for _, u := range fake.Users() {
		if u.Status == wecomfake.UserActive {
			users = append(users, u.UserID)
		}
	}
	if len(users) < 2 {
		t.Fatalf("the fake corp has %d active members", len(users))
	}
	a, b := users[0], users[1]
	url := r.api.URL + "/connectors/wecom/" + demoplatforms.CallbackKey("demo", connectoraccount.PlatformWecom) + "/callback"
	seed := uint64(time.Now().UnixNano())
	t.Logf("shuffle seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	base := time.Now().Add(-time.Hour)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	const contacts = 8
	var all []string
	for i := range contacts {
		ext := fmt.Sprintf("wmWORKERS%04d", i)
		fake.AddExternalContact(wecomfake.ExternalContact{ExternalUserID: ext, Name: "并发客户", Type: 1},
			wecomfake.Follow{UserID: a, Remark: "VIP", CreateTime: at(30).Unix()})
		events := []string{
			fake.EventAddExternalContact(b, ext, "", "", at(5)),
			fake.EventAddExternalContact(a, ext, "", "", at(10)),
			fake.EventDelFollowUser(a, ext, at(20)),
			fake.EventAddExternalContact(a, ext, "", "", at(30)),
			fake.EventEditExternalContact(a, ext, at(40)),
			fake.EventDelExternalContact(b, ext, "", at(50)),
		}
		all = append(all, events...)
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	var wg sync.WaitGroup
	errs := make(chan error, len(all))
	for _, ev := range all {
		wg.Go(func() {
			if status, _, err := fake.SendCallback(context.Background(), url, ev); err != nil || status != http.StatusOK {
				errs <- fmt.Errorf("callback: %d %v", status, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ins := asynq.NewInspector(e.rdb.Opt)
	t.Cleanup(func() { ins.Close() })
	eventually(t, "every event applied", func() (bool, string) {
		info, err := ins.GetQueueInfo(jobs.QueueRealtime)
		if err != nil {
			return false, err.Error()
		}
		state := fmt.Sprintf("%d of %d done, %d retrying, %d archived", info.Completed, len(all), info.Retry, info.Archived)
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){ins.ListRetryTasks, ins.ListArchivedTasks,
			ins.ListActiveTasks, ins.ListPendingTasks, ins.ListScheduledTasks} {
			failed, _ := list(jobs.QueueRealtime)
			for _, f := range failed {
				state += fmt.Sprintf("; %s %s retried %d: %s", f.State, f.Payload, f.Retried, f.LastErr)
			}
		}
		return info.Completed == len(all), state
	})
	sid := func(u string) int {
		id, err := e.st.Client.Staff.Query().Where(staff.WecomUserID(u)).OnlyID(ctx)
		if err != nil {
			t.Fatalf("staff %s: %v", u, err)
		}
		return id
	}
	sa, sb := sid(a), sid(b)
	for i := range contacts {
		ext := fmt.Sprintf("wmWORKERS%04d", i)
		cs, err := e.st.Client.Customer.Query().Where(customer.HasIdentitiesWith(customeridentity.ExternalID(ext))).All(ctx)
		if err != nil || len(cs) != 1 {
			t.Fatalf("%s: %d customers, %v", ext, len(cs), err)
		}
		c := cs[0]
		fa, err := e.st.Client.FollowUp.Query().Where(followup.CustomerID(c.ID), followup.StaffID(sa)).Only(ctx)
		if err != nil {
			t.Fatalf("%s: A's follow-up: %v", ext, err)
		}
		fb, err := e.st.Client.FollowUp.Query().Where(followup.CustomerID(c.ID), followup.StaffID(sb)).Only(ctx)
		if err != nil {
			t.Fatalf("%s: B's follow-up: %v", ext, err)
		}
		followers, _ := e.st.Client.Customer.QueryFollowers(c).IDs(ctx)
		if fa.LostAt != nil || fa.Remark != "VIP" || fb.LostAt == nil || fb.LostBy == nil || *fb.LostBy != followup.LostByStaff ||
			len(followers) != 1 || followers[0] != sa {
			t.Fatalf("%s: A lost %v remark %q; B lost %v by %v; followers %v (A %d, B %d)",
				ext, fa.LostAt, fa.Remark, fb.LostAt, fb.LostBy, followers, sa, sb)
		}
		if n := e.st.Client.FollowUp.Query().Where(followup.CustomerID(c.ID)).CountX(ctx); n != 2 {
			t.Fatalf("%s: %d follow-ups", ext, n)
		}
	}
}

// TestShuffledOrderVersions stores several versions of an order (created,
// paid, shipped, then a refund request) in shuffled orders, each version
// delivered twice: the newest is stored, once, with one buyer and one
// return ticket, whatever the order of arrival.
func TestShuffledOrderVersions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := viewer.ForTenant(context.Background(), e.tenantID(t, "demo"))
		seed := uint64(time.Now().UnixNano())
		t.Logf("shuffle seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 11))
		base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
		buyer := fmt.Sprintf("shuffle-buyer-%d", seed%1000000)
		const orders = 12
		for n := range orders {
			id := fmt.Sprintf("SHUF%d%03d", seed%1000000, n)
			version := func(s connectors.OrderStatus, minutes int, refund bool) *connectors.Order {
				paid := base.Add(time.Minute)
				return &connectors.Order{Platform: "DOUYIN", ShopID: "shuffle-shop", ID: id, Status: s, BuyerID: buyer,
					BuyerNick: "买家", TotalFen: 9900, PaidFen: 9900, PlacedAt: base, PaidAt: &paid,
					UpdatedAt: base.Add(time.Duration(minutes) * time.Minute), ReturnRequested: refund,
					Items: []connectors.OrderItem{{SKU: "sku-1", Name: "商品", Quantity: 1, UnitPriceFen: 9900, AmountFen: 9900}}}
			}
			versions := []*connectors.Order{
				version(connectors.OrderCreated, 0, false),
				version(connectors.OrderPaid, 1, false),
				version(connectors.OrderShipped, 5, false),
				version(connectors.OrderRefunding, 9, true),
				// The same moment as the refund, a status behind it: loses.
				version(connectors.OrderShipped, 9, false),
			}
			deliveries := append(append([]*connectors.Order{}, versions...), versions...)
			rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
			for _, v := range deliveries {
				if _, err := ordersync.Store(ctx, e.st.Client, v); err != nil {
					t.Fatalf("store %s %s: %v", v.ID, v.Status, err)
				}
			}
			rows, err := e.st.Client.Order.Query().Where(order.PlatformOrderID(id)).All(ctx)
			if err != nil || len(rows) != 1 {
				t.Fatalf("order %s: %d rows, %v", id, len(rows), err)
			}
			o := rows[0]
			if o.Status != order.StatusRefunding || o.PlatformUpdatedAt == nil || !o.PlatformUpdatedAt.Equal(base.Add(9*time.Minute)) {
				t.Fatalf("order %s ends %s updated %v; want the newest (REFUNDING at +9m)", id, o.Status, o.PlatformUpdatedAt)
			}
			if n := e.st.Client.Ticket.Query().Where(ticket.SourceEQ(ticket.SourceOrderReturn), ticket.HasOrderWith(order.ID(o.ID))).CountX(ctx); n != 1 {
				t.Fatalf("order %s: %d return tickets", id, n)
			}
		}
		ids := e.st.Client.CustomerIdentity.Query().Where(customeridentity.ExternalID(buyer)).CountX(ctx)
		customers := e.st.Client.Customer.Query().Where(customer.HasIdentitiesWith(customeridentity.ExternalID(buyer))).CountX(ctx)
		if ids != 1 || customers != 1 {
			t.Fatalf("buyer of %d orders: %d identities, %d customers", orders, ids, customers)
		}
	})
}
