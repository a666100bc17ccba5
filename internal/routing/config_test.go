package routing

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	steps := func(s ...Step) []Step { return s }
	ll := Step{Kind: StepLeastLoaded}
	for _, tc := range []struct {
		name    string
		cfg     Config
		field   string // "" for valid
		message string // a part of the message
	}{
		{"the default", DefaultConfig(), "", ""},
		{"no steps at all", Config{}, "", ""},
		{"filters only", Config{Steps: steps(Step{Kind: StepTeam, Required: true}, Step{Kind: StepRegion})}, "", ""},
		{"round robin alone, weights at their bounds", Config{Steps: steps(Step{Kind: StepRoundRobin}), CSATWeight: 1, ResolutionWeight: 0}, "", ""},
		{"unknown kind", Config{Steps: steps(Step{Kind: StepSkills}, Step{Kind: "LANGUAGE"})}, "steps[1].kind", `unknown step kind "LANGUAGE"`},
		{"kinds are upper case", Config{Steps: steps(Step{Kind: "skills"})}, "steps[0].kind", "unknown step kind"},
		{"duplicate filter", Config{Steps: steps(Step{Kind: StepRegion}, Step{Kind: StepTeam}, Step{Kind: StepRegion, Required: true})}, "steps[2].kind", "REGION appears twice (steps[0]"},
		{"duplicate ordering", Config{Steps: steps(ll, ll)}, "steps[1].kind", "LEAST_LOADED appears twice"},
		{"two ordering steps", Config{Steps: steps(ll, Step{Kind: StepRoundRobin})}, "steps[1].kind", "a second ordering step: steps[0] is already LEAST_LOADED"},
		{"ordering step not last", Config{Steps: steps(Step{Kind: StepRoundRobin}, Step{Kind: StepSkills})}, "steps[0].kind", "ROUND_ROBIN must be the last step"},
		{"required ordering step", Config{Steps: steps(Step{Kind: StepSkills}, Step{Kind: StepLeastLoaded, Required: true})}, "steps[1].required", "only filter steps can be required"},
		{"csat weight above 1", Config{CSATWeight: 1.5}, "csatWeight", "1.5 is outside 0..1"},
		{"csat weight negative", Config{CSATWeight: -0.1}, "csatWeight", "outside 0..1"},
		{"csat weight NaN", Config{CSATWeight: math.NaN()}, "csatWeight", "outside 0..1"},
		{"resolution weight above 1", Config{ResolutionWeight: 2}, "resolutionWeight", "2 is outside 0..1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate = %v, want a *ConfigError", err)
			}
			if ce.Field != tc.field || !strings.Contains(ce.Message, tc.message) {
				t.Fatalf("Validate = {%q, %q}, want field %q and a message containing %q", ce.Field, ce.Message, tc.field, tc.message)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Error() = %q does not name the field %q", err, tc.field)
			}
		})
	}
}

func TestConfigJSON(t *testing.T) {
	b, err := json.Marshal(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"steps":[{"kind":"SKILLS","required":true},{"kind":"REGION"},{"kind":"FOLLOWER"},{"kind":"LEAST_LOADED"}],"csatWeight":0.3,"resolutionWeight":0.1}`
	if string(b) != want {
		t.Fatalf("DefaultConfig as JSON = %s, want %s", b, want)
	}
	var back Config
	if err := json.Unmarshal([]byte(`{"steps":[{"kind":"TEAM","required":true},{"kind":"ROUND_ROBIN"}]}`), &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil || len(back.Steps) != 2 || back.Steps[0] != (Step{Kind: StepTeam, Required: true}) || back.Steps[1].Kind != StepRoundRobin {
		t.Fatalf("decoded %+v (Validate %v)", back, err)
	}
}

func TestRouteRefusesAnInvalidConfig(t *testing.T) {
	p := NewPool(fixture())
	d := p.Route(Config{Steps: []Step{{Kind: "NEAREST"}}}, Request{Now: t0})
	if len(d.Ranking) != 0 || len(d.Trace) != 1 || d.Trace[0].Step != TraceConfig ||
		!strings.Contains(d.Trace[0].Note, "steps[0].kind") || !strings.Contains(d.Trace[0].Note, "queue") {
		t.Fatalf("Route with an invalid config = %+v", d)
	}
}
