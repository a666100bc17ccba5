package routing

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// naiveRoute is Route written the slow, obvious way — every filter a scan
// of every staff member, the median and the ranking by full sorts — to
// check the indexed version against. It returns the ranking, the scores
// in ranking order and the trace as "STEP before->after".
func naiveRoute(staff []Staff, cfg Config, r Request) ([]int, []float64, []string) {
	var trace []string
	step := func(name string, before, after int) {
		trace = append(trace, fmt.Sprintf("%s %d->%d", name, before, after))
	}
	available := func(s Staff) bool {
		return s.Capacity > 0 && s.Load < s.Capacity && !slices.Contains(r.Exclude, s.ID) &&
			(s.OnShift == nil || s.OnShift(r.Now))
	}
	cur := staff
	order := StepLeastLoaded
	for _, st := range cfg.Steps {
		var keep func(Staff) bool
		switch st.Kind {
		case StepLeastLoaded, StepRoundRobin:
			order = st.Kind
			continue
		case StepSkills:
			if len(r.Skills) > 0 {
				keep = func(s Staff) bool {
					for _, sk := range r.Skills {
						if !slices.Contains(s.Skills, sk) {
							return false
						}
					}
					return true
				}
			}
		case StepRegion:
			if r.Region != "" || r.StoreID != 0 {
				keep = func(s Staff) bool {
					return (r.Region != "" && s.Region == r.Region) || (r.StoreID != 0 && slices.Contains(s.Departments, r.StoreID))
				}
			}
		case StepTeam:
			if r.TeamID != 0 {
				keep = func(s Staff) bool { return slices.Contains(s.Departments, r.TeamID) }
			}
		case StepFollower:
			keep = func(s Staff) bool { return slices.Contains(r.Followers, s.ID) }
		}
		if keep == nil {
			step(string(st.Kind), len(cur), len(cur))
			continue
		}
		var next []Staff
		anyAvailable := false
		for _, s := range cur {
			if keep(s) {
				next = append(next, s)
				anyAvailable = anyAvailable || available(s)
			}
		}
		switch {
		case len(next) == 0 && st.Required:
			step(string(st.Kind), len(cur), 0)
			return nil, nil, trace
		case len(next) == 0, !st.Required && !anyAvailable:
			step(string(st.Kind), len(cur), len(cur))
		default:
			step(string(st.Kind), len(cur), len(next))
			cur = next
		}
	}
	var cands []Staff
	for _, s := range cur {
		if available(s) {
			cands = append(cands, s)
		}
	}
	step(TraceAvailable, len(cur), len(cands))
	if len(cands) == 0 {
		return nil, nil, trace
	}
	var durs []time.Duration
	for _, s := range cands {
		if s.AvgResolution > 0 {
			durs = append(durs, s.AvgResolution)
		}
	}
	slices.Sort(durs)
	var median time.Duration
	if n := len(durs); n > 0 {
		median = durs[n/2]
		if n%2 == 0 {
			median = durs[n/2-1] + (durs[n/2]-durs[n/2-1])/2
		}
	}
	score := func(s Staff) float64 {
		if order == StepRoundRobin {
			return 0
		}
		v := float64(s.Load) / float64(s.Capacity)
		if cfg.CSATWeight > 0 && s.CSATCount >= 3 {
			v -= cfg.CSATWeight * (s.CSAT - 3) / 2
		}
		if cfg.ResolutionWeight > 0 && s.AvgResolution > 0 {
			v += cfg.ResolutionWeight * min(max(float64(s.AvgResolution)/float64(median)-1, -1), 1)
		}
		return v
	}
	slices.SortFunc(cands, func(a, b Staff) int {
		if sa, sb := score(a), score(b); sa != sb {
			if sa < sb {
				return -1
			}
			return 1
		}
		if c := a.LastAssignedAt.Compare(b.LastAssignedAt); c != 0 {
			return c
		}
		return a.ID - b.ID
	})
	limit := r.Limit
	if limit <= 0 {
		limit = 10
	}
	ranked := cands[:min(limit, len(cands))]
	var ids []int
	var scores []float64
	for _, s := range ranked {
		ids = append(ids, s.ID)
		v := score(s)
		if order == StepRoundRobin && !s.LastAssignedAt.IsZero() {
			v = float64(s.LastAssignedAt.Unix()) + float64(s.LastAssignedAt.Nanosecond())/1e9
		}
		scores = append(scores, v)
	}
	step(string(order), len(cands), len(ids))
	return ids, scores, trace
}

