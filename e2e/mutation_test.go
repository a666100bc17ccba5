package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/orderitem"
)

func TestCreateAndUpdate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "agent1")
		count := func() int { return e.st.Client.Customer.Query().CountX(sys()) }

		t.Run("a valid customer is created in the caller's tenant", func(t *testing.T) {
			r := e.post(t, tok, `mutation($in: CreateCustomerInput!) { createCustomer(input: $in) { id name phone birthday gender } }`,
				map[string]any{"in": map[string]any{"name": "测试客户", "phone": "13800138000", "birthday": "1990-02-28", "gender": "FEMALE"}}).ok(t)
			var got struct {
				CreateCustomer struct{ ID, Name, Phone, Birthday, Gender string }
			}
			r.decode(t, &got)
			id, err := gid.Decode(got.CreateCustomer.ID)
			if err != nil {
				t.Fatal(err)
			}
			c := e.st.Client.Customer.GetX(sys(), id)
			if c.TenantID != e.tenantID(t, "demo") || c.Phone != "13800138000" || c.Birthday != "1990-02-28" {
				t.Errorf("stored %+v", c)
			}
		})

		bad := []struct {
			name, field string
			input       map[string]any
		}{
			{"a phone that is not a mainland mobile", "phone", map[string]any{"name": "x", "phone": "12345"}},
			{"an email without a domain", "email", map[string]any{"name": "x", "email": "someone@"}},
			{"a birthday that is no date", "birthday", map[string]any{"name": "x", "birthday": "1990-13-45"}},
			{"an unknown gender", "gender", map[string]any{"name": "x", "gender": "OTHER"}},
			{"negative points", "pointsBalance", map[string]any{"name": "x", "pointsBalance": -5}},
			{"an owner from nowhere", "ownerID", map[string]any{"name": "x", "ownerID": gid.Encode(1<<32*8 + 999999)}},
			{"an owner that is not staff", "ownerID", map[string]any{"name": "x", "ownerID": gid.Encode(1<<32 + 1)}},
			{"a malformed tag id", "tagIDs[0]", map[string]any{"name": "x", "tagIDs": []string{"not-an-id"}}},
		}
		for _, tc := range bad {
			t.Run("refuses "+tc.name+", naming the field and writing nothing", func(t *testing.T) {
				before := count()
				r := e.post(t, tok, `mutation($in: CreateCustomerInput!) { createCustomer(input: $in) { id } }`, map[string]any{"in": tc.input})
				err := r.only(t)
				if err.code() != "BAD_USER_INPUT" || err.field() != tc.field {
					t.Errorf("got code %q field %q (%s), want BAD_USER_INPUT %q", err.code(), err.field(), err.Message, tc.field)
				}
				if after := count(); after != before {
					t.Errorf("customers %d -> %d", before, after)
				}
			})
		}

		t.Run("update of a missing customer is NOT_FOUND", func(t *testing.T) {
			r := e.post(t, tok, `mutation($id: ID!) { updateCustomer(id: $id, input: {name: "x"}) { id } }`,
				map[string]any{"id": gid.Encode(1<<32 + 4000000)})
			if err := r.only(t); err.code() != "NOT_FOUND" {
				t.Errorf("got %+v", err)
			}
		})

		t.Run("a mutation is one transaction: a failing second step undoes the first", func(t *testing.T) {
			before := count()
			r := e.post(t, tok, `mutation {
				a: createCustomer(input: {name: "first of two"}) { id }
				b: createCustomer(input: {name: "second of two", phone: "bad"}) { id } }`, nil)
			if len(r.Errors) != 1 || r.Errors[0].field() != "phone" {
				t.Fatalf("got %s", r.Body)
			}
			if after := count(); after != before {
				t.Errorf("customers %d -> %d: the first write survived", before, after)
			}
		})
	})
}

