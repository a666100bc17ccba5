package authz

import (
	"slices"

	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// The ticket engine's permission decisions. Who may call assignTicket,
// claimTicket or decideApproval at all is policy (the root fields); these
// decide, for one ticket, whether this caller may act on it.

// ApprovalFacts are what an approval decision looks at.
type ApprovalFacts struct {
	RequestedBy *int
	// DepartmentHeads are the leaders of the ticket's team and the
	// departments above it, nearest first.
	DepartmentHeads []int
	// Decided are the staff who already decided this step.
	Decided []int
}

// MayApprove decides whether the signed-in staff member may decide an
// approval step: they must be one of its approvers, not the requester, and
// not have decided it already (so a two-approver step takes two people).
func MayApprove(v *viewer.Viewer, step workflow.ApprovalStep, f ApprovalFacts) error {
	if v == nil || v.StaffID == 0 {
		return apperr.Forbidden("only staff decide approvals")
	}
	if f.RequestedBy != nil && *f.RequestedBy == v.StaffID {
		return apperr.Forbidden("you asked for this approval; another approver must decide it")
	}
	if slices.Contains(f.Decided, v.StaffID) {
		return apperr.Forbidden("you already decided this approval; it needs a different approver")
	}
	ok := false
	switch step.Approver {
	case workflow.ApproverRole:
		ok = v.HasRole(step.Role)
	case workflow.ApproverStaff:
		ok = slices.Contains(step.StaffIDs, v.StaffID)
	case workflow.ApproverDepartmentHead:
		ok = slices.Contains(f.DepartmentHeads, v.StaffID)
	}
	if !ok {
		return apperr.Forbidden("you are not an approver of step %q", step.Name)
	}
	return nil
}

// MayClaim decides whether an agent may take a ticket from the queue: it
// must be unassigned, and its team (if any) one of theirs — unless the
// caller's data scope is the whole tenant or covers the team.
func MayClaim(v *viewer.Viewer, assigneeID, teamID *int, myDepartments []int) error {
	if v == nil || v.StaffID == 0 {
		return apperr.Forbidden("only staff claim tickets")
	}
	if assigneeID != nil {
		if *assigneeID == v.StaffID {
			return nil
		}
		return apperr.Conflict("id", "the ticket is already assigned; ask a supervisor to reassign it")
	}
	if teamID == nil || v.Scope == nil || slices.Contains(myDepartments, *teamID) ||
		slices.Contains(v.Scope.DepartmentIDs, *teamID) {
		return nil
	}
	return apperr.Forbidden("the ticket is in another team's queue")
}

// TakesTickets decides whether routing may give tickets to a staff member
// with these roles: agents and supervisors do; marketers, auditors and
// admins, who may not work them, never get one. Custom roles are given
// tickets through assignTicket, not routing (routing reads roles from a
// 30,000-row snapshot, where resolving inheritance per row would not fit).
func TakesTickets(roles []string) bool {
	return slices.Contains(roles, RoleAgent) || slices.Contains(roles, RoleSupervisor)
}
