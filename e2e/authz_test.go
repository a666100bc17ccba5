package e2e_test

// End-to-end tests of the authorization layer: field permissions (read in
// full, masked, denied; write), data scopes, policy management, reveal and
// the audit trail, all through the public GraphQL surface. Helpers here
// are prefixed az so they do not clash with the package's other helpers.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/formsubmission"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/orderitem"
	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/ent/taggroup"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/ticketcomment"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/testenv"
)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

var (
	// azPersonal is what a field name that may hold personal data looks like.
	azPersonal    = regexp.MustCompile(`(?i)phone|mobile|email|address|birthday|idnumber|idcard|name`)
	azMaskedPhone = regexp.MustCompile(`^1\d{2}\*{4}\d{4}$`)
	azFullPhone   = regexp.MustCompile(`^1\d{10}$`)
)

// azStaffRoles are the built-in roles staff members hold.
var azStaffRoles = []string{authz.RoleAdmin, authz.RoleSupervisor, authz.RoleAgent, authz.RoleMarketer, authz.RoleAuditor}

// azConn is a Relay connection as the API returns it.
type azConn[N any] struct {
	TotalCount int
	Edges      []struct{ Node N }
}

func (c azConn[N]) nodes() []N {
	out := make([]N, 0, len(c.Edges))
	for _, e := range c.Edges {
		out = append(out, e.Node)
	}
	return out
}

type azIntroType struct {
	Name, Kind  string
	Fields      []struct{ Name string }
	InputFields []struct{ Name string }
}

// azIntrospect returns every type of the API by name.
func azIntrospect(t *testing.T, e *env, tok string) map[string]azIntroType {
	t.Helper()
	r := e.post(t, tok, `{ __schema { types { name kind fields(includeDeprecated: true) { name } inputFields { name } } } }`, nil).ok(t)
	var got struct {
		Schema struct{ Types []azIntroType } `json:"__schema"`
	}
	r.decode(t, &got)
	out := map[string]azIntroType{}
	for _, typ := range got.Schema.Types {
		out[typ.Name] = typ
	}
	return out
}

func (typ azIntroType) hasField(name string) bool {
	return slices.ContainsFunc(typ.Fields, func(f struct{ Name string }) bool { return f.Name == name })
}

// azStaffID returns the ent id of a staff member of a demo tenant.
func azStaffID(t *testing.T, e *env, tenantSlug, login string) int {
	t.Helper()
	id, err := e.st.Client.Staff.Query().Where(staff.TenantID(e.tenantID(t, tenantSlug)), staff.Login(login)).OnlyID(sys())
	if err != nil {
		t.Fatalf("staff %s/%s: %v", tenantSlug, login, err)
	}
	return id
}

type azSet map[int]bool

func azSetOf(ids []int) azSet {
	s := azSet{}
	for _, id := range ids {
		s[id] = true
	}
	return s
}

func (s azSet) sorted() []int { return slices.Sorted(maps.Keys(s)) }

func (s azSet) gids() []string {
	out := []string{}
	for _, id := range s.sorted() {
		out = append(out, gid.Encode(id))
	}
	return out
}

func (s azSet) first(n int) []int { ids := s.sorted(); return ids[:min(n, len(ids))] }

// azCustomersOf returns the demo customers one of staffIDs owns or follows:
// the own data scope, computed from the data.
func azCustomersOf(t *testing.T, e *env, staffIDs ...int) azSet {
	t.Helper()
	ids, err := e.st.Client.Customer.Query().
		Where(customer.TenantID(e.tenantID(t, "demo")),
			customer.Or(customer.OwnerIDIn(staffIDs...), customer.HasFollowersWith(staff.IDIn(staffIDs...)))).
		IDs(sys())
	if err != nil {
		t.Fatal(err)
	}
	return azSetOf(ids)
}

// azCustomer reads a customer, decrypted, as the system.
func azCustomer(t *testing.T, e *env, id int) *ent.Customer {
	t.Helper()
	c, err := e.st.Client.Customer.Get(sys(), id)
	if err != nil {
		t.Fatalf("customer %d: %v", id, err)
	}
	return c
}

func azDecode(t *testing.T, s string) int {
	t.Helper()
	id, err := gid.Decode(s)
	if err != nil {
		t.Fatalf("decode id %q: %v", s, err)
	}
	return id
}

// azPath writes an error's path as "customers.edges.0.node.phone".
func azPath(g gqlError) string {
	parts := make([]string, len(g.Path))
	for i, p := range g.Path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

func azLast(g gqlError) string {
	if len(g.Path) == 0 {
		return ""
	}
	return fmt.Sprint(g.Path[len(g.Path)-1])
}

// azAllCoded fails unless r has errors and every one carries code.
func azAllCoded(t *testing.T, r *response, code string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("want %s errors, got none: %s", code, r.Body)
	}
	for _, g := range r.Errors {
		if g.code() != code {
			t.Fatalf("want every error %s, got %q at %s: %s", code, g.code(), azPath(g), g.Message)
		}
	}
}

// azRefused checks a single error with code and, when field is not "-",
// extensions.field.
func azRefused(t *testing.T, r *response, code, field string) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Errorf("want one %s error (field %q), got %s", code, field, r.Body)
		return
	}
	g := r.Errors[0]
	if g.code() != code || (field != "-" && g.field() != field) {
		t.Errorf("got code %q field %q (%s), want %s field %q", g.code(), g.field(), g.Message, code, field)
	}
}

func azRequestID(t *testing.T, r *response) string {
	t.Helper()
	id := r.Header.Get("X-Request-ID")
	if id == "" {
		t.Fatalf("response without X-Request-ID: %s", r.Body)
	}
	return id
}

// azPolicyState describes the tenant's roles, policy lines and staff role
// assignments, sorted, to compare before and after a refused change.
func azPolicyState(t *testing.T, e *env, adminTok string) []string {
	t.Helper()
	r := e.post(t, adminTok, `{ roles { name builtin inherits scope { kind departmentIDs } } policies { role object act effect } }`, nil).ok(t)
	var got struct {
		Roles []struct {
			Name     string
			Builtin  bool
			Inherits []string
			Scope    struct {
				Kind          string
				DepartmentIDs []string
			}
		}
		Policies []struct{ Role, Object, Act, Effect string }
	}
	r.decode(t, &got)
	var lines []string
	for _, role := range got.Roles {
		lines = append(lines, fmt.Sprintf("role %s builtin=%v inherits=%v scope=%s%v", role.Name, role.Builtin, role.Inherits, role.Scope.Kind, role.Scope.DepartmentIDs))
	}
	for _, p := range got.Policies {
		lines = append(lines, fmt.Sprintf("policy %s %s %s %s", p.Role, p.Effect, p.Act, p.Object))
	}
	members, err := e.st.Client.Staff.Query().Where(staff.TenantID(e.tenantID(t, "demo"))).All(sys())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range members {
		lines = append(lines, fmt.Sprintf("staff %s roles=%v status=%s", s.Login, s.Roles, s.Status))
	}
	slices.Sort(lines)
	return lines
}

// azSameState reports how after differs from before.
func azSameState(t *testing.T, before, after []string) {
	t.Helper()
	if slices.Equal(before, after) {
		return
	}
	var gone, added []string
	for _, l := range before {
		if !slices.Contains(after, l) {
			gone = append(gone, l)
		}
	}
	for _, l := range after {
		if !slices.Contains(before, l) {
			added = append(added, l)
		}
	}
	t.Errorf("the refused change changed the tenant's roles or policies:\n  gone:  %q\n  added: %q", gone, added)
}

type azCust struct {
	ID       string
	Name     *string
	Phone    *string
	Address  *string
	Province *string
	City     *string
}

func azStr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// azCustomerCount is the customers totalCount a viewer sees.
func azCustomerCount(t *testing.T, e *env, tok string) int {
	t.Helper()
	r := e.post(t, tok, `{ customers(first: 1) { totalCount } }`, nil).ok(t)
	var got struct{ Customers azConn[struct{ ID string }] }
	r.decode(t, &got)
	return got.Customers.TotalCount
}

// ---------------------------------------------------------------------------
// 1. The field permission matrix
// ---------------------------------------------------------------------------

// azDefaultMatrix encodes the product's default field decisions for every
// built-in staff role and every sensitive field: read (in full, masked or
// not at all), write through mutation inputs, reveal.
type azMatrixRow struct {
	role, object string
	read         authz.Decision
	write        bool
	reveal       bool
}

var azDefaultMatrix = []azMatrixRow{
	// admin: everything, in full.
	{"admin", "Customer.name", authz.Allow, true, true},
	{"admin", "Customer.phone", authz.Allow, true, true},
	{"admin", "Customer.email", authz.Allow, true, true},
	{"admin", "Customer.address", authz.Allow, true, true},
	{"admin", "Customer.idNumber", authz.Allow, true, true},
	{"admin", "Customer.birthday", authz.Allow, true, true},
	{"admin", "Staff.mobile", authz.Allow, true, true},
	{"admin", "Staff.email", authz.Allow, true, true},
	// supervisor: contact data in full; writes customers, not staff.
	{"supervisor", "Customer.name", authz.Allow, true, true},
	{"supervisor", "Customer.phone", authz.Allow, true, true},
	{"supervisor", "Customer.email", authz.Allow, true, true},
	{"supervisor", "Customer.address", authz.Allow, true, true},
	{"supervisor", "Customer.idNumber", authz.Allow, true, true},
	{"supervisor", "Customer.birthday", authz.Allow, true, true},
	{"supervisor", "Staff.mobile", authz.Allow, false, true},
	{"supervisor", "Staff.email", authz.Allow, false, true},
	// agent: contact data masked, names in full; writes customers; reveals
	// phone and address.
	{"agent", "Customer.name", authz.Allow, true, false},
	{"agent", "Customer.phone", authz.Mask, true, true},
	{"agent", "Customer.email", authz.Mask, true, false},
	{"agent", "Customer.address", authz.Mask, true, true},
	{"agent", "Customer.idNumber", authz.Mask, true, false},
	{"agent", "Customer.birthday", authz.Mask, true, false},
	{"agent", "Staff.mobile", authz.Mask, false, false},
	{"agent", "Staff.email", authz.Mask, false, false},
	// marketer: no contact data, masked names and birthdays; writes no
	// customer field but tags.
	{"marketer", "Customer.name", authz.Mask, false, false},
	{"marketer", "Customer.phone", authz.Deny, false, false},
	{"marketer", "Customer.email", authz.Deny, false, false},
	{"marketer", "Customer.address", authz.Deny, false, false},
	{"marketer", "Customer.idNumber", authz.Deny, false, false},
	{"marketer", "Customer.birthday", authz.Mask, false, false},
	{"marketer", "Staff.mobile", authz.Mask, false, false},
	{"marketer", "Staff.email", authz.Mask, false, false},
	// auditor: nothing personal about customers; colleagues masked.
	{"auditor", "Customer.name", authz.Deny, false, false},
	{"auditor", "Customer.phone", authz.Deny, false, false},
	{"auditor", "Customer.email", authz.Deny, false, false},
	{"auditor", "Customer.address", authz.Deny, false, false},
	{"auditor", "Customer.idNumber", authz.Deny, false, false},
	{"auditor", "Customer.birthday", authz.Deny, false, false},
	{"auditor", "Staff.mobile", authz.Mask, false, false},
	{"auditor", "Staff.email", authz.Mask, false, false},
}

// azInputTarget maps a mutation input key to the field of the object it
// writes ("clearIDNumber" and "idNumber" to idNumber).
func azInputTarget(key string, fields []struct{ Name string }) (string, bool) {
	base := key
	for _, p := range []string{"clear", "add", "remove"} {
		if rest, ok := strings.CutPrefix(key, p); ok && rest != "" && unicode.IsUpper(rune(rest[0])) {
			base = rest
			break
		}
	}
	candidates := []string{key, base, base + "s", strings.TrimSuffix(base, "IDs") + "s", strings.TrimSuffix(base, "IDs"), strings.TrimSuffix(base, "ID")}
	for _, c := range candidates {
		for _, f := range fields {
			if strings.EqualFold(f.Name, c) {
				return f.Name, true
			}
		}
	}
	return "", false
}