func TestOrdersKeepCustomerTotals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "admin")
		r := e.post(t, tok, `mutation { createCustomer(input: {name: "买家"}) { id } }`, nil).ok(t)
		var c struct{ CreateCustomer struct{ ID string } }
		r.decode(t, &c)
		customerID := c.CreateCustomer.ID
		createOrder := `mutation($in: CreateOrderInput!) { createOrder(input: $in) { id status paidAmount items { sku quantity amount } } }`
		orderInput := func(platformID string, paid int, status string, items []map[string]any) map[string]any {
			return map[string]any{"in": map[string]any{
				"platform": "DOUYIN", "shopID": "dy-test", "platformOrderID": platformID, "status": status,
				"totalAmount": paid, "paidAmount": paid, "customerID": customerID, "placedAt": "2026-11-20T08:00:00Z",
				"items": items,
			}}
		}
		totals := func() (int, int) {
			r := e.post(t, tok, `query($id: ID!) { node(id: $id) { ... on Customer { totalSpend orderCount lastOrderAt } } }`,
				map[string]any{"id": customerID}).ok(t)
			var got struct {
				Node struct{ TotalSpend, OrderCount int }
			}
			r.decode(t, &got)
			return got.Node.TotalSpend, got.Node.OrderCount
		}
		uniq := e.backend + "-" + strings.ReplaceAll(t.Name(), "/", "-")

		r = e.post(t, tok, createOrder, orderInput(uniq+"-1", 12000, "PAID", []map[string]any{
			{"sku": "A", "name": "商品 A", "quantity": 2, "unitPrice": 5000},
			{"name": "运费险", "quantity": 1, "unitPrice": 2000},
		})).ok(t)
		var o struct {
			CreateOrder struct {
				ID    string
				Items []struct {
					Sku              string
					Quantity, Amount int
				}
			}
		}
		r.decode(t, &o)
		if len(o.CreateOrder.Items) != 2 || o.CreateOrder.Items[0].Amount != 10000 {
			t.Fatalf("items = %+v", o.CreateOrder.Items)
		}
		if spend, n := totals(); spend != 12000 || n != 1 {
			t.Fatalf("after one paid order: spend %d count %d", spend, n)
		}
		e.post(t, tok, createOrder, orderInput(uniq+"-2", 3000, "COMPLETED", nil)).ok(t)
		e.post(t, tok, createOrder, orderInput(uniq+"-3", 9999, "CREATED", nil)).ok(t)
		if spend, n := totals(); spend != 15000 || n != 2 {
			t.Fatalf("unpaid orders must not count: spend %d count %d", spend, n)
		}

		t.Run("a refund lowers the totals", func(t *testing.T) {
			e.post(t, tok, `mutation($id: ID!) { updateOrder(id: $id, input: {status: REFUNDED, refundedAmount: 12000}) { id } }`,
				map[string]any{"id": o.CreateOrder.ID}).ok(t)
			if spend, n := totals(); spend != 3000 || n != 1 {
				t.Fatalf("after the refund: spend %d count %d", spend, n)
			}
		})
		t.Run("a refund above the payment is refused", func(t *testing.T) {
			r := e.post(t, tok, `mutation($id: ID!) { updateOrder(id: $id, input: {refundedAmount: 99999}) { id } }`,
				map[string]any{"id": o.CreateOrder.ID})
			if err := r.only(t); err.code() != "BAD_USER_INPUT" || err.field() != "refundedAmount" {
				t.Errorf("got %+v", err)
			}
		})
		t.Run("a re-delivered order is a CONFLICT naming platformOrderID", func(t *testing.T) {
			r := e.post(t, tok, createOrder, orderInput(uniq+"-2", 3000, "COMPLETED", nil))
			if err := r.only(t); err.code() != "CONFLICT" || err.field() != "platformOrderID" {
				t.Errorf("got %+v", err)
			}
		})
		t.Run("a bad line names it and writes neither order nor lines", func(t *testing.T) {
			orders := e.st.Client.Order.Query().CountX(sys())
			items := e.st.Client.OrderItem.Query().CountX(sys())
			r := e.post(t, tok, createOrder, orderInput(uniq+"-4", 100, "PAID", []map[string]any{
				{"name": "ok", "quantity": 1, "unitPrice": 100},
				{"name": "bad", "quantity": 0, "unitPrice": 100},
			}))
			if err := r.only(t); err.code() != "BAD_USER_INPUT" || err.field() != "items[1].quantity" {
				t.Errorf("got %+v", err)
			}
			if e.st.Client.Order.Query().CountX(sys()) != orders || e.st.Client.OrderItem.Query().CountX(sys()) != items {
				t.Error("something was written")
			}
		})
		t.Run("the stored totals match the orders", func(t *testing.T) {
			id, _ := gid.Decode(customerID)
			var want int64
			for _, o := range e.st.Client.Order.Query().Where(order.CustomerID(id)).AllX(sys()) {
				if o.Status != order.StatusCreated && o.Status != order.StatusCancelled {
					want += o.PaidAmount - o.RefundedAmount
				}
			}
			got := e.st.Client.Customer.Query().Where(customer.ID(id)).OnlyX(sys())
			if got.TotalSpend != want {
				t.Errorf("stored %d, orders say %d", got.TotalSpend, want)
			}
			if n := e.st.Client.OrderItem.Query().Where(orderitem.HasOrderWith(order.CustomerID(id))).CountX(sys()); n != 2 {
				t.Errorf("%d lines stored, want 2", n)
			}
		})
	})
}

