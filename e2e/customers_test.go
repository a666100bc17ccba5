package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/demoplatforms"
)

const loginMutation = `mutation($appId: String!, $code: String!) {
  loginWithMiniProgram(appId: $appId, code: $code) { token expiresAt customerID created } }`

type customerLogin struct {
	Token      string    `json:"token"`
	ExpiresAt  time.Time `json:"expiresAt"`
	CustomerID string    `json:"customerID"`
	Created    bool      `json:"created"`
}

var demoApp = demoplatforms.MiniProgramAppID("demo")

// miniLogin signs a WeChat user of tenant demo's mini-program in, without
// any Authorization header, as the mini-program would.
func (e *env) miniLogin(t *testing.T, openID string) customerLogin {
	t.Helper()
	r := e.post(t, "", loginMutation, map[string]any{"appId": demoApp, "code": e.wechat.MintCode(demoApp, openID)}).ok(t)
	var out struct {
		Login customerLogin `json:"loginWithMiniProgram"`
	}
	r.decode(t, &out)
	if out.Login.Token == "" || out.Login.CustomerID == "" {
		t.Fatalf("login answer %s", r.Body)
	}
	return out.Login
}

func decodeID(t *testing.T, id string) int {
	t.Helper()
	n, err := gid.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMiniProgramLogin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		demo := e.tenantID(t, "demo")

		t.Run("without a token only the sign-in runs; anything else is 401", func(t *testing.T) {
			for _, q := range []string{`{ myCustomer { id } }`, `mutation { createMyTicket(input: {title: "x"}) { id } }`,
				`mutation { loginWithMiniProgram(appId: "x", code: "y") { token } createMyTicket(input: {title: "x"}) { id } }`} {
				if r := e.post(t, "", q, nil); r.Status != http.StatusUnauthorized || r.only(t).code() != "UNAUTHENTICATED" {
					t.Errorf("%s: status %d %s", q, r.Status, r.Body)
				}
			}
		})

		t.Run("the first sign-in creates the customer, the next finds them", func(t *testing.T) {
			first := e.miniLogin(t, "o-first-visit")
			if !first.Created || time.Until(first.ExpiresAt) < 23*time.Hour {
				t.Fatalf("first login %+v", first)
			}
			again := e.miniLogin(t, "o-first-visit")
			if again.Created || again.CustomerID != first.CustomerID || again.Token == "" {
				t.Fatalf("second login %+v, first %+v", again, first)
			}
			c, err := e.st.Client.Customer.Query().Where(customer.ID(decodeID(t, first.CustomerID))).
				WithIdentities().Only(sys())
			if err != nil {
				t.Fatal(err)
			}
			if c.TenantID != demo || c.SourceChannel != customer.SourceChannelMiniProgram || len(c.Edges.Identities) != 1 ||
				c.Edges.Identities[0].Platform != customeridentity.PlatformWechatOpenid || c.Edges.Identities[0].AppID != demoApp {
				t.Fatalf("customer %+v identities %+v", c, c.Edges.Identities)
			}
		})

		t.Run("a unionid links the user to the customer already known", func(t *testing.T) {
			known := e.st.Client.CustomerIdentity.Query().Where(customeridentity.TenantID(demo),
				customeridentity.PlatformEQ(customeridentity.PlatformWechatUnionid)).FirstX(sys())
			e.wechat.AddUser(demoApp, "o-known-by-union", known.ExternalID)
			l := e.miniLogin(t, "o-known-by-union")
			if l.Created || decodeID(t, l.CustomerID) != known.CustomerID {
				t.Fatalf("login %+v, want customer %d", l, known.CustomerID)
			}
			n := e.st.Client.CustomerIdentity.Query().Where(customeridentity.CustomerID(known.CustomerID),
				customeridentity.PlatformEQ(customeridentity.PlatformWechatOpenid), customeridentity.ExternalID("o-known-by-union")).CountX(sys())
			if n != 1 {
				t.Fatalf("openid identity added %d times", n)
			}
		})

		t.Run("a merged customer signs in as the one they were merged into", func(t *testing.T) {
			l := e.miniLogin(t, "o-merged-away")
			into := e.st.Client.Customer.Create().SetTenantID(demo).SetName("合并后").SaveX(sys())
			e.st.Client.Customer.UpdateOneID(decodeID(t, l.CustomerID)).SetMergedIntoID(into.ID).ExecX(sys())
			if r := e.post(t, l.Token, `{ myCustomer { id } }`, nil); r.Status != http.StatusUnauthorized {
				t.Fatalf("the merged-away token: status %d %s", r.Status, r.Body)
			}
			if again := e.miniLogin(t, "o-merged-away"); decodeID(t, again.CustomerID) != into.ID || again.Created {
				t.Fatalf("login %+v, want customer %d", again, into.ID)
			}
		})

		t.Run("bad codes and unknown apps name the argument at fault", func(t *testing.T) {
			code := e.wechat.MintCode(demoApp, "o-code-twice")
			e.post(t, "", loginMutation, map[string]any{"appId": demoApp, "code": code}).ok(t)
			for name, vars := range map[string]map[string]any{
				"a used code":     {"appId": demoApp, "code": code},
				"an invalid code": {"appId": demoApp, "code": "no-such-code"},
				"an empty code":   {"appId": demoApp, "code": ""},
			} {
				r := e.post(t, "", loginMutation, vars)
				if g := r.only(t); g.code() != "BAD_USER_INPUT" || g.field() != "code" || r.Data == nil || string(r.Data) != "null" {
					t.Errorf("%s: %s", name, r.Body)
				}
			}
			r := e.post(t, "", loginMutation, map[string]any{"appId": "wx0000000000000000", "code": code})
			if g := r.only(t); g.code() != "BAD_USER_INPUT" || g.field() != "appId" {
				t.Errorf("unknown appId: %s", r.Body)
			}
		})

		t.Run("WeChat's refusals map to codes a client can act on", func(t *testing.T) {
			for errcode, want := range map[int]string{45011: "RATE_LIMITED", 40226: "FORBIDDEN", -1: "UNAVAILABLE"} {
				code := e.wechat.MintCode(demoApp, "o-refused")
				faults := []int{errcode}
				if errcode == -1 { // busy is retried: stay busy past the retries
					faults = []int{-1, -1, -1, -1}
				}
				e.wechat.FailNext(faults...)
				r := e.post(t, "", loginMutation, map[string]any{"appId": demoApp, "code": code})
				if g := r.only(t); g.code() != want {
					t.Errorf("errcode %d: %s", errcode, r.Body)
				}
			}
		})

		t.Run("an erased customer's token is refused", func(t *testing.T) {
			l := e.miniLogin(t, "o-to-be-erased")
			e.post(t, l.Token, `{ myCustomer { id } }`, nil).ok(t)
			e.st.Client.Customer.UpdateOneID(decodeID(t, l.CustomerID)).SetErasedAt(time.Now()).ExecX(sys())
			r := e.post(t, l.Token, `{ myCustomer { id } }`, nil)
			if r.Status != http.StatusUnauthorized || !strings.Contains(r.only(t).Message, "sign in again") {
				t.Fatalf("status %d %s", r.Status, r.Body)
			}
		})
	})
}

