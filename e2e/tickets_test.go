package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent/gid"
)

// The ticket workflow engine through the public API: the type's state
// machine, history, routing and SLAs, who may assign, claim and approve,
// approvals with an amount threshold, configuration checks, the
// satisfaction survey and supervisors' metrics.

// tkFields is what these tests read of a ticket.
const tkFields = `id number status assigneeID assignmentReason createdAt resolvedAt closedAt
	firstResponseDueAt resolutionDueAt csat csatComment slaPolicy { name } ticketType { key }
	changes(first: 50) { totalCount edges { node { kind field before after note actor { id } } } }
	comments(first: 50) { totalCount edges { node { body internal } } }
	approvals { id status requiredApprovals requestedByID decisions { staffID approved comment } }`

type tkChange struct {
	Kind, Field, Before, After, Note string
	Actor                            *struct{ ID string }
}

type tkApproval struct {
	ID, Status        string
	RequiredApprovals int
	RequestedByID     *string
	Decisions         []struct {
		StaffID  string
		Approved bool
		Comment  *string
	}
}

type tk struct {
	ID, Number, Status, AssignmentReason, CreatedAt string
	AssigneeID, ResolvedAt, ClosedAt                *string
	FirstResponseDueAt, ResolutionDueAt             *string
	Csat                                            *int
	CsatComment                                     string
	SLAPolicy                                       *struct{ Name string }
	TicketType                                      *struct{ Key string }
	Changes                                         struct {
		TotalCount int
		Edges      []struct{ Node tkChange }
	}
	Comments struct {
		TotalCount int
		Edges      []struct {
			Node struct {
				Body     string
				Internal bool
			}
		}
	}
	Approvals []tkApproval
}

func (t tk) changes() []tkChange {
	out := make([]tkChange, len(t.Changes.Edges))
	for i, e := range t.Changes.Edges {
		out[i] = e.Node
	}
	return out
}

func (t tk) assignee() string {
	if t.AssigneeID == nil {
		return ""
	}
	return *t.AssigneeID
}

const (
	tkCreate     = `mutation($in: CreateTicketInput!) { createTicket(input: $in) { ` + tkFields + ` } }`
	tkRead       = `query($id: ID!) { node(id: $id) { ... on Ticket { ` + tkFields + ` } } }`
	tkTransition = `mutation($id: ID!, $to: TicketStatus!, $c: String, $f: Map) { transitionTicket(id: $id, to: $to, comment: $c, customFields: $f) { ` + tkFields + ` } }`
	tkAssign     = `mutation($id: ID!, $s: ID, $n: String) { assignTicket(id: $id, staffID: $s, note: $n) { ` + tkFields + ` } }`
	tkClaim      = `mutation($id: ID!) { claimTicket(id: $id) { ` + tkFields + ` } }`
	tkDecide     = `mutation($id: ID!, $ok: Boolean!, $c: String) { decideApproval(id: $id, approve: $ok, comment: $c) { id status requiredApprovals decisions { staffID approved comment } } }`
	tkMine       = `{ myApprovals { id ticketID status } }`
)

// openTicket creates a ticket as tok and returns it as the mutation answered.
func openTicket(t *testing.T, e *env, tok string, in map[string]any) tk {
	t.Helper()
	var got struct{ CreateTicket tk }
	e.post(t, tok, tkCreate, map[string]any{"in": in}).ok(t).decode(t, &got)
	return got.CreateTicket
}

// readTicket reads a ticket as tok.
func readTicket(t *testing.T, e *env, tok, id string) tk {
	t.Helper()
	var got struct{ Node *tk }
	e.post(t, tok, tkRead, map[string]any{"id": id}).ok(t).decode(t, &got)
	if got.Node == nil {
		t.Fatalf("ticket %s is not visible", id)
	}
	return *got.Node
}

// transition moves a ticket as tok; comment "" sends none.
func transition(t *testing.T, e *env, tok, id, to, comment string, fields map[string]any) *response {
	t.Helper()
	vars := map[string]any{"id": id, "to": to}
	if comment != "" {
		vars["c"] = comment
	}
	if fields != nil {
		vars["f"] = fields
	}
	return e.post(t, tok, tkTransition, vars)
}

// moved is transition that must succeed; it returns the ticket after.
func moved(t *testing.T, e *env, tok, id, to, comment string, fields map[string]any) tk {
	t.Helper()
	var got struct{ TransitionTicket tk }
	transition(t, e, tok, id, to, comment, fields).ok(t).decode(t, &got)
	return got.TransitionTicket
}

func staffGID(t *testing.T, e *env, login string) string {
	t.Helper()
	return gid.Encode(azStaffID(t, e, "demo", login))
}