func TestTicketsAndComments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "agent1")
		numbers := map[string]bool{}
		var ticketID string
		for i := range 3 {
			r := e.post(t, tok, `mutation($in: CreateTicketInput!) { createTicket(input: $in) { id number status } }`,
				map[string]any{"in": map[string]any{"title": fmt.Sprintf("退货 %d", i), "priority": "HIGH"}}).ok(t)
			var got struct {
				CreateTicket struct{ ID, Number, Status string }
			}
			r.decode(t, &got)
			if !strings.HasPrefix(got.CreateTicket.Number, "T-") || numbers[got.CreateTicket.Number] {
				t.Fatalf("number %q (seen: %v)", got.CreateTicket.Number, numbers)
			}
			numbers[got.CreateTicket.Number] = true
			ticketID = got.CreateTicket.ID
		}
		r := e.post(t, tok, `mutation($id: ID!) { addTicketComment(input: {ticketID: $id, body: "已联系客户", internal: true}) { body internal author { login } } }`,
			map[string]any{"id": ticketID}).ok(t)
		var c struct {
			AddTicketComment struct {
				Body     string
				Internal bool
				Author   struct{ Login string }
			}
		}
		r.decode(t, &c)
		if c.AddTicketComment.Author.Login != "agent1" || !c.AddTicketComment.Internal {
			t.Errorf("comment = %+v", c.AddTicketComment)
		}
		// Status moves go through the workflow: resolving needs a comment.
		r = e.post(t, tok, `mutation($id: ID!) { transitionTicket(id: $id, to: RESOLVED, comment: "已退款") { status resolvedAt } }`,
			map[string]any{"id": ticketID}).ok(t)
		var u struct {
			TransitionTicket struct{ Status, ResolvedAt string }
		}
		r.decode(t, &u)
		if u.TransitionTicket.Status != "RESOLVED" || u.TransitionTicket.ResolvedAt == "" {
			t.Errorf("resolving: %+v, want RESOLVED with resolvedAt stamped", u.TransitionTicket)
		}
		r = e.post(t, tok, `mutation($id: ID!) { updateTicket(id: $id, input: {title: ""}) { id } }`, map[string]any{"id": ticketID})
		if err := r.only(t); err.code() != "BAD_USER_INPUT" || err.field() != "title" {
			t.Errorf("empty title: %+v", err)
		}
	})
}

func TestFormsValidateAnswers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "admin")
		r := e.post(t, tok, `mutation { createForm(input: {name: "到店评价", status: PUBLISHED, fields: [
			{key: "score", label: "评分", type: SELECT, required: true, options: ["1","2","3"]},
			{key: "visit", label: "到店日期", type: DATE}]}) { id version } }`, nil).ok(t)
		var f struct{ CreateForm struct{ ID string } }
		r.decode(t, &f)
		submit := func(data map[string]any) *response {
			return e.post(t, tok, `mutation($in: CreateFormSubmissionInput!) { createFormSubmission(input: $in) { formVersion status submittedAt } }`,
				map[string]any{"in": map[string]any{"formID": f.CreateForm.ID, "data": data}})
		}
		submit(map[string]any{"score": "3", "visit": "2026-11-01"}).ok(t)
		for _, tc := range []struct {
			data  map[string]any
			field string
		}{
			{map[string]any{"visit": "2026-11-01"}, "data.score"},
			{map[string]any{"score": "9"}, "data.score"},
			{map[string]any{"score": "1", "visit": "yesterday"}, "data.visit"},
			{map[string]any{"score": "1", "extra": true}, "data.extra"},
		} {
			if err := submit(tc.data).only(t); err.code() != "BAD_USER_INPUT" || err.field() != tc.field {
				t.Errorf("%v: got %+v, want field %s", tc.data, err, tc.field)
			}
		}
		r = e.post(t, tok, `mutation { createForm(input: {name: "坏表单", fields: [{key: "a", label: "A", type: SELECT}]}) { id } }`, nil)
		if err := r.only(t); err.field() != "fields[0].options" {
			t.Errorf("select without options: %+v", err)
		}
		r = e.post(t, tok, `mutation($id: ID!) { updateForm(id: $id, input: {fields: [{key: "score", label: "评分", type: SELECT, required: true, options: ["1","2","3"]}, {key: "visit", label: "到店日期", type: DATE}, {key: "note", label: "备注", type: TEXT}]}) { version fields { key } } }`,
			map[string]any{"id": f.CreateForm.ID}).ok(t)
		var u struct {
			UpdateForm struct {
				Version int
				Fields  []struct{ Key string }
			}
		}
		r.decode(t, &u)
		if u.UpdateForm.Version != 2 || len(u.UpdateForm.Fields) != 3 {
			t.Errorf("after a published form changed: %+v", u.UpdateForm)
		}
	})
}

func TestInternalErrorsDoNotLeak(t *testing.T) {
	for _, backend := range []string{"sqlite", "mariadb"} {
		t.Run(backend, func(t *testing.T) {
			e := fresh(t, backend)
			tok := e.token(t, "demo", "admin")
			e.st.DB.Close() // the database goes away under the server
			r := e.post(t, tok, `{ customers(first: 1) { edges { node { id } } } }`, nil)
			// Signing the viewer in already needs the database: the
			// request fails before execution, as a server error.
			if r.Status != http.StatusInternalServerError {
				t.Fatalf("status %d", r.Status)
			}
			err := r.only(t)
			id, _ := err.Extensions["requestId"].(string)
			if err.code() != "INTERNAL" || id == "" || !strings.Contains(err.Message, id) {
				t.Fatalf("got %+v", err)
			}
			for _, leak := range []string{"sql", "SELECT", "database", "goroutine", ".go:"} {
				if strings.Contains(string(r.Body), leak) {
					t.Errorf("response leaks %q: %s", leak, r.Body)
				}
			}
			if !strings.Contains(e.logs.String(), id) || !strings.Contains(e.logs.String(), "sql: database is closed") {
				t.Errorf("the log lacks the request id or the cause:\n%s", e.logs.String())
			}
		})
	}
}