func TestMiniProgramCustomerSeesOnlyTheirOwn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		demo := e.tenantID(t, "demo")
		// A seeded customer with orders and a unionid signs in through the
		// mini-program for the first time.
		me := e.st.Client.Customer.Query().Where(customer.TenantID(demo), customer.HasOrders(),
			customer.HasIdentitiesWith(customeridentity.PlatformEQ(customeridentity.PlatformWechatUnionid))).
			Order(ent.Asc(customer.FieldID)).FirstX(sys())
		union := me.QueryIdentities().Where(customeridentity.PlatformEQ(customeridentity.PlatformWechatUnionid)).OnlyX(sys())
		e.wechat.AddUser(demoApp, "o-own-data", union.ExternalID)
		l := e.miniLogin(t, "o-own-data")
		if decodeID(t, l.CustomerID) != me.ID {
			t.Fatalf("signed in as %s, want %d", l.CustomerID, me.ID)
		}
		other := e.st.Client.Customer.Query().Where(customer.TenantID(demo), customer.IDNEQ(me.ID), customer.HasOrders()).FirstX(sys())
		otherOrder := other.QueryOrders().FirstIDX(sys())
		myOrders := me.QueryOrders().CountX(sys())
		myTickets := me.QueryTickets().CountX(sys())

		t.Run("myCustomer shows their own profile, orders and tickets", func(t *testing.T) {
			r := e.post(t, l.Token, `{ myCustomer { id name phone
				orders(first: 10) { totalCount edges { node { id customer { id } } } }
				tickets(first: 10) { totalCount edges { node { id } } } } }`, nil).ok(t)
			var out struct {
				My struct {
					ID     string `json:"id"`
					Name   string `json:"name"`
					Orders struct {
						TotalCount int `json:"totalCount"`
						Edges      []struct {
							Node struct {
								Customer struct{ ID string } `json:"customer"`
							} `json:"node"`
						} `json:"edges"`
					} `json:"orders"`
					Tickets struct {
						TotalCount int `json:"totalCount"`
					} `json:"tickets"`
				} `json:"myCustomer"`
			}
			r.decode(t, &out)
			if out.My.ID != l.CustomerID || out.My.Name != me.Name || out.My.Orders.TotalCount != myOrders || out.My.Tickets.TotalCount != myTickets {
				t.Fatalf("got %s; want %d orders, %d tickets", r.Body, myOrders, myTickets)
			}
			for _, o := range out.My.Orders.Edges {
				if o.Node.Customer.ID != l.CustomerID {
					t.Fatalf("an order of %s", o.Node.Customer.ID)
				}
			}
		})

		t.Run("other customers, staff and node lookups are refused", func(t *testing.T) {
			for _, q := range []string{
				`{ customers(first: 10) { totalCount } }`,
				`{ staff(first: 10) { totalCount } }`,
				`{ node(id: "` + gid.Encode(other.ID) + `") { id } }`,
				`{ node(id: "` + gid.Encode(otherOrder) + `") { id } }`,
				`{ me { id } }`,
				`{ myCustomer { tags { name } } }`,
			} {
				r := e.post(t, l.Token, q, nil)
				if len(r.Errors) == 0 || r.Errors[0].code() != "FORBIDDEN" || strings.Contains(string(r.Data), other.Name) {
					t.Errorf("%s: %s", q, r.Body)
				}
			}
			for _, q := range []string{`mutation { updateCustomer(id: "` + gid.Encode(me.ID) + `", input: {name: "x"}) { id } }`,
				`mutation { createTicket(input: {title: "x"}) { id } }`} {
				if r := e.post(t, l.Token, q, nil); len(r.Errors) == 0 || r.Errors[0].code() != "FORBIDDEN" {
					t.Errorf("%s: %s", q, r.Body)
				}
			}
		})

		var mine *ent.Ticket
		t.Run("createMyTicket opens a MINI_PROGRAM ticket, typed and routed", func(t *testing.T) {
			myOrder := me.QueryOrders().FirstIDX(sys())
			r := e.post(t, l.Token, `mutation($o: ID) { createMyTicket(input: {title: "收到的商品破损", description: "外包装压坏", orderID: $o}) {
				id number status source ticketType { key } } }`, map[string]any{"o": gid.Encode(myOrder)}).ok(t)
			var out struct {
				T struct {
					ID     string               `json:"id"`
					Source string               `json:"source"`
					Type   struct{ Key string } `json:"ticketType"`
				} `json:"createMyTicket"`
			}
			r.decode(t, &out)
			if out.T.Source != "MINI_PROGRAM" || out.T.Type.Key != "CONSULTATION" {
				t.Fatalf("ticket %s", r.Body)
			}
			mine = e.st.Client.Ticket.GetX(sys(), decodeID(t, out.T.ID))
			if mine.CustomerID == nil || *mine.CustomerID != me.ID || mine.OrderID == nil || *mine.OrderID != myOrder ||
				mine.AssignmentReason == "" || mine.Source != ticket.SourceMiniProgram {
				t.Fatalf("stored ticket %+v", mine)
			}
			r = e.post(t, l.Token, `mutation($o: ID) { createMyTicket(input: {title: "x", orderID: $o}) { id } }`,
				map[string]any{"o": gid.Encode(otherOrder)})
			if g := r.only(t); g.code() != "BAD_USER_INPUT" || g.field() != "orderID" {
				t.Fatalf("another customer's order: %s", r.Body)
			}
		})

		t.Run("internal comments and the assignee stay hidden", func(t *testing.T) {
			if mine == nil {
				t.Fatal("createMyTicket made no ticket (see the subtest above): nothing to check")
			}
			e.st.Client.TicketComment.Create().SetTenantID(demo).SetTicketID(mine.ID).SetBody("已安排补发").ExecX(sys())
			e.st.Client.TicketComment.Create().SetTenantID(demo).SetTicketID(mine.ID).SetBody("内部：客户多次投诉").SetInternal(true).ExecX(sys())
			r := e.post(t, l.Token, `{ myCustomer { tickets(first: 50) { edges { node { id comments(first: 50) { totalCount edges { node { body } } } } } } } }`, nil).ok(t)
			if !strings.Contains(string(r.Body), "已安排补发") || strings.Contains(string(r.Body), "内部") {
				t.Fatalf("comments: %s", r.Body)
			}
			r = e.post(t, l.Token, `{ myCustomer { tickets(first: 50) { edges { node { id assignee { name } } } } } }`, nil)
			if len(r.Errors) == 0 || r.Errors[0].code() != "FORBIDDEN" {
				t.Fatalf("assignee: %s", r.Body)
			}
		})

		t.Run("a form submission is theirs, and only theirs", func(t *testing.T) {
			f := e.st.Client.Form.Create().SetTenantID(demo).SetName("会员反馈").SetStatus(form.StatusPublished).
				SetFields([]schematype.FormField{{Key: "note", Label: "留言", Type: schematype.FormFieldText}}).SaveX(sys())
			r := e.post(t, l.Token, `mutation($f: ID!) { createFormSubmission(input: {formID: $f, data: {note: "很好"}}) { id } }`,
				map[string]any{"f": gid.Encode(f.ID)}).ok(t)
			var out struct {
				S struct{ ID string } `json:"createFormSubmission"`
			}
			r.decode(t, &out)
			s := e.st.Client.FormSubmission.GetX(sys(), decodeID(t, out.S.ID))
			if s.CustomerID == nil || *s.CustomerID != me.ID || s.SourceChannel != "MINI_PROGRAM" {
				t.Fatalf("submission %+v", s)
			}
			r = e.post(t, l.Token, `mutation($f: ID!, $c: ID) { createFormSubmission(input: {formID: $f, customerID: $c, data: {note: "冒充"}}) { id } }`,
				map[string]any{"f": gid.Encode(f.ID), "c": gid.Encode(other.ID)})
			if g := r.only(t); g.code() != "BAD_USER_INPUT" || g.field() != "customerID" {
				t.Fatalf("for another customer: %s", r.Body)
			}
		})

		t.Run("staff still see the tenant as before", func(t *testing.T) {
			r := e.post(t, e.token(t, "demo", "admin"), `{ customers(first: 1) { totalCount } myCustomer { id } }`, nil).ok(t)
			if !strings.Contains(string(r.Body), `"myCustomer":null`) {
				t.Fatalf("admin: %s", r.Body)
			}
		})
	})
}

