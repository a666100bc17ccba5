package routing

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// fixture: five staff, all available. Load ratios 0.2, 0.1, 0, 0.5, 0.75,
// so plain least loaded ranks 3, 2, 1, 4, 5.
//
//	ID  region  departments    skills
//	1   310000  store 100, 7   refund, vip
//	2   310000  team 7         refund
//	3   110000  store 100, 8   refund, vip
//	4   -       team 8         vip
//	5   440000  team 8         refund, vip, en
func fixture() []Staff {
	return []Staff{
		{ID: 1, Region: "310000", Departments: []int{100, 7}, Skills: []string{"refund", "vip"}, Capacity: 10, Load: 2},
		{ID: 2, Region: "310000", Departments: []int{7}, Skills: []string{"refund"}, Capacity: 10, Load: 1},
		{ID: 3, Region: "110000", Departments: []int{100, 8}, Skills: []string{"refund", "vip"}, Capacity: 5},
		{ID: 4, Departments: []int{8}, Skills: []string{"vip"}, Capacity: 10, Load: 5},
		{ID: 5, Region: "440000", Departments: []int{8}, Skills: []string{"refund", "vip", "en"}, Capacity: 4, Load: 3},
	}
}

func fixtureRequest() Request {
	return Request{
		Region: "310000", StoreID: 100, TeamID: 7,
		Skills:    []string{"refund", "vip"},
		Followers: []int{4, 5, 99}, // 99 is not in the pool
		Now:       t0,
	}
}

func cfgOf(steps ...Step) Config { return Config{Steps: steps} }

func req(kind StepKind) Step { return Step{Kind: kind, Required: true} }
func opt(kind StepKind) Step { return Step{Kind: kind} }

// counts renders a trace as "STEP before->after" items.
func counts(d Decision) []string {
	var out []string
	for _, s := range d.Trace {
		out = append(out, fmt.Sprintf("%s %d->%d", s.Step, s.Before, s.After))
	}
	return out
}

