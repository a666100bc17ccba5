package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Statuses are the ticket statuses in their usual order.
var Statuses = []Status{"NEW", "ASSIGNED", "IN_PROGRESS", "PENDING_CUSTOMER", "PENDING_APPROVAL", "RESOLVED", "CLOSED", "REOPENED"}

// Open reports whether a ticket in status s is still being worked.
func Open(s Status) bool { return s != "RESOLVED" && s != "CLOSED" }

// Error is a configuration mistake and the input field it is in, as a
// JSON path (transitions[2].to).
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return e.Field + ": " + e.Message }

func errf(field, format string, args ...any) *Error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

var requiredNames = []string{"comment", "assignee", "order", "category"}

// Validate checks a workflow: known statuses, no duplicate or self moves,
// no move into PENDING_APPROVAL (approvals lead there), every status
// reachable from NEW can still reach CLOSED (a cycle with no way out is a
// trap), and approval steps that name their approvers.
func (w Workflow) Validate() error {
	if len(w.Transitions) == 0 {
		return errf("transitions", "a workflow needs at least one transition")
	}
	seen := map[[2]Status]bool{}
	next := map[Status][]Status{}
	for i, t := range w.Transitions {
		at := fmt.Sprintf("transitions[%d]", i)
		for _, s := range []struct {
			name string
			v    Status
		}{{"from", t.From}, {"to", t.To}} {
			if !slices.Contains(Statuses, s.v) {
				return errf(at+"."+s.name, "unknown status %q", s.v)
			}
		}
		switch {
		case t.From == t.To:
			return errf(at+".to", "a move from %s to itself changes nothing", t.From)
		case t.To == "PENDING_APPROVAL" || t.From == "PENDING_APPROVAL":
			return errf(at, "PENDING_APPROVAL is entered and left through approval steps, not transitions")
		case t.To == "NEW":
			return errf(at+".to", "no ticket goes back to NEW; use REOPENED or ASSIGNED")
		case seen[[2]Status{t.From, t.To}]:
			return errf(at, "the move %s → %s is listed twice", t.From, t.To)
		}
		seen[[2]Status{t.From, t.To}] = true
		next[t.From] = append(next[t.From], t.To)
		for j, r := range t.Required {
			if !slices.Contains(requiredNames, r) && !(strings.HasPrefix(r, "customFields.") && len(r) > len("customFields.")) {
				return errf(fmt.Sprintf("%s.required[%d]", at, j), "unknown field %q: use comment, assignee, order, category or customFields.<key>", r)
			}
		}
		if t.RejectTo != "" {
			if !slices.Contains(Statuses, t.RejectTo) || t.RejectTo == "PENDING_APPROVAL" {
				return errf(at+".rejectTo", "cannot send a rejected ticket to %q", t.RejectTo)
			}
			if len(t.Approvals) == 0 {
				return errf(at+".rejectTo", "rejectTo needs approval steps")
			}
		}
		for j, a := range t.Approvals {
			if err := a.validate(fmt.Sprintf("%s.approvals[%d]", at, j)); err != nil {
				return err
			}
		}
	}
	// Every status reachable from NEW must be able to reach CLOSED.
	reach := reachable(next, "NEW")
	if !reach["CLOSED"] {
		return errf("transitions", "no way from NEW to CLOSED")
	}
	for _, s := range Statuses {
		if reach[s] && s != "CLOSED" && !reachable(next, s)["CLOSED"] {
			return errf("transitions", "a ticket reaching %s can never be closed: the moves from it go round in a cycle", s)
		}
	}
	return nil
}

func reachable(next map[Status][]Status, from Status) map[Status]bool {
	seen := map[Status]bool{from: true}
	stack := []Status{from}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, n := range next[s] {
			if !seen[n] {
				seen[n] = true
				stack = append(stack, n)
			}
		}
	}
	return seen
}

