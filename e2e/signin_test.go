package e2e_test

import (
	"net/http"
	"testing"

	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/taggroup"
)

// TestResignedStaffAreSignedOutAtOnce: a valid, unexpired token of a staff
// member who has since resigned is refused on the next request (roles and
// status are read per request, not trusted from the token), and the
// refusal is in the tenant's audit trail.
func TestResignedStaffAreSignedOutAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		tid := e.tenantID(t, "demo")
		tok := e.token(t, "demo", "agent2")
		e.post(t, tok, `{ me { login } }`, nil).ok(t)
		e.st.Client.Staff.Update().Where(staff.TenantID(tid), staff.Login("agent2")).
			SetStatus(staff.StatusResigned).ExecX(sys())
		r := e.post(t, tok, `{ me { login } }`, nil)
		if r.Status != http.StatusUnauthorized || r.only(t).code() != "UNAUTHENTICATED" {
			t.Fatalf("a resigned staff member's token: %d %s", r.Status, r.Body)
		}
		var n int
		if err := e.st.DB.QueryRow("SELECT COUNT(*) FROM audit_logs WHERE tenant_id = ? AND action = 'SIGN_IN_FAILED'", tid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d SIGN_IN_FAILED entries, want 1", n)
		}
	})
}

// TestAuditEntriesShareTheMutationsFate: the entries of a mutation are
// written in its transaction, so an operation that fails and rolls back
// leaves no entry claiming its first, undone, step happened.
func TestAuditEntriesShareTheMutationsFate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e = fresh(t, e.backend)
		tid := e.tenantID(t, "demo")
		tok := e.token(t, "demo", "admin")
		count := func() int {
			var n int
			if err := e.st.DB.QueryRow("SELECT COUNT(*) FROM audit_logs WHERE tenant_id = ? AND action = 'MUTATION' AND operation = 'createTag'", tid).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		group := e.st.Client.TagGroup.Query().Where(taggroup.TenantID(tid)).FirstIDX(sys())
		vars := map[string]any{"g": gid.Encode(group)}
		r := e.post(t, tok, `mutation($g: ID!) {
			a: createTag(input: {name: "回滚测试", groupID: $g}) { id }
			b: createTag(input: {name: "", groupID: $g}) { id } }`, vars)
		if len(r.Errors) == 0 {
			t.Fatalf("the second step should fail: %s", r.Body)
		}
		if n := count(); n != 0 {
			t.Fatalf("%d createTag entries after the operation rolled back", n)
		}
		e.post(t, tok, `mutation($g: ID!) { createTag(input: {name: "提交测试", groupID: $g}) { id } }`, vars).ok(t)
		if n := count(); n != 1 {
			t.Fatalf("%d createTag entries after one committed createTag", n)
		}
	})
}