func TestRouteSteps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		edit   func(*Request)
		want   []int
		counts []string
		note   string // part of the first step's note
	}{
		{"no filters: least loaded over everyone", cfgOf(), nil,
			[]int{3, 2, 1, 4, 5}, []string{"available 5->5", "LEAST_LOADED 5->5"}, "on shift and under capacity: 5 of 5"},
		{"skills: all of them", cfgOf(req(StepSkills)), nil,
			[]int{3, 1, 5}, []string{"SKILLS 5->3", "available 3->3", "LEAST_LOADED 3->3"}, "skills refund,vip: 3 of 5"},
		{"skills: repeated skills count once", cfgOf(req(StepSkills)), func(r *Request) { r.Skills = []string{"vip", "en", "vip"} },
			[]int{5}, nil, "skills vip,en: 1 of 5"},
		{"skills: one nobody has", cfgOf(req(StepSkills)), func(r *Request) { r.Skills = []string{"refund", "klingon"} },
			nil, []string{"SKILLS 5->0"}, "skills refund,klingon: 0 of 5, required, so the ticket goes to the queue"},
		{"skills: none requested", cfgOf(req(StepSkills)), func(r *Request) { r.Skills = nil },
			[]int{3, 2, 1, 4, 5}, []string{"SKILLS 5->5", "available 5->5", "LEAST_LOADED 5->5"}, "skills: none requested, not applied"},
		{"region or store", cfgOf(req(StepRegion)), nil,
			[]int{3, 2, 1}, []string{"REGION 5->3", "available 3->3", "LEAST_LOADED 3->3"}, "region 310000 or store 100: 3 of 5"},
		{"region only", cfgOf(req(StepRegion)), func(r *Request) { r.StoreID = 0 },
			[]int{2, 1}, nil, "region 310000: 2 of 5"},
		{"store only", cfgOf(req(StepRegion)), func(r *Request) { r.Region = "" },
			[]int{3, 1}, nil, "store 100: 2 of 5"},
		{"region nobody is in, store somebody is", cfgOf(req(StepRegion)), func(r *Request) { r.Region = "650000" },
			[]int{3, 1}, nil, "region 650000 or store 100: 2 of 5"},
		{"neither region nor store", cfgOf(req(StepRegion)), func(r *Request) { r.Region, r.StoreID = "", 0 },
			[]int{3, 2, 1, 4, 5}, nil, "region: the request has no region or store, not applied"},
		{"team", cfgOf(req(StepTeam)), nil,
			[]int{2, 1}, []string{"TEAM 5->2", "available 2->2", "LEAST_LOADED 2->2"}, "team 7: 2 of 5"},
		{"no team", cfgOf(req(StepTeam)), func(r *Request) { r.TeamID = 0 },
			[]int{3, 2, 1, 4, 5}, nil, "team: the request has no team, not applied"},
		{"followers", cfgOf(req(StepFollower)), nil,
			[]int{4, 5}, []string{"FOLLOWER 5->2", "available 2->2", "LEAST_LOADED 2->2"}, "the customer's followers (2): 2 of 5"},
		{"followers named twice", cfgOf(req(StepFollower)), func(r *Request) { r.Followers = []int{5, 5, 5} },
			[]int{5}, nil, "the customer's followers (1): 1 of 5"},
		{"nobody follows the customer, required", cfgOf(req(StepFollower)), func(r *Request) { r.Followers = nil },
			nil, []string{"FOLLOWER 5->0"}, "the customer's followers (0): 0 of 5, required, so the ticket goes to the queue"},
		{"filters narrow in order", cfgOf(req(StepSkills), req(StepRegion), req(StepTeam)), nil,
			[]int{1}, []string{"SKILLS 5->3", "REGION 3->2", "TEAM 2->1", "available 1->1", "LEAST_LOADED 1->1"}, "skills refund,vip: 3 of 5"},
		{"round robin", cfgOf(req(StepSkills), opt(StepRoundRobin)), nil,
			[]int{1, 3, 5}, []string{"SKILLS 5->3", "available 3->3", "ROUND_ROBIN 3->3"}, "skills refund,vip: 3 of 5"},
		{"limit", cfgOf(), func(r *Request) { r.Limit = 2 },
			[]int{3, 2}, []string{"available 5->5", "LEAST_LOADED 5->2"}, "5 of 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureRequest()
			if tc.edit != nil {
				tc.edit(&r)
			}
			d := NewPool(fixture()).Route(tc.cfg, r)
			if !slices.Equal(d.Ranking, tc.want) {
				t.Errorf("Ranking = %v, want %v", d.Ranking, tc.want)
			}
			if tc.counts != nil && !slices.Equal(counts(d), tc.counts) {
				t.Errorf("trace = %v, want %v", counts(d), tc.counts)
			}
			if !strings.Contains(d.Trace[0].Note, tc.note) {
				t.Errorf("first note = %q, want it to contain %q", d.Trace[0].Note, tc.note)
			}
			if len(d.Ranking) == 0 && (d.Scores != nil || d.Details != nil) {
				t.Errorf("an empty ranking with scores %v, details %v", d.Scores, d.Details)
			}
			for k, id := range d.Ranking {
				if _, ok := d.Scores[id]; !ok || d.Details[id].Rank != k+1 {
					t.Errorf("#%d: score %v, detail %+v", id, d.Scores[id], d.Details[id])
				}
			}
		})
	}
}

