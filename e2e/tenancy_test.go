package e2e_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/ticketapproval"
)

// rowsOf returns the encoded ids of a tenant's rows of every node type.
// notInAPI are the ent types GraphQL does not expose: policy lines (their
// domain names the tenant) and the event outbox (delivered by
// subscriptions).
var notInAPI = map[string]bool{"CasbinRule": true, "Event": true}

func rowsOf(t *testing.T, e *env, tenantID int) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for typ, table := range ent.NodeTables {
		if notInAPI[typ] {
			continue
		}
		column := "tenant_id"
		if typ == "Tenant" {
			column = "id"
		}
		rows, err := e.st.DB.QueryContext(context.Background(), fmt.Sprintf("SELECT id FROM %s WHERE %s = ? ORDER BY id", table, column), tenantID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			out[typ] = append(out[typ], gid.Encode(id))
		}
		rows.Close()
	}
	return out
}

type schemaField struct {
	Name string
	Args []struct{ Name string }
	Type struct {
		Name, Kind string
		OfType     *struct{ Name, Kind string }
	}
}

func (f schemaField) typeName() string {
	if f.Type.OfType != nil {
		return f.Type.OfType.Name
	}
	return f.Type.Name
}

func rootFields(t *testing.T, e *env, token, root string) []schemaField {
	t.Helper()
	r := e.post(t, token, fmt.Sprintf(`{ __schema { %s { fields { name args { name } type { name kind ofType { name kind } } } } } }`, root), nil).ok(t)
	var got struct {
		Schema map[string]struct{ Fields []schemaField } `json:"__schema"`
	}
	r.decode(t, &got)
	return got.Schema[root].Fields
}