// azRootTypes are the operation types, whose fields are operations.
var azRootTypes = map[string]bool{"Query": true, "Mutation": true, "Subscription": true}

// azLookupKeys map words in a root lookup's name to the Customer field it
// matches on.
var azLookupKeys = []struct{ word, field string }{
	{"phone", "phone"}, {"mobile", "phone"}, {"email", "email"}, {"address", "address"},
	{"idnumber", "idNumber"}, {"idcard", "idNumber"}, {"birthday", "birthday"}, {"name", "name"},
}

var azMutationInput = regexp.MustCompile(`^(Create|Update)(\w+)Input$`)

// azByRole is a default read decision per built-in staff role, in the
// order of azStaffRoles: admin, supervisor, agent, marketer, auditor.
type azByRole [5]authz.Decision

var (
	// azAllButAuditor: data and configuration every staff role reads
	// (the auditor reads the audit trail and the organisation only).
	azAllButAuditor = azByRole{authz.Allow, authz.Allow, authz.Allow, authz.Allow, authz.Deny}
	// azOrganisation: Staff.* and Department.*, which the auditor reads too.
	azOrganisation = azByRole{authz.Allow, authz.Allow, authz.Allow, authz.Allow, authz.Allow}
	// azTicketWork: the workflow's day-to-day operations, and what
	// marketers may not read of a ticket's work.
	azTicketWork = azByRole{authz.Allow, authz.Allow, authz.Allow, authz.Deny, authz.Deny}
	// azSupervising: assigning and the metrics, not for agents.
	azSupervising = azByRole{authz.Allow, authz.Allow, authz.Deny, authz.Deny, authz.Deny}
	// azAdminOnly: the workflow's configuration.
	azAdminOnly = azByRole{authz.Allow, authz.Deny, authz.Deny, authz.Deny, authz.Deny}
)

// azWorkflowTypes are the object types the ticket workflow added, with
// the default read decision of every field (azWorkflowFields overrides
// single fields). A field added to one of these types later is checked
// against its type's row, so a field that needs other defaults shows up.
var azWorkflowTypes = func() map[string]azByRole {
	m := map[string]azByRole{}
	for _, typ := range []string{
		"TicketType", "TicketTypeConnection", "TicketTypeEdge",
		"SLAPolicy", "SLAPolicyConnection", "SLAPolicyEdge",
		"BusinessCalendar", "BusinessCalendarConnection", "BusinessCalendarEdge",
		"TicketChange", "TicketChangeConnection", "TicketChangeEdge",
		"TicketApproval", "TicketApprovalConnection", "TicketApprovalEdge", "ApprovalDecision",
		"Workflow", "Transition", "ApprovalStep", "ApprovalThreshold", "RoutingConfig", "RoutingStep",
		"CalendarSpec", "DayHours", "WorkingWindow", "SLACondition", "SLATargets", "EscalationRule",
		"TicketFieldMapping",
		// The metrics' types are readable; Query.ticketMetrics is the gate.
		"TicketMetrics", "DurationStats", "BacklogRow", "AgentSatisfaction",
	} {
		m[typ] = azAllButAuditor
	}
	return m
}()

// azWorkflowFields are the ticket workflow's fields on types that existed
// before it, its root fields, and the fields of azWorkflowTypes whose
// defaults differ from their type's.
var azWorkflowFields = func() map[string]azByRole {
	m := map[string]azByRole{
		// What agents, approvers and customers wrote (a move's comment is
		// the change's note): marketers, who may not read
		// TicketComment.body or FormSubmission.data, may not read these.
		"TicketChange.note": azTicketWork, "ApprovalDecision.comment": azTicketWork, "Ticket.csatComment": azTicketWork,

		"Query.ticketTypes": azAllButAuditor, "Query.slaPolicies": azAllButAuditor, "Query.businessCalendars": azAllButAuditor,
		"Query.myApprovals": azTicketWork, "Query.ticketMetrics": azSupervising,
		"Mutation.transitionTicket": azTicketWork, "Mutation.claimTicket": azTicketWork, "Mutation.routeTicket": azTicketWork,
		"Mutation.decideApproval": azTicketWork, "Mutation.assignTicket": azSupervising,
		"Mutation.createTicketType": azAdminOnly, "Mutation.updateTicketType": azAdminOnly,
		"Mutation.createSLAPolicy": azAdminOnly, "Mutation.updateSLAPolicy": azAdminOnly, "Mutation.deleteSLAPolicy": azAdminOnly,
		"Mutation.createBusinessCalendar": azAdminOnly, "Mutation.updateBusinessCalendar": azAdminOnly,

		"Department.calendar": azOrganisation, "Department.calendarID": azOrganisation,
		"Department.leader": azOrganisation, "Department.leaderID": azOrganisation,
		"Form.ticketType": azAllButAuditor, "Form.ticketTypeID": azAllButAuditor, "Form.ticketFields": azAllButAuditor,
		"FormSubmission.ticket": azAllButAuditor, "FormSubmission.ticketID": azAllButAuditor,
	}
	for _, f := range []string{"avgResolutionSeconds", "csatAverage", "csatCount", "openTickets", "workingHours"} {
		m["Staff."+f] = azOrganisation
	}
	for _, f := range []string{"approvals", "assignedAt", "assignmentReason", "changes", "csat", "csatComment", "csatStaffID",
		"escalatedAt", "escalationLevel", "firstRespondedAt", "firstResponseBreachedAt", "lastUpdateAt", "nextEscalationAt",
		"nextUpdateDueAt", "reopenedAt", "resolutionBreachedAt", "slaPausedAt", "slaPausedSeconds", "slaPolicy", "slaPolicyID",
		"surveySentAt", "ticketType", "typeID"} {
		if _, ok := m["Ticket."+f]; !ok {
			m["Ticket."+f] = azAllButAuditor
		}
	}
	return m
}()

// azWorkflowWrites: who may set the workflow's new fields of existing
// types through Create<T>Input and Update<T>Input, by type (admin,
// supervisor, agent, marketer, auditor). The new types are configured
// through inputs of their own, guarded by their root fields above.
var azWorkflowWrites = map[string][5]bool{
	"Ticket":         {true, true, true, false, false},
	"Department":     {true, false, false, false, false},
	"Staff":          {true, false, false, false, false},
	"Form":           {true, true, false, true, false},
	"FormSubmission": {true, true, true, false, false},
}

func TestFieldPermissionMatrix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		types := azIntrospect(t, e, e.token(t, "demo", "admin"))

		t.Run("every personal-looking object field is classified", func(t *testing.T) {
			checked := 0
			for _, name := range slices.Sorted(maps.Keys(types)) {
				typ := types[name]
				// Root fields are operations, not data: who may call a
				// lookup by a personal field is checked below.
				if typ.Kind != "OBJECT" || strings.HasPrefix(name, "__") || azRootTypes[name] {
					continue
				}
				for _, f := range typ.Fields {
					if !azPersonal.MatchString(f.Name) {
						continue
					}
					checked++
					obj := name + "." + f.Name
					_, sensitive := authz.Sensitive[obj]
					_, notPersonal := authz.NotPersonal[obj]
					switch {
					case sensitive && notPersonal:
						t.Errorf("%s is in both authz.Sensitive and authz.NotPersonal", obj)
					case !sensitive && !notPersonal:
						t.Errorf("%s looks personal but nobody classified it: add it to authz.Sensitive (with its mask) or to authz.NotPersonal (saying why)", obj)
					}
				}
			}
			if checked < len(authz.Sensitive) {
				t.Fatalf("only %d personal-looking fields found; is the introspection query broken?", checked)
			}
		})

		t.Run("every personal-looking mutation input writes a classified field", func(t *testing.T) {
			for _, name := range slices.Sorted(maps.Keys(types)) {
				typ := types[name]
				m := azMutationInput.FindStringSubmatch(name)
				if typ.Kind != "INPUT_OBJECT" || m == nil {
					continue
				}
				target, ok := types[m[2]]
				if !ok || target.Kind != "OBJECT" {
					continue
				}
				for _, f := range typ.InputFields {
					if !azPersonal.MatchString(f.Name) {
						continue
					}
					field, ok := azInputTarget(f.Name, target.Fields)
					if !ok {
						t.Errorf("%s.%s looks personal but writes no field of %s that could be classified", name, f.Name, target.Name)
						continue
					}
					obj := target.Name + "." + field
					_, sensitive := authz.Sensitive[obj]
					_, notPersonal := authz.NotPersonal[obj]
					if !sensitive && !notPersonal {
						t.Errorf("%s.%s writes %s, which nobody classified", name, f.Name, obj)
					}
				}
			}
		})

		t.Run("every classification names a field the API has", func(t *testing.T) {
			check := func(list, obj string) {
				typName, field, _ := strings.Cut(obj, ".")
				typ, ok := types[typName]
				if !ok || typ.Kind != "OBJECT" || !typ.hasField(field) {
					t.Errorf("authz.%s lists %s, which the API does not have (a stale or misspelt classification protects nothing)", list, obj)
				}
			}
			for _, obj := range slices.Sorted(maps.Keys(authz.Sensitive)) {
				check("Sensitive", obj)
			}
			for _, obj := range slices.Sorted(maps.Keys(authz.NotPersonal)) {
				check("NotPersonal", obj)
			}
		})

		tid := e.tenantID(t, "demo")
		t.Run("default decisions per role", func(t *testing.T) {
			for _, role := range azStaffRoles {
				for _, obj := range slices.Sorted(maps.Keys(authz.Sensitive)) {
					if !slices.ContainsFunc(azDefaultMatrix, func(row azMatrixRow) bool { return row.role == role && row.object == obj }) {
						t.Errorf("the expected matrix has no row for %s on %s: a new sensitive field needs its defaults decided", role, obj)
					}
				}
			}
			for _, row := range azDefaultMatrix {
				t.Run(row.role+" "+row.object, func(t *testing.T) {
					typ, field, _ := strings.Cut(row.object, ".")
					g := e.az.Grants(tid, []string{row.role})
					if got := g.Read(typ, field); got != row.read {
						t.Errorf("read: %s, want %s", got, row.read)
					}
					if got := g.CanWrite(typ, field); got != row.write {
						t.Errorf("write: %v, want %v", got, row.write)
					}
					if typ == "Customer" {
						if got := g.CanReveal(typ, field); got != row.reveal {
							t.Errorf("reveal: %v, want %v", got, row.reveal)
						}
					}
				})
			}
		})

		t.Run("the ticket workflow's fields per role", func(t *testing.T) {
			check := func(t *testing.T, obj string, want azByRole) {
				t.Helper()
				typ, field, _ := strings.Cut(obj, ".")
				for i, role := range azStaffRoles {
					if got := e.az.Grants(tid, []string{role}).Read(typ, field); got != want[i] {
						t.Errorf("%s reads %s: %s, want %s", role, obj, got, want[i])
					}
				}
			}
			for _, name := range slices.Sorted(maps.Keys(azWorkflowTypes)) {
				typ, ok := types[name]
				if !ok || typ.Kind != "OBJECT" {
					t.Errorf("the API has no object type %s", name)
					continue
				}
				for _, f := range typ.Fields {
					obj := name + "." + f.Name
					want, ok := azWorkflowFields[obj]
					if !ok {
						want = azWorkflowTypes[name]
					}
					check(t, obj, want)
				}
			}
			for _, obj := range slices.Sorted(maps.Keys(azWorkflowFields)) {
				name, field, _ := strings.Cut(obj, ".")
				if typ, ok := types[name]; !ok || !typ.hasField(field) {
					t.Errorf("the expected decisions list %s, which the API does not have", obj)
					continue
				}
				check(t, obj, azWorkflowFields[obj])
			}
			// The new fields of existing types that mutation inputs set.
			written := 0
			for _, name := range slices.Sorted(maps.Keys(types)) {
				m := azMutationInput.FindStringSubmatch(name)
				if types[name].Kind != "INPUT_OBJECT" || m == nil {
					continue
				}
				want, ok := azWorkflowWrites[m[2]]
				if !ok {
					continue
				}
				target := types[m[2]]
				for _, f := range types[name].InputFields {
					field, ok := azInputTarget(f.Name, target.Fields)
					if _, isNew := azWorkflowFields[target.Name+"."+field]; !ok || !isNew {
						continue
					}
					written++
					for i, role := range azStaffRoles {
						if got := e.az.Grants(tid, []string{role}).CanWrite(target.Name, field); got != want[i] {
							t.Errorf("%s writes %s.%s (%s.%s): %v, want %v", role, target.Name, field, name, f.Name, got, want[i])
						}
					}
				}
			}
			if written == 0 {
				t.Error("no mutation input sets a field the ticket workflow added: is the introspection broken?")
			}
		})

		t.Run("the ticket workflow's root fields through GraphQL", func(t *testing.T) {
			logins := map[string]string{"admin": "admin", "supervisor": "sup1", "agent": "agent1", "marketer": "mkt1", "auditor": "auditor1"}
			queries := map[string]string{
				"ticketTypes":       `{ ticketTypes(first: 1) { totalCount } }`,
				"slaPolicies":       `{ slaPolicies(first: 1) { totalCount } }`,
				"businessCalendars": `{ businessCalendars(first: 1) { totalCount } }`,
				"myApprovals":       `{ myApprovals { id } }`,
				"ticketMetrics":     `{ ticketMetrics(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { opened } }`,
			}
			// Refused mutations never reach their resolver, so an id that
			// names no row (a ticket's, far beyond the demo's) shows the
			// guard alone.
			some, err := e.st.Client.Ticket.Query().Where(ticket.TenantID(tid)).FirstID(sys())
			if err != nil {
				t.Fatal(err)
			}
			none := gid.Encode(some + 1<<30)
			mutations := map[string]string{
				"createTicketType":       `mutation { createTicketType(input: {key: "E2E_DENIED", name: "拒绝"}) { id } }`,
				"updateTicketType":       `mutation($id: ID!) { updateTicketType(id: $id, input: {name: "拒绝"}) { id } }`,
				"createSLAPolicy":        `mutation { createSLAPolicy(input: {name: "拒绝"}) { id } }`,
				"updateSLAPolicy":        `mutation($id: ID!) { updateSLAPolicy(id: $id, input: {name: "拒绝"}) { id } }`,
				"deleteSLAPolicy":        `mutation($id: ID!) { deleteSLAPolicy(id: $id) }`,
				"createBusinessCalendar": `mutation { createBusinessCalendar(input: {name: "拒绝"}) { id } }`,
				"updateBusinessCalendar": `mutation($id: ID!) { updateBusinessCalendar(id: $id, input: {name: "拒绝"}) { id } }`,
				"transitionTicket":       `mutation($id: ID!) { transitionTicket(id: $id, to: IN_PROGRESS) { id } }`,
				"assignTicket":           `mutation($id: ID!) { assignTicket(id: $id) { id } }`,
				"claimTicket":            `mutation($id: ID!) { claimTicket(id: $id) { id } }`,
				"routeTicket":            `mutation($id: ID!) { routeTicket(id: $id) { id } }`,
				"decideApproval":         `mutation($id: ID!) { decideApproval(id: $id, approve: true) { id } }`,
			}
			for i, role := range azStaffRoles {
				tok := e.token(t, "demo", logins[role])
				for _, f := range slices.Sorted(maps.Keys(queries)) {
					r := e.post(t, tok, queries[f], nil)
					allowed := azWorkflowFields["Query."+f][i] == authz.Allow
					switch {
					case allowed && len(r.Errors) > 0:
						t.Errorf("%s may call %s but got %s", role, f, r.Body)
					case !allowed:
						azRefused(t, r, "FORBIDDEN", "-")
					}
				}
				for _, f := range slices.Sorted(maps.Keys(mutations)) {
					if azWorkflowFields["Mutation."+f][i] == authz.Allow {
						continue
					}
					r := e.post(t, tok, mutations[f], map[string]any{"id": none})
					if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "Mutation."+f) {
						t.Errorf("%s calls %s: %s, want FORBIDDEN naming Mutation.%s", role, f, r.Body, f)
					}
				}
			}
		})

		t.Run("auditor1 reads the organisation, colleagues' contacts masked", func(t *testing.T) {
			r := e.post(t, e.token(t, "demo", "auditor1"), `{ me { login } departments(first: 10) { edges { node { name } } }
				staff(first: 10) { edges { node { login mobile } } } }`, nil)
			for _, g := range r.Errors {
				t.Errorf("%s at %s: %s (the auditor's defaults in authz/defaults.go allow \"Query.staffs\", but the root field is Query.staff)", g.code(), azPath(g), g.Message)
			}
			var got struct {
				Staff azConn[struct{ Login, Mobile string }]
			}
			r.decode(t, &got)
			for _, s := range got.Staff.nodes() {
				if s.Mobile != "" && !azMaskedPhone.MatchString(s.Mobile) {
					t.Errorf("%s's mobile %q is not masked", s.Login, s.Mobile)
				}
			}
		})

		t.Run("a role denied a customer field may not look customers up by it", func(t *testing.T) {
			lookups := 0
			for _, f := range types["Query"].Fields {
				if !strings.Contains(strings.ToLower(f.Name), "customer") {
					continue
				}
				for _, k := range azLookupKeys {
					if !strings.Contains(strings.ToLower(f.Name), k.word) {
						continue
					}
					lookups++
					for _, role := range azStaffRoles {
						g := e.az.Grants(tid, []string{role})
						if g.Read("Customer", k.field) == authz.Deny && g.Read("Query", f.Name) != authz.Deny {
							t.Errorf("%s may not read Customer.%s but may call Query.%s: an exact-match oracle for the values it is denied (authz/defaults.go)", role, k.field, f.Name)
						}
					}
				}
			}
			if lookups == 0 {
				t.Fatal("the API has no customer lookup by a personal field: this check would prove nothing")
			}
		})
	})
}