func TestRequiredOrNot(t *testing.T) {
	full := fixture()
	full[4].Load = 4 // #5, the only one in 440000, is at capacity
	for _, tc := range []struct {
		name   string
		staff  []Staff
		cfg    Config
		edit   func(*Request)
		want   []int
		counts []string
		note   string // part of the note of the first step
	}{
		{"a required filter leaving nobody stops", fixture(), cfgOf(req(StepTeam), opt(StepRegion)), func(r *Request) { r.TeamID = 9 },
			nil, []string{"TEAM 5->0"}, "team 9: 0 of 5, required, so the ticket goes to the queue"},
		{"an optional filter leaving nobody is skipped", fixture(), cfgOf(opt(StepTeam)), func(r *Request) { r.TeamID = 9 },
			[]int{3, 2, 1, 4, 5}, []string{"TEAM 5->5", "available 5->5", "LEAST_LOADED 5->5"}, "team 9: 0 of 5, not required, so skipped"},
		{"an optional filter leaving nobody available is skipped", full, cfgOf(opt(StepRegion)), func(r *Request) { r.Region, r.StoreID = "440000", 0 },
			[]int{3, 2, 1, 4}, []string{"REGION 5->5", "available 5->4", "LEAST_LOADED 4->4"}, "region 440000: 1 of 5 but none available, not required, so skipped"},
		{"a required filter leaving nobody available: the queue", full, cfgOf(req(StepRegion)), func(r *Request) { r.Region, r.StoreID = "440000", 0 },
			nil, []string{"REGION 5->1", "available 1->0"}, "region 440000: 1 of 5"},
		{"an optional filter that matches is applied", fixture(), cfgOf(opt(StepTeam)), nil,
			[]int{2, 1}, []string{"TEAM 5->2", "available 2->2", "LEAST_LOADED 2->2"}, "team 7: 2 of 5"},
		{"a skipped step keeps the set before it", fixture(), cfgOf(req(StepSkills), opt(StepFollower), opt(StepTeam)), func(r *Request) { r.Followers = []int{2} },
			[]int{1}, []string{"SKILLS 5->3", "FOLLOWER 3->3", "TEAM 3->1", "available 1->1", "LEAST_LOADED 1->1"}, "skills refund,vip: 3 of 5"},
		{"the default config", fixture(), DefaultConfig(), nil,
			[]int{3, 1}, []string{"SKILLS 5->3", "REGION 3->2", "FOLLOWER 2->2", "available 2->2", "LEAST_LOADED 2->2"}, "skills refund,vip: 3 of 5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureRequest()
			if tc.edit != nil {
				tc.edit(&r)
			}
			d := NewPool(tc.staff).Route(tc.cfg, r)
			if !slices.Equal(d.Ranking, tc.want) || !slices.Equal(counts(d), tc.counts) {
				t.Errorf("Ranking = %v, trace %v; want %v, %v", d.Ranking, counts(d), tc.want, tc.counts)
			}
			if !strings.Contains(d.Trace[0].Note, tc.note) {
				t.Errorf("first note = %q, want it to contain %q", d.Trace[0].Note, tc.note)
			}
		})
	}
}

