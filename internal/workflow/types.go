// Package workflow holds the configuration of the ticket workflow engine —
// a ticket type's transitions with their required fields and approval
// steps, and an SLA policy's targets and escalation rules — and checks it.
// The types are stored as JSON on TicketType and SLAPolicy rows and bound
// to GraphQL as they are. It is pure: no database, no clock.
package workflow

import "time"

// Status, Priority and Source name ticket statuses, priorities and sources
// as ent's ticket package spells them (NEW, URGENT, ORDER_RETURN). They are
// strings here because the data model's schema stores this package's types
// and so cannot depend on code generated from it.
type (
	Status   string
	Priority string
	Source   string
)

// Workflow is a ticket type's state machine: the transitions allowed
// between ticket statuses. A ticket starts NEW.
type Workflow struct {
	Transitions []Transition `json:"transitions"`
}

// Transition allows a ticket to move From one status To another.
type Transition struct {
	From Status `json:"from"`
	To   Status `json:"to"`
	// Required names what must be present for the move: "comment" (given
	// with the transition), "assignee", "order", "category", or a custom
	// field as "customFields.<key>".
	Required []string `json:"required,omitempty"`
	// Approvals run in order before the ticket reaches To; meanwhile it is
	// PENDING_APPROVAL.
	Approvals []ApprovalStep `json:"approvals,omitempty"`
	// RejectTo is where a rejected approval sends the ticket; empty means
	// back to From.
	RejectTo Status `json:"rejectTo,omitempty"`
}

// ApproverKind says who may decide an approval step.
type ApproverKind string

// Approver kinds.
const (
	ApproverRole           ApproverKind = "ROLE"            // anyone holding Role
	ApproverDepartmentHead ApproverKind = "DEPARTMENT_HEAD" // the leader of the ticket's team (or the nearest above it)
	ApproverStaff          ApproverKind = "STAFF"           // one of StaffIDs
)

// ApprovalMode says how many of the approvers must approve.
type ApprovalMode string

// Approval modes.
const (
	ModeAnyOf ApprovalMode = "ANY_OF" // one approval completes the step
	ModeAllOf ApprovalMode = "ALL_OF" // every named approver (STAFF only)
)

// ApprovalStep is one approval a transition waits for.
type ApprovalStep struct {
	Name     string       `json:"name"`
	Approver ApproverKind `json:"approver"`
	Role     string       `json:"role,omitempty"`
	StaffIDs []int        `json:"staffIDs,omitempty"`
	Mode     ApprovalMode `json:"mode"`
	// Threshold raises the number of distinct approvers when an amount on
	// the ticket is above a limit.
	Threshold *Threshold `json:"threshold,omitempty"`
}

// Threshold: when the ticket's custom field Field (an amount in fen) is
// above AboveFen, the step needs MinApprovers distinct approvers.
type Threshold struct {
	Field        string `json:"field"`
	AboveFen     int64  `json:"aboveFen"`
	MinApprovers int    `json:"minApprovers"`
}

// Target names an SLA clock.
type Target string

// SLA targets.
const (
	FirstResponse Target = "FIRST_RESPONSE"
	NextUpdate    Target = "NEXT_UPDATE"
	Resolution    Target = "RESOLUTION"
)

// Targets are an SLA policy's goals as Go durations ("4h", "30m", "2s");
// empty means no goal.
type Targets struct {
	FirstResponse string `json:"firstResponse,omitempty"`
	NextUpdate    string `json:"nextUpdate,omitempty"`
	Resolution    string `json:"resolution,omitempty"`
}

// Action is something an escalation does.
type Action string

// Escalation actions, run in the order a rule lists them.
const (
	NotifyAssignee     Action = "NOTIFY_ASSIGNEE"
	NotifySupervisor   Action = "NOTIFY_SUPERVISOR"
	RaisePriority      Action = "RAISE_PRIORITY"
	ReassignSupervisor Action = "REASSIGN_TO_SUPERVISOR"
	ReassignQueue      Action = "REASSIGN_TO_QUEUE"
	BumpLevel          Action = "BUMP_LEVEL"
)

// EscalationRule fires once per ticket when AtPercent of Target's time has
// passed (100 = at breach; above 100 = that long after breach).
type EscalationRule struct {
	Target    Target   `json:"target"`
	AtPercent int      `json:"atPercent"`
	Actions   []Action `json:"actions"`
}

// Condition selects the tickets an SLA policy applies to; empty lists match
// everything.
type Condition struct {
	TypeIDs    []int      `json:"typeIDs,omitempty"`
	Priorities []Priority `json:"priorities,omitempty"`
	Sources    []Source   `json:"sources,omitempty"`
	Categories []string   `json:"categories,omitempty"`
}

// Decision is one approver's answer on an approval step.
type Decision struct {
	StaffID   int       `json:"staffID"`
	StaffName string    `json:"staffName"`
	Approved  bool      `json:"approved"`
	Comment   string    `json:"comment,omitempty"`
	At        time.Time `json:"at"`
}

// FieldMapping fills a ticket field from a form field when a form
// submission opens a ticket. Ticket is "title", "description",
// "category", "priority" or "customFields.<key>".
type FieldMapping struct {
	Ticket string `json:"ticket"`
	Form   string `json:"form"`
}