func (a ApprovalStep) validate(at string) error {
	if strings.TrimSpace(a.Name) == "" {
		return errf(at+".name", "name the step")
	}
	switch a.Approver {
	case ApproverRole:
		if a.Role == "" {
			return errf(at+".role", "a ROLE approver needs the role")
		}
	case ApproverDepartmentHead:
	case ApproverStaff:
		if len(a.StaffIDs) == 0 {
			return errf(at+".staffIDs", "a STAFF approver needs at least one staff member")
		}
	default:
		return errf(at+".approver", "unknown approver kind %q", a.Approver)
	}
	switch a.Mode {
	case ModeAnyOf, "":
	case ModeAllOf:
		if a.Approver != ApproverStaff {
			return errf(at+".mode", "ALL_OF needs named staff (approver STAFF)")
		}
	default:
		return errf(at+".mode", "unknown mode %q", a.Mode)
	}
	if th := a.Threshold; th != nil {
		switch {
		case strings.TrimSpace(th.Field) == "":
			return errf(at+".threshold.field", "name the custom field holding the amount")
		case th.AboveFen < 0:
			return errf(at+".threshold.aboveFen", "must not be negative")
		case th.MinApprovers < 1 || th.MinApprovers > 10:
			return errf(at+".threshold.minApprovers", "must be 1 to 10")
		case a.Approver == ApproverStaff && th.MinApprovers > len(a.StaffIDs):
			return errf(at+".threshold.minApprovers", "needs %d approvers but the step names %d", th.MinApprovers, len(a.StaffIDs))
		}
	}
	return nil
}

// Find returns the transition from → to, if the workflow has it.
func (w Workflow) Find(from, to Status) (Transition, bool) {
	for _, t := range w.Transitions {
		if t.From == from && t.To == to {
			return t, true
		}
	}
	return Transition{}, false
}

// From lists the statuses a ticket in status s may move to.
func (w Workflow) From(s Status) []Status {
	var out []Status
	for _, t := range w.Transitions {
		if t.From == s {
			out = append(out, t.To)
		}
	}
	return out
}

// ParseDuration reads a target or window: a Go duration, positive.
func ParseDuration(field, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errf(field, "%q is not a duration (write 48h, 30m or 2s)", s)
	}
	if d <= 0 {
		return 0, errf(field, "%q must be positive", s)
	}
	return d, nil
}

// Durations are parsed targets; zero means none.
type Durations struct{ FirstResponse, NextUpdate, Resolution time.Duration }

// Of returns the target's duration.
func (d Durations) Of(t Target) time.Duration {
	switch t {
	case FirstResponse:
		return d.FirstResponse
	case NextUpdate:
		return d.NextUpdate
	default:
		return d.Resolution
	}
}

// Parse checks and reads the targets.
func (t Targets) Parse() (Durations, error) {
	var d Durations
	var err error
	for _, f := range []struct {
		name string
		s    string
		out  *time.Duration
	}{{"targets.firstResponse", t.FirstResponse, &d.FirstResponse}, {"targets.nextUpdate", t.NextUpdate, &d.NextUpdate}, {"targets.resolution", t.Resolution, &d.Resolution}} {
		if f.s == "" {
			continue
		}
		if *f.out, err = ParseDuration(f.name, f.s); err != nil {
			return d, err
		}
	}
	if d == (Durations{}) {
		return d, errf("targets", "set at least one target")
	}
	return d, nil
}

// ValidateEscalations checks rules against the targets they refer to.
func ValidateEscalations(rules []EscalationRule, d Durations) error {
	seen := map[string]bool{}
	for i, r := range rules {
		at := fmt.Sprintf("escalations[%d]", i)
		if !slices.Contains(targets, r.Target) {
			return errf(at+".target", "unknown target %q", r.Target)
		}
		if d.Of(r.Target) == 0 {
			return errf(at+".target", "the policy has no %s target", r.Target)
		}
		if r.AtPercent < 1 || r.AtPercent > 1000 {
			return errf(at+".atPercent", "must be 1 to 1000 (100 = at breach)")
		}
		if len(r.Actions) == 0 {
			return errf(at+".actions", "list at least one action")
		}
		for j, a := range r.Actions {
			if !slices.Contains(actions, a) {
				return errf(fmt.Sprintf("%s.actions[%d]", at, j), "unknown action %q", a)
			}
		}
		if seen[r.Key()] {
			return errf(at, "a second rule for %s at %d%%", r.Target, r.AtPercent)
		}
		seen[r.Key()] = true
	}
	return nil
}

// Key names the rule in a ticket's list of fired escalations.
func (r EscalationRule) Key() string { return fmt.Sprintf("%s@%d", r.Target, r.AtPercent) }

// Matches reports whether the condition selects a ticket.
func (c Condition) Matches(typeID int, p Priority, src Source, category string) bool {
	return (len(c.TypeIDs) == 0 || slices.Contains(c.TypeIDs, typeID)) &&
		(len(c.Priorities) == 0 || slices.Contains(c.Priorities, p)) &&
		(len(c.Sources) == 0 || slices.Contains(c.Sources, src)) &&
		(len(c.Categories) == 0 || slices.Contains(c.Categories, category))
}