// typeGID finds a ticket type of the demo tenant by key, through the API.
func typeGID(t *testing.T, e *env, key string) string {
	t.Helper()
	var got struct {
		TicketTypes struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	e.post(t, e.token(t, "demo", "admin"), `query($k: String!) { ticketTypes(first: 1, where: {key: $k}) { edges { node { id } } } }`,
		map[string]any{"k": key}).ok(t).decode(t, &got)
	if len(got.TicketTypes.Edges) != 1 {
		t.Fatalf("ticket type %s: %+v", key, got)
	}
	return got.TicketTypes.Edges[0].Node.ID
}

// wantRefused checks that r failed with one error of code (and field,
// when given).
func wantRefused(t *testing.T, r *response, code, field string) gqlError {
	t.Helper()
	err := r.only(t)
	if err.code() != code || (field != "" && err.field() != field) {
		t.Fatalf("got code %q field %q (%s), want %s %q", err.code(), err.field(), err.Message, code, field)
	}
	return err
}

// TestTicketTransitions: the type's workflow decides every status change;
// a refused move names what is wrong and changes nothing; the history
// tells who did what.
func TestTicketTransitions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		agent1 := e.token(t, "demo", "agent1")
		me := staffGID(t, e, "agent1")
		opened := openTicket(t, e, agent1, map[string]any{"title": "收到商品有破损", "requiredSkills": []string{"售后"}})
		// An agent confined to their own tickets keeps what they open.
		if opened.Status != "ASSIGNED" || opened.assignee() != me || opened.TicketType == nil || opened.TicketType.Key != "AFTER_SALES" {
			t.Fatalf("opened %+v: want ASSIGNED to agent1, of type AFTER_SALES", opened)
		}
		id := opened.ID

		unchanged := func(t *testing.T, before tk) {
			t.Helper()
			after := readTicket(t, e, agent1, id)
			if after.Status != before.Status || after.Changes.TotalCount != before.Changes.TotalCount ||
				after.Comments.TotalCount != before.Comments.TotalCount {
				t.Fatalf("a refused move changed the ticket: status %s → %s, %d → %d changes, %d → %d comments",
					before.Status, after.Status, before.Changes.TotalCount, after.Changes.TotalCount,
					before.Comments.TotalCount, after.Comments.TotalCount)
			}
		}

		t.Run("a move the workflow lacks is BAD_USER_INPUT on to, listing the allowed ones", func(t *testing.T) {
			before := readTicket(t, e, agent1, id)
			err := wantRefused(t, transition(t, e, agent1, id, "CLOSED", "直接关掉", nil), "BAD_USER_INPUT", "to")
			if !strings.Contains(err.Message, "allowed: IN_PROGRESS, PENDING_CUSTOMER, RESOLVED") {
				t.Errorf("message %q does not list the moves from ASSIGNED", err.Message)
			}
			unchanged(t, before)
		})
		t.Run("PENDING_APPROVAL is not a move of its own", func(t *testing.T) {
			before := readTicket(t, e, agent1, id)
			wantRefused(t, transition(t, e, agent1, id, "PENDING_APPROVAL", "", nil), "BAD_USER_INPUT", "to")
			unchanged(t, before)
		})
		t.Run("RESOLVED needs a comment", func(t *testing.T) {
			before := readTicket(t, e, agent1, id)
			for _, comment := range []string{"", "   "} {
				err := wantRefused(t, transition(t, e, agent1, id, "RESOLVED", comment, nil), "BAD_USER_INPUT", "comment")
				if !strings.Contains(err.Message, "comment") {
					t.Errorf("comment %q: message %q", comment, err.Message)
				}
			}
			unchanged(t, before)
		})
		t.Run("another agent cannot move it", func(t *testing.T) {
			before := readTicket(t, e, agent1, id)
			wantRefused(t, transition(t, e, e.token(t, "demo", "agent2"), id, "IN_PROGRESS", "", nil), "NOT_FOUND", "")
			unchanged(t, before)
		})

		if got := moved(t, e, agent1, id, "IN_PROGRESS", "", nil); got.Status != "IN_PROGRESS" {
			t.Fatalf("IN_PROGRESS: %s", got.Status)
		}
		t.Run("CLOSED from IN_PROGRESS goes by way of RESOLVED", func(t *testing.T) {
			before := readTicket(t, e, agent1, id)
			err := wantRefused(t, transition(t, e, agent1, id, "CLOSED", "", nil), "BAD_USER_INPUT", "to")
			if !strings.Contains(err.Message, "allowed: PENDING_CUSTOMER, RESOLVED") {
				t.Errorf("message %q", err.Message)
			}
			unchanged(t, before)
		})
		resolved := moved(t, e, agent1, id, "RESOLVED", "已为客户办理换货", nil)
		if resolved.Status != "RESOLVED" || resolved.ResolvedAt == nil {
			t.Fatalf("resolved: %+v", resolved)
		}
		closed := moved(t, e, agent1, id, "CLOSED", "", nil)
		if closed.Status != "CLOSED" || closed.ClosedAt == nil {
			t.Fatalf("closed: %+v", closed)
		}
		t.Run("a closed ticket can only be reopened", func(t *testing.T) {
			before := readTicket(t, e, agent1, id)
			err := wantRefused(t, transition(t, e, agent1, id, "IN_PROGRESS", "", nil), "BAD_USER_INPUT", "to")
			if !strings.Contains(err.Message, "allowed: REOPENED") {
				t.Errorf("message %q", err.Message)
			}
			unchanged(t, before)
		})

		t.Run("the history lists creation, assignment and each move, by agent1", func(t *testing.T) {
			got := readTicket(t, e, agent1, id).changes()
			type row struct{ kind, field, before, after string }
			want := []row{
				{"CREATED", "", "", ""},
				{"ASSIGNED", "assignee", "", ""},
				{"FIRST_RESPONSE", "", "", ""}, // moving to IN_PROGRESS is the first response
				{"STATUS_CHANGED", "status", "ASSIGNED", "IN_PROGRESS"},
				{"STATUS_CHANGED", "status", "IN_PROGRESS", "RESOLVED"},
				{"STATUS_CHANGED", "status", "RESOLVED", "CLOSED"},
				{"SURVEY_SENT", "", "", ""},
			}
			if len(got) != len(want) {
				t.Fatalf("history %+v, want %d entries", got, len(want))
			}
			for i, w := range want {
				g := got[i]
				if g.Kind != w.kind || g.Field != w.field || (w.kind == "STATUS_CHANGED" && (g.Before != w.before || g.After != w.after)) {
					t.Errorf("entry %d: %+v, want %+v", i, g, w)
				}
				if g.Actor == nil || g.Actor.ID != me {
					t.Errorf("entry %d (%s): actor %+v, want agent1", i, g.Kind, g.Actor)
				}
			}
			// The assignment says why, and to whom. (before/after of an
			// assignment hold the database id; see the report.)
			if a := got[1]; a.Note == "" || (a.After != me && a.After != strconv.Itoa(azStaffID(t, e, "demo", "agent1"))) {
				t.Errorf("assignment entry %+v: want a reason and agent1", a)
			}
			if n := got[4].Note; n != "已为客户办理换货" {
				t.Errorf("the resolving move's note is %q, want its comment", n)
			}
		})
	})
}

// TestTicketHistoryFollowsScope: a ticket's history carries what its
// comments say (a move's comment is its note), so it is hidden where the
// ticket and its comments are.
func TestTicketHistoryFollowsScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		agent1 := e.token(t, "demo", "agent1")
		opened := openTicket(t, e, agent1, map[string]any{"title": "会员积分未到账"})
		moved(t, e, agent1, opened.ID, "IN_PROGRESS", "", nil)
		moved(t, e, agent1, opened.ID, "RESOLVED", "客户手机 13800138000，积分已补", nil)
		var h struct {
			Node struct {
				Changes struct {
					Edges []struct{ Node struct{ ID, Note string } }
				}
			}
		}
		e.post(t, agent1, `query($id: ID!) { node(id: $id) { ... on Ticket { changes(first: 50) { edges { node { id note } } } } } }`,
			map[string]any{"id": opened.ID}).ok(t).decode(t, &h)
		var noted string
		for _, c := range h.Node.Changes.Edges {
			if strings.Contains(c.Node.Note, "13800138000") {
				noted = c.Node.ID
			}
		}
		if noted == "" {
			t.Fatalf("no history entry carries the comment: %+v", h)
		}
		for _, login := range []string{"agent2", "mkt1"} {
			r := e.post(t, e.token(t, "demo", login), `query($id: ID!) { node(id: $id) { ... on TicketChange { note } } }`,
				map[string]any{"id": noted})
			if len(r.Errors) == 0 || strings.Contains(string(r.Body), "13800138000") {
				t.Errorf("%s reads agent1's history: %s", login, r.Body)
			}
		}
	})
}

