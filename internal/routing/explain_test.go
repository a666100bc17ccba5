package routing

import (
	"strings"
	"testing"
	"time"
)

func TestExplain(t *testing.T) {
	// 30 staff: 14 with both skills, 9 of them in 310000, 6 of those
	// available. #123 has load 2/20 and CSAT 4.8 from 12 ratings.
	var staff []Staff
	for i := range 30 {
		s := Staff{ID: 200 + i, Capacity: 10, Load: 5, Region: "110000", Skills: []string{"refund"}}
		if i < 14 {
			s.Skills = append(s.Skills, "vip")
		}
		if i < 9 {
			s.Region = "310000"
		}
		if i < 3 {
			s.Load = 10
		}
		staff = append(staff, s)
	}
	staff[8] = Staff{ID: 123, Region: "310000", Skills: []string{"vip", "refund"}, Capacity: 20, Load: 2, CSAT: 4.8, CSATCount: 12}
	staff[7].Load, staff[7].CSAT, staff[7].CSATCount = 1, 2, 5 // #207: 0.1 + 0.5×1/2 = 0.35
	p := NewPool(staff)
	cfg := Config{Steps: []Step{{Kind: StepSkills, Required: true}, {Kind: StepRegion}}, CSATWeight: 0.5}
	d := p.Route(cfg, Request{Region: "310000", Skills: []string{"refund", "vip"}, Now: t0})

	want := "skills refund,vip: 14 of 30; region 310000: 9 of 14; " +
		"on shift and under capacity: 6 of 9 (3 at capacity); " +
		"least loaded weighted by CSAT: picked #123 (load 2/20, CSAT 4.8 from 12, score -0.350)"
	if got := d.Explain(123); got != want {
		t.Fatalf("Explain(123) =\n%s\nwant\n%s", got, want)
	}
	if got := d.Explain(207); !strings.HasSuffix(got, "picked #207, ranked 2 of 6 (load 1/10, CSAT 2.0 from 5, score 0.350)") {
		t.Fatalf("Explain(207) = %s", got)
	}
	if got := d.Explain(229); !strings.HasSuffix(got, "least loaded weighted by CSAT: #229 is not in the ranking (best #123)") {
		t.Fatalf("Explain(229) = %s", got)
	}
	if !strings.HasPrefix(d.Trace[len(d.Trace)-1].Note, "least loaded weighted by CSAT: top 6 of 6, best #123 (load 2/20, CSAT 4.8 from 12, score -0.350)") {
		t.Fatalf("ordering note = %q", d.Trace[len(d.Trace)-1].Note)
	}

	// Nobody fits: the chain ends where the routing stopped.
	d = p.Route(cfg, Request{Region: "310000", Skills: []string{"refund", "klingon"}, Now: t0})
	if got, want := d.Explain(123), "skills refund,klingon: 0 of 30, required, so the ticket goes to the queue"; got != want {
		t.Fatalf("Explain with nobody = %q, want %q", got, want)
	}
}

func TestExplainResolutionAndRoundRobin(t *testing.T) {
	staff := []Staff{
		{ID: 1, Capacity: 4, Load: 1, AvgResolution: 90 * time.Minute, LastAssignedAt: t0.Add(-3 * time.Hour)},
		{ID: 2, Capacity: 4, Load: 1, AvgResolution: 150 * time.Minute},
	}
	p := NewPool(staff)
	d := p.Route(Config{ResolutionWeight: 0.1}, Request{Now: t0})
	want := "on shift and under capacity: 2 of 2; least loaded weighted by resolution time: " +
		"picked #1 (load 1/4, no CSAT yet, resolves in 1h30m against a median of 2h, score 0.225)"
	if got := d.Explain(1); got != want {
		t.Fatalf("Explain =\n%s\nwant\n%s", got, want)
	}
	d = p.Route(Config{Steps: []Step{{Kind: StepRoundRobin}}}, Request{Now: t0})
	if got := d.Explain(2); !strings.HasSuffix(got, "round robin: picked #2 (never assigned, load 1/4)") {
		t.Fatalf("round robin Explain(2) = %s", got)
	}
	if got := d.Explain(1); !strings.HasSuffix(got, "round robin: picked #1, ranked 2 of 2 (last assigned 3h ago, load 1/4)") {
		t.Fatalf("round robin Explain(1) = %s", got)
	}
}
