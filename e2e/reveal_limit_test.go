package e2e_test

import (
	"testing"

	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/staff"
)

// TestRevealIsRateLimitedPerStaffMember reveals until the hourly limit
// (30 by default) and checks the next one is refused with RATE_LIMITED,
// unaudited, while another staff member may still reveal.
func TestRevealIsRateLimitedPerStaffMember(t *testing.T) {
	e := fresh(t, "sqlite")
	tid := e.tenantID(t, "demo")
	followed := func(login string) string {
		c := e.st.Client.Customer.Query().
			Where(customer.TenantID(tid), customer.PhoneIndexNotNil(),
				customer.HasFollowersWith(staff.Login(login), staff.TenantID(tid))).
			FirstX(sys())
		return gid.Encode(c.ID)
	}
	mine, theirs := followed("agent1"), followed("agent2")
	agent1, agent2 := e.token(t, "demo", "agent1"), e.token(t, "demo", "agent2")
	vars := func(id string) map[string]any {
		return map[string]any{"id": id, "f": "PHONE", "p": "call back about a return"}
	}
	for i := range 30 {
		if r := e.post(t, agent1, azReveal, vars(mine)); len(r.Errors) > 0 {
			t.Fatalf("reveal %d refused: %s", i+1, r.Body)
		}
	}
	r := e.post(t, agent1, azReveal, vars(mine))
	if err := r.only(t); err.code() != "RATE_LIMITED" {
		t.Fatalf("the 31st reveal: %s", r.Body)
	}
	var entries int
	if err := e.st.DB.QueryRow("SELECT COUNT(*) FROM audit_logs WHERE tenant_id = ? AND action = 'REVEAL'", tid).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries != 30 {
		t.Errorf("%d REVEAL entries, want 30 (the refused one is not a reveal)", entries)
	}
	e.post(t, agent2, azReveal, vars(theirs)).ok(t)
}
