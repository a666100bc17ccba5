package e2e_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/staff"
)

// TestLiveUpdatesShareResultsOnlyWhenTheyMay: subscribers running the
// same subscription with the same permissions and scope share one
// execution per event (wsgraphql groups) and get identical payloads; a
// subscriber with other permissions gets its own (masked) result; and an
// execution that reads personal data unmasked is audited for every
// viewer, never shared.
func TestLiveUpdatesShareResultsOnlyWhenTheyMay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		startRelay(t, e)
		tid := e.tenantID(t, "demo")
		// From the start of the (empty) log: no need to wait until live.
		query := `subscription { orderUpdated(after: "0") { cursor kind order { platformOrderID customer { phone } } } }`
		subscribe := func(login string) func() map[string]any {
			c := wsDial(t, e, "graphql-transport-ws")
			_ = c.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + e.token(t, "demo", login)}})
			wsNext(t, c, "connection_ack")
			_ = c.WriteJSON(wsMsg{Type: "subscribe", ID: "o", Payload: map[string]any{"query": query, "variables": map[string]any{}}})
			return func() map[string]any { return wsNext(t, c, "next").Payload }
		}
		admin1, admin2, agent := subscribe("admin"), subscribe("admin"), subscribe("agent1")
		customer := e.st.Client.Customer.Query().Where(customer.TenantID(tid),
			customer.HasFollowersWith(staff.Login("agent1"), staff.TenantID(tid))).FirstX(sys())
		audited := func() int {
			return e.st.Client.AuditLog.Query().Where(auditlog.TenantID(tid), auditlog.ActionEQ(auditlog.ActionRead),
				auditlog.ObjectType("Customer")).CountX(sys())
		}
		before := audited()
		e.post(t, e.token(t, "demo", "admin"), `mutation($c: ID!) { createOrder(input: {platform: POS, shopID: "pos", platformOrderID: "SHARED-1", totalAmount: 100, customerID: $c}) { id } }`,
			map[string]any{"c": gid.Encode(customer.ID)}).ok(t)
		p1, p2, p3 := admin1(), admin2(), agent()
		j1, _ := json.Marshal(p1)
		j2, _ := json.Marshal(p2)
		j3, _ := json.Marshal(p3)
		if string(j1) != string(j2) {
			t.Fatalf("two admins got different payloads:\n%s\n%s", j1, j2)
		}
		if !regexp.MustCompile(`"phone":"1\d{10}"`).Match(j1) {
			t.Fatalf("the admins' payload has no full phone: %s", j1)
		}
		if regexp.MustCompile(`"phone":"1\d{10}"`).Match(j3) {
			t.Fatalf("an agent got the admins' unmasked phone: %s", j3)
		}
		if !regexp.MustCompile(`"phone":"1\d{2}\*{4}\d{4}"`).Match(j3) {
			t.Fatalf("the agent's payload has no masked phone: %s", j3)
		}
		// Each admin's unmasked read of the phone is audited (flushed as
		// each payload is sent).
		if got := audited() - before; got != 2 {
			t.Fatalf("%d audited reads for two admins' deliveries, want 2", got)
		}
		executed, shared := e.sockets.Stats()
		if executed != 3 || shared != 0 {
			t.Fatalf("audited payloads: %d executed, %d shared; want each executed for its viewer", executed, shared)
		}

		// Without personal data, the two admins share one execution.
		query = `subscription { orderUpdated(after: "1") { cursor kind order { platformOrderID } } }`
		second1, second2 := subscribe("admin"), subscribe("admin")
		e.post(t, e.token(t, "demo", "admin"), `mutation($c: ID!) { createOrder(input: {platform: POS, shopID: "pos", platformOrderID: "SHARED-2", totalAmount: 100, customerID: $c}) { id } }`,
			map[string]any{"c": gid.Encode(customer.ID)}).ok(t)
		q1, _ := json.Marshal(second1())
		q2, _ := json.Marshal(second2())
		if string(q1) != string(q2) || !regexp.MustCompile(`SHARED-2`).Match(q1) {
			t.Fatalf("shared payloads differ or miss the order:\n%s\n%s", q1, q2)
		}
		for _, next := range []func() map[string]any{admin1, admin2, agent} {
			next() // the first three subscribers hear of SHARED-2 too
		}
		executed2, shared2 := e.sockets.Stats()
		if executed2-executed >= 5 || shared2-shared == 0 {
			t.Fatalf("the second order: %d executed, %d shared among 5 subscribers (3 with personal data, 2 without)",
				executed2-executed, shared2-shared)
		}
	})
}