// ---------------------------------------------------------------------------
// 2. Masking through GraphQL
// ---------------------------------------------------------------------------

const azCustomersQuery = `{ customers(first: 20, orderBy: {field: CREATED_AT}) { edges { node { id name phone address province city } } } }`

func TestMaskingThroughGraphQL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		list := func(t *testing.T, r *response) []azCust {
			t.Helper()
			var got struct{ Customers azConn[azCust] }
			r.decode(t, &got)
			if len(got.Customers.Edges) == 0 {
				t.Fatalf("no customers: %s", r.Body)
			}
			return got.Customers.nodes()
		}

		t.Run("agent1 sees contact data masked and names in full", func(t *testing.T) {
			r := e.post(t, e.token(t, "demo", "agent1"), azCustomersQuery, nil).ok(t)
			phones, addresses := 0, 0
			for _, n := range list(t, r) {
				c := azCustomer(t, e, azDecode(t, n.ID))
				if azStr(n.Name) != c.Name {
					t.Errorf("%s: name %q, want %q in full", n.ID, azStr(n.Name), c.Name)
				}
				if c.Phone != "" {
					phones++
					p := azStr(n.Phone)
					if !azMaskedPhone.MatchString(p) || p == c.Phone || !strings.HasSuffix(c.Phone, p[len(p)-4:]) {
						t.Errorf("%s: phone %q is not the mask of %q", n.ID, p, c.Phone)
					}
				}
				if c.Address != "" {
					addresses++
					a := azStr(n.Address)
					if !strings.Contains(a, "****") || strings.Contains(a, c.Address) {
						t.Errorf("%s: address %q is not masked (stored %q)", n.ID, a, c.Address)
					}
				}
			}
			if phones == 0 || addresses == 0 {
				t.Fatalf("checked %d phones and %d addresses: the seed gives agent1 nothing to check", phones, addresses)
			}
		})

		for _, login := range []string{"sup1", "admin"} {
			t.Run(login+" sees phones in full", func(t *testing.T) {
				r := e.post(t, e.token(t, "demo", login), azCustomersQuery, nil).ok(t)
				phones := 0
				for _, n := range list(t, r) {
					c := azCustomer(t, e, azDecode(t, n.ID))
					if c.Phone == "" {
						continue
					}
					phones++
					if p := azStr(n.Phone); p != c.Phone || !azFullPhone.MatchString(p) {
						t.Errorf("%s: phone %q, want %q in full", n.ID, p, c.Phone)
					}
					if azStr(n.Address) != c.Address {
						t.Errorf("%s: address %q, want %q in full", n.ID, azStr(n.Address), c.Address)
					}
				}
				if phones == 0 {
					t.Fatal("no phone to check")
				}
			})
		}

		t.Run("mkt1 is refused phones and addresses and sees names masked", func(t *testing.T) {
			r := e.post(t, e.token(t, "demo", "mkt1"), azCustomersQuery, nil)
			azAllCoded(t, r, "FORBIDDEN")
			deniedPhones := 0
			for _, g := range r.Errors {
				switch azLast(g) {
				case "phone":
					deniedPhones++
				case "address":
				default:
					t.Errorf("unexpected FORBIDDEN at %s: %s", azPath(g), g.Message)
				}
			}
			nodes := list(t, r)
			if deniedPhones != len(nodes) {
				t.Errorf("%d FORBIDDEN phone errors for %d customers", deniedPhones, len(nodes))
			}
			for _, n := range nodes {
				c := azCustomer(t, e, azDecode(t, n.ID))
				if n.Phone != nil || n.Address != nil {
					t.Errorf("%s: phone %q address %q, want null", n.ID, azStr(n.Phone), azStr(n.Address))
				}
				name := azStr(n.Name)
				if name == c.Name || !strings.Contains(name, "*") {
					t.Errorf("%s: name %q is not masked (stored %q)", n.ID, name, c.Name)
				}
				if first := []rune(c.Name)[0]; len([]rune(c.Name)) > 1 && []rune(name)[0] != first {
					t.Errorf("%s: masked name %q does not keep the first character of %q", n.ID, name, c.Name)
				}
			}
		})

		t.Run("auditor1 is refused customer names", func(t *testing.T) {
			tok := e.token(t, "demo", "auditor1")
			id := e.st.Client.Customer.Query().Where(customer.TenantID(e.tenantID(t, "demo"))).FirstIDX(sys())
			c := azCustomer(t, e, id)
			query := `query($id: ID!) { node(id: $id) { ... on Customer { name } } }`
			// Out of the auditor's (own) data scope the customer does not
			// exist for them at all.
			r := e.post(t, tok, query, map[string]any{"id": gid.Encode(id)})
			if string(r.Data) != `{"node":null}` || strings.Contains(string(r.Body), c.Name) {
				t.Errorf("node of a customer outside auditor1's scope: %s", r.Body)
			}
			// In scope (auditor1 follows the customer for this test), the
			// name is refused field by field.
			auditor := azStaffID(t, e, "demo", "auditor1")
			if err := e.st.Client.Customer.UpdateOneID(id).AddFollowerIDs(auditor).Exec(sys()); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := e.st.Client.Customer.UpdateOneID(id).RemoveFollowerIDs(auditor).Exec(sys()); err != nil {
					t.Error(err)
				}
			}()
			r = e.post(t, tok, query, map[string]any{"id": gid.Encode(id)})
			azAllCoded(t, r, "FORBIDDEN")
			if !slices.ContainsFunc(r.Errors, func(g gqlError) bool { return azLast(g) == "name" }) {
				t.Errorf("no FORBIDDEN error on name: %s", r.Body)
			}
			if strings.Contains(string(r.Body), c.Name) {
				t.Errorf("the response carries the name %q: %s", c.Name, r.Body)
			}
			// The customers list is not the auditor's to call at all.
			r = e.post(t, tok, azCustomersQuery, nil)
			azAllCoded(t, r, "FORBIDDEN")
			if strings.Contains(string(r.Body), c.Name) {
				t.Errorf("customers as auditor carries the name %q: %s", c.Name, r.Body)
			}
		})

		t.Run("no phone is readable in full anywhere an agent looks", func(t *testing.T) {
			r := e.post(t, e.token(t, "demo", "agent1"), `{ customers(first: 100) { edges { node { id phone
				identities(first: 10) { edges { node { platform externalID } } }
				owner { mobile email } followers { mobile email } } } } }`, nil).ok(t)
			body := string(r.Body)
			var got struct {
				Customers azConn[struct {
					ID         string
					Identities azConn[struct{ Platform, ExternalID string }]
				}]
			}
			r.decode(t, &got)
			leaks := 0
			for _, n := range got.Customers.nodes() {
				c := azCustomer(t, e, azDecode(t, n.ID))
				if c.Phone == "" || !strings.Contains(body, c.Phone) {
					continue
				}
				leaks++
				where := "somewhere in the response"
				for _, id := range n.Identities.nodes() {
					if strings.Contains(id.ExternalID, c.Phone) {
						where = fmt.Sprintf("CustomerIdentity.externalID %q (platform %s)", id.ExternalID, id.Platform)
					}
				}
				if leaks <= 3 {
					t.Errorf("BUG: agent1 reads customer %s's phone %s in full through %s", n.ID, c.Phone, where)
				}
			}
			if leaks > 3 {
				t.Errorf("... %d customers' phones in all", leaks)
			}
			members, _ := e.st.Client.Staff.Query().Where(staff.TenantID(e.tenantID(t, "demo"))).All(sys())
			for _, s := range members {
				if s.Mobile != "" && strings.Contains(body, s.Mobile) {
					t.Errorf("agent1 reads %s's mobile %s in full", s.Login, s.Mobile)
				}
			}
		})

		t.Run("a masked name cannot be confirmed through a filter", func(t *testing.T) {
			cs, err := e.st.Client.Customer.Query().Where(customer.TenantID(e.tenantID(t, "demo"))).Limit(50).All(sys())
			if err != nil {
				t.Fatal(err)
			}
			var c *ent.Customer
			for _, x := range cs {
				if len([]rune(x.Name)) > 1 {
					c = x
					break
				}
			}
			if c == nil {
				t.Fatal("no customer with a name of two characters or more")
			}
			r := e.post(t, e.token(t, "demo", "mkt1"), `query($n: String!) { customers(first: 5, where: {name: $n}) { totalCount edges { node { id } } } }`,
				map[string]any{"n": c.Name})
			if len(r.Errors) > 0 {
				azAllCoded(t, r, "FORBIDDEN")
				return
			}
			if slices.Contains(collectIDs(r.Data), gid.Encode(c.ID)) {
				t.Errorf("BUG: mkt1 sees %s's name masked but confirms the full name %q with where: {name: ...}; the nameHasPrefix/nameContains predicates recover it a character at a time", gid.Encode(c.ID), c.Name)
			}
		})
	})
}

