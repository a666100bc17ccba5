package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/internal/realtime"
)

// TestMutationEventsReachRedisOnTheKick: a GraphQL mutation commits its
// ticket and the ticket's event together, kicks the relay, and the relay
// (whose poll is an hour away, so only the kick can wake it) numbers the
// event and publishes it on the tenant's channel.
func TestMutationEventsReachRedisOnTheKick(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		tid := e.tenantID(t, "demo")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sub := e.rdb.Client.Subscribe(ctx, realtime.Channel(e.rdb.Client, tid))
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		relay := realtime.NewRelay(e.st.Client, e.rdb.Client, slog.New(slog.NewTextHandler(io.Discard, nil)))
		relay.Every = time.Hour
		done := make(chan struct{})
		go func() { defer close(done); relay.Run(ctx) }()
		defer func() { cancel(); <-done }()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			n, err := e.rdb.Client.PubSubNumSub(ctx, realtime.KickChannel(e.rdb.Client)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n[realtime.KickChannel(e.rdb.Client)] > 0 {
				break // the relay listens for kicks
			}
			if time.Now().After(deadline) {
				t.Fatal("the relay never subscribed to kicks")
			}
		}

		r := e.post(t, e.token(t, "demo", "agent1"), `mutation { createTicket(input: {title: "门店退货"}) { id } }`, nil).ok(t)
		var got struct{ CreateTicket struct{ ID string } }
		r.decode(t, &got)
		select {
		case m := <-sub.Channel():
			var msg realtime.Message
			if err := json.Unmarshal([]byte(m.Payload), &msg); err != nil {
				t.Fatal(err)
			}
			if msg.Kind != "CREATED" || msg.Topic != "TICKET" || msg.Seq < 1 || msg.Tenant != tid || msg.Actor == nil {
				t.Fatalf("message %+v", &msg)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no event published after the mutation")
		}
	})
}

// startRelay runs the event relay for e until the test ends.
func startRelay(t *testing.T, e *env) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	relay := realtime.NewRelay(e.st.Client, e.rdb.Client, slog.New(slog.NewTextHandler(io.Discard, nil)))
	relay.Every = 50 * time.Millisecond
	done := make(chan struct{})
	go func() { defer close(done); relay.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// subscribeTickets opens a WebSocket as login and subscribes to
// ticketUpdated with vars.
func subscribeTickets(t *testing.T, e *env, login string, vars map[string]any) *websocket.Conn {
	t.Helper()
	c := wsDial(t, e, "graphql-transport-ws")
	_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + e.token(t, "demo", login)}})
	wsNext(t, c, "connection_ack")
	_ = c.WriteJSON(wsMsg{Type: "subscribe", ID: "s", Payload: map[string]any{
		"query": `subscription($f: TicketEventFilter, $after: String) { ticketUpdated(filter: $f, after: $after) {
			cursor kind at actor { login } ticket { id title customer { phone } } } }`,
		"variables": vars,
	}})
	return c
}

type ticketEvent struct {
	Cursor, Kind string
	Actor        *struct{ Login string }
	Ticket       struct {
		ID, Title string
		Customer  *struct{ Phone string }
	}
}

func nextTicketEvent(t *testing.T, c *websocket.Conn) ticketEvent {
	t.Helper()
	m := wsNext(t, c, "next")
	var out struct{ TicketUpdated ticketEvent }
	raw, _ := json.Marshal(m.Payload["data"])
	if err := json.Unmarshal(raw, &out); err != nil || m.Payload["errors"] != nil {
		t.Fatalf("event %+v: %v", m.Payload, err)
	}
	return out.TicketUpdated
}