func TestAvailability(t *testing.T) {
	var calls atomic.Int32
	on := func(time.Time) bool { calls.Add(1); return true }
	mustNotAsk := func(time.Time) bool {
		t.Error("OnShift called for a member that a cheaper check already ruled out")
		return true
	}
	offAt10 := func(now time.Time) bool { calls.Add(1); return now.Hour() < 9 }
	staff := []Staff{
		{ID: 1, Departments: []int{7}, Capacity: 5, Load: 1, OnShift: on},
		{ID: 2, Departments: []int{7}, Capacity: 0, OnShift: mustNotAsk},          // cannot take tickets
		{ID: 3, Departments: []int{7}, Capacity: 3, Load: 3, OnShift: mustNotAsk}, // at capacity
		{ID: 4, Departments: []int{7}, Capacity: 3, Load: 9, OnShift: mustNotAsk}, // over it
		{ID: 5, Departments: []int{7}, Capacity: 5, OnShift: offAt10},             // off shift at 10:00
		{ID: 6, Departments: []int{7}, Capacity: 5, OnShift: mustNotAsk},          // excluded
		{ID: 7, Departments: []int{8}, Capacity: 5, OnShift: mustNotAsk},          // not in the team
		{ID: 8, Departments: []int{7}, Capacity: 5, Load: 4},                      // nil OnShift: always on
		{ID: 9, Departments: []int{7}, Capacity: -1, OnShift: mustNotAsk},         // cannot either
	}
	p := NewPool(staff)
	d := p.Route(cfgOf(req(StepTeam)), Request{TeamID: 7, Exclude: []int{6, 404}, Now: t0})
	if !slices.Equal(d.Ranking, []int{1, 8}) {
		t.Fatalf("Ranking = %v, want [1 8]", d.Ranking)
	}
	av := d.Trace[1]
	const note = "on shift and under capacity: 2 of 8 (1 excluded, 2 cannot take tickets, 2 at capacity, 1 off shift)"
	if av.Step != TraceAvailable || av.Before != 8 || av.After != 2 || av.Note != note {
		t.Fatalf("available step = %+v, want note %q", av, note)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("OnShift called %d times, want 2 (members 1 and 5 only)", n)
	}

	// Everybody ruled out: the ticket goes to the queue and no ordering step.
	d = p.Route(cfgOf(req(StepTeam)), Request{TeamID: 7, Exclude: []int{1, 5, 6, 8}, Now: t0})
	if len(d.Ranking) != 0 || len(d.Trace) != 2 || !strings.HasSuffix(d.Trace[1].Note, "(4 excluded, 2 cannot take tickets, 2 at capacity), so the ticket goes to the queue") {
		t.Fatalf("all unavailable: %+v", d)
	}

	// An empty pool.
	d = NewPool(nil).Route(DefaultConfig(), Request{Now: t0, Skills: []string{"x"}})
	if len(d.Ranking) != 0 || NewPool(nil).Len() != 0 {
		t.Fatalf("empty pool: %+v", d)
	}
}

func TestWeights(t *testing.T) {
	h := time.Hour
	base := func() []Staff {
		return []Staff{
			{ID: 1, Capacity: 10, Load: 2, CSAT: 5, CSATCount: 10, AvgResolution: 1 * h},
			{ID: 2, Capacity: 10, Load: 1, CSAT: 2, CSATCount: 10, AvgResolution: 3 * h},
			{ID: 3, Capacity: 10, Load: 3, AvgResolution: 2 * h},
		}
	}
	few := base()
	few[0].CSATCount = 2 // too few ratings to count
	slow := base()
	slow[2].AvgResolution = 20 * h // 10× the median: the term is clamped to +1
	for _, tc := range []struct {
		name   string
		staff  []Staff
		cfg    Config
		want   []int
		scores []float64 // in ranking order
	}{
		{"no weights: plain load", base(), Config{}, []int{2, 1, 3}, []float64{0.1, 0.2, 0.3}},
		{"CSAT weight: a 5 overtakes a 2", base(), Config{CSATWeight: 0.3}, []int{1, 2, 3}, []float64{0.2 - 0.3, 0.1 + 0.15, 0.3}},
		{"CSAT from fewer than 3 ratings does not count", few, Config{CSATWeight: 0.3}, []int{1, 2, 3}, []float64{0.2, 0.25, 0.3}},
		{"resolution weight: the fastest overtakes", base(), Config{ResolutionWeight: 0.2}, []int{1, 2, 3}, []float64{0.2 - 0.1, 0.1 + 0.1, 0.3}},
		{"resolution term clamped", slow, Config{ResolutionWeight: 0.2}, []int{1, 2, 3}, []float64{0.2 - 0.2*(1-1.0/3), 0.1, 0.3 + 0.2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewPool(tc.staff).Route(tc.cfg, Request{Now: t0})
			if !slices.Equal(d.Ranking, tc.want) {
				t.Fatalf("Ranking = %v, want %v (scores %v)", d.Ranking, tc.want, d.Scores)
			}
			for k, id := range d.Ranking {
				if math.Abs(d.Scores[id]-tc.scores[k]) > 1e-12 {
					t.Errorf("score of #%d = %v, want %v", id, d.Scores[id], tc.scores[k])
				}
			}
		})
	}
}