func TestMiniProgramConnectorAccount(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.token(t, "acme", "admin")
		q := `mutation($in: CreateConnectorAccountInput!) { createConnectorAccount(input: $in) { id platform externalID secretsSet callbackURL } }`
		r := e.post(t, admin, q, map[string]any{"in": map[string]any{"platform": "WECHAT_MINIPROGRAM", "name": "acme 小程序",
			"appKey": "wx00000000000ace01", "secret": "acme-mini-secret"}}).ok(t)
		if !strings.Contains(string(r.Body), `"externalID":"wx00000000000ace01"`) || !strings.Contains(string(r.Body), `"secretsSet":["secret"]`) {
			t.Fatalf("created %s", r.Body)
		}
		for field, in := range map[string]map[string]any{
			"appKey": {"platform": "WECHAT_MINIPROGRAM", "name": "x", "appKey": "not-an-appid", "secret": "s"},
			"secret": {"platform": "WECHAT_MINIPROGRAM", "name": "x", "appKey": "wx00000000000ace02"},
			"shopID": {"platform": "WECHAT_MINIPROGRAM", "name": "x", "appKey": "wx00000000000ace03", "secret": "s", "shopID": "s1"},
		} {
			r := e.post(t, admin, q, map[string]any{"in": in})
			if g := r.only(t); g.code() != "BAD_USER_INPUT" || g.field() != field {
				t.Errorf("%s: %s", field, r.Body)
			}
		}
	})
}