// TestTicketSubscription: an agent watching their tickets receives each
// change live, with the payload under their field permissions; changes in
// another tenant, or to tickets outside their scope, never reach them;
// reconnecting after a cursor replays what they missed, in order.
func TestTicketSubscription(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		startRelay(t, e)
		agent1, admin := e.token(t, "demo", "agent1"), e.token(t, "demo", "admin")
		acmeAdmin := e.token(t, "acme", "admin")
		// From the start of the tenant's log (empty: seeding writes no
		// events), so the test need not wait for the subscription to be
		// live before changing anything.
		c := subscribeTickets(t, e, "agent1", map[string]any{"f": map[string]any{"assignedToMe": true}, "after": "0"})

		create := func(tok, title string) string {
			r := e.post(t, tok, `mutation($t: String!) { createTicket(input: {title: $t}) { id } }`, map[string]any{"t": title}).ok(t)
			var got struct{ CreateTicket struct{ ID string } }
			r.decode(t, &got)
			return got.CreateTicket.ID
		}
		create(acmeAdmin, "acme 的工单")  // another tenant
		create(admin, "未分配的工单")        // demo, but not agent1's
		mine := create(agent1, "门店退货") // assigned to agent1 by the data layer
		ev := nextTicketEvent(t, c)
		if ev.Kind != "CREATED" || ev.Ticket.ID != mine || ev.Actor == nil || ev.Actor.Login != "agent1" {
			t.Fatalf("first event %+v: want agent1's own ticket, nothing of acme's or of others", ev)
		}
		e.post(t, agent1, `mutation($id: ID!) { transitionTicket(id: $id, to: IN_PROGRESS) { id } }`, map[string]any{"id": mine}).ok(t)
		e.post(t, agent1, `mutation($id: ID!) { addTicketComment(input: {ticketID: $id, body: "已联系"}) { id } }`, map[string]any{"id": mine}).ok(t)
		second, third := nextTicketEvent(t, c), nextTicketEvent(t, c)
		if second.Kind != "STATUS_CHANGED" || third.Kind != "COMMENTED" {
			t.Fatalf("then %s and %s", second.Kind, third.Kind)
		}
		c.Close()

		// Missed while away: a new title, resolving and closing; resuming
		// after the first event's cursor replays everything since, in order.
		e.post(t, agent1, `mutation($id: ID!) { updateTicket(id: $id, input: {title: "门店退货（已取件）"}) { id } }`, map[string]any{"id": mine}).ok(t)
		// The workflow closes an IN_PROGRESS ticket by way of RESOLVED.
		e.post(t, agent1, `mutation($id: ID!) { transitionTicket(id: $id, to: RESOLVED, comment: "已退款") { id } }`, map[string]any{"id": mine}).ok(t)
		e.post(t, agent1, `mutation($id: ID!) { transitionTicket(id: $id, to: CLOSED) { id } }`, map[string]any{"id": mine}).ok(t)
		r := subscribeTickets(t, e, "agent1", map[string]any{"f": map[string]any{"assignedToMe": true}, "after": ev.Cursor})
		var kinds []string
		last, _ := strconv.Atoi(ev.Cursor)
		for len(kinds) == 0 || kinds[len(kinds)-1] != "CLOSED" {
			got := nextTicketEvent(t, r)
			if n, _ := strconv.Atoi(got.Cursor); n <= last {
				t.Fatalf("cursor %s after %d: out of order or repeated", got.Cursor, last)
			} else {
				last = n
			}
			kinds = append(kinds, got.Kind)
		}
		// Besides these, the engine may update the ticket's SLA clock (an
		// UPDATED of its own) when a staff comment counts as a response;
		// closing posts the survey link (COMMENTED).
		var moves []string
		titled := false
		for _, k := range kinds {
			if k == "UPDATED" {
				titled = titled || len(moves) == 2 // between 已联系 and the resolving comment
				continue
			}
			moves = append(moves, k)
		}
		want := "STATUS_CHANGED COMMENTED COMMENTED STATUS_CHANGED COMMENTED CLOSED"
		if strings.Join(moves, " ") != want || !titled {
			t.Fatalf("replayed %v, want %s with the title's UPDATED after the first comment", kinds, want)
		}
	})
}

// TestOrderSubscription: an agent watching orders hears of their own
// customers' orders (created, then paid) and not of others'.
func TestOrderSubscription(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		startRelay(t, e)
		tid := e.tenantID(t, "demo")
		followedOnlyBy := func(login, other string) string {
			c := e.st.Client.Customer.Query().Where(customer.TenantID(tid),
				customer.HasFollowersWith(staff.Login(login), staff.TenantID(tid)),
				customer.Not(customer.HasFollowersWith(staff.Login(other), staff.TenantID(tid)))).
				FirstX(sys())
			return gid.Encode(c.ID)
		}
		mine, theirs := followedOnlyBy("agent1", "agent2"), followedOnlyBy("agent2", "agent1")

		c := wsDial(t, e, "graphql-transport-ws")
		_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + e.token(t, "demo", "agent1")}})
		wsNext(t, c, "connection_ack")
		_ = c.WriteJSON(wsMsg{Type: "subscribe", ID: "o", Payload: map[string]any{
			"query": `subscription { orderUpdated(after: "0") { cursor kind order { id status customer { id } } } }`,
		}})

		admin := e.token(t, "demo", "admin")
		order := func(customerID, number string) string {
			r := e.post(t, admin, `mutation($c: ID!, $n: String!) { createOrder(input: {platform: POS, shopID: "pos", platformOrderID: $n, totalAmount: 100, customerID: $c}) { id } }`,
				map[string]any{"c": customerID, "n": number}).ok(t)
			var got struct{ CreateOrder struct{ ID string } }
			r.decode(t, &got)
			return got.CreateOrder.ID
		}
		order(theirs, "RT-THEIRS")
		id := order(mine, "RT-MINE")
		e.post(t, admin, `mutation($id: ID!) { updateOrder(id: $id, input: {status: PAID, paidAmount: 100}) { id } }`, map[string]any{"id": id}).ok(t)
		var kinds []string
		for range 2 {
			m := wsNext(t, c, "next")
			raw, _ := json.Marshal(m.Payload["data"])
			var got struct {
				OrderUpdated struct {
					Kind  string
					Order struct {
						ID       string
						Customer struct{ ID string }
					}
				}
			}
			if err := json.Unmarshal(raw, &got); err != nil || m.Payload["errors"] != nil {
				t.Fatalf("event %+v", m.Payload)
			}
			if got.OrderUpdated.Order.ID != id || got.OrderUpdated.Order.Customer.ID != mine {
				t.Fatalf("agent1 heard of order %+v", got.OrderUpdated.Order)
			}
			kinds = append(kinds, got.OrderUpdated.Kind)
		}
		if strings.Join(kinds, " ") != "CREATED PAID" {
			t.Fatalf("kinds %v", kinds)
		}
	})
}

