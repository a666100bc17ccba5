package tickets

import (
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/internal/businesstime"
	"github.com/scrm-dev/scrm/internal/routing"
	"github.com/scrm-dev/scrm/internal/workflow"
)

// TypeInput creates or changes a ticket type; nil fields are kept (on
// create: defaulted).
type TypeInput struct {
	Key               *string
	Name              *string
	Description       *string
	Active            *bool
	DefaultForSources []workflow.Source
	Workflow          *workflow.Workflow
	Routing           *routing.Config
	ClaimBackAfter    *string
	FairnessCap       *int
	FairnessWindow    *string
	ReopenWindow      *string
	Keywords          []string
	SurveyFormID      *int
}

// SLAPolicyInput creates or changes an SLA policy; nil fields are kept.
type SLAPolicyInput struct {
	Name          *string
	Position      *int
	Active        *bool
	Condition     *workflow.Condition
	Targets       *workflow.Targets
	BusinessHours *bool
	CalendarID    *int
	Escalations   []workflow.EscalationRule
}

// CalendarInput creates or changes a business calendar; nil fields are kept.
type CalendarInput struct {
	Name      *string
	IsDefault *bool
	Spec      *businesstime.Spec
}

// DurationStats summarises durations in seconds.
type DurationStats struct {
	Count int
	P50   *float64
	P90   *float64
}

// BacklogRow counts a team's open tickets by age.
type BacklogRow struct {
	Team  *ent.Department
	ByAge []int
	Total int
}

// AgentSatisfaction is an agent's average survey rating in the range.
type AgentSatisfaction struct {
	Staff   *ent.Staff
	Average float64
	Count   int
}

// Metrics are a supervisor's view of ticket work over [From, To).
type Metrics struct {
	From          time.Time
	To            time.Time
	Opened        int
	FirstResponse DurationStats
	Resolution    DurationStats
	SLABreachRate float64
	Backlog       []BacklogRow
	CsatByAgent   []AgentSatisfaction
}
