package workflow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/internal/workflow"
)

func mv(from, to string) workflow.Transition {
	return workflow.Transition{From: workflow.Status(from), To: workflow.Status(to)}
}

func basic() []workflow.Transition {
	return []workflow.Transition{mv("NEW", "ASSIGNED"), mv("ASSIGNED", "IN_PROGRESS"), mv("IN_PROGRESS", "RESOLVED"),
		mv("RESOLVED", "CLOSED"), mv("CLOSED", "REOPENED"), mv("REOPENED", "IN_PROGRESS")}
}

func TestValidateWorkflow(t *testing.T) {
	with := func(edit func([]workflow.Transition) []workflow.Transition) workflow.Workflow {
		return workflow.Workflow{Transitions: edit(basic())}
	}
	cases := []struct {
		name      string
		wf        workflow.Workflow
		field     string
		messageIs string
	}{
		{"the basic workflow", with(func(ts []workflow.Transition) []workflow.Transition { return ts }), "", ""},
		{"empty", workflow.Workflow{}, "transitions", "at least one"},
		{"unknown status", with(func(ts []workflow.Transition) []workflow.Transition {
			return append(ts, mv("NEW", "DONE"))
		}), "transitions[6].to", "unknown status"},
		{"a move to itself", with(func(ts []workflow.Transition) []workflow.Transition {
			return append(ts, mv("ASSIGNED", "ASSIGNED"))
		}), "transitions[6].to", "itself"},
		{"listed twice", with(func(ts []workflow.Transition) []workflow.Transition {
			return append(ts, mv("NEW", "ASSIGNED"))
		}), "transitions[6]", "twice"},
		{"into PENDING_APPROVAL by hand", with(func(ts []workflow.Transition) []workflow.Transition {
			return append(ts, mv("IN_PROGRESS", "PENDING_APPROVAL"))
		}), "transitions[6]", "approval steps"},
		{"back to NEW", with(func(ts []workflow.Transition) []workflow.Transition {
			return append(ts, mv("ASSIGNED", "NEW"))
		}), "transitions[6].to", "REOPENED"},
		{"NEW cannot reach CLOSED", workflow.Workflow{Transitions: []workflow.Transition{mv("NEW", "ASSIGNED")}}, "transitions", "NEW to CLOSED"},
		// PENDING_CUSTOMER and REOPENED only lead to each other: a trap.
		{"a cycle with no way out", workflow.Workflow{Transitions: []workflow.Transition{
			mv("NEW", "ASSIGNED"), mv("ASSIGNED", "RESOLVED"), mv("RESOLVED", "CLOSED"),
			mv("ASSIGNED", "PENDING_CUSTOMER"), mv("PENDING_CUSTOMER", "REOPENED"), mv("REOPENED", "PENDING_CUSTOMER"),
		}}, "transitions", "cycle"},
		{"unknown required field", with(func(ts []workflow.Transition) []workflow.Transition {
			ts[2].Required = []string{"comment", "mood"}
			return ts
		}), "transitions[2].required[1]", "unknown field"},
		{"custom field required", with(func(ts []workflow.Transition) []workflow.Transition {
			ts[2].Required = []string{"customFields.refund_amount"}
			return ts
		}), "", ""},
		{"rejectTo without approvals", with(func(ts []workflow.Transition) []workflow.Transition {
			ts[2].RejectTo = "IN_PROGRESS"
			return ts
		}), "transitions[2].rejectTo", "needs approval steps"},
		{"approval without a role", with(func(ts []workflow.Transition) []workflow.Transition {
			ts[2].Approvals = []workflow.ApprovalStep{{Name: "退款审批", Approver: workflow.ApproverRole}}
			return ts
		}), "transitions[2].approvals[0].role", "needs the role"},
		{"ALL_OF by role", with(func(ts []workflow.Transition) []workflow.Transition {
			ts[2].Approvals = []workflow.ApprovalStep{{Name: "x", Approver: workflow.ApproverRole, Role: "supervisor", Mode: workflow.ModeAllOf}}
			return ts
		}), "transitions[2].approvals[0].mode", "named staff"},
		{"threshold needs more approvers than named", with(func(ts []workflow.Transition) []workflow.Transition {
			ts[2].Approvals = []workflow.ApprovalStep{{Name: "x", Approver: workflow.ApproverStaff, StaffIDs: []int{7},
				Threshold: &workflow.Threshold{Field: "refund_amount", AboveFen: 5_000_000, MinApprovers: 2}}}
			return ts
		}), "transitions[2].approvals[0].threshold.minApprovers", "names 1"},
		{"negative threshold", with(func(ts []workflow.Transition) []workflow.Transition {
			ts[2].Approvals = []workflow.ApprovalStep{{Name: "x", Approver: workflow.ApproverDepartmentHead,
				Threshold: &workflow.Threshold{Field: "refund_amount", AboveFen: -1, MinApprovers: 2}}}
			return ts
		}), "transitions[2].approvals[0].threshold.aboveFen", "negative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.wf.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("valid workflow refused: %v", err)
				}
				return
			}
			var we *workflow.Error
			if !errors.As(err, &we) {
				t.Fatalf("got %v, want a *workflow.Error on %s", err, c.field)
			}
			if we.Field != c.field || !strings.Contains(we.Message, c.messageIs) {
				t.Fatalf("got %s: %s; want %s: …%s…", we.Field, we.Message, c.field, c.messageIs)
			}
		})
	}
}