// TestCustomerTimeline: the customer detail page hears of tag changes,
// form submissions and orders of that customer, in order; a customer
// outside the subscriber's scope cannot be watched.
func TestCustomerTimeline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		startRelay(t, e)
		tid := e.tenantID(t, "demo")
		mineID := e.st.Client.Customer.Query().Where(customer.TenantID(tid),
			customer.HasFollowersWith(staff.Login("agent1"), staff.TenantID(tid)),
			customer.Not(customer.HasFollowersWith(staff.Login("agent2"), staff.TenantID(tid)))).FirstIDX(sys())
		mine := gid.Encode(mineID)
		theirs := gid.Encode(e.st.Client.Customer.Query().Where(customer.TenantID(tid),
			customer.Not(customer.HasFollowersWith(staff.Login("agent1"), staff.TenantID(tid)))).FirstIDX(sys()))
		survey := e.st.Client.Form.Query().Where(form.TenantID(tid), form.StatusEQ(form.StatusPublished)).FirstX(sys())
		tagID := e.st.Client.Tag.Query().Where(tag.TenantID(tid)).FirstIDX(sys())
		agent1 := e.token(t, "demo", "agent1")

		c := wsDial(t, e, "graphql-transport-ws")
		_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + agent1}})
		wsNext(t, c, "connection_ack")
		_ = c.WriteJSON(wsMsg{Type: "subscribe", ID: "hidden", Payload: map[string]any{
			"query": `subscription($c: ID!) { customerTimeline(customerID: $c) { cursor } }`, "variables": map[string]any{"c": theirs}}})
		// An execution error: a result carrying it, then the end.
		if m := wsNext(t, c, "next"); m.ID != "hidden" || !strings.Contains(fmt.Sprint(m.Payload["errors"]), "NOT_FOUND") {
			t.Fatalf("watching a customer outside the scope: %+v", m)
		}
		wsNext(t, c, "complete")
		_ = c.WriteJSON(wsMsg{Type: "subscribe", ID: "t", Payload: map[string]any{
			"query":     `subscription($c: ID!) { customerTimeline(customerID: $c, after: "0") { topic kind customer { id } order { id } formSubmission { id } } }`,
			"variables": map[string]any{"c": mine}}})

		e.post(t, agent1, `mutation($c: ID!, $t: ID!) { updateCustomer(id: $c, input: {addTagIDs: [$t]}) { id } }`,
			map[string]any{"c": mine, "t": gid.Encode(tagID)}).ok(t)
		data := map[string]any{}
		for _, f := range survey.Fields { // a valid answer to each required field
			switch {
			case !f.Required:
			case len(f.Options) > 0:
				data[f.Key] = f.Options[0]
			case f.Type == schematype.FormFieldCheckbox:
				data[f.Key] = true
			default:
				data[f.Key] = "好"
			}
		}
		e.post(t, agent1, `mutation($f: ID!, $c: ID!, $d: Map) { createFormSubmission(input: {formID: $f, customerID: $c, data: $d}) { id } }`,
			map[string]any{"f": gid.Encode(survey.ID), "c": mine, "d": data}).ok(t)
		e.post(t, e.token(t, "demo", "admin"), `mutation($c: ID!) { createOrder(input: {platform: POS, shopID: "pos", platformOrderID: "TL-1", totalAmount: 1, customerID: $c}) { id } }`,
			map[string]any{"c": mine}).ok(t)
		var got []string
		for range 3 {
			m := wsNext(t, c, "next")
			raw, _ := json.Marshal(m.Payload["data"])
			var ev struct {
				CustomerTimeline struct {
					Topic, Kind string
					Customer    struct{ ID string }
				}
			}
			if err := json.Unmarshal(raw, &ev); err != nil || m.Payload["errors"] != nil || ev.CustomerTimeline.Customer.ID != mine {
				t.Fatalf("timeline event %+v", m.Payload)
			}
			got = append(got, ev.CustomerTimeline.Topic+":"+ev.CustomerTimeline.Kind)
		}
		if strings.Join(got, " ") != "CUSTOMER:TAGS_CHANGED FORM_SUBMISSION:SUBMITTED ORDER:CREATED" {
			t.Fatalf("timeline %v", got)
		}
	})
}