// TestTicketRouting: a ticket opened by someone who sees every ticket is
// routed: to the agent with the skills, saying why, or to the queue when
// nobody has them; and it is timed by the first SLA policy that matches.
func TestTicketRouting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend) // routing depends on everyone's load
		admin := e.token(t, "demo", "admin")
		agent1ID := azStaffID(t, e, "demo", "agent1")

		t.Run("to the only agent with the skill, explained, on the standard SLA", func(t *testing.T) {
			got := openTicket(t, e, admin, map[string]any{"title": "换货：尺码不合适", "requiredSkills": []string{"退换货"}})
			if got.Status != "ASSIGNED" || got.assignee() != gid.Encode(agent1ID) {
				t.Fatalf("routed %+v: want ASSIGNED to agent1, the only one with 退换货", got)
			}
			var agent struct{ Node struct{ Name string } }
			e.post(t, admin, `query($id: ID!) { node(id: $id) { ... on Staff { name } } }`, map[string]any{"id": gid.Encode(agent1ID)}).ok(t).decode(t, &agent)
			// Routing weighs the demo tenant's agents and supervisor (the
			// admin, marketer and auditor take no tickets): three, one
			// with the skill.
			for _, part := range []string{"skills 退换货: 1 of 3", "picked " + agent.Node.Name + " ("} {
				if !strings.Contains(got.AssignmentReason, part) {
					t.Errorf("assignmentReason %q lacks %q", got.AssignmentReason, part)
				}
			}
			if got.SLAPolicy == nil || got.SLAPolicy.Name != "标准" || got.FirstResponseDueAt == nil || got.ResolutionDueAt == nil {
				t.Fatalf("SLA: policy %+v, due %v %v", got.SLAPolicy, got.FirstResponseDueAt, got.ResolutionDueAt)
			}
			created, fr, res := parseTime(t, got.CreatedAt), parseTime(t, *got.FirstResponseDueAt), parseTime(t, *got.ResolutionDueAt)
			if !created.Before(fr) || !fr.Before(res) {
				t.Errorf("due times out of order: created %s, first response %s, resolution %s", created, fr, res)
			}
			h := got.changes()
			if len(h) != 2 || h[0].Kind != "CREATED" || h[1].Kind != "ASSIGNED" || h[1].Note != got.AssignmentReason {
				t.Errorf("history %+v: want CREATED then ASSIGNED with the reason", h)
			}
		})
		t.Run("urgent tickets run on the around-the-clock urgent policy", func(t *testing.T) {
			got := openTicket(t, e, admin, map[string]any{"title": "门店服务态度投诉", "priority": "URGENT", "requiredSkills": []string{"退换货"}})
			if got.SLAPolicy == nil || got.SLAPolicy.Name != "紧急" || got.FirstResponseDueAt == nil || got.ResolutionDueAt == nil {
				t.Fatalf("SLA: policy %+v", got.SLAPolicy)
			}
			created := parseTime(t, got.CreatedAt)
			if d := parseTime(t, *got.FirstResponseDueAt).Sub(created); d != 30*time.Minute {
				t.Errorf("first response due %s after creation, want 30m", d)
			}
			if d := parseTime(t, *got.ResolutionDueAt).Sub(created); d != 8*time.Hour {
				t.Errorf("resolution due %s after creation, want 8h", d)
			}
		})
		t.Run("nobody with the skill: the queue, saying why", func(t *testing.T) {
			got := openTicket(t, e, admin, map[string]any{"title": "需要开具增值税专用发票", "requiredSkills": []string{"税务"}})
			if got.Status != "NEW" || got.AssigneeID != nil {
				t.Fatalf("%+v: want NEW and unassigned", got)
			}
			if want := "queued: skills 税务: 0 of 3, required"; !strings.HasPrefix(got.AssignmentReason, want) {
				t.Errorf("assignmentReason %q, want it to start %q", got.AssignmentReason, want)
			}
			if h := got.changes(); len(h) != 2 || h[0].Kind != "CREATED" || h[1].Kind != "QUEUED" {
				t.Errorf("history %+v: want CREATED then QUEUED", h)
			}
		})
		t.Run("routing again after adding the skill's holder finds them", func(t *testing.T) {
			got := openTicket(t, e, admin, map[string]any{"title": "咨询商品成分与适用人群", "requiredSkills": []string{"成分咨询"}})
			if got.AssigneeID != nil {
				t.Fatalf("assigned to %s before anyone had the skill", got.assignee())
			}
			e.post(t, admin, `mutation($id: ID!) { updateStaff(id: $id, input: {skillTags: ["售后", "投诉", "成分咨询"]}) { id } }`,
				map[string]any{"id": staffGID(t, e, "agent2")}).ok(t)
			var r struct{ RouteTicket tk }
			e.post(t, admin, `mutation($id: ID!) { routeTicket(id: $id) { `+tkFields+` } }`, map[string]any{"id": got.ID}).ok(t).decode(t, &r)
			if r.RouteTicket.assignee() != staffGID(t, e, "agent2") || r.RouteTicket.Status != "ASSIGNED" {
				t.Fatalf("rerouted: %+v, want agent2", r.RouteTicket)
			}
		})
		t.Run("without skills it goes to someone who may work tickets", func(t *testing.T) {
			first := openTicket(t, e, admin, map[string]any{"title": "会员积分未到账"})
			if first.AssigneeID == nil {
				t.Fatalf("queued: %s", first.AssignmentReason)
			}
			// A change to a routing field of staff makes routing read
			// everyone's load afresh.
			e.post(t, admin, `mutation($id: ID!) { updateStaff(id: $id, input: {capacity: 20}) { id } }`,
				map[string]any{"id": staffGID(t, e, "admin")}).ok(t)
			for range 3 {
				got := openTicket(t, e, admin, map[string]any{"title": "会员积分未到账"})
				for _, login := range []string{"mkt1", "auditor1"} {
					if got.assignee() == staffGID(t, e, login) {
						t.Fatalf("routed to %s: %s", login, got.AssignmentReason)
					}
				}
			}
		})
	})
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTicketAssignmentPermissions: supervisors assign; agents may not,
// but claim from the queue, once; marketers do not work tickets.
func TestTicketAssignmentPermissions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend) // open-ticket counts are compared
		admin, sup1 := e.token(t, "demo", "admin"), e.token(t, "demo", "sup1")
		agent1, agent2, mkt1 := e.token(t, "demo", "agent1"), e.token(t, "demo", "agent2"), e.token(t, "demo", "mkt1")
		a1, a2 := staffGID(t, e, "agent1"), staffGID(t, e, "agent2")
		load := func(t *testing.T, staffID string) int {
			var got struct{ Node struct{ OpenTickets int } }
			e.post(t, admin, `query($id: ID!) { node(id: $id) { ... on Staff { openTickets } } }`, map[string]any{"id": staffID}).ok(t).decode(t, &got)
			return got.Node.OpenTickets
		}

		p := openTicket(t, e, agent1, map[string]any{"title": "物流超过 5 天未更新"})
		t.Run("an agent may not assign", func(t *testing.T) {
			wantRefused(t, e.post(t, agent1, tkAssign, map[string]any{"id": p.ID, "s": a2}), "FORBIDDEN", "")
			if got := readTicket(t, e, agent1, p.ID); got.assignee() != a1 || got.Changes.TotalCount != p.Changes.TotalCount {
				t.Fatalf("after the refusal: %+v", got)
			}
		})
		t.Run("a supervisor assigns to another agent, and the loads follow", func(t *testing.T) {
			l1, l2 := load(t, a1), load(t, a2)
			var got struct{ AssignTicket tk }
			e.post(t, sup1, tkAssign, map[string]any{"id": p.ID, "s": a2, "n": "广州客户"}).ok(t).decode(t, &got)
			if got.AssignTicket.assignee() != a2 || got.AssignTicket.Status != "ASSIGNED" ||
				got.AssignTicket.AssignmentReason != "assigned by hand: 广州客户" {
				t.Fatalf("assigned: %+v", got.AssignTicket)
			}
			if n1, n2 := load(t, a1), load(t, a2); n1 != l1-1 || n2 != l2+1 {
				t.Errorf("open tickets agent1 %d → %d, agent2 %d → %d", l1, n1, l2, n2)
			}
			h := readTicket(t, e, admin, p.ID).changes()
			last := h[len(h)-1]
			if last.Kind != "ASSIGNED" || last.Actor == nil || last.Actor.ID != staffGID(t, e, "sup1") || last.Note != "assigned by hand: 广州客户" {
				t.Errorf("last history entry %+v", last)
			}
			// agent1 no longer sees it; agent2 works it.
			wantRefused(t, transition(t, e, agent1, p.ID, "IN_PROGRESS", "", nil), "NOT_FOUND", "")
			if got := moved(t, e, agent2, p.ID, "IN_PROGRESS", "", nil); got.Status != "IN_PROGRESS" {
				t.Errorf("agent2 moved it to %s", got.Status)
			}
		})

		q := openTicket(t, e, agent1, map[string]any{"title": "会员积分未到账"})
		t.Run("back to the queue, claimed by one agent, then by nobody else", func(t *testing.T) {
			var queued struct{ AssignTicket tk }
			e.post(t, sup1, tkAssign, map[string]any{"id": q.ID, "s": nil}).ok(t).decode(t, &queued)
			if queued.AssignTicket.AssigneeID != nil || queued.AssignTicket.Status != "NEW" ||
				queued.AssignTicket.AssignmentReason != "queued: returned to the queue by hand" {
				t.Fatalf("queued: %+v", queued.AssignTicket)
			}
			l2 := load(t, a2)
			var claimed struct{ ClaimTicket tk }
			e.post(t, agent2, tkClaim, map[string]any{"id": q.ID}).ok(t).decode(t, &claimed)
			if claimed.ClaimTicket.assignee() != a2 || claimed.ClaimTicket.Status != "ASSIGNED" {
				t.Fatalf("claimed: %+v", claimed.ClaimTicket)
			}
			if n := load(t, a2); n != l2+1 {
				t.Errorf("agent2's open tickets %d → %d", l2, n)
			}
			before := readTicket(t, e, admin, q.ID)
			err := e.post(t, agent1, tkClaim, map[string]any{"id": q.ID}).only(t)
			if err.code() != "CONFLICT" && err.code() != "NOT_FOUND" {
				t.Fatalf("a second claim: %+v", err)
			}
			if after := readTicket(t, e, admin, q.ID); after.assignee() != a2 || after.Changes.TotalCount != before.Changes.TotalCount {
				t.Fatalf("after the second claim: %+v", after)
			}
			// Claiming one's own ticket again changes nothing.
			e.post(t, agent2, tkClaim, map[string]any{"id": q.ID}).ok(t)
			if after := readTicket(t, e, admin, q.ID); after.Changes.TotalCount != before.Changes.TotalCount || load(t, a2) != l2+1 {
				t.Fatalf("claiming again changed the ticket or the load")
			}
		})
		t.Run("updateTicket does not reassign", func(t *testing.T) {
			own := openTicket(t, e, agent1, map[string]any{"title": "需要开具增值税专用发票"})
			l1, l2 := load(t, a1), load(t, a2)
			r := e.post(t, agent1, `mutation($id: ID!, $s: ID!) { updateTicket(id: $id, input: {assigneeID: $s}) { id } }`,
				map[string]any{"id": own.ID, "s": a2})
			if len(r.Errors) == 0 {
				t.Errorf("updateTicket set the assignee")
			}
			if after := readTicket(t, e, admin, own.ID); after.assignee() != a1 || after.Changes.TotalCount != own.Changes.TotalCount ||
				load(t, a1) != l1 || load(t, a2) != l2 {
				t.Fatalf("after updateTicket: %+v", after)
			}
		})
		t.Run("a marketer does not work tickets", func(t *testing.T) {
			before := readTicket(t, e, admin, q.ID)
			for _, r := range []*response{
				transition(t, e, mkt1, q.ID, "IN_PROGRESS", "", nil),
				e.post(t, mkt1, tkClaim, map[string]any{"id": q.ID}),
				e.post(t, mkt1, tkAssign, map[string]any{"id": q.ID, "s": nil}),
			} {
				wantRefused(t, r, "FORBIDDEN", "")
			}
			if after := readTicket(t, e, admin, q.ID); after.Status != before.Status || after.Changes.TotalCount != before.Changes.TotalCount {
				t.Fatalf("the marketer changed the ticket: %+v", after)
			}
		})
	})
}