// ---------------------------------------------------------------------------
// 3. Writes of fields a role may not write
// ---------------------------------------------------------------------------

func TestWriteForbiddenNamesTheField(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tid := e.tenantID(t, "demo")
		agent1 := azStaffID(t, e, "demo", "agent1")
		own := azCustomersOf(t, e, agent1)
		var target *ent.Customer // a customer of agent1's with a phone
		for _, id := range own.sorted() {
			if c := azCustomer(t, e, id); c.Phone != "" {
				target = c
				break
			}
		}
		if target == nil {
			t.Fatal("agent1 owns no customer with a phone")
		}
		targetID := gid.Encode(target.ID)
		update := `mutation($id: ID!, $in: UpdateCustomerInput!) { updateCustomer(id: $id, input: $in) { id phone } }`
		tagIDs := func() []int {
			ids, err := e.st.Client.Customer.QueryTags(azCustomer(t, e, target.ID)).IDs(sys())
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(ids)
			return ids
		}

		t.Run("mkt1 may not write a phone: FORBIDDEN names it and nothing changes", func(t *testing.T) {
			r := e.post(t, e.token(t, "demo", "mkt1"), update, map[string]any{"id": targetID, "in": map[string]any{"phone": "13900001111"}})
			azRefused(t, r, "FORBIDDEN", "phone")
			if c := azCustomer(t, e, target.ID); c.Phone != target.Phone {
				t.Errorf("phone %q -> %q", target.Phone, c.Phone)
			}
		})

		t.Run("mkt1 may tag customers, but not with a forbidden field alongside", func(t *testing.T) {
			var free int
			have := tagIDs()
			for _, id := range e.st.Client.Tag.Query().Where(tag.TenantID(tid)).IDsX(sys()) {
				if !slices.Contains(have, id) {
					free = id
					break
				}
			}
			if free == 0 {
				t.Fatal("the customer has every tag")
			}
			tok := e.token(t, "demo", "mkt1")
			r := e.post(t, tok, update, map[string]any{"id": targetID, "in": map[string]any{"addTagIDs": []string{gid.Encode(free)}, "name": "改名"}})
			azRefused(t, r, "FORBIDDEN", "name")
			if got := tagIDs(); !slices.Equal(got, have) {
				t.Errorf("the refused mutation ran: tags %v -> %v", have, got)
			}
			e.post(t, tok, `mutation($id: ID!, $in: UpdateCustomerInput!) { updateCustomer(id: $id, input: $in) { id } }`,
				map[string]any{"id": targetID, "in": map[string]any{"addTagIDs": []string{gid.Encode(free)}}}).ok(t)
			if !slices.Contains(tagIDs(), free) {
				t.Error("the tag was not added")
			}
			e.post(t, tok, `mutation($id: ID!, $in: UpdateCustomerInput!) { updateCustomer(id: $id, input: $in) { id } }`,
				map[string]any{"id": targetID, "in": map[string]any{"removeTagIDs": []string{gid.Encode(free)}}}).ok(t)
			if got := tagIDs(); !slices.Equal(got, have) {
				t.Errorf("tags %v after removing again, want %v", got, have)
			}
		})

		t.Run("mkt1 may not create a customer: the name is not theirs to write", func(t *testing.T) {
			before := e.st.Client.Customer.Query().CountX(sys())
			r := e.post(t, e.token(t, "demo", "mkt1"), `mutation { createCustomer(input: {name: "营销新客"}) { id } }`, nil)
			azRefused(t, r, "FORBIDDEN", "name")
			if after := e.st.Client.Customer.Query().CountX(sys()); after != before {
				t.Errorf("customers %d -> %d", before, after)
			}
		})

		t.Run("auditor1 may not create a tag", func(t *testing.T) {
			group := e.st.Client.TagGroup.Query().Where(taggroup.TenantID(tid)).FirstIDX(sys())
			before := e.st.Client.Tag.Query().CountX(sys())
			r := e.post(t, e.token(t, "demo", "auditor1"), `mutation($g: ID!) { createTag(input: {name: "审计标签", groupID: $g}) { id } }`,
				map[string]any{"g": gid.Encode(group)})
			azRefused(t, r, "FORBIDDEN", "-")
			if after := e.st.Client.Tag.Query().CountX(sys()); after != before {
				t.Errorf("tags %d -> %d", before, after)
			}
		})

		t.Run("agent1 writes the phone of a customer they own and reads it back masked", func(t *testing.T) {
			defer func() { // put the seed's phone back
				if err := e.st.Client.Customer.UpdateOneID(target.ID).SetPhone(target.Phone).Exec(sys()); err != nil {
					t.Error(err)
				}
			}()
			r := e.post(t, e.token(t, "demo", "agent1"), update, map[string]any{"id": targetID, "in": map[string]any{"phone": "13900001111"}}).ok(t)
			var got struct{ UpdateCustomer struct{ Phone string } }
			r.decode(t, &got)
			if got.UpdateCustomer.Phone != "139****1111" {
				t.Errorf("the payload shows phone %q, want it masked as 139****1111", got.UpdateCustomer.Phone)
			}
			if c := azCustomer(t, e, target.ID); c.Phone != "13900001111" {
				t.Errorf("stored phone %q", c.Phone)
			}
		})

		t.Run("a write denied on a field is denied through its clear key too", func(t *testing.T) {
			admin := e.token(t, "demo", "admin")
			rule := map[string]any{"role": "agent", "object": "Customer.idNumber", "act": "WRITE", "effect": "DENY"}
			e.post(t, admin, `mutation($r: PolicyRuleInput!) { grant(rule: $r) { role } }`, map[string]any{"r": rule}).ok(t)
			t.Cleanup(func() {
				e.post(t, admin, `mutation($r: PolicyRuleInput!) { revoke(rule: $r) { role } }`, map[string]any{"r": rule}).ok(t)
				if err := e.st.Client.Customer.UpdateOneID(target.ID).ClearIDNumber().Exec(sys()); err != nil {
					t.Error(err)
				}
			})
			const idNumber = "11010519491231002X"
			e.post(t, admin, update, map[string]any{"id": targetID, "in": map[string]any{"idNumber": idNumber}}).ok(t)
			tok := e.token(t, "demo", "agent1")
			r := e.post(t, tok, update, map[string]any{"id": targetID, "in": map[string]any{"idNumber": "110105194912310021"}})
			azRefused(t, r, "FORBIDDEN", "idNumber")
			r = e.post(t, tok, update, map[string]any{"id": targetID, "in": map[string]any{"clearIDNumber": true}})
			if len(r.Errors) == 0 {
				t.Errorf("BUG: agent1 may not write Customer.idNumber but cleared it with clearIDNumber: graph/fieldguard.go objectField maps \"clearIDNumber\" to \"iDNumber\", finds no such field and checks Customer.clearIDNumber, which the Customer.* allow covers")
			} else {
				azRefused(t, r, "FORBIDDEN", "clearIDNumber")
			}
			if c := azCustomer(t, e, target.ID); c.IDNumber != idNumber {
				t.Errorf("idNumber %q -> %q", idNumber, c.IDNumber)
			}
		})
	})
}

// ---------------------------------------------------------------------------
// 4. Data scopes
// ---------------------------------------------------------------------------