func TestMedianResolution(t *testing.T) {
	// Even count: the mean of the two middle values; members without
	// data are left out of the median and get no resolution term.
	h := time.Hour
	staff := []Staff{
		{ID: 1, Capacity: 10, AvgResolution: 1 * h},
		{ID: 2, Capacity: 10, AvgResolution: 2 * h},
		{ID: 3, Capacity: 10, AvgResolution: 4 * h},
		{ID: 4, Capacity: 10, AvgResolution: 10 * h},
		{ID: 5, Capacity: 10},
	}
	d := NewPool(staff).Route(Config{ResolutionWeight: 1}, Request{Now: t0})
	if got := d.Details[1].MedianResolution; got != 3*h {
		t.Fatalf("median = %v, want 3h", got)
	}
	if !slices.Equal(d.Ranking, []int{1, 2, 5, 3, 4}) || d.Scores[5] != 0 || d.Scores[4] != 1 {
		t.Fatalf("Ranking %v, scores %v", d.Ranking, d.Scores)
	}
	for _, tc := range [][]int64{{5}, {3, 1}, {7, 7, 7, 7}, {9, 1, 8, 2, 7, 3, 6, 4, 5}, {1, 1, 2, 2, 2, 3}} {
		s := slices.Clone(tc)
		slices.Sort(s)
		want := s[len(s)/2]
		if len(s)%2 == 0 {
			want = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
		if got := medianOf(slices.Clone(tc)); got != want {
			t.Errorf("medianOf(%v) = %d, want %d", tc, got, want)
		}
	}
}

func TestTies(t *testing.T) {
	never := time.Time{}
	staff := []Staff{
		{ID: 40, Capacity: 4, Load: 1, LastAssignedAt: t0.Add(-time.Hour)},
		{ID: 10, Capacity: 8, Load: 2, LastAssignedAt: t0.Add(-time.Hour)},
		{ID: 30, Capacity: 4, Load: 1, LastAssignedAt: never},
		{ID: 20, Capacity: 4, Load: 1, LastAssignedAt: never},
		{ID: 50, Capacity: 2, Load: 0, LastAssignedAt: t0},
		{ID: 60, Capacity: 4, Load: 1, LastAssignedAt: t0.Add(-2 * time.Hour)},
		{ID: 70, Capacity: 4, Load: 1, LastAssignedAt: t0.Add(-time.Hour).Add(time.Nanosecond)},
	}
	// Least loaded: 50 (0), then all at 0.25 by last assignment (never
	// first), then ID.
	wantLL := []int{50, 20, 30, 60, 10, 40, 70}
	// Round robin: never first (by ID), then oldest.
	wantRR := []int{20, 30, 60, 10, 40, 70, 50}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		rng.Shuffle(len(staff), func(i, j int) { staff[i], staff[j] = staff[j], staff[i] })
		p := NewPool(staff)
		if got := p.Route(Config{}, Request{Now: t0}).Ranking; !slices.Equal(got, wantLL) {
			t.Fatalf("least loaded = %v, want %v", got, wantLL)
		}
		d := p.Route(Config{Steps: []Step{{Kind: StepRoundRobin}}, CSATWeight: 1}, Request{Now: t0})
		if !slices.Equal(d.Ranking, wantRR) {
			t.Fatalf("round robin = %v, want %v", d.Ranking, wantRR)
		}
		if d.Scores[20] != 0 || d.Scores[60] != float64(t0.Add(-2*time.Hour).Unix()) {
			t.Fatalf("round robin scores = %v", d.Scores)
		}
		if got := p.Route(Config{}, Request{Now: t0, Limit: 3}).Ranking; !slices.Equal(got, wantLL[:3]) {
			t.Fatalf("least loaded, limit 3 = %v, want %v", got, wantLL[:3])
		}
	}
}