// TestTicketApprovals: a large refund waits for two distinct supervisors,
// neither the one who asked; a rejection sends it back to work.
func TestTicketApprovals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend) // adds a supervisor
		admin, sup1, agent1 := e.token(t, "demo", "admin"), e.token(t, "demo", "sup1"), e.token(t, "demo", "agent1")
		refund := typeGID(t, e, "REFUND")

		// The seed has one supervisor; a large refund needs two.
		departmentOf := func(login string) string {
			var got struct {
				Node struct{ Departments []struct{ ID string } }
			}
			e.post(t, admin, `query($id: ID!) { node(id: $id) { ... on Staff { departments { id } } } }`,
				map[string]any{"id": staffGID(t, e, login)}).ok(t).decode(t, &got)
			if len(got.Node.Departments) != 1 {
				t.Fatalf("%s's departments: %+v", login, got)
			}
			return got.Node.Departments[0].ID
		}
		var created struct{ CreateStaff struct{ ID string } }
		e.post(t, admin, `mutation($d: ID!) { createStaff(input: {login: "sup2", name: "第二主管", departmentIDs: [$d]}) { id } }`,
			map[string]any{"d": departmentOf("sup1")}).ok(t).decode(t, &created)
		e.post(t, admin, azAssignRoles, map[string]any{"id": created.CreateStaff.ID, "roles": []string{"supervisor"}}).ok(t)
		sup2 := e.token(t, "demo", "sup2")
		sup1ID, sup2ID, agent1ID := staffGID(t, e, "sup1"), created.CreateStaff.ID, staffGID(t, e, "agent1")

		pending := func(t *testing.T, tok, ticketID string) *tkApproval {
			t.Helper()
			var got struct {
				MyApprovals []struct{ ID, TicketID, Status string }
			}
			e.post(t, tok, tkMine, nil).ok(t).decode(t, &got)
			for _, a := range got.MyApprovals {
				if a.TicketID == ticketID {
					return &tkApproval{ID: a.ID, Status: a.Status}
				}
			}
			return nil
		}
		decide := func(t *testing.T, tok, id string, ok bool, comment string) *response {
			return e.post(t, tok, tkDecide, map[string]any{"id": id, "ok": ok, "c": comment})
		}

		a := openTicket(t, e, agent1, map[string]any{"title": "申请退货：商品与描述不符", "ticketTypeID": refund})
		if a.TicketType == nil || a.TicketType.Key != "REFUND" || a.Status != "ASSIGNED" {
			t.Fatalf("opened %+v", a)
		}
		moved(t, e, agent1, a.ID, "IN_PROGRESS", "", nil)
		t.Run("resolving a refund needs its amount", func(t *testing.T) {
			before := readTicket(t, e, agent1, a.ID)
			wantRefused(t, transition(t, e, agent1, a.ID, "RESOLVED", "同意退款", nil), "BAD_USER_INPUT", "customFields.refund_amount")
			if after := readTicket(t, e, agent1, a.ID); after.Status != "IN_PROGRESS" || after.Changes.TotalCount != before.Changes.TotalCount ||
				after.Comments.TotalCount != before.Comments.TotalCount || len(after.Approvals) != 0 {
				t.Fatalf("after the refusal: %+v", after)
			}
		})
		t.Run("a large refund sent as a JSON number in variables needs two approvers", func(t *testing.T) {
			c := openTicket(t, e, agent1, map[string]any{"title": "申请退货：商品与描述不符", "ticketTypeID": refund})
			moved(t, e, agent1, c.ID, "IN_PROGRESS", "", nil)
			got := moved(t, e, agent1, c.ID, "RESOLVED", "同意退款 6 万元", map[string]any{"refund_amount": 6000000})
			if len(got.Approvals) != 1 || got.Approvals[0].RequiredApprovals != 2 {
				t.Fatalf("approvals %+v: want one step needing 2 approvers", got.Approvals)
			}
		})
		// The amount as a literal of the query (a variable holding a
		// number is the product bug above).
		var resolving struct{ TransitionTicket tk }
		e.post(t, agent1, `mutation($id: ID!) { transitionTicket(id: $id, to: RESOLVED, comment: "同意退款 6 万元",
			customFields: {refund_amount: 6000000}) { `+tkFields+` } }`, map[string]any{"id": a.ID}).ok(t).decode(t, &resolving)
		asked := resolving.TransitionTicket
		if asked.Status != "PENDING_APPROVAL" || len(asked.Approvals) != 1 {
			t.Fatalf("a 60,000 yuan refund: %+v, want PENDING_APPROVAL with one approval", asked)
		}
		ap := asked.Approvals[0]
		if ap.Status != "PENDING" || ap.RequiredApprovals != 2 || ap.RequestedByID == nil || *ap.RequestedByID != agent1ID {
			t.Fatalf("approval %+v: want PENDING, 2 approvers, asked by agent1", ap)
		}

		t.Run("a waiting ticket does not move", func(t *testing.T) {
			wantRefused(t, transition(t, e, agent1, a.ID, "IN_PROGRESS", "", nil), "BAD_USER_INPUT", "to")
		})
		t.Run("both supervisors see it waiting; the requester cannot decide", func(t *testing.T) {
			for _, tok := range []string{sup1, sup2} {
				if p := pending(t, tok, a.ID); p == nil || p.ID != ap.ID || p.Status != "PENDING" {
					t.Fatalf("myApprovals: %+v", p)
				}
			}
			if p := pending(t, agent1, a.ID); p != nil {
				t.Errorf("the requester is offered %+v", p)
			}
			err := wantRefused(t, decide(t, agent1, ap.ID, true, "我自己批"), "FORBIDDEN", "")
			if !strings.Contains(err.Message, "asked for this approval") {
				t.Errorf("message %q", err.Message)
			}
		})
		t.Run("one approval of two leaves it waiting; the same approver twice is refused", func(t *testing.T) {
			var got struct{ DecideApproval tkApproval }
			decide(t, sup1, ap.ID, true, "金额已核实").ok(t).decode(t, &got)
			if got.DecideApproval.Status != "PENDING" || len(got.DecideApproval.Decisions) != 1 {
				t.Fatalf("after one approval: %+v", got.DecideApproval)
			}
			if s := readTicket(t, e, agent1, a.ID).Status; s != "PENDING_APPROVAL" {
				t.Fatalf("ticket %s after one of two approvals", s)
			}
			err := wantRefused(t, decide(t, sup1, ap.ID, true, "再批一次"), "FORBIDDEN", "")
			if !strings.Contains(err.Message, "already decided") {
				t.Errorf("message %q", err.Message)
			}
			if p := pending(t, sup1, a.ID); p != nil {
				t.Errorf("sup1 is offered it again: %+v", p)
			}
			if p := pending(t, sup2, a.ID); p == nil {
				t.Error("sup2 is no longer offered it")
			}
		})
		t.Run("the second supervisor's approval resolves it", func(t *testing.T) {
			var got struct{ DecideApproval tkApproval }
			decide(t, sup2, ap.ID, true, "同意").ok(t).decode(t, &got)
			if got.DecideApproval.Status != "APPROVED" {
				t.Fatalf("approval: %+v", got.DecideApproval)
			}
			after := readTicket(t, e, agent1, a.ID)
			if after.Status != "RESOLVED" || after.ResolvedAt == nil {
				t.Fatalf("ticket after approval: %s", after.Status)
			}
			d := after.Approvals[0].Decisions
			if after.Approvals[0].Status != "APPROVED" || len(d) != 2 ||
				d[0].StaffID != sup1ID || !d[0].Approved || d[0].Comment == nil || *d[0].Comment != "金额已核实" ||
				d[1].StaffID != sup2ID || !d[1].Approved {
				t.Fatalf("decisions %+v", after.Approvals[0])
			}
			var kinds []string
			for _, c := range after.changes() {
				switch c.Kind {
				case "APPROVAL_REQUESTED", "APPROVED", "REJECTED":
					kinds = append(kinds, c.Kind)
				case "STATUS_CHANGED":
					kinds = append(kinds, c.Before+"→"+c.After)
				}
			}
			want := "IN_PROGRESS→PENDING_APPROVAL APPROVAL_REQUESTED APPROVED APPROVED PENDING_APPROVAL→RESOLVED"
			if got := strings.Join(kinds[1:], " "); got != want { // kinds[0]: ASSIGNED→IN_PROGRESS
				t.Errorf("history %s, want %s", got, want)
			}
			wantRefused(t, decide(t, sup2, ap.ID, true, ""), "CONFLICT", "id")
		})

		// A refund sup1 asks for, in a team of sup1's region.
		b := openTicket(t, e, sup1, map[string]any{"title": "申请换货：尺码不合适", "ticketTypeID": refund, "teamID": departmentOf("agent1")})
		moved(t, e, sup1, b.ID, "IN_PROGRESS", "", nil)
		asked = moved(t, e, sup1, b.ID, "RESOLVED", "整单退款", map[string]any{"refund_amount": "8000000"})
		if asked.Status != "PENDING_APPROVAL" || len(asked.Approvals) != 1 || asked.Approvals[0].RequiredApprovals != 2 {
			t.Fatalf("sup1's refund (amount as a string): %+v", asked)
		}
		bp := asked.Approvals[0]
		t.Run("a supervisor who asked is not offered their own approval and cannot decide it", func(t *testing.T) {
			if p := pending(t, sup1, b.ID); p != nil {
				t.Errorf("sup1 is offered their own approval %+v", p)
			}
			if p := pending(t, sup2, b.ID); p == nil || p.ID != bp.ID {
				t.Errorf("sup2 is not offered it: %+v", p)
			}
			err := wantRefused(t, decide(t, sup1, bp.ID, true, ""), "FORBIDDEN", "")
			if !strings.Contains(err.Message, "asked for this approval") {
				t.Errorf("message %q", err.Message)
			}
			wantRefused(t, decide(t, agent1, bp.ID, true, ""), "FORBIDDEN", "")
		})
		t.Run("a rejection sends it back to IN_PROGRESS", func(t *testing.T) {
			var got struct{ DecideApproval tkApproval }
			decide(t, sup2, bp.ID, false, "金额不符").ok(t).decode(t, &got)
			if got.DecideApproval.Status != "REJECTED" || len(got.DecideApproval.Decisions) != 1 ||
				got.DecideApproval.Decisions[0].StaffID != sup2ID || got.DecideApproval.Decisions[0].Approved {
				t.Fatalf("approval %+v", got.DecideApproval)
			}
			after := readTicket(t, e, sup1, b.ID)
			h := after.changes()
			if after.Status != "IN_PROGRESS" || after.ResolvedAt != nil || len(h) < 2 ||
				h[len(h)-2].Kind != "REJECTED" || h[len(h)-2].Note != "金额不符" ||
				h[len(h)-1].Kind != "STATUS_CHANGED" || h[len(h)-1].Before != "PENDING_APPROVAL" || h[len(h)-1].After != "IN_PROGRESS" {
				t.Fatalf("after the rejection: %s, history %+v", after.Status, h)
			}
			if p := pending(t, sup2, b.ID); p != nil {
				t.Errorf("a decided approval is still offered: %+v", p)
			}
			wantRefused(t, decide(t, sup2, bp.ID, true, "改主意了"), "CONFLICT", "id")
		})
		t.Run("a small refund needs one approver", func(t *testing.T) {
			asked := moved(t, e, sup1, b.ID, "RESOLVED", "部分退款", map[string]any{"refund_amount": 300000})
			if asked.Status != "PENDING_APPROVAL" || len(asked.Approvals) != 2 {
				t.Fatalf("%+v", asked)
			}
			var small tkApproval
			for _, a := range asked.Approvals {
				if a.Status == "PENDING" {
					small = a
				}
			}
			if small.RequiredApprovals != 1 {
				t.Fatalf("a 3,000 yuan refund needs %d approvers", small.RequiredApprovals)
			}
			decide(t, sup2, small.ID, true, "").ok(t)
			if s := readTicket(t, e, sup1, b.ID).Status; s != "RESOLVED" {
				t.Fatalf("after one approval: %s", s)
			}
		})
	})
}