// TestTenantIsolation signs in to tenant demo and tries every root field,
// node lookup and update mutation against tenant acme's rows.
func TestTenantIsolation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "admin")
		// The seed opens tickets around the workflow engine: acme gets a
		// ticket's history and an approval waiting for a supervisor (as
		// demo's sup1 is) through its own API.
		acmeWaitingApproval(t, e)
		mine := rowsOf(t, e, e.tenantID(t, "demo"))
		theirs := rowsOf(t, e, e.tenantID(t, "acme"))
		var theirIDs []string
		for typ := range ent.NodeTables {
			if !notInAPI[typ] && len(theirs[typ]) == 0 {
				t.Fatalf("acme has no %s rows; the walk would prove nothing", typ)
			}
			theirIDs = append(theirIDs, theirs[typ]...)
		}
		slices.Sort(theirIDs)
		isTheirs := func(id string) bool { _, found := slices.BinarySearch(theirIDs, id); return found }

		walked := 0
		for _, f := range rootFields(t, e, tok, "queryType") {
			t.Run("query "+f.Name, func(t *testing.T) {
				switch {
				case strings.HasSuffix(f.typeName(), "Connection"):
					walked++
					typ := strings.TrimSuffix(f.typeName(), "Connection")
					r := e.post(t, tok, fmt.Sprintf(`{ %s(first: 100) { totalCount edges { node { id } } } }`, f.Name), nil).ok(t)
					for _, id := range collectIDs(r.Data) {
						if isTheirs(id) {
							t.Fatalf("%s returned acme's %s", f.Name, id)
						}
					}
					var got map[string]struct{ TotalCount int }
					r.decode(t, &got)
					if got[f.Name].TotalCount != len(mine[typ]) {
						t.Errorf("totalCount %d, demo has %d %s rows", got[f.Name].TotalCount, len(mine[typ]), typ)
					}
				case f.Name == "node":
					walked++
					for typ, ids := range theirs {
						for _, id := range ids[:min(len(ids), 15)] {
							r := e.post(t, tok, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
							if string(r.Data) != `{"node":null}` {
								t.Fatalf("node(%s) of acme's %s: %s", id, typ, r.Body)
							}
						}
					}
				case f.Name == "nodes":
					walked++
					r := e.post(t, tok, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": theirIDs})
					if ids := collectIDs(r.Data); len(ids) != 0 {
						t.Fatalf("nodes returned %d of acme's rows", len(ids))
					}
				case f.Name == "tenant" || f.Name == "me":
					walked++
					r := e.post(t, tok, fmt.Sprintf(`{ %s { id } }`, f.Name), nil).ok(t)
					for _, id := range collectIDs(r.Data) {
						if isTheirs(id) {
							t.Fatalf("%s is acme's", f.Name)
						}
					}
				case f.Name == "roles" || f.Name == "policies":
					walked++
					// acme has a role of its own; demo must not see it.
					acme := e.tenantID(t, "acme")
					if !e.az.RoleExists(acme, "acme_only") {
						if err := e.az.DefineRole(sys(), e.st.Client, acme, "acme_only", []string{"agent"}); err != nil {
							t.Fatal(err)
						}
					}
					r := e.post(t, tok, `{ roles { name } policies { role } }`, nil).ok(t)
					if strings.Contains(string(r.Data), "acme_only") || !strings.Contains(string(r.Data), `"agent"`) {
						t.Fatalf("demo's roles and policies: %s", r.Data)
					}
				case f.Name == "customersByPhone":
					walked++
					their := e.st.Client.Customer.Query().
						Where(customer.TenantID(e.tenantID(t, "acme")), customer.PhoneIndexNotNil()).
						FirstX(sys())
					r := e.post(t, tok, `query($p: String!) { customersByPhone(phone: $p) { id } }`, map[string]any{"p": their.Phone}).ok(t)
					for _, id := range collectIDs(r.Data) {
						if isTheirs(id) {
							t.Fatalf("customersByPhone(%s) returned acme's %s", their.Phone, id)
						}
					}
				case f.Name == "verifyAuditChain":
					walked++
					r := e.post(t, tok, `{ verifyAuditChain { ok checked } }`, nil).ok(t)
					var got struct {
						VerifyAuditChain struct {
							OK      bool
							Checked int
						}
					}
					r.decode(t, &got)
					var n int
					if err := e.st.DB.QueryRow("SELECT COUNT(*) FROM audit_logs WHERE tenant_id = ?", e.tenantID(t, "demo")).Scan(&n); err != nil {
						t.Fatal(err)
					}
					if !got.VerifyAuditChain.OK || got.VerifyAuditChain.Checked != n {
						t.Fatalf("verifyAuditChain %+v; demo has %d entries", got.VerifyAuditChain, n)
					}
				case f.Name == "myApprovals":
					walked++
					// sup1 is a supervisor, as acme's approval asks for.
					for _, login := range []string{"sup1", "admin"} {
						r := e.post(t, e.token(t, "demo", login), `{ myApprovals { id ticketID ticket { id } requestedBy { id } } }`, nil).ok(t)
						for _, id := range collectIDs(r.Data) {
							if isTheirs(id) {
								t.Fatalf("%s's myApprovals lists acme's %s: %s", login, id, r.Data)
							}
						}
					}
				case f.Name == "ticketMetrics":
					walked++
					tenantTicketMetrics(t, e, tok, theirs, isTheirs)
				case f.Name == "jobQueues":
					walked++
					// Queue counts are the deployment's; listed jobs are the
					// tenant's (TestConnectorAccounts checks the listing).
					e.post(t, tok, `{ jobQueues { name deadJobs(first: 5) { id } } }`, nil).ok(t)
				case f.Name == "webhookEventKinds":
					walked++
					// The product's catalogue: the same for every tenant.
					e.post(t, tok, `{ webhookEventKinds }`, nil).ok(t)
				case f.Name == "myCustomer":
					walked++
					// A customer's own record: staff have none, and customer
					// tokens are confined to their own row (TestCustomer*).
					r := e.post(t, tok, `{ myCustomer { id } }`, nil).ok(t)
					if strings.Contains(string(r.Data), `"id"`) {
						t.Fatalf("a staff member's myCustomer: %s", r.Data)
					}
				case strings.HasPrefix(f.Name, "__"):
				default:
					t.Fatalf("root field %s is not covered by the isolation walk", f.Name)
				}
			})
		}
		if walked < 12 {
			t.Fatalf("walked only %d root fields", walked)
		}

		for _, f := range rootFields(t, e, tok, "mutationType") {
			if !strings.HasPrefix(f.Name, "update") || !slices.ContainsFunc(f.Args, func(a struct{ Name string }) bool { return a.Name == "id" }) {
				continue
			}
			typ := strings.TrimPrefix(f.Name, "update")
			t.Run("mutation "+f.Name, func(t *testing.T) {
				ids := theirs[typ]
				if len(ids) == 0 {
					t.Fatalf("no acme %s rows to try", typ)
				}
				r := e.post(t, tok, fmt.Sprintf(`mutation($id: ID!) { %s(id: $id, input: {}) { id } }`, f.Name), map[string]any{"id": ids[0]})
				if err := r.only(t); err.code() != "NOT_FOUND" {
					t.Errorf("updating acme's %s: %+v", typ, err)
				}
			})
		}

		t.Run("links to another tenant's rows are refused", func(t *testing.T) {
			for _, tc := range []struct{ mutation, field string }{
				{fmt.Sprintf(`mutation { createOrder(input: {platform: POS, shopID: "x", platformOrderID: "iso-%s", totalAmount: 1, customerID: %q}) { id } }`, e.backend, theirs["Customer"][0]), "customerID"},
				{fmt.Sprintf(`mutation { addTicketComment(input: {ticketID: %q, body: "hi"}) { id } }`, theirs["Ticket"][0]), "ticketID"},
				{fmt.Sprintf(`mutation { updateCustomer(id: %q, input: {addTagIDs: [%q]}) { id } }`, mine["Customer"][0], theirs["Tag"][0]), "addTagIDs"},
				{fmt.Sprintf(`mutation { createStaff(input: {login: "iso-%s", name: "x", departmentIDs: [%q]}) { id } }`, e.backend, theirs["Department"][0]), "departmentIDs"},
			} {
				r := e.post(t, tok, tc.mutation, nil)
				if err := r.only(t); err.code() != "BAD_USER_INPUT" || err.field() != tc.field {
					t.Errorf("%s\ngot %+v", tc.mutation, err)
				}
			}
		})

		t.Run("ticket work on another tenant's rows is NOT_FOUND", func(t *testing.T) {
			ticketID, approvalID := theirs["Ticket"][len(theirs["Ticket"])-1], theirs["TicketApproval"][0]
			for _, tc := range []struct {
				mutation string
				vars     map[string]any
			}{
				{`mutation($id: ID!) { deleteSLAPolicy(id: $id) }`, map[string]any{"id": theirs["SLAPolicy"][0]}},
				{`mutation($id: ID!) { transitionTicket(id: $id, to: IN_PROGRESS) { id } }`, map[string]any{"id": ticketID}},
				{`mutation($id: ID!, $s: ID) { assignTicket(id: $id, staffID: $s) { id } }`, map[string]any{"id": ticketID, "s": mine["Staff"][0]}},
				{`mutation($id: ID!) { assignTicket(id: $id) { id } }`, map[string]any{"id": ticketID}},
				{`mutation($id: ID!) { claimTicket(id: $id) { id } }`, map[string]any{"id": ticketID}},
				{`mutation($id: ID!) { routeTicket(id: $id) { id } }`, map[string]any{"id": ticketID}},
				{`mutation($id: ID!) { decideApproval(id: $id, approve: true) { id } }`, map[string]any{"id": approvalID}},
			} {
				r := e.post(t, tok, tc.mutation, tc.vars)
				if err := r.only(t); err.code() != "NOT_FOUND" {
					t.Errorf("%s on acme's row: %+v", tc.mutation, err)
				}
			}
			// demo's sup1 is a supervisor, as acme's approval asks for.
			r := e.post(t, e.token(t, "demo", "sup1"), `mutation($id: ID!) { decideApproval(id: $id, approve: true) { id } }`,
				map[string]any{"id": approvalID})
			if err := r.only(t); err.code() != "NOT_FOUND" {
				t.Errorf("sup1 decides acme's approval: %+v", err)
			}
		})

		t.Run("workflow links to another tenant's rows are refused", func(t *testing.T) {
			for _, tc := range []struct {
				mutation string
				vars     map[string]any
				field    string
			}{
				{`mutation($f: ID!) { createTicketType(input: {key: "ISO_SURVEY", name: "跨租户问卷", surveyFormID: $f}) { id } }`,
					map[string]any{"f": theirs["Form"][0]}, "surveyFormID"},
				{`mutation($id: ID!, $f: ID!) { updateTicketType(id: $id, input: {surveyFormID: $f}) { id } }`,
					map[string]any{"id": mine["TicketType"][0], "f": theirs["Form"][0]}, "surveyFormID"},
				{`mutation($c: ID!) { createSLAPolicy(input: {name: "跨租户日历", calendarID: $c, targets: {resolution: "8h"}}) { id } }`,
					map[string]any{"c": theirs["BusinessCalendar"][0]}, "calendarID"},
				{`mutation($id: ID!, $c: ID!) { updateSLAPolicy(id: $id, input: {calendarID: $c}) { id } }`,
					map[string]any{"id": mine["SLAPolicy"][0], "c": theirs["BusinessCalendar"][0]}, "calendarID"},
				{`mutation($type: ID!) { createTicket(input: {title: "跨租户类型", ticketTypeID: $type}) { id } }`,
					map[string]any{"type": theirs["TicketType"][0]}, "ticketTypeID"},
				{`mutation($id: ID!, $type: ID!) { updateForm(id: $id, input: {ticketTypeID: $type}) { id } }`,
					map[string]any{"id": mine["Form"][0], "type": theirs["TicketType"][0]}, "ticketTypeID"},
				{`mutation($id: ID!, $c: ID!) { updateDepartment(id: $id, input: {calendarID: $c}) { id } }`,
					map[string]any{"id": mine["Department"][0], "c": theirs["BusinessCalendar"][0]}, "calendarID"},
				{`mutation($id: ID!, $s: ID!) { updateDepartment(id: $id, input: {leaderID: $s}) { id } }`,
					map[string]any{"id": mine["Department"][0], "s": theirs["Staff"][0]}, "leaderID"},
				{`mutation($id: ID!, $s: ID!) { assignTicket(id: $id, staffID: $s) { id } }`,
					map[string]any{"id": mine["Ticket"][0], "s": theirs["Staff"][0]}, "staffID"},
			} {
				r := e.post(t, tok, tc.mutation, tc.vars)
				if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != tc.field {
					t.Errorf("%s\ngot %s, want BAD_USER_INPUT on %s", tc.mutation, r.Body, tc.field)
				}
			}
		})
		t.Run("an SLA condition naming another tenant's ticket type is refused", func(t *testing.T) {
			r := e.post(t, tok, `mutation($type: ID!) { createSLAPolicy(input: {name: "跨租户类型", condition: {typeIDs: [$type]},
				targets: {resolution: "8h"}}) { id } }`, map[string]any{"type": theirs["TicketType"][0]})
			if len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "condition.typeIDs" {
				t.Errorf("got %s, want BAD_USER_INPUT on condition.typeIDs", r.Body)
			}
		})

		t.Run("acme's rows are untouched", func(t *testing.T) {
			if after := rowsOf(t, e, e.tenantID(t, "acme")); fmt.Sprint(after) != fmt.Sprint(theirs) {
				t.Error("acme's rows changed")
			}
		})
	})
}