func TestDataScopeAgentIsolation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tid := e.tenantID(t, "demo")
		db := e.st.Client
		agent1, agent2 := azStaffID(t, e, "demo", "agent1"), azStaffID(t, e, "demo", "agent2")
		mine := azCustomersOf(t, e, agent1)
		theirs := azSetOf(nil) // agent2's customers agent1 neither owns nor follows
		for id := range azCustomersOf(t, e, agent2) {
			if !mine[id] {
				theirs[id] = true
			}
		}
		if len(theirs) == 0 || len(mine) == 0 {
			t.Fatalf("agent1 has %d customers, agent2-only %d: the test would prove nothing", len(mine), len(theirs))
		}
		theirOrders := azSetOf(db.Order.Query().Where(order.CustomerIDIn(theirs.sorted()...)).IDsX(sys()))
		theirItems := azSetOf(db.OrderItem.Query().Where(orderitem.OrderIDIn(theirOrders.sorted()...)).IDsX(sys()))
		theirIdentities := azSetOf(db.CustomerIdentity.Query().Where(customeridentity.CustomerIDIn(theirs.sorted()...)).IDsX(sys()))
		theirSubmissions := azSetOf(db.FormSubmission.Query().Where(formsubmission.CustomerIDIn(theirs.sorted()...)).IDsX(sys()))
		otherTickets := azSetOf(db.Ticket.Query().Where(ticket.TenantID(tid), ticket.Or(ticket.AssigneeIDNEQ(agent1), ticket.AssigneeIDIsNil())).IDsX(sys()))
		otherComments := azSetOf(db.TicketComment.Query().Where(ticketcomment.TicketIDIn(otherTickets.sorted()...)).IDsX(sys()))
		myTickets := db.Ticket.Query().Where(ticket.TenantID(tid), ticket.AssigneeID(agent1)).IDsX(sys())
		myOrders := db.Order.Query().Where(order.CustomerIDIn(mine.sorted()...)).CountX(sys())
		if len(theirOrders) == 0 || len(theirItems) == 0 || len(otherTickets) == 0 || len(myTickets) == 0 {
			t.Fatalf("orders %d, items %d, others' tickets %d, agent1's tickets %d: too little data", len(theirOrders), len(theirItems), len(otherTickets), len(myTickets))
		}
		t.Logf("agent1: %d customers, %d orders, %d tickets; hidden: %d agent2-only customers, %d orders, %d lines, %d identities, %d submissions, %d tickets, %d comments",
			len(mine), myOrders, len(myTickets), len(theirs), len(theirOrders), len(theirItems), len(theirIdentities), len(theirSubmissions), len(otherTickets), len(otherComments))
		hidden := map[string]string{} // global id -> what it is
		for what, set := range map[string]azSet{
			"agent2-only customer": theirs, "order of an agent2-only customer": theirOrders,
			"order line of an agent2-only customer": theirItems, "identity of an agent2-only customer": theirIdentities,
			"form submission of an agent2-only customer": theirSubmissions, "ticket not assigned to agent1": otherTickets,
			"comment on a ticket not assigned to agent1": otherComments,
		} {
			for id := range set {
				hidden[gid.Encode(id)] = what
			}
		}
		leaked := func(t *testing.T, where string, raw json.RawMessage) {
			t.Helper()
			n := 0
			for _, id := range collectIDs(raw) {
				if what, ok := hidden[id]; ok {
					if n++; n <= 5 {
						t.Errorf("%s shows agent1 %s %s", where, what, id)
					}
				}
			}
			if n > 5 {
				t.Errorf("%s: %d hidden rows in all", where, n)
			}
		}
		tok := e.token(t, "demo", "agent1")

		t.Run("customers are the ones agent1 owns or follows", func(t *testing.T) {
			r := e.post(t, tok, `{ customers(first: 100) { totalCount edges { node { id } } } }`, nil).ok(t)
			var got struct{ Customers azConn[struct{ ID string }] }
			r.decode(t, &got)
			if got.Customers.TotalCount != len(mine) {
				t.Errorf("totalCount %d, agent1 owns or follows %d", got.Customers.TotalCount, len(mine))
			}
			for _, n := range got.Customers.nodes() {
				if !mine[azDecode(t, n.ID)] {
					t.Errorf("customer %s is not agent1's", n.ID)
				}
			}
			leaked(t, "customers", r.Data)
		})

		t.Run("node and nodes return null for every hidden row", func(t *testing.T) {
			var ids []string
			for _, set := range []azSet{theirs, theirOrders, theirItems, theirIdentities, theirSubmissions, otherTickets, otherComments} {
				for _, id := range set.first(8) {
					ids = append(ids, gid.Encode(id))
				}
			}
			shown := map[string][]string{} // what -> ids node returned
			for _, id := range ids {
				r := e.post(t, tok, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
				if string(r.Data) != `{"node":null}` {
					shown[hidden[id]] = append(shown[hidden[id]], id)
				}
			}
			for _, what := range slices.Sorted(maps.Keys(shown)) {
				bug := ""
				if what == "order line of an agent2-only customer" {
					bug = "BUG: OrderItem has no data-scope rule (ent/schema/order.go OrderItem has no Interceptors/Hooks; ent/schema/scope.go has no orderItemScope): order lines do not follow their order's customer. "
				}
				t.Errorf("%snode returns %d of %d tried: %s %v", bug, len(shown[what]), 8, what, shown[what])
			}
			r := e.post(t, tok, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids})
			leaked(t, "nodes", r.Data)
		})

		t.Run("orders are those of agent1's customers", func(t *testing.T) {
			r := e.post(t, tok, `query($ids: [ID!]) { orders(first: 100, where: {hasCustomerWith: [{idIn: $ids}]}) { totalCount edges { node { id } } } }`,
				map[string]any{"ids": theirs.gids()}).ok(t)
			var got struct{ Orders azConn[struct{ ID string }] }
			r.decode(t, &got)
			if got.Orders.TotalCount != 0 {
				t.Errorf("orders of agent2-only customers: totalCount %d", got.Orders.TotalCount)
			}
			r = e.post(t, tok, `{ orders(first: 100) { totalCount edges { node { id } } } }`, nil).ok(t)
			r.decode(t, &got)
			if got.Orders.TotalCount != myOrders {
				t.Errorf("orders totalCount %d, agent1's customers have %d", got.Orders.TotalCount, myOrders)
			}
			leaked(t, "orders", r.Data)
		})

		t.Run("tickets are those assigned to agent1", func(t *testing.T) {
			r := e.post(t, tok, `{ tickets(first: 100) { totalCount edges { node { id assigneeID } } } }`, nil).ok(t)
			var got struct {
				Tickets azConn[struct{ ID, AssigneeID string }]
			}
			r.decode(t, &got)
			if got.Tickets.TotalCount != len(myTickets) {
				t.Errorf("totalCount %d, %d tickets are assigned to agent1", got.Tickets.TotalCount, len(myTickets))
			}
			for _, n := range got.Tickets.nodes() {
				if n.AssigneeID != gid.Encode(agent1) {
					t.Errorf("ticket %s is assigned to %q", n.ID, n.AssigneeID)
				}
			}
		})

		t.Run("every root connection", func(t *testing.T) {
			walked := 0
			for _, f := range rootFields(t, e, tok, "queryType") {
				if !strings.HasSuffix(f.typeName(), "Connection") {
					continue
				}
				walked++
				r := e.post(t, tok, fmt.Sprintf(`{ %s(first: 100) { edges { node { id } } } }`, f.Name), nil)
				for _, g := range r.Errors {
					if g.code() != "FORBIDDEN" {
						t.Errorf("%s: %s %s", f.Name, g.code(), g.Message)
					}
				}
				leaked(t, f.Name, r.Data)
			}
			if walked < 8 {
				t.Fatalf("walked only %d root connections", walked)
			}
		})

		t.Run("customersByPhone finds no hidden customer", func(t *testing.T) {
			if !slices.ContainsFunc(rootFields(t, e, tok, "queryType"), func(f schemaField) bool { return f.Name == "customersByPhone" }) {
				t.Fatal("the API has no customersByPhone")
			}
			var phone string
			for _, id := range theirs.sorted() {
				if c := azCustomer(t, e, id); c.Phone != "" {
					phone = c.Phone
					break
				}
			}
			r := e.post(t, tok, `query($p: String!) { customersByPhone(phone: $p) { id } }`, map[string]any{"p": phone})
			leaked(t, "customersByPhone", r.Data)
			for _, g := range r.Errors {
				if g.code() != "FORBIDDEN" {
					t.Errorf("customersByPhone: %s %s", g.code(), g.Message)
				}
			}
			// The lookup works for agent1's own customers, so the empty
			// answer above is the scope at work.
			for _, id := range mine.sorted() {
				if c := azCustomer(t, e, id); c.Phone != "" {
					r := e.post(t, tok, `query($p: String!) { customersByPhone(phone: $p) { id } }`, map[string]any{"p": c.Phone})
					if len(r.Errors) == 0 && !slices.Contains(collectIDs(r.Data), gid.Encode(id)) {
						t.Errorf("customersByPhone(%s) does not find agent1's own customer %s: %s", c.Phone, gid.Encode(id), r.Data)
					}
					break
				}
			}
		})

		t.Run("nested edges", func(t *testing.T) {
			// The walk asks for every row along every edge at once, far
			// past what the operation limits let a client ask for.
			unlimited := e.withHTTPOptions(func(o *httpapi.Options) { o.Limits.MaxCost, o.Limits.MaxNodes = -1, -1 })
			r := unlimited.post(t, tok, `{
				staff(first: 20) { edges { node { id
					ownedCustomers(first: 100) { edges { node { id orders(first: 20) { edges { node { id items { id } } } } } } }
					followedCustomers(first: 100) { edges { node { id identities(first: 10) { edges { node { id } } } } } }
					assignedTickets(first: 100) { edges { node { id comments(first: 10) { edges { node { id } } } } } } } } }
				tags(first: 20) { edges { node { id customers(first: 100) { edges { node { id } } } } } }
				tickets(first: 100) { edges { node { id customer { id } order { id items { id } } comments(first: 10) { edges { node { id } } } } } }
				forms(first: 10) { edges { node { id submissions(first: 100) { edges { node { id customer { id } } } } } } }
				departments(first: 20) { edges { node { id staff(first: 20) { edges { node { id ownedCustomers(first: 100) { edges { node { id } } } } } } } } }
			}`, nil)
			for _, g := range r.Errors {
				t.Errorf("%s at %s: %s", g.code(), azPath(g), g.Message)
			}
			leaked(t, "nested edges", r.Data)
		})

		t.Run("writes to hidden rows are NOT_FOUND and change nothing", func(t *testing.T) {
			before := map[int]string{}
			for _, id := range theirs.sorted() {
				c := azCustomer(t, e, id)
				before[id] = c.Name + "|" + c.UpdatedAt.String()
			}
			for _, tc := range []struct {
				name, mutation string
				id             int
				codes          []string
			}{
				{"updateCustomer", `mutation($id: ID!) { updateCustomer(id: $id, input: {name: "x"}) { id } }`, theirs.sorted()[0], []string{"NOT_FOUND"}},
				{"updateCustomerIdentity", `mutation($id: ID!) { updateCustomerIdentity(id: $id, input: {appID: "x"}) { id } }`, theirIdentities.sorted()[0], []string{"NOT_FOUND"}},
				{"updateOrder", `mutation($id: ID!) { updateOrder(id: $id, input: {}) { id } }`, theirOrders.sorted()[0], []string{"NOT_FOUND", "FORBIDDEN"}},
				{"updateTicket", `mutation($id: ID!) { updateTicket(id: $id, input: {title: "x"}) { id } }`, otherTickets.sorted()[0], []string{"NOT_FOUND"}},
				{"updateTicketComment", `mutation($id: ID!) { updateTicketComment(id: $id, input: {}) { id } }`, otherComments.sorted()[0], []string{"NOT_FOUND"}},
				{"updateFormSubmission", `mutation($id: ID!) { updateFormSubmission(id: $id, input: {}) { id } }`, theirSubmissions.sorted()[0], []string{"NOT_FOUND"}},
			} {
				if tc.id == 0 {
					continue
				}
				r := e.post(t, tok, tc.mutation, map[string]any{"id": gid.Encode(tc.id)})
				if len(r.Errors) != 1 || !slices.Contains(tc.codes, r.Errors[0].code()) {
					t.Errorf("%s of a hidden row: want one of %v, got %s", tc.name, tc.codes, r.Body)
				}
			}
			for _, id := range theirs.sorted() {
				c := azCustomer(t, e, id)
				if before[id] != c.Name+"|"+c.UpdatedAt.String() {
					t.Errorf("agent2-only customer %d changed: %s -> %s|%s", id, before[id], c.Name, c.UpdatedAt)
				}
			}
		})

		t.Run("links to hidden rows are refused", func(t *testing.T) {
			cust := gid.Encode(theirs.sorted()[0])
			survey := db.Form.Query().Where(form.TenantID(tid), form.Name("售后服务满意度调查")).OnlyIDX(sys())
			count := func() string {
				return fmt.Sprint(db.Ticket.Query().CountX(sys()), db.Order.Query().CountX(sys()), db.CustomerIdentity.Query().CountX(sys()),
					db.FormSubmission.Query().CountX(sys()), db.TicketComment.Query().CountX(sys()), db.Customer.QueryMergedCustomers(azCustomer(t, e, mine.sorted()[0])).CountX(sys()))
			}
			before := count()
			for _, tc := range []struct {
				name, mutation string
				vars           map[string]any
				codes          []string
				field          string
			}{
				{"createTicket", `mutation($c: ID!) { createTicket(input: {title: "越权", customerID: $c}) { id } }`, map[string]any{"c": cust}, []string{"BAD_USER_INPUT"}, "customerID"},
				{"createOrder", `mutation($c: ID!, $p: String!) { createOrder(input: {platform: POS, shopID: "x", platformOrderID: $p, totalAmount: 1, customerID: $c}) { id } }`,
					map[string]any{"c": cust, "p": "scope-" + e.backend}, []string{"BAD_USER_INPUT", "FORBIDDEN"}, "customerID"},
				{"createCustomerIdentity", `mutation($c: ID!, $x: String!) { createCustomerIdentity(input: {platform: TAOBAO, appID: "tb", externalID: $x, customerID: $c}) { id } }`,
					map[string]any{"c": cust, "x": "scope-" + e.backend}, []string{"BAD_USER_INPUT"}, "customerID"},
				{"createFormSubmission", `mutation($f: ID!, $c: ID!) { createFormSubmission(input: {formID: $f, customerID: $c, data: {rating: "满意", resolved: true}}) { id } }`,
					map[string]any{"f": gid.Encode(survey), "c": cust}, []string{"BAD_USER_INPUT"}, "customerID"},
				{"addTicketComment", `mutation($t: ID!) { addTicketComment(input: {ticketID: $t, body: "越权"}) { id } }`,
					map[string]any{"t": gid.Encode(otherTickets.sorted()[0])}, []string{"BAD_USER_INPUT"}, "ticketID"},
				{"updateTicket of agent1's own ticket", `mutation($id: ID!, $c: ID!) { updateTicket(id: $id, input: {customerID: $c}) { id } }`,
					map[string]any{"id": gid.Encode(myTickets[0]), "c": cust}, []string{"BAD_USER_INPUT"}, "customerID"},
				{"merging a hidden customer into agent1's", `mutation($id: ID!, $c: ID!) { updateCustomer(id: $id, input: {addMergedCustomerIDs: [$c]}) { id } }`,
					map[string]any{"id": gid.Encode(mine.sorted()[0]), "c": cust}, []string{"BAD_USER_INPUT"}, "addMergedCustomerIDs"},
			} {
				r := e.post(t, tok, tc.mutation, tc.vars)
				if len(r.Errors) != 1 || !slices.Contains(tc.codes, r.Errors[0].code()) ||
					(r.Errors[0].code() == "BAD_USER_INPUT" && r.Errors[0].field() != tc.field) {
					t.Errorf("%s: want %v naming %s, got %s", tc.name, tc.codes, tc.field, r.Body)
				}
			}
			if after := count(); after != before {
				t.Errorf("rows written: %s -> %s", before, after)
			}
		})

		t.Run("sup1 sees the customers of their region's staff", func(t *testing.T) {
			sup1 := azStaffID(t, e, "demo", "sup1")
			roots := db.Department.Query().Where(department.TenantID(tid), department.HasStaffWith(staff.ID(sup1))).IDsX(sys())
			tree := slices.Clone(roots)
			for level := roots; len(level) > 0; {
				level = db.Department.Query().Where(department.TenantID(tid), department.ParentIDIn(level...)).IDsX(sys())
				tree = append(tree, level...)
			}
			members := db.Staff.Query().Where(staff.TenantID(tid), staff.HasDepartmentsWith(department.IDIn(tree...))).IDsX(sys())
			if !slices.Contains(members, agent1) {
				t.Fatal("agent1's store is not under sup1's region in the seed")
			}
			if slices.Contains(members, agent2) {
				t.Fatal("agent2's store is under sup1's region in the seed")
			}
			want := azCustomersOf(t, e, append(members, sup1)...)
			stok := e.token(t, "demo", "sup1")
			if got := azCustomerCount(t, e, stok); got != len(want) {
				t.Errorf("sup1 sees %d customers, their subtree's staff own or follow %d", got, len(want))
			}
			r := e.post(t, stok, `query($a: ID!) { customers(first: 100, where: {or: [{hasOwnerWith: [{id: $a}]}, {hasFollowersWith: [{id: $a}]}]}) { totalCount } }`,
				map[string]any{"a": gid.Encode(agent1)}).ok(t)
			var got struct{ Customers azConn[struct{ ID string }] }
			r.decode(t, &got)
			if got.Customers.TotalCount != len(mine) {
				t.Errorf("sup1 sees %d of agent1's %d customers", got.Customers.TotalCount, len(mine))
			}
			r = e.post(t, stok, `query($ids: [ID!]) { customers(first: 100, where: {idIn: $ids}) { totalCount } }`, map[string]any{"ids": theirs.gids()}).ok(t)
			r.decode(t, &got)
			if got.Customers.TotalCount != 0 {
				t.Errorf("sup1 sees %d agent2-only customers", got.Customers.TotalCount)
			}
		})

		t.Run("admin sees every customer", func(t *testing.T) {
			want := db.Customer.Query().Where(customer.TenantID(tid)).CountX(sys())
			if got := azCustomerCount(t, e, e.token(t, "demo", "admin")); got != want {
				t.Errorf("admin sees %d customers of %d", got, want)
			}
		})
	})
}

