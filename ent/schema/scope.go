package schema

import (
	"context"
	"slices"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"

	gen "github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/formsubmission"
	"github.com/scrm-dev/scrm/ent/hook"
	"github.com/scrm-dev/scrm/ent/intercept"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/orderitem"
	"github.com/scrm-dev/scrm/ent/predicate"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/ticketapproval"
	"github.com/scrm-dev/scrm/ent/ticketchange"
	"github.com/scrm-dev/scrm/ent/ticketcomment"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Data scopes (viewer.Scope, computed by authz) confine a staff member to
// their own customers and tickets, or those of their departments. They are
// applied here, beside tenancy, so that connections, counts, node lookups,
// edges and mutations all agree: a row outside the scope does not exist
// for the viewer.
//
// A customer is in scope when the staff member (or one of the scope's
// departments' staff) follows them — in WeCom terms, has them as an
// external contact; their orders, identities and form submissions follow
// the customer, order lines their order. Ownership is not part of the
// rule: the follow table's primary key (staff_id, customer_id) answers
// "whose customers" from an index, where an OR with owner_id would make
// every count of a scoped list scan the tenant's customers.
//
// A ticket is in scope when it is assigned to the staff member (or to the
// departments' staff, or to one of the departments as its team); its
// comments, history and approvals follow the ticket. (Approvers outside
// the scope decide through myApprovals and decideApproval, which read the
// approval for them once authz has said they may.)

// scopeOf returns the viewer's data scope, or nil when unconfined.
func scopeOf(ctx context.Context) *viewer.Scope {
	v := viewer.FromContext(ctx)
	if v == nil || v.IsSystem() {
		return nil
	}
	return v.Scope
}

func inScopeDepartments(s *viewer.Scope) predicate.Staff {
	return staff.HasDepartmentsWith(department.IDIn(s.DepartmentIDs...))
}

func customerInScope(s *viewer.Scope) predicate.Customer {
	if len(s.DepartmentIDs) == 0 {
		return customer.HasFollowersWith(staff.ID(s.StaffID))
	}
	return customer.HasFollowersWith(staff.Or(staff.ID(s.StaffID), inScopeDepartments(s)))
}

func ticketInScope(s *viewer.Scope) predicate.Ticket {
	ps := []predicate.Ticket{ticket.AssigneeID(s.StaffID)}
	if len(s.DepartmentIDs) > 0 {
		ps = append(ps, ticket.HasAssigneeWith(inScopeDepartments(s)), ticket.TeamIDIn(s.DepartmentIDs...))
	}
	return ticket.Or(ps...)
}

// Mini-program customers (viewer.CustomerID) are confined here too, by
// the second predicate of each rule: their own customer record, and the
// orders, order lines, identities, form submissions and tickets that are
// theirs; of their tickets' comments only the public ones. A ticket's
// history and approvals and the WeCom follow-ups are staff matters: a
// customer sees none. Every other tenant type is hidden from them by the
// tenancy filter (customerSees in tenancy.go), so that a field authz
// lets through by mistake still finds no rows.

// confinement returns the predicate confining the viewer, or nil when they
// are unconfined.
func confinement(ctx context.Context, staffPred func(*viewer.Scope) func(*sql.Selector), own func(customerID int) func(*sql.Selector)) func(*sql.Selector) {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil || v.IsSystem():
		return nil
	case v.CustomerID != 0:
		return own(v.CustomerID)
	case v.Scope != nil:
		return staffPred(v.Scope)
	}
	return nil
}

// scopeRule is one type's data-scope filter for queries and guard for
// updates and deletes, built from its scope predicates: the staff one
// and the customer one.
type scopeRule struct {
	filter ent.Interceptor
	guard  ent.Hook
}

func newScopeRule(pred func(*viewer.Scope) func(*sql.Selector), own func(customerID int) func(*sql.Selector)) scopeRule {
	return scopeRule{
		filter: intercept.TraverseFunc(func(ctx context.Context, q intercept.Query) error {
			if p := confinement(ctx, pred, own); p != nil {
				q.WhereP(p)
			}
			return nil
		}),
		guard: hook.On(func(next ent.Mutator) ent.Mutator {
			return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
				if p := confinement(ctx, pred, own); p != nil {
					m.(interface{ WhereP(...func(*sql.Selector)) }).WhereP(p)
				}
				return next.Mutate(ctx, m)
			})
		}, ent.OpUpdate|ent.OpUpdateOne|ent.OpDelete|ent.OpDeleteOne),
	}
}