func TestDuplicateIDsKeepTheFirst(t *testing.T) {
	p := NewPool([]Staff{
		{ID: 1, Capacity: 5, Skills: []string{"a", "a"}, Departments: []int{3, 3}},
		{ID: 1, Capacity: 5, Skills: []string{"b"}},
		{ID: 2, Capacity: 5, Skills: []string{"b"}},
	})
	if p.Len() != 2 {
		t.Fatalf("Len = %d, want 2", p.Len())
	}
	if got := p.Route(cfgOf(req(StepSkills)), Request{Skills: []string{"b"}, Now: t0}).Ranking; !slices.Equal(got, []int{2}) {
		t.Fatalf("skill b = %v, want [2]", got)
	}
	if got := p.Route(cfgOf(req(StepSkills), req(StepTeam)), Request{Skills: []string{"a"}, TeamID: 3, Now: t0}).Ranking; !slices.Equal(got, []int{1}) {
		t.Fatalf("skill a, team 3 = %v, want [1]", got)
	}
}

func TestPoolKeepsNoReference(t *testing.T) {
	staff := fixture()
	p := NewPool(staff)
	staff[0].Skills[0] = "changed"
	staff[0].Load = 10
	d := p.Route(cfgOf(req(StepSkills)), fixtureRequest())
	if !slices.Equal(d.Ranking, []int{3, 1, 5}) {
		t.Fatalf("Ranking after the caller changed its slice = %v", d.Ranking)
	}
}

func TestRouteConcurrently(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	w := newWorld(rng, 3000, 60, 40)
	p := NewPool(w.staff)
	cfgs := benchConfigs()
	type job struct {
		cfg  Config
		req  Request
		want Decision
	}
	var jobs []job
	for k := range 200 {
		c := cfgs[k%len(cfgs)].cfg
		r := w.request(rng)
		jobs = append(jobs, job{c, r, p.Route(c, r)})
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for k := range 400 {
				j := jobs[(k*7+g)%len(jobs)]
				if got := p.Route(j.cfg, j.req); !reflect.DeepEqual(got, j.want) {
					t.Errorf("concurrent Route differs:\n got %+v\nwant %+v", got, j.want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestOddFiguresAreTamed(t *testing.T) {
	staff := []Staff{
		{ID: 1, Capacity: 10, Load: 5, CSAT: math.NaN(), CSATCount: 50},  // no usable CSAT: 0.5
		{ID: 2, Capacity: 10, Load: 5, CSAT: 9, CSATCount: 50},           // clamped to 5: 0.5 - 1 = -0.5
		{ID: 3, Capacity: 10, Load: -4, AvgResolution: -time.Hour},       // load 0, no resolution: 0
		{ID: 4, Capacity: 10, Load: 5, CSAT: math.Inf(1), CSATCount: 50}, // no usable CSAT: 0.5
		{ID: 5, Capacity: 10, Load: 5, CSAT: -2, CSATCount: 50},          // clamped to 1: 0.5 + 1 = 1.5
		{ID: 6, Capacity: 10, Load: 5, AvgResolution: time.Hour},         // the only resolution: its own median
		{ID: 7, Capacity: 10, Load: 5, CSAT: 4, CSATCount: -1},           // no usable CSAT: 0.5
	}
	d := NewPool(staff).Route(Config{CSATWeight: 1, ResolutionWeight: 1}, Request{Now: t0})
	want := map[int]float64{1: 0.5, 2: -0.5, 3: 0, 4: 0.5, 5: 1.5, 6: 0.5, 7: 0.5}
	if !reflect.DeepEqual(d.Scores, want) || !slices.Equal(d.Ranking, []int{2, 3, 1, 4, 6, 7, 5}) {
		t.Fatalf("Ranking %v, scores %v; want scores %v", d.Ranking, d.Scores, want)
	}
	if got := d.Explain(1); !strings.Contains(got, "(load 5/10, no CSAT yet, score 0.500)") {
		t.Fatalf("Explain(1) = %s", got)
	}
}