// ---------------------------------------------------------------------------
// 5. Policy management
// ---------------------------------------------------------------------------

const (
	azGrant       = `mutation($r: PolicyRuleInput!) { grant(rule: $r) { role object act effect } }`
	azRevoke      = `mutation($r: PolicyRuleInput!) { revoke(rule: $r) { role object act effect } }`
	azDefineRole  = `mutation($n: String!, $i: [String!]!) { defineRole(name: $n, inherits: $i) { name builtin inherits scope { kind } } }`
	azAssignRoles = `mutation($id: ID!, $roles: [String!]!) { assignRoles(staffID: $id, roles: $roles) { id roles } }`
	azSetScope    = `mutation($role: String!, $scope: DataScopeKind!, $ids: [ID!]) { setRoleScope(role: $role, scope: $scope, departmentIDs: $ids) { name scope { kind departmentIDs } } }`
)

func azRule(role, object, act, effect string) map[string]any {
	return map[string]any{"r": map[string]any{"role": role, "object": object, "act": act, "effect": effect}}
}

func TestPolicyManagement(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			e := fresh(t, backend)
			tid := e.tenantID(t, "demo")
			admin := e.token(t, "demo", "admin")
			adminID, agent1ID, agent2ID := azStaffID(t, e, "demo", "admin"), azStaffID(t, e, "demo", "agent1"), azStaffID(t, e, "demo", "agent2")
			agent1 := e.token(t, "demo", "agent1")
			phonesOf := func(t *testing.T, tok string) (full, masked int) {
				t.Helper()
				r := e.post(t, tok, `{ customers(first: 30) { edges { node { id phone } } } }`, nil).ok(t)
				var got struct{ Customers azConn[azCust] }
				r.decode(t, &got)
				for _, n := range got.Customers.nodes() {
					c := azCustomer(t, e, azDecode(t, n.ID))
					switch p := azStr(n.Phone); {
					case c.Phone == "":
					case p == c.Phone && azFullPhone.MatchString(p):
						full++
					case azMaskedPhone.MatchString(p):
						masked++
					default:
						t.Errorf("%s: phone %q is neither %q nor its mask", n.ID, p, c.Phone)
					}
				}
				if full+masked == 0 {
					t.Fatal("no phone to check")
				}
				return full, masked
			}

			t.Run("roles lists the built-ins", func(t *testing.T) {
				r := e.post(t, admin, `{ roles { name builtin inherits scope { kind } } }`, nil).ok(t)
				var got struct {
					Roles []struct {
						Name     string
						Builtin  bool
						Inherits []string
						Scope    struct{ Kind string }
					}
				}
				r.decode(t, &got)
				want := map[string]string{"admin": "ALL", "supervisor": "DEPARTMENT_SUBTREE", "agent": "OWN", "marketer": "ALL", "auditor": "OWN", "partner": "ALL", "customer": "OWN"}
				if len(got.Roles) != len(authz.BuiltinRoles) {
					t.Errorf("%d roles, want the %d built-ins: %s", len(got.Roles), len(authz.BuiltinRoles), r.Data)
				}
				for _, role := range got.Roles {
					if scope, ok := want[role.Name]; !ok || !role.Builtin || len(role.Inherits) != 0 || role.Scope.Kind != scope {
						t.Errorf("role %+v; want built-in with scope %s", role, scope)
					}
				}
			})

			t.Run("a custom role inheriting agent, granted phones, shows them in full", func(t *testing.T) {
				agent2 := e.token(t, "demo", "agent2") // signed while agent2 is a plain agent
				if full, _ := phonesOf(t, agent2); full != 0 {
					t.Fatalf("agent2 sees %d phones in full before any change", full)
				}
				r := e.post(t, admin, azDefineRole, map[string]any{"n": "senior_agent", "i": []string{"agent"}}).ok(t)
				var role struct {
					DefineRole struct {
						Name     string
						Builtin  bool
						Inherits []string
						Scope    struct{ Kind string }
					}
				}
				r.decode(t, &role)
				if d := role.DefineRole; d.Name != "senior_agent" || d.Builtin || !slices.Equal(d.Inherits, []string{"agent"}) || d.Scope.Kind != "OWN" {
					t.Errorf("defineRole returned %+v", d)
				}
				rule := azRule("senior_agent", "Customer.phone", "READ", "ALLOW")
				r = e.post(t, admin, azGrant, rule).ok(t)
				if !strings.Contains(string(r.Data), `"object":"Customer.phone"`) {
					t.Errorf("grant returned %s", r.Data)
				}
				e.post(t, admin, azAssignRoles, map[string]any{"id": gid.Encode(agent2ID), "roles": []string{"senior_agent"}}).ok(t)
				defer func() {
					e.post(t, admin, azAssignRoles, map[string]any{"id": gid.Encode(agent2ID), "roles": []string{"agent"}}).ok(t)
				}()
				if d := e.az.Grants(tid, []string{"senior_agent"}).Read("Customer", "phone"); d != authz.Allow {
					t.Errorf("senior_agent inherits agent and holds \"allow read Customer.phone\", yet decides %s: "+
						"a role's own line must win over what it inherits (authz/decide.go)", d)
				}
				if full, masked := phonesOf(t, agent2); masked != 0 || full == 0 {
					t.Errorf("agent2 as senior_agent (old token) sees %d phones in full and %d masked; want all in full", full, masked)
				}
				e.post(t, admin, azRevoke, rule).ok(t)
				if full, masked := phonesOf(t, agent2); full != 0 || masked == 0 {
					t.Errorf("after the revoke agent2 sees %d phones in full and %d masked; want all masked", full, masked)
				}
			})

			agent2GID := gid.Encode(agent2ID)
			acmeDept := e.st.Client.Department.Query().Where(department.TenantID(e.tenantID(t, "acme"))).FirstIDX(sys())
			demoStore := e.st.Client.Department.Query().Where(department.TenantID(tid), department.HasStaffWith(staff.ID(agent2ID))).FirstIDX(sys())
			t.Run("bad input is refused, naming the field, and changes nothing", func(t *testing.T) {
				for _, tc := range []struct {
					name, mutation string
					vars           map[string]any
					field          string
				}{
					{"grant to an unknown role", azGrant, azRule("nobody", "Customer.phone", "READ", "ALLOW"), "rule.role"},
					{"grant on an unknown field", azGrant, azRule("agent", "Customer.nope", "READ", "ALLOW"), "rule.object"},
					{"grant on an unknown type", azGrant, azRule("agent", "Nope.phone", "READ", "ALLOW"), "rule.object"},
					{"grant on something that is no object", azGrant, azRule("agent", "datascope:all", "READ", "ALLOW"), "rule.object"},
					{"mask a field that has no mask", azGrant, azRule("agent", "Customer.tier", "READ", "MASK"), "rule.object"},
					{"mask a write", azGrant, azRule("agent", "Customer.phone", "WRITE", "MASK"), "rule.effect"},
					{"reveal a field that has no mask", azGrant, azRule("agent", "Order.paidAmount", "REVEAL", "ALLOW"), "rule.object"},
					{"assign an unknown role", azAssignRoles, map[string]any{"id": agent2GID, "roles": []string{"nobody"}}, "roles[0]"},
					{"assign a malformed role", azAssignRoles, map[string]any{"id": agent2GID, "roles": []string{"agent", "Senior Agent"}}, "roles[1]"},
					{"assign roles to another tenant's staff", azAssignRoles, map[string]any{"id": gid.Encode(azStaffID(t, e, "acme", "agent2")), "roles": []string{"agent"}}, "staffID"},
					{"define a role with a built-in name", azDefineRole, map[string]any{"n": "agent", "i": []string{}}, "name"},
					{"define a role with a malformed name", azDefineRole, map[string]any{"n": "Senior Agent", "i": []string{"agent"}}, "name"},
					{"define a role inheriting itself", azDefineRole, map[string]any{"n": "loop", "i": []string{"loop"}}, "inherits[0]"},
					{"define a role inheriting an unknown role", azDefineRole, map[string]any{"n": "orphan", "i": []string{"agent", "nobody"}}, "inherits[1]"},
					{"revoke a line that does not exist", azRevoke, azRule("agent", "Customer.tier", "WRITE", "DENY"), "rule"},
					{"scope DEPARTMENTS without departments", azSetScope, map[string]any{"role": "agent", "scope": "DEPARTMENTS"}, "departmentIDs"},
					{"scope ALL with departments", azSetScope, map[string]any{"role": "agent", "scope": "ALL", "ids": []string{gid.Encode(demoStore)}}, "departmentIDs"},
					{"scope naming another tenant's department", azSetScope, map[string]any{"role": "agent", "scope": "DEPARTMENTS", "ids": []string{gid.Encode(acmeDept)}}, "departmentIDs"},
					{"scope of an unknown role", azSetScope, map[string]any{"role": "nobody", "scope": "ALL"}, "role"},
				} {
					t.Run(tc.name, func(t *testing.T) {
						before := azPolicyState(t, e, admin)
						azRefused(t, e.post(t, admin, tc.mutation, tc.vars), "BAD_USER_INPUT", tc.field)
						azSameState(t, before, azPolicyState(t, e, admin))
					})
				}
			})

			t.Run("a role may not come to inherit from itself through another", func(t *testing.T) {
				e.post(t, admin, azDefineRole, map[string]any{"n": "lvl1", "i": []string{"agent"}}).ok(t)
				e.post(t, admin, azDefineRole, map[string]any{"n": "lvl2", "i": []string{"lvl1"}}).ok(t)
				before := azPolicyState(t, e, admin)
				azRefused(t, e.post(t, admin, azDefineRole, map[string]any{"n": "lvl1", "i": []string{"lvl2"}}), "BAD_USER_INPUT", "inherits[0]")
				azSameState(t, before, azPolicyState(t, e, admin))
			})

			t.Run("the last admin cannot lock the tenant out", func(t *testing.T) {
				for _, tc := range []struct {
					name, mutation string
					vars           map[string]any
					fields         []string
				}{
					{"assignRoles admin -> agent", azAssignRoles, map[string]any{"id": gid.Encode(adminID), "roles": []string{"agent"}}, []string{"roles", "staffID"}},
					{"assignRoles admin -> none", azAssignRoles, map[string]any{"id": gid.Encode(adminID), "roles": []string{}}, []string{"roles", "staffID"}},
					{"revoke admin's read on *", azRevoke, azRule("admin", "*", "READ", "ALLOW"), []string{"rule"}},
					{"deny admin grant", azGrant, azRule("admin", "Mutation.grant", "READ", "DENY"), []string{"rule", "rule.effect"}},
				} {
					t.Run(tc.name, func(t *testing.T) {
						before := azPolicyState(t, e, admin)
						r := e.post(t, admin, tc.mutation, tc.vars)
						azRefused(t, r, "BAD_USER_INPUT", "-")
						if len(r.Errors) == 1 && !slices.Contains(tc.fields, r.Errors[0].field()) {
							t.Errorf("GAP: the lock-out refusal names field %q, want one of %v (authz/manage.go checkNotLockedOut returns apperr.Invalid(\"\", ...))", r.Errors[0].field(), tc.fields)
						}
						azSameState(t, before, azPolicyState(t, e, admin))
						e.post(t, admin, `{ policies(role: "admin") { object } }`, nil).ok(t)
					})
				}
				t.Run("with a second admin the first may step down", func(t *testing.T) {
					sup1ID := azStaffID(t, e, "demo", "sup1")
					e.post(t, admin, azAssignRoles, map[string]any{"id": gid.Encode(sup1ID), "roles": []string{"admin", "supervisor"}}).ok(t)
					e.post(t, admin, azAssignRoles, map[string]any{"id": gid.Encode(adminID), "roles": []string{"supervisor"}}).ok(t)
					sup1 := e.token(t, "demo", "sup1")
					e.post(t, sup1, azAssignRoles, map[string]any{"id": gid.Encode(adminID), "roles": []string{"admin"}}).ok(t)
					e.post(t, admin, azAssignRoles, map[string]any{"id": gid.Encode(sup1ID), "roles": []string{"supervisor"}}).ok(t)
				})
			})

			t.Run("setRoleScope widens and narrows what agents see", func(t *testing.T) {
				own := azCustomersOf(t, e, agent1ID)
				if got := azCustomerCount(t, e, agent1); got != len(own) {
					t.Fatalf("agent1 sees %d customers, owns or follows %d", got, len(own))
				}
				r := e.post(t, admin, azSetScope, map[string]any{"role": "agent", "scope": "ALL"}).ok(t)
				if !strings.Contains(string(r.Data), `"kind":"ALL"`) {
					t.Errorf("setRoleScope returned %s", r.Data)
				}
				all := e.st.Client.Customer.Query().Where(customer.TenantID(tid)).CountX(sys())
				if got := azCustomerCount(t, e, agent1); got != all {
					t.Errorf("with scope ALL agent1 sees %d customers of %d", got, all)
				}
				e.post(t, admin, azSetScope, map[string]any{"role": "agent", "scope": "DEPARTMENTS", "ids": []string{gid.Encode(demoStore)}}).ok(t)
				storeStaff := e.st.Client.Staff.Query().Where(staff.HasDepartmentsWith(department.ID(demoStore))).IDsX(sys())
				if got, want := azCustomerCount(t, e, agent1), len(azCustomersOf(t, e, append(storeStaff, agent1ID)...)); got != want {
					t.Errorf("with scope DEPARTMENTS [agent2's store] agent1 sees %d customers, want %d", got, want)
				}
				e.post(t, admin, azSetScope, map[string]any{"role": "agent", "scope": "OWN"}).ok(t)
				if got := azCustomerCount(t, e, agent1); got != len(own) {
					t.Errorf("back to OWN agent1 sees %d customers, want %d", got, len(own))
				}
			})

			t.Run("only admins manage roles and policies", func(t *testing.T) {
				own := azCustomerCount(t, e, agent1)
				for _, login := range []string{"agent1", "sup1"} {
					tok := e.token(t, "demo", login)
					for _, tc := range []struct {
						name, mutation string
						vars           map[string]any
					}{
						{"policies", `{ policies { role } }`, nil},
						{"grant", azGrant, azRule("agent", "Customer.phone", "READ", "ALLOW")},
						{"revoke", azRevoke, azRule("agent", "Customer.phone", "READ", "MASK")},
						{"assignRoles", azAssignRoles, map[string]any{"id": gid.Encode(azStaffID(t, e, "demo", login)), "roles": []string{"admin"}}},
						{"defineRole", azDefineRole, map[string]any{"n": "by_" + login, "i": []string{"admin"}}},
						{"setRoleScope", azSetScope, map[string]any{"role": "agent", "scope": "ALL"}},
					} {
						t.Run(login+" "+tc.name, func(t *testing.T) {
							before := azPolicyState(t, e, admin)
							r := e.post(t, tok, tc.mutation, tc.vars)
							if len(r.Errors) != 1 || r.Errors[0].code() != "FORBIDDEN" {
								t.Errorf("BUG: %s may call %s (Mutation.%s is missing from adminOnly in authz/defaults.go): %s", login, tc.name, tc.name, r.Body)
							}
							azSameState(t, before, azPolicyState(t, e, admin))
							if tc.name == "setRoleScope" && len(r.Errors) == 0 {
								if got := azCustomerCount(t, e, agent1); got != own {
									t.Errorf("BUG: %s widened every agent's data scope: agent1 now sees %d customers instead of %d", login, got, own)
								}
								e.post(t, admin, azSetScope, map[string]any{"role": "agent", "scope": "OWN"}).ok(t)
							}
						})
					}
				}
			})

			t.Run("the only admin cannot resign", func(t *testing.T) {
				r := e.post(t, admin, `mutation($id: ID!) { updateStaff(id: $id, input: {status: RESIGNED}) { status } }`, map[string]any{"id": gid.Encode(adminID)})
				if len(r.Errors) == 0 {
					t.Errorf("BUG: the tenant's only admin resigned through updateStaff: no active staff member can manage roles and policies any more " +
						"(the lock-out check of authz/manage.go runs only in authz's own mutations, not on Staff status changes)")
					if err := e.st.Client.Staff.UpdateOneID(adminID).SetStatus(staff.StatusActive).Exec(sys()); err != nil {
						t.Fatal(err)
					}
				} else {
					azRefused(t, r, "BAD_USER_INPUT", "-")
				}
				e.post(t, admin, `{ policies(role: "admin") { object } }`, nil).ok(t)
			})
		})
	}
}