// TestTicketConfigurationInput: bad workflows, SLA policies, calendars
// and ticket types are refused with the field at fault, and nothing is
// stored.
func TestTicketConfigurationInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.token(t, "demo", "admin")
		count := func(t *testing.T, conn string) int {
			var got map[string]struct{ TotalCount int }
			e.post(t, admin, fmt.Sprintf(`{ %s { totalCount } }`, conn), nil).ok(t).decode(t, &got)
			return got[conn].TotalCount
		}
		mv := func(from, to string) map[string]any { return map[string]any{"from": from, "to": to} }
		createType := `mutation($in: TicketTypeInput!) { createTicketType(input: $in) { id } }`

		for _, tc := range []struct {
			name, field, message string
			transitions          []map[string]any
		}{
			{"an empty workflow", "workflow.transitions", "at least one", []map[string]any{}},
			{"a workflow that never reaches CLOSED", "workflow.transitions", "CLOSED",
				[]map[string]any{mv("NEW", "ASSIGNED"), mv("ASSIGNED", "IN_PROGRESS"), mv("IN_PROGRESS", "ASSIGNED")}},
			{"a workflow with a cycle that cannot be left", "workflow.transitions", "cycle",
				[]map[string]any{mv("NEW", "CLOSED"), mv("NEW", "ASSIGNED"), mv("ASSIGNED", "IN_PROGRESS"), mv("IN_PROGRESS", "ASSIGNED")}},
			{"a move into PENDING_APPROVAL", "workflow.transitions[1]", "approval",
				[]map[string]any{mv("NEW", "CLOSED"), mv("NEW", "PENDING_APPROVAL")}},
		} {
			t.Run("refuses "+tc.name, func(t *testing.T) {
				before := count(t, "ticketTypes")
				err := wantRefused(t, e.post(t, admin, createType, map[string]any{"in": map[string]any{
					"key": "BAD_" + strconv.Itoa(before), "name": "坏流程", "workflow": map[string]any{"transitions": tc.transitions}}}),
					"BAD_USER_INPUT", tc.field)
				if !strings.Contains(err.Message, tc.message) {
					t.Errorf("message %q does not mention %q", err.Message, tc.message)
				}
				if after := count(t, "ticketTypes"); after != before {
					t.Errorf("ticket types %d → %d", before, after)
				}
			})
		}
		t.Run("an agent may not configure ticket types", func(t *testing.T) {
			before := count(t, "ticketTypes")
			wantRefused(t, e.post(t, e.token(t, "demo", "agent1"), createType,
				map[string]any{"in": map[string]any{"key": "AGENT_MADE", "name": "x"}}), "FORBIDDEN", "")
			if after := count(t, "ticketTypes"); after != before {
				t.Errorf("ticket types %d → %d", before, after)
			}
		})
		t.Run("refuses a negative SLA target", func(t *testing.T) {
			before := count(t, "slaPolicies")
			err := wantRefused(t, e.post(t, admin, `mutation($in: SLAPolicyInput!) { createSLAPolicy(input: $in) { id } }`,
				map[string]any{"in": map[string]any{"name": "倒计时", "targets": map[string]any{"firstResponse": "-5m"}}}),
				"BAD_USER_INPUT", "targets.firstResponse")
			if !strings.Contains(err.Message, "-5m") {
				t.Errorf("message %q", err.Message)
			}
			if after := count(t, "slaPolicies"); after != before {
				t.Errorf("SLA policies %d → %d", before, after)
			}
		})
		for _, tc := range []struct {
			name, field string
			windows     []map[string]any
		}{
			{"overlapping windows", "spec.weekly[0].windows[1]",
				[]map[string]any{{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "14:00"}}},
			{"a window ending before it starts", "spec.weekly[0].windows[0].end",
				[]map[string]any{{"start": "18:00", "end": "09:00"}}},
		} {
			t.Run("refuses a calendar with "+tc.name, func(t *testing.T) {
				before := count(t, "businessCalendars")
				wantRefused(t, e.post(t, admin, `mutation($in: BusinessCalendarInput!) { createBusinessCalendar(input: $in) { id } }`,
					map[string]any{"in": map[string]any{"name": "坏日历", "spec": map[string]any{
						"weekly": []map[string]any{{"weekday": "MONDAY", "windows": tc.windows}}}}}),
					"BAD_USER_INPUT", tc.field)
				if after := count(t, "businessCalendars"); after != before {
					t.Errorf("calendars %d → %d", before, after)
				}
			})
		}
		t.Run("a ticket of an unknown type is refused and not stored", func(t *testing.T) {
			before := count(t, "tickets")
			acmeRefund := e.post(t, e.token(t, "acme", "admin"), `{ ticketTypes(first: 1, where: {key: "REFUND"}) { edges { node { id } } } }`, nil).ok(t)
			var acme struct {
				TicketTypes struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			acmeRefund.decode(t, &acme)
			for name, typeID := range map[string]string{
				"no such type":          gid.Encode(gidStart(t, typeGID(t, e, "REFUND")) + 999_999),
				"another tenant's type": acme.TicketTypes.Edges[0].Node.ID,
			} {
				r := e.post(t, admin, tkCreate, map[string]any{"in": map[string]any{"title": "类型不明", "ticketTypeID": typeID}})
				err := r.only(t)
				if err.code() != "BAD_USER_INPUT" || err.field() != "ticketTypeID" {
					t.Errorf("%s: %+v, want BAD_USER_INPUT on ticketTypeID", name, err)
				}
			}
			if after := count(t, "tickets"); after != before {
				t.Errorf("tickets %d → %d", before, after)
			}
		})
	})
}