// acmeWaitingApproval gives acme, through its API, a refund ticket waiting
// for a supervisor's approval (with its history), once per environment.
func acmeWaitingApproval(t *testing.T, e *env) {
	t.Helper()
	if n := e.st.Client.TicketApproval.Query().Where(ticketapproval.TenantID(e.tenantID(t, "acme"))).CountX(sys()); n > 0 {
		return
	}
	admin, agent := e.token(t, "acme", "admin"), e.token(t, "acme", "agent1")
	var types struct {
		TicketTypes struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.post(t, admin, `{ ticketTypes(first: 1, where: {key: "REFUND"}) { edges { node { id } } } }`, nil).ok(t).decode(t, &types)
	if len(types.TicketTypes.Edges) != 1 {
		t.Fatalf("acme's REFUND type: %+v", types)
	}
	var opened struct{ CreateTicket struct{ ID string } }
	e.post(t, agent, `mutation($type: ID!) { createTicket(input: {title: "申请退款：未收到货", ticketTypeID: $type}) { id } }`,
		map[string]any{"type": types.TicketTypes.Edges[0].Node.ID}).ok(t).decode(t, &opened)
	var moved struct{ TransitionTicket struct{ Status string } }
	e.post(t, agent, `mutation($id: ID!) { transitionTicket(id: $id, to: RESOLVED, comment: "未收到货，同意退款",
		customFields: {refund_amount: 25900}) { status } }`, map[string]any{"id": opened.CreateTicket.ID}).ok(t).decode(t, &moved)
	if moved.TransitionTicket.Status != "PENDING_APPROVAL" {
		t.Fatalf("acme's refund is %s, want PENDING_APPROVAL", moved.TransitionTicket.Status)
	}
}

// tenantTicketMetrics checks that demo's metrics count demo's tickets
// only, and that naming acme's teams finds nothing of theirs.
func tenantTicketMetrics(t *testing.T, e *env, tok string, theirs map[string][]string, isTheirs func(string) bool) {
	t.Helper()
	tid := e.tenantID(t, "demo")
	to := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	from := to.Add(-390 * 24 * time.Hour)
	const q = `query($from: Time!, $to: Time!, $teams: [ID!]) { ticketMetrics(from: $from, to: $to, teamIDs: $teams) {
		opened backlog { team { id } total } csatByAgent { staff { id } count } } }`
	type metrics struct {
		TicketMetrics struct {
			Opened  int
			Backlog []struct {
				Team  *struct{ ID string }
				Total int
			}
			CsatByAgent []struct {
				Staff struct{ ID string }
				Count int
			}
		}
	}
	var got metrics
	r := e.post(t, tok, q, map[string]any{"from": from, "to": to}).ok(t)
	r.decode(t, &got)
	for _, id := range collectIDs(r.Data) {
		if isTheirs(id) {
			t.Fatalf("ticketMetrics names acme's %s: %s", id, r.Data)
		}
	}
	opened := e.st.Client.Ticket.Query().Where(ticket.TenantID(tid), ticket.CreatedAtGTE(from), ticket.CreatedAtLT(to)).CountX(sys())
	open := e.st.Client.Ticket.Query().Where(ticket.TenantID(tid), ticket.StatusNotIn(ticket.StatusResolved, ticket.StatusClosed)).CountX(sys())
	backlog := 0
	for _, b := range got.TicketMetrics.Backlog {
		backlog += b.Total
	}
	if got.TicketMetrics.Opened != opened || backlog != open {
		t.Errorf("opened %d, backlog %d; demo has %d tickets in the range, %d open", got.TicketMetrics.Opened, backlog, opened, open)
	}

	// acme's teams, named by demo: nothing of acme's is counted.
	r = e.post(t, tok, q, map[string]any{"from": from, "to": to, "teams": theirs["Department"]})
	if len(r.Errors) > 0 {
		if err := r.only(t); err.code() != "BAD_USER_INPUT" && err.code() != "NOT_FOUND" {
			t.Fatalf("acme's teams: %+v", err)
		}
		return
	}
	got = metrics{}
	r.decode(t, &got)
	if got.TicketMetrics.Opened != 0 || len(got.TicketMetrics.Backlog) != 0 || len(got.TicketMetrics.CsatByAgent) != 0 {
		t.Errorf("demo's metrics of acme's teams: %s", r.Data)
	}
}