// none is the customer predicate of types a customer never sees.
func none(int) func(*sql.Selector) {
	return func(s *sql.Selector) { s.Where(sql.False()) }
}

var (
	customerScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) { return customerInScope(s) },
		func(id int) func(*sql.Selector) { return customer.ID(id) })
	ticketScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) { return ticketInScope(s) },
		func(id int) func(*sql.Selector) { return ticket.CustomerID(id) })
	orderScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) {
		return order.HasCustomerWith(customerInScope(s))
	}, func(id int) func(*sql.Selector) { return order.CustomerID(id) })
	identityScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) {
		return customeridentity.HasCustomerWith(customerInScope(s))
	}, func(id int) func(*sql.Selector) { return customeridentity.CustomerID(id) })
	submissionScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) {
		return formsubmission.HasCustomerWith(customerInScope(s))
	}, func(id int) func(*sql.Selector) { return formsubmission.CustomerID(id) })
	commentScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) {
		return ticketcomment.HasTicketWith(ticketInScope(s))
	}, func(id int) func(*sql.Selector) {
		return ticketcomment.And(ticketcomment.Internal(false), ticketcomment.HasTicketWith(ticket.CustomerID(id)))
	})
	changeScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) {
		return ticketchange.HasTicketWith(ticketInScope(s))
	}, none)
	approvalScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) {
		return ticketapproval.HasTicketWith(ticketInScope(s))
	}, none)
	followUpScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) {
		return followup.HasCustomerWith(customerInScope(s))
	}, none)
	orderItemScope = newScopeRule(func(s *viewer.Scope) func(*sql.Selector) {
		return orderitem.HasOrderWith(order.HasCustomerWith(customerInScope(s)))
	}, func(id int) func(*sql.Selector) { return orderitem.HasOrderWith(order.CustomerID(id)) })
)

// customerSees are the tenant types a mini-program customer may read at
// all (the rules above narrow the personal ones to their own rows): the
// forms they fill in and the ticket types their tickets name besides.
var customerSees = []string{
	gen.TypeCustomer, gen.TypeCustomerIdentity, gen.TypeOrder, gen.TypeOrderItem, gen.TypeFormSubmission,
	gen.TypeForm, gen.TypeTicket, gen.TypeTicketComment, gen.TypeTicketType,
}

// customerWrites are what a customer's requests write themselves: their
// form answers, with the outbox events and audit entries that go with
// them. Tickets they open go through the workflow engine, which writes as
// the tenant (createMyTicket).
var customerWrites = []string{gen.TypeFormSubmission, gen.TypeEvent, gen.TypeAuditLog}

// guardCustomerWrite refuses a customer any write but a new row of
// customerWrites, and makes their form submissions theirs: one naming
// another customer is refused (BAD_USER_INPUT on customerID), one naming
// none is attributed to them.
func guardCustomerWrite(v *viewer.Viewer, m ent.Mutation) error {
	if !m.Op().Is(ent.OpCreate) || !slices.Contains(customerWrites, m.Type()) {
		return apperr.Forbidden("a customer may not change %s records", m.Type())
	}
	fs, ok := m.(*gen.FormSubmissionMutation)
	if !ok {
		return nil
	}
	if id, set := fs.CustomerID(); set && id != v.CustomerID {
		return apperr.Invalid("customerID", "a customer submits forms as themselves only")
	}
	// A customer viewer signed in through the mini-program: that is where
	// the answer comes from, whatever the input says.
	fs.SetCustomerID(v.CustomerID)
	fs.SetSourceChannel(formsubmission.SourceChannelMiniProgram)
	return nil
}

