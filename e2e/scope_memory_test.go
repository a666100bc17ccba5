package e2e_test

import (
	"slices"
	"testing"

	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// TestScopeRulesAgreeInMemory: live updates decide data scopes in memory
// (schema.TicketInScope, CustomerInScope) from facts read once per event;
// for every staff member of the demo tenant, on both databases, they must
// admit exactly the tickets and customers the SQL rules let queries see.
func TestScopeRulesAgreeInMemory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tid := e.tenantID(t, "demo")
		tenantCtx := viewer.ForTenant(t.Context(), tid)
		tickets := e.st.Client.Ticket.Query().AllX(tenantCtx)
		customers := e.st.Client.Customer.Query().AllX(tenantCtx)
		ticketFacts := make([]schema.TicketScopeFacts, len(tickets))
		for i, tk := range tickets {
			f, err := schema.ReadTicketScopeFacts(tenantCtx, tk)
			if err != nil {
				t.Fatal(err)
			}
			ticketFacts[i] = f
		}
		customerFacts := make([]schema.CustomerScopeFacts, len(customers))
		for i, c := range customers {
			f, err := schema.ReadCustomerScopeFacts(tenantCtx, e.st.Client, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			customerFacts[i] = f
		}
		scoped, byDepartment := 0, 0
		for _, s := range e.st.Client.Staff.Query().AllX(tenantCtx) {
			ctx, err := e.az.Authorize(e.st.Client)(t.Context(), &viewer.Viewer{TenantID: tid, StaffID: s.ID})
			if err != nil {
				continue // inactive staff cannot subscribe at all
			}
			scope := viewer.FromContext(ctx).Scope
			if scope != nil {
				scoped++
				if len(scope.DepartmentIDs) > 0 {
					byDepartment++
				}
			}
			sqlTickets := e.st.Client.Ticket.Query().IDsX(ctx)
			for i, tk := range tickets {
				if got, want := schema.TicketInScope(scope, ticketFacts[i]), slices.Contains(sqlTickets, tk.ID); got != want {
					t.Fatalf("%s (scope %+v), ticket %d: in memory %v, SQL %v", s.Login, scope, tk.ID, got, want)
				}
			}
			sqlCustomers := e.st.Client.Customer.Query().IDsX(ctx)
			for i, c := range customers {
				if got, want := schema.CustomerInScope(scope, customerFacts[i]), slices.Contains(sqlCustomers, c.ID); got != want {
					t.Fatalf("%s (scope %+v), customer %d: in memory %v, SQL %v", s.Login, scope, c.ID, got, want)
				}
			}
		}
		if scoped < 2 || byDepartment == 0 {
			t.Fatalf("%d staff members with a data scope, %d by department: the comparison proves little", scoped, byDepartment)
		}
	})
}