// gidStart returns the first id of the range the node id id belongs to.
func gidStart(t *testing.T, id string) int {
	t.Helper()
	n, err := gid.Decode(id)
	if err != nil {
		t.Fatal(err)
	}
	return n / (1 << 32) * (1 << 32)
}

type surveyResponse struct {
	Status int
	Body   []byte
	Errors []gqlError
}

var surveyLink = regexp.MustCompile(regexp.QuoteMeta(publicURL) + `(/survey/[A-Za-z0-9_-]+)`)

// TestTicketSurvey: closing a ticket posts a single-use survey link; the
// customer's answer becomes the ticket's CSAT.
func TestTicketSurvey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		agent1 := e.token(t, "demo", "agent1")
		closeOne := func(t *testing.T, title string) (tk, string) {
			t.Helper()
			tic := openTicket(t, e, agent1, map[string]any{"title": title})
			moved(t, e, agent1, tic.ID, "IN_PROGRESS", "", nil)
			moved(t, e, agent1, tic.ID, "RESOLVED", "已补发", nil)
			closed := moved(t, e, agent1, tic.ID, "CLOSED", "", nil)
			var links []string
			for _, c := range closed.Comments.Edges {
				if m := surveyLink.FindStringSubmatch(c.Node.Body); m != nil && !c.Node.Internal {
					links = append(links, m[1])
				}
			}
			if len(links) != 1 {
				t.Fatalf("comments after closing %+v: want one public survey link", closed.Comments)
			}
			return closed, links[0]
		}
		// call sends a request as the customer's browser would: no token.
		call := func(t *testing.T, method, path, body string) surveyResponse {
			t.Helper()
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, req)
			r := surveyResponse{Status: rec.Code, Body: rec.Body.Bytes()}
			var errs struct{ Errors []gqlError }
			if err := json.Unmarshal(r.Body, &errs); err != nil {
				t.Fatalf("%s %s: not JSON: %s", method, path, r.Body)
			}
			r.Errors = errs.Errors
			return r
		}

		closed, path := closeOne(t, "收到商品有破损")
		t.Run("the link shows the ticket and the form", func(t *testing.T) {
			r := call(t, http.MethodGet, path, "")
			var page struct {
				Ticket, Title, Form string
				Fields              []struct{ Key string }
			}
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
			}
			if err := json.Unmarshal(r.Body, &page); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, f := range page.Fields {
				keys = append(keys, f.Key)
			}
			if page.Ticket != closed.Number || page.Title != "收到商品有破损" || !slices.Equal(keys, []string{"rating", "comment"}) {
				t.Fatalf("survey page %s", r.Body)
			}
		})
		t.Run("an out-of-range rating is 400 naming rating, and the link stays usable", func(t *testing.T) {
			r := call(t, http.MethodPost, path, `{"rating":9}`)
			if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].field() != "rating" {
				t.Fatalf("rating 9: %d %s", r.Status, r.Body)
			}
			if got := readTicket(t, e, agent1, closed.ID); got.Csat != nil {
				t.Fatalf("csat %d after a refused answer", *got.Csat)
			}
		})
		t.Run("the answer is the ticket's CSAT, once", func(t *testing.T) {
			r := call(t, http.MethodPost, path, `{"rating":5,"comment":"好"}`)
			if r.Status != http.StatusOK {
				t.Fatalf("answer: %d %s", r.Status, r.Body)
			}
			got := readTicket(t, e, agent1, closed.ID)
			if got.Csat == nil || *got.Csat != 5 || got.CsatComment != "好" || got.Status != "CLOSED" {
				t.Fatalf("ticket after the answer: csat %v %q, %s", got.Csat, got.CsatComment, got.Status)
			}
			if h := got.changes(); h[len(h)-1].Kind != "SURVEY_ANSWERED" || h[len(h)-1].After != "5" {
				t.Errorf("last history entry %+v", h[len(h)-1])
			}
			if r := call(t, http.MethodPost, path, `{"rating":1}`); r.Status != http.StatusNotFound {
				t.Errorf("a second answer: %d %s", r.Status, r.Body)
			}
			if r := call(t, http.MethodGet, path, ""); r.Status != http.StatusNotFound {
				t.Errorf("the page after answering: %d %s", r.Status, r.Body)
			}
			if got := readTicket(t, e, agent1, closed.ID); *got.Csat != 5 {
				t.Errorf("a second answer changed the CSAT to %d", *got.Csat)
			}
		})
		t.Run("a fresh survey refuses rating 9 with 400 on rating", func(t *testing.T) {
			_, other := closeOne(t, "会员积分未到账")
			r := call(t, http.MethodPost, other, `{"rating":9}`)
			if r.Status != http.StatusBadRequest || len(r.Errors) != 1 || r.Errors[0].code() != "BAD_USER_INPUT" || r.Errors[0].field() != "rating" {
				t.Fatalf("rating 9: %d %s", r.Status, r.Body)
			}
		})
		t.Run("an unknown link is 404", func(t *testing.T) {
			if r := call(t, http.MethodGet, "/survey/"+strings.Repeat("A", 32), ""); r.Status != http.StatusNotFound {
				t.Errorf("%d %s", r.Status, r.Body)
			}
		})
	})
}