// TestRouteMatchesNaive routes random requests with random configs over
// random small pools (few regions, skills and teams, so that filters
// overlap, empty out and get skipped) and compares with naiveRoute.
func TestRouteMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	kinds := []StepKind{StepSkills, StepRegion, StepTeam, StepFollower}
	for round := range 100 {
		n := 1 + rng.IntN(400)
		if round%10 == 0 {
			n = 3000
		}
		// Few regions and tags make dense posting lists (with bitmaps),
		// many make sparse ones.
		regions := []int{1 + rng.IntN(12), 1 + rng.IntN(300)}[rng.IntN(2)]
		tags := []int{2 + rng.IntN(10), 2 + rng.IntN(80)}[rng.IntN(2)]
		w := newWorld(rng, n, regions, tags)
		p := NewPool(w.staff)
		for range 40 {
			var cfg Config
			for _, k := range rng.Perm(len(kinds))[:rng.IntN(len(kinds)+1)] {
				cfg.Steps = append(cfg.Steps, Step{Kind: kinds[k], Required: rng.IntN(2) == 0})
			}
			switch rng.IntN(3) {
			case 1:
				cfg.Steps = append(cfg.Steps, Step{Kind: StepLeastLoaded})
			case 2:
				cfg.Steps = append(cfg.Steps, Step{Kind: StepRoundRobin})
			}
			if rng.IntN(2) == 0 {
				cfg.CSATWeight = rng.Float64()
			}
			if rng.IntN(2) == 0 {
				cfg.ResolutionWeight = rng.Float64()
			}
			r := w.request(rng)
			r.Now = t0.Add(time.Duration(rng.IntN(24)) * time.Hour)
			r.Limit = []int{0, 1, 3, 50, 5000}[rng.IntN(5)]
			if rng.IntN(3) == 0 && len(r.Skills) > 0 {
				r.Skills = append(r.Skills, r.Skills[0]) // a repeat
			}

			d := p.Route(cfg, r)
			ids, scores, trace := naiveRoute(w.staff, cfg, r)
			if !slices.Equal(d.Ranking, ids) || !slices.Equal(counts(d), trace) {
				t.Fatalf("pool of %d, %+v, request %+v:\nRoute ranking %v\n      trace   %v\nnaive ranking %v\n      trace   %v",
					n, cfg, r, d.Ranking, counts(d), ids, trace)
			}
			for k, id := range ids {
				if d.Scores[id] != scores[k] {
					t.Fatalf("score of #%d = %v, naive %v", id, d.Scores[id], scores[k])
				}
			}
		}
	}
}

func TestSetOperations(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	random := func(n, universe int) []int32 {
		var l []int32
		for _, x := range rng.Perm(universe)[:n] {
			l = append(l, int32(x))
		}
		slices.Sort(l)
		return l
	}
	for range 2000 {
		u := 1 + rng.IntN(3000)
		a, b := random(rng.IntN(u+1), u), random(rng.IntN(u+1), u)
		inA, inB := make([]bool, u), make([]bool, u)
		for _, x := range a {
			inA[x] = true
		}
		for _, x := range b {
			inB[x] = true
		}
		var wantAnd, wantOr []int32
		for x := range int32(u) {
			inA, inB := inA[x], inB[x]
			if inA && inB {
				wantAnd = append(wantAnd, x)
			}
			if inA || inB {
				wantOr = append(wantOr, x)
			}
		}
		if got := intersect(nil, a, b); !slices.Equal(got, wantAnd) {
			t.Fatalf("intersect(%v, %v) = %v, want %v", a, b, got, wantAnd)
		}
		if got := union(nil, a, b); !slices.Equal(got, wantOr) {
			t.Fatalf("union(%v, %v) = %v, want %v", a, b, got, wantOr)
		}
		for range 5 {
			x, from := int32(rng.IntN(u+1)), rng.IntN(len(a)+1)
			want := from
			for want < len(a) && a[want] < x {
				want++
			}
			if got := seek(a, from, x); got != want {
				t.Fatalf("seek(%v, %d, %d) = %d, want %d", a, from, x, got, want)
			}
		}
	}
}