// ---------------------------------------------------------------------------
// 6. Reveal
// ---------------------------------------------------------------------------

const azReveal = `mutation($id: ID!, $f: CustomerSensitiveField!, $p: String!) { revealCustomerField(customerID: $id, field: $f, purpose: $p) }`

type azAuditEntry struct {
	Action, Operation, ObjectType, Purpose, RequestID, ClientIP string
	ObjectIds, Fields                                           []string
	ActorID                                                     *string
}

// azAuditByRequest returns the audit entries of one request, as auditor1
// sees them.
func azAuditByRequest(t *testing.T, e *env, requestID string) []azAuditEntry {
	t.Helper()
	r := e.post(t, e.token(t, "demo", "auditor1"), `query($rid: String!) { auditLog(first: 50, where: {requestID: $rid}) {
		edges { node { action operation objectType objectIds fields purpose actorID requestID clientIP } } } }`,
		map[string]any{"rid": requestID}).ok(t)
	var got struct{ AuditLog azConn[azAuditEntry] }
	r.decode(t, &got)
	return got.AuditLog.nodes()
}

func TestRevealIsAuditedAndBounded(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		agent1ID := azStaffID(t, e, "demo", "agent1")
		agent2ID := azStaffID(t, e, "demo", "agent2")
		mine := azCustomersOf(t, e, agent1ID)
		var c *ent.Customer
		for _, id := range mine.sorted() {
			if x := azCustomer(t, e, id); x.Phone != "" && x.Address != "" {
				c = x
				break
			}
		}
		if c == nil {
			t.Fatal("agent1 has no customer with a phone and an address")
		}
		tok := e.token(t, "demo", "agent1")
		reveal := func(t *testing.T, tok string, id int, field, purpose string) *response {
			t.Helper()
			r := e.post(t, tok, azReveal, map[string]any{"id": gid.Encode(id), "f": field, "p": purpose})
			if len(r.Errors) == 1 && r.Errors[0].code() == "RATE_LIMITED" {
				t.Fatal("revealCustomerField hit its hourly limit: this test reveals far fewer than the limit (TestRevealIsRateLimitedPerStaffMember tests the limit)")
			}
			return r
		}

		t.Run("agent1 reveals the phone of their customer, audited with the purpose", func(t *testing.T) {
			const purpose = "回电处理工单 T-000001"
			r := reveal(t, tok, c.ID, "PHONE", purpose).ok(t)
			var got struct{ RevealCustomerField string }
			r.decode(t, &got)
			if got.RevealCustomerField != c.Phone || !azFullPhone.MatchString(got.RevealCustomerField) {
				t.Errorf("revealed %q, want %q", got.RevealCustomerField, c.Phone)
			}
			rid := azRequestID(t, r)
			entries := azAuditByRequest(t, e, rid)
			ok := slices.ContainsFunc(entries, func(a azAuditEntry) bool {
				return a.Action == "REVEAL" && a.Purpose == purpose && slices.Contains(a.Fields, "phone") &&
					slices.Contains(a.ObjectIds, gid.Encode(c.ID)) && a.ActorID != nil && *a.ActorID == gid.Encode(agent1ID)
			})
			if !ok {
				t.Errorf("BUG: no REVEAL audit entry with the purpose, field phone, the customer and agent1 for request %s; entries: %+v "+
					"(resolvers/audit.go lists revealCustomerField as selfAudited, so the observer skips it, but resolvers/reveal.go never records an entry)", rid, entries)
			}
			// The brief's query: REVEAL entries, as an admin would list them.
			r = e.post(t, e.token(t, "demo", "admin"), `{ auditLog(first: 50, where: {action: REVEAL}) { edges { node { requestID purpose fields } } } }`, nil)
			if len(r.Errors) == 0 && !strings.Contains(string(r.Data), rid) {
				t.Errorf("auditLog(where: {action: REVEAL}) as admin does not list request %s", rid)
			}
		})

		t.Run("agent1 reveals an address", func(t *testing.T) {
			r := reveal(t, tok, c.ID, "ADDRESS", "上门退换货取件").ok(t)
			var got struct{ RevealCustomerField string }
			r.decode(t, &got)
			if got.RevealCustomerField != c.Address {
				t.Errorf("revealed %q, want %q", got.RevealCustomerField, c.Address)
			}
		})

		t.Run("an empty purpose is refused and reveals nothing", func(t *testing.T) {
			for _, purpose := range []string{"", "   "} {
				r := reveal(t, tok, c.ID, "PHONE", purpose)
				azRefused(t, r, "BAD_USER_INPUT", "purpose")
				if strings.Contains(string(r.Body), c.Phone) {
					t.Errorf("the refusal carries the phone: %s", r.Body)
				}
			}
		})

		t.Run("a customer outside agent1's scope is NOT_FOUND", func(t *testing.T) {
			var theirs int
			for id := range azCustomersOf(t, e, agent2ID) {
				if !mine[id] && azCustomer(t, e, id).Phone != "" {
					theirs = id
					break
				}
			}
			if theirs == 0 {
				t.Fatal("no agent2-only customer with a phone")
			}
			r := reveal(t, tok, theirs, "PHONE", "回电处理工单 T-000002")
			azRefused(t, r, "NOT_FOUND", "-")
			if p := azCustomer(t, e, theirs).Phone; strings.Contains(string(r.Body), p) {
				t.Errorf("the refusal carries the phone: %s", r.Body)
			}
		})

		t.Run("agent1 may not reveal an email", func(t *testing.T) {
			azRefused(t, reveal(t, tok, c.ID, "EMAIL", "发送电子发票"), "FORBIDDEN", "-")
		})

		t.Run("mkt1 may not reveal", func(t *testing.T) {
			r := reveal(t, e.token(t, "demo", "mkt1"), c.ID, "PHONE", "营销活动回访")
			azRefused(t, r, "FORBIDDEN", "-")
			if strings.Contains(string(r.Body), c.Phone) {
				t.Errorf("the refusal carries the phone: %s", r.Body)
			}
		})
	})
}