// TestTicketMetrics: supervisors see their figures; agents do not.
func TestTicketMetrics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const q = `query($from: Time!, $to: Time!) { ticketMetrics(from: $from, to: $to) {
			opened firstResponse { count p50 p90 } resolution { count } slaBreachRate
			backlog { team { id } byAge total } csatByAgent { staff { id } average count } } }`
		now := time.Now().UTC()
		vars := map[string]any{"from": now.Add(-90 * 24 * time.Hour).Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339)}
		type metrics struct {
			TicketMetrics struct {
				Opened        int
				SLABreachRate float64
				Backlog       []struct {
					Team  *struct{ ID string }
					ByAge []int
					Total int
				}
			}
		}
		for _, login := range []string{"sup1", "admin"} {
			t.Run(login+" sees opened tickets and the backlog", func(t *testing.T) {
				tok := e.token(t, "demo", login)
				var got metrics
				e.post(t, tok, q, vars).ok(t).decode(t, &got)
				m := got.TicketMetrics
				if m.Opened <= 0 || len(m.Backlog) == 0 || m.SLABreachRate < 0 || m.SLABreachRate > 1 {
					t.Fatalf("metrics %+v", m)
				}
				backlog := 0
				for _, row := range m.Backlog {
					sum := 0
					for _, n := range row.ByAge {
						sum += n
					}
					if len(row.ByAge) != 5 || sum != row.Total {
						t.Errorf("backlog row %+v", row)
					}
					backlog += row.Total
				}
				// The figures count the tickets the caller sees.
				var seen struct {
					Opened, Open struct{ TotalCount int }
				}
				e.post(t, tok, `query($from: Time!, $to: Time!) {
					opened: tickets(where: {createdAtGTE: $from, createdAtLT: $to}) { totalCount }
					open: tickets(where: {statusNotIn: [RESOLVED, CLOSED]}) { totalCount } }`, vars).ok(t).decode(t, &seen)
				if m.Opened != seen.Opened.TotalCount || backlog != seen.Open.TotalCount {
					t.Errorf("opened %d, backlog %d; the ticket list has %d opened and %d open",
						m.Opened, backlog, seen.Opened.TotalCount, seen.Open.TotalCount)
				}
			})
		}
		t.Run("an agent is refused", func(t *testing.T) {
			wantRefused(t, e.post(t, e.token(t, "demo", "agent1"), q, vars), "FORBIDDEN", "")
		})
		t.Run("an empty range is BAD_USER_INPUT on to", func(t *testing.T) {
			wantRefused(t, e.post(t, e.token(t, "demo", "sup1"), q, map[string]any{"from": vars["to"], "to": vars["from"]}), "BAD_USER_INPUT", "to")
		})
	})
}