func TestTargetsAndEscalations(t *testing.T) {
	if _, err := (workflow.Targets{}).Parse(); err == nil {
		t.Fatal("no targets accepted")
	}
	for _, bad := range []workflow.Targets{{FirstResponse: "-5m"}, {Resolution: "0s"}, {NextUpdate: "two days"}} {
		var we *workflow.Error
		if _, err := bad.Parse(); !errors.As(err, &we) || !strings.HasPrefix(we.Field, "targets.") {
			t.Fatalf("%+v: got %v, want an error on its target", bad, err)
		}
	}
	d, err := workflow.Targets{FirstResponse: "2s", Resolution: "48h"}.Parse()
	if err != nil || d.FirstResponse.Seconds() != 2 || d.Resolution.Hours() != 48 {
		t.Fatalf("parsed %+v, %v", d, err)
	}
	rule := func(target workflow.Target, pct int, actions ...workflow.Action) workflow.EscalationRule {
		return workflow.EscalationRule{Target: target, AtPercent: pct, Actions: actions}
	}
	cases := []struct {
		rules []workflow.EscalationRule
		field string
	}{
		{[]workflow.EscalationRule{rule(workflow.FirstResponse, 80, workflow.NotifyAssignee), rule(workflow.Resolution, 100, workflow.BumpLevel)}, ""},
		{[]workflow.EscalationRule{rule(workflow.NextUpdate, 100, workflow.NotifyAssignee)}, "escalations[0].target"},
		{[]workflow.EscalationRule{rule(workflow.FirstResponse, 0, workflow.NotifyAssignee)}, "escalations[0].atPercent"},
		{[]workflow.EscalationRule{rule(workflow.FirstResponse, 80)}, "escalations[0].actions"},
		{[]workflow.EscalationRule{rule(workflow.FirstResponse, 80, "DANCE")}, "escalations[0].actions[0]"},
		{[]workflow.EscalationRule{rule(workflow.FirstResponse, 80, workflow.NotifyAssignee), rule(workflow.FirstResponse, 80, workflow.BumpLevel)}, "escalations[1]"},
	}
	for i, c := range cases {
		err := workflow.ValidateEscalations(c.rules, d)
		var we *workflow.Error
		switch {
		case c.field == "" && err != nil:
			t.Fatalf("case %d: valid rules refused: %v", i, err)
		case c.field != "" && (!errors.As(err, &we) || we.Field != c.field):
			t.Fatalf("case %d: got %v, want an error on %s", i, err, c.field)
		}
	}
}