// followNewCustomers makes a staff member with a data scope follow the
// customers they create (and own them, unless another owner is named):
// otherwise a customer would vanish from their view the moment it was
// saved.
func followNewCustomers() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.CustomerFunc(func(ctx context.Context, m *gen.CustomerMutation) (gen.Value, error) {
			if s := scopeOf(ctx); s != nil {
				m.AddFollowerIDs(s.StaffID)
				if _, set := m.OwnerID(); !set {
					m.SetOwnerID(s.StaffID)
				}
			}
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate)
}

// ownNewTickets assigns a ticket that a staff member confined to their own
// tickets opens without an assignee to themselves, for the same reason;
// routing (when it lands) reassigns it.
func ownNewTickets() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.TicketFunc(func(ctx context.Context, m *gen.TicketMutation) (gen.Value, error) {
			OwnNewTicket(ctx, m)
			return next.Mutate(ctx, m)
		})
	}, ent.OpCreate)
}

// OwnNewTicket assigns a ticket being opened by a staff member whose scope
// is their own tickets to them, unless it names its assignee: otherwise
// they could not see what they just opened. The workflow engine, whose
// hooks run before this package's, applies it before routing.
func OwnNewTicket(ctx context.Context, m *gen.TicketMutation) {
	if s := scopeOf(ctx); s != nil && len(s.DepartmentIDs) == 0 {
		if _, set := m.AssigneeID(); !set {
			m.SetAssigneeID(s.StaffID)
		}
	}
}

// The same rules, decided in memory for one row whose facts are already
// read: live updates read an event's subject once per process and decide
// for each subscriber here, where a query per subscriber per event would
// cost thousands of statements. TestScopeRulesAgreeInMemory keeps the two
// forms in step.

// TicketScopeFacts are what the ticket rule looks at.
type TicketScopeFacts struct {
	AssigneeID          *int
	AssigneeDepartments []int
	TeamID              *int
}

// CustomerScopeFacts are what the customer rule (and so the rules of
// orders, identities and form submissions) looks at.
type CustomerScopeFacts struct {
	Followers           []int
	FollowerDepartments []int // every department of every follower
}

// TicketInScope reports whether s lets its staff member see the ticket.
func TicketInScope(s *viewer.Scope, f TicketScopeFacts) bool {
	switch {
	case s == nil:
		return true
	case f.AssigneeID != nil && *f.AssigneeID == s.StaffID:
		return true
	case f.TeamID != nil && slices.Contains(s.DepartmentIDs, *f.TeamID):
		return true
	}
	return f.AssigneeID != nil && intersects(s.DepartmentIDs, f.AssigneeDepartments)
}

// CustomerInScope reports whether s lets its staff member see the customer.
func CustomerInScope(s *viewer.Scope, f CustomerScopeFacts) bool {
	return s == nil || slices.Contains(f.Followers, s.StaffID) || intersects(s.DepartmentIDs, f.FollowerDepartments)
}

func intersects(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// ReadTicketScopeFacts reads the facts of t (one statement when assigned).
// ctx must see the whole tenant.
func ReadTicketScopeFacts(ctx context.Context, t *gen.Ticket) (TicketScopeFacts, error) {
	f := TicketScopeFacts{AssigneeID: t.AssigneeID, TeamID: t.TeamID}
	if t.AssigneeID == nil {
		return f, nil
	}
	var err error
	f.AssigneeDepartments, err = t.QueryAssignee().QueryDepartments().IDs(ctx)
	return f, err
}

// ReadCustomerScopeFacts reads the facts of one customer (two statements).
// ctx must see the whole tenant.
func ReadCustomerScopeFacts(ctx context.Context, client *gen.Client, customerID int) (CustomerScopeFacts, error) {
	followers, err := client.Staff.Query().Where(staff.HasFollowedCustomersWith(customer.ID(customerID))).
		Select(staff.FieldID).WithDepartments(func(q *gen.DepartmentQuery) { q.Select(department.FieldID) }).All(ctx)
	if err != nil {
		return CustomerScopeFacts{}, err
	}
	var f CustomerScopeFacts
	for _, s := range followers {
		f.Followers = append(f.Followers, s.ID)
		for _, d := range s.Edges.Departments {
			if !slices.Contains(f.FollowerDepartments, d.ID) {
				f.FollowerDepartments = append(f.FollowerDepartments, d.ID)
			}
		}
	}
	return f, nil
}