// ---------------------------------------------------------------------------
// 7. The audit trail
// ---------------------------------------------------------------------------

type azChainReport struct {
	OK          bool `json:"ok"`
	Checked     int
	BrokenAtSeq *int
	Reason      *string
}

func azVerifyChain(t *testing.T, e *env) azChainReport {
	t.Helper()
	r := e.post(t, e.token(t, "demo", "auditor1"), `{ verifyAuditChain { ok checked brokenAtSeq reason } }`, nil).ok(t)
	var got struct{ VerifyAuditChain azChainReport }
	r.decode(t, &got)
	return got.VerifyAuditChain
}

type azSealed struct{ id, seq int }

// azSealedEntries seals the demo tenant's trail (through the API) and
// returns its entries in chain order.
func azSealedEntries(t *testing.T, e *env) []azSealed {
	t.Helper()
	if rep := azVerifyChain(t, e); !rep.OK {
		t.Fatalf("the untouched chain does not verify: %+v", rep)
	}
	rows, err := e.st.DB.Query("SELECT id, seq FROM audit_logs WHERE tenant_id = ? AND seq IS NOT NULL ORDER BY seq", e.tenantID(t, "demo"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []azSealed
	for rows.Next() {
		var s azSealed
		if err := rows.Scan(&s.id, &s.seq); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if len(out) < 3 {
		t.Fatalf("only %d sealed entries", len(out))
	}
	return out
}

// azAuditActivity makes a few audited changes as admin.
func azAuditActivity(t *testing.T, e *env) {
	t.Helper()
	admin := e.token(t, "demo", "admin")
	for i := range 3 {
		e.post(t, admin, `mutation($n: String!) { createCustomer(input: {name: $n}) { id } }`, map[string]any{"n": fmt.Sprintf("审计客户 %d", i)}).ok(t)
	}
}

func azWantBroken(t *testing.T, e *env, seq int) {
	t.Helper()
	rep := azVerifyChain(t, e)
	if rep.OK || rep.BrokenAtSeq == nil || *rep.BrokenAtSeq != seq || rep.Reason == nil || *rep.Reason == "" {
		t.Errorf("verifyAuditChain = %+v (brokenAtSeq %v), want broken at seq %d with a reason", rep, azIntp(rep.BrokenAtSeq), seq)
	}
}

func azIntp(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestAuditTrail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tid := e.tenantID(t, "demo")
		adminID := azStaffID(t, e, "demo", "admin")
		admin := e.token(t, "demo", "admin")
		auditor := e.token(t, "demo", "auditor1")
		c := azCustomer(t, e, e.st.Client.Customer.Query().Where(customer.TenantID(tid)).FirstIDX(sys()))

		// A mutation (renaming the customer to the name it has), a read of
		// phones in full, a forged token claiming the demo tenant.
		mutation := e.post(t, admin, `mutation($id: ID!, $n: String!) { updateCustomer(id: $id, input: {name: $n}) { id } }`,
			map[string]any{"id": gid.Encode(c.ID), "n": c.Name}).ok(t)
		read := e.post(t, admin, `{ customers(first: 20, orderBy: {field: CREATED_AT}) { edges { node { id phone } } } }`, nil).ok(t)
		if !regexp.MustCompile(`"phone":"1\d{10}"`).Match(read.Data) {
			t.Fatalf("the admin's read shows no phone in full: %s", read.Data)
		}
		other, err := auth.NewIssuer(strings.Repeat("not-the-secret-", 3), "scrm")
		if err != nil {
			t.Fatal(err)
		}
		forged, err := other.Issue(auth.Staff{TenantID: tid, TenantSlug: "demo", StaffID: adminID, Roles: []string{"admin"}}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		failed := e.post(t, forged, `{ me { login } }`, nil)
		if failed.Status != http.StatusUnauthorized {
			t.Fatalf("a forged token: status %d %s", failed.Status, failed.Body)
		}
		ids := map[string]string{"mutation": azRequestID(t, mutation), "read": azRequestID(t, read), "sign-in": azRequestID(t, failed)}

		t.Run("auditor1 finds the mutation, the read and the failed sign-in", func(t *testing.T) {
			r := e.post(t, auditor, `{ auditLog(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) {
				edges { node { action operation objectType objectIds fields actorID requestID clientIP } } } }`, nil).ok(t)
			var got struct{ AuditLog azConn[azAuditEntry] }
			r.decode(t, &got)
			find := func(what string, match func(azAuditEntry) bool) {
				t.Helper()
				var mine []azAuditEntry
				for _, a := range got.AuditLog.nodes() {
					if a.RequestID == ids[what] {
						mine = append(mine, a)
					}
				}
				if !slices.ContainsFunc(mine, match) {
					t.Errorf("no matching entry for the %s (request %s); its entries: %+v", what, ids[what], mine)
				}
			}
			find("mutation", func(a azAuditEntry) bool {
				return a.Action == "MUTATION" && a.Operation == "updateCustomer" && a.ObjectType == "Customer" &&
					slices.Equal(a.Fields, []string{"name"}) && slices.Contains(a.ObjectIds, gid.Encode(c.ID)) &&
					a.ActorID != nil && *a.ActorID == gid.Encode(adminID) && a.ClientIP != ""
			})
			find("read", func(a azAuditEntry) bool {
				return a.Action == "READ" && a.ObjectType == "Customer" && slices.Contains(a.Fields, "phone") &&
					len(a.ObjectIds) > 0 && a.ActorID != nil && *a.ActorID == gid.Encode(adminID)
			})
			find("sign-in", func(a azAuditEntry) bool {
				return a.Action == "SIGN_IN_FAILED" && a.ActorID == nil && a.ClientIP != ""
			})
		})

		t.Run("the chain verifies", func(t *testing.T) {
			rep := azVerifyChain(t, e)
			var n int
			if err := e.st.DB.QueryRow("SELECT COUNT(*) FROM audit_logs WHERE tenant_id = ?", tid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if !rep.OK || rep.Checked != n {
				t.Errorf("verifyAuditChain %+v; the tenant has %d entries", rep, n)
			}
		})

		t.Run("only auditors and admins read the trail", func(t *testing.T) {
			for _, tc := range []struct{ login, query string }{
				{"agent1", `{ auditLog(first: 5) { edges { node { id } } } }`},
				{"agent1", `{ verifyAuditChain { ok } }`},
				{"sup1", `{ auditLog(first: 5) { edges { node { id } } } }`},
				{"mkt1", `{ verifyAuditChain { ok } }`},
			} {
				r := e.post(t, e.token(t, "demo", tc.login), tc.query, nil)
				azAllCoded(t, r, "FORBIDDEN")
				if strings.Contains(string(r.Data), `"id"`) {
					t.Errorf("%s reads the trail: %s", tc.login, r.Data)
				}
			}
		})

		t.Run("ent refuses to change or delete entries", func(t *testing.T) {
			var id int
			if err := e.st.DB.QueryRow("SELECT id FROM audit_logs WHERE tenant_id = ? AND seq IS NOT NULL ORDER BY seq LIMIT 1", tid).Scan(&id); err != nil {
				t.Fatal(err)
			}
			if err := e.st.Client.AuditLog.UpdateOneID(id).SetHash("0000").Exec(sys()); err == nil {
				t.Error("UpdateOneID(...).SetHash under sys() succeeded")
			}
			if err := e.st.Client.AuditLog.Update().Where(auditlog.ID(id)).ClearSeq().Exec(sys()); err == nil {
				t.Error("Update().ClearSeq under sys() succeeded")
			}
			if err := e.st.Client.AuditLog.DeleteOneID(id).Exec(sys()); err == nil {
				t.Error("DeleteOneID under sys() succeeded")
			}
			if rep := azVerifyChain(t, e); !rep.OK {
				t.Errorf("after the refused changes: %+v", rep)
			}
		})

		t.Run("an edited entry breaks the chain at its seq", func(t *testing.T) {
			f := fresh(t, e.backend)
			azAuditActivity(t, f)
			entries := azSealedEntries(t, f)
			victim := entries[len(entries)/2]
			var op string
			if err := f.st.DB.QueryRow("SELECT operation FROM audit_logs WHERE id = ?", victim.id).Scan(&op); err != nil {
				t.Fatal(err)
			}
			if _, err := f.st.DB.Exec("UPDATE audit_logs SET operation = ? WHERE id = ?", "tampered", victim.id); err != nil {
				t.Fatal(err)
			}
			azWantBroken(t, f, victim.seq)
			if _, err := f.st.DB.Exec("UPDATE audit_logs SET operation = ? WHERE id = ?", op, victim.id); err != nil {
				t.Fatal(err)
			}
			if rep := azVerifyChain(t, f); !rep.OK {
				t.Errorf("restored, the chain still fails: %+v", rep)
			}
			last := entries[len(entries)-1]
			if _, err := f.st.DB.Exec("DELETE FROM audit_logs WHERE id = ?", last.id); err != nil {
				t.Fatal(err)
			}
			azWantBroken(t, f, last.seq)
		})

		t.Run("a deleted entry breaks the chain at its seq", func(t *testing.T) {
			f := fresh(t, e.backend)
			azAuditActivity(t, f)
			entries := azSealedEntries(t, f)
			victim := entries[len(entries)/2]
			if _, err := f.st.DB.Exec("DELETE FROM audit_logs WHERE id = ?", victim.id); err != nil {
				t.Fatal(err)
			}
			azWantBroken(t, f, victim.seq)
		})

		t.Run("a sealed entry cannot be sealed again", func(t *testing.T) {
			f := fresh(t, e.backend)
			azAuditActivity(t, f)
			entries := azSealedEntries(t, f)
			victim := entries[len(entries)/2]
			err := f.st.Client.AuditLog.UpdateOneID(victim.id).SetHash(strings.Repeat("0", 64)).Exec(schema.AllowSealing(sys()))
			if err == nil {
				t.Errorf("GAP: in a sealing context ent rewrote the hash of entry seq %d, which was sealed already: "+
					"ent/schema/authz.go appendOnlyAudit lets the sealer change seq, prev_hash and hash at any time, not only once", victim.seq)
			}
		})
	})
}
