package routing

import (
	"fmt"
)

// StepKind names a routing step. Its values are what a Config stores in
// JSON.
type StepKind string

const (
	// StepRegion keeps the staff whose Region is the request's Region or
	// who belong to the request's StoreID department.
	StepRegion StepKind = "REGION"
	// StepSkills keeps the staff having all of the request's Skills.
	StepSkills StepKind = "SKILLS"
	// StepTeam keeps the staff in the request's TeamID department.
	StepTeam StepKind = "TEAM"
	// StepFollower keeps the staff following the customer in WeCom
	// (Request.Followers).
	StepFollower StepKind = "FOLLOWER"
	// StepLeastLoaded orders the candidates by their Load/Capacity ratio,
	// lowest first, adjusted by the CSAT and resolution-time weights.
	StepLeastLoaded StepKind = "LEAST_LOADED"
	// StepRoundRobin orders the candidates by LastAssignedAt, oldest (or
	// never) first: a round robin that every replica agrees on, since it
	// depends only on the data and not on a counter of its own.
	StepRoundRobin StepKind = "ROUND_ROBIN"
)

// ordering reports whether k orders the candidates rather than filtering
// them.
func (k StepKind) ordering() bool { return k == StepLeastLoaded || k == StepRoundRobin }

func (k StepKind) known() bool {
	switch k {
	case StepRegion, StepSkills, StepTeam, StepFollower, StepLeastLoaded, StepRoundRobin:
		return true
	}
	return false
}

// Step is one step of a Config.
type Step struct {
	Kind StepKind `json:"kind"`
	// Required applies to filter steps only. A required filter that
	// leaves nobody stops the routing: the ranking is empty and the
	// ticket goes to the queue. A filter that is not required and leaves
	// nobody — or nobody available (on shift, under capacity, not
	// excluded) — is skipped: the candidates stay those before it, and
	// the trace says so.
	Required bool `json:"required,omitempty"`
}

// Config is how one ticket type routes, stored as JSON with the ticket
// type. Check it with Validate when it is saved; Route refuses an invalid
// one (empty ranking, and a "config" trace step saying why).
type Config struct {
	// Steps are the filters, applied in order, then at most one ordering
	// step, last. Without an ordering step the order is LEAST_LOADED.
	// Put required filters before the optional ones: an optional filter
	// is judged on the candidates it leaves, not on what later steps
	// would make of them.
	Steps []Step `json:"steps"`
	// CSATWeight (0..1) is how much a good recent CSAT moves a candidate
	// ahead in LEAST_LOADED (and a bad one back): with at least 3
	// ratings, the score loses CSATWeight×(CSAT−3)/2.
	CSATWeight float64 `json:"csatWeight,omitempty"`
	// ResolutionWeight (0..1) is how much resolving faster than the
	// candidates' median moves a candidate ahead in LEAST_LOADED (and
	// slower, back): the score gains ResolutionWeight×(AvgResolution ÷
	// median − 1), that ratio term clamped to −1..1.
	ResolutionWeight float64 `json:"resolutionWeight,omitempty"`
}

// DefaultConfig is the routing of a ticket type that has not configured
// its own: the agent must have the skills, preferably in the customer's
// region or store, preferably someone following the customer, least
// loaded first, with CSAT weighing 0.3 and resolution time 0.1.
func DefaultConfig() Config {
	return Config{
		Steps: []Step{
			{Kind: StepSkills, Required: true},
			{Kind: StepRegion},
			{Kind: StepFollower},
			{Kind: StepLeastLoaded},
		},
		CSATWeight:       0.3,
		ResolutionWeight: 0.1,
	}
}

// ConfigError is what Validate returns: the JSON field at fault (such as
// "steps[2].kind" or "csatWeight") and what is wrong with it.
type ConfigError struct {
	Field   string
	Message string
}

func (e *ConfigError) Error() string {
	return "routing config: " + e.Field + ": " + e.Message
}

// Validate returns a *ConfigError for the first problem it finds, or nil:
// an unknown step kind, a step appearing twice, two ordering steps, an
// ordering step that is not the last, Required on an ordering step, or a
// weight outside 0..1.
func (c Config) Validate() error {
	ordering := -1
	for i, s := range c.Steps {
		if !s.Kind.known() {
			return &ConfigError{
				Field:   fmt.Sprintf("steps[%d].kind", i),
				Message: fmt.Sprintf("unknown step kind %q (want REGION, SKILLS, TEAM, FOLLOWER, LEAST_LOADED or ROUND_ROBIN)", s.Kind),
			}
		}
		for j := range i {
			if c.Steps[j].Kind == s.Kind {
				return &ConfigError{
					Field:   fmt.Sprintf("steps[%d].kind", i),
					Message: fmt.Sprintf("%s appears twice (steps[%d] is %s too)", s.Kind, j, s.Kind),
				}
			}
		}
		if !s.Kind.ordering() {
			continue
		}
		if ordering >= 0 {
			return &ConfigError{
				Field:   fmt.Sprintf("steps[%d].kind", i),
				Message: fmt.Sprintf("a second ordering step: steps[%d] is already %s, and a config has at most one", ordering, c.Steps[ordering].Kind),
			}
		}
		ordering = i
		if s.Required {
			return &ConfigError{
				Field:   fmt.Sprintf("steps[%d].required", i),
				Message: fmt.Sprintf("%s is an ordering step, which always applies; only filter steps can be required", s.Kind),
			}
		}
	}
	if ordering >= 0 && ordering != len(c.Steps)-1 {
		return &ConfigError{
			Field:   fmt.Sprintf("steps[%d].kind", ordering),
			Message: fmt.Sprintf("the ordering step %s must be the last step", c.Steps[ordering].Kind),
		}
	}
	if !(c.CSATWeight >= 0 && c.CSATWeight <= 1) { // also refuses NaN
		return &ConfigError{Field: "csatWeight", Message: fmt.Sprintf("%v is outside 0..1", c.CSATWeight)}
	}
	if !(c.ResolutionWeight >= 0 && c.ResolutionWeight <= 1) {
		return &ConfigError{Field: "resolutionWeight", Message: fmt.Sprintf("%v is outside 0..1", c.ResolutionWeight)}
	}
	return nil
}
