package routing

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// world is a synthetic tenant: staff spread over regions, each region
// with one store (department 1000+k for region k), 40 teams (departments
// 1..40) and skill tags of which the first are the most common.
type world struct {
	staff   []Staff
	regions []string
	tags    []string
}

const teams = 40

func newWorld(rng *rand.Rand, n, regions, tags int) *world {
	w := &world{}
	for k := range regions {
		w.regions = append(w.regions, fmt.Sprintf("%06d", 110000+100*k))
	}
	for k := range tags {
		w.tags = append(w.tags, fmt.Sprintf("skill-%02d", k))
	}
	shifts := [][2]int{{0, 8}, {6, 14}, {8, 17}, {9, 18}, {10, 19}, {12, 21}, {14, 23}, {18, 24}}
	for i := range n {
		k := rng.IntN(regions)
		s := Staff{
			ID:          100000 + i,
			Name:        fmt.Sprintf("agent %d", i),
			Departments: []int{1 + rng.IntN(teams)},
			Capacity:    5 + rng.IntN(26),
		}
		if rng.IntN(20) > 0 { // 5% have no region
			s.Region = w.regions[k]
		}
		if rng.IntN(3) > 0 { // two in three work in a store
			s.Departments = append(s.Departments, 1000+k)
		}
		if rng.IntN(30) == 0 {
			s.Capacity = 0
		}
		s.Load = rng.IntN(s.Capacity + 1)
		for range 3 + rng.IntN(4) {
			s.Skills = append(s.Skills, w.tag(rng)) // repeats are allowed
		}
		sh := shifts[rng.IntN(len(shifts))]
		s.OnShift = func(now time.Time) bool { h := now.Hour(); return h >= sh[0] && h < sh[1] }
		if rng.IntN(10) < 7 {
			s.CSATCount = rng.IntN(40)
			s.CSAT = 1 + 4*rng.Float64()
		}
		if rng.IntN(10) < 8 {
			s.AvgResolution = time.Duration(10+rng.IntN(600)) * time.Minute
		}
		if rng.IntN(10) > 0 {
			s.LastAssignedAt = t0.Add(-time.Duration(rng.Int64N(int64(7 * 24 * time.Hour))))
		}
		w.staff = append(w.staff, s)
	}
	return w
}

// tag picks a skill tag, the first ones more often than the last.
func (w *world) tag(rng *rand.Rand) string {
	f := rng.Float64()
	return w.tags[int(f*f*float64(len(w.tags)))]
}

func (w *world) request(rng *rand.Rand) Request {
	k := rng.IntN(len(w.regions))
	r := Request{TeamID: 1 + rng.IntN(teams), Now: t0}
	if rng.IntN(10) > 0 {
		r.Region = w.regions[k]
	}
	if rng.IntN(10) < 7 {
		r.StoreID = 1000 + k
	}
	for range 1 + rng.IntN(2) {
		r.Skills = append(r.Skills, w.tag(rng))
	}
	for range rng.IntN(5) {
		r.Followers = append(r.Followers, w.staff[rng.IntN(len(w.staff))].ID)
	}
	if rng.IntN(4) == 0 {
		r.Exclude = []int{w.staff[rng.IntN(len(w.staff))].ID}
	}
	return r
}

type namedConfig struct {
	name string
	cfg  Config
}

func benchConfigs() []namedConfig {
	return []namedConfig{
		{"default", DefaultConfig()},
		{"skills+region required, round robin", Config{Steps: []Step{
			{Kind: StepSkills, Required: true}, {Kind: StepRegion, Required: true}, {Kind: StepRoundRobin}}}},
		{"team required, least loaded by CSAT", Config{Steps: []Step{
			{Kind: StepTeam, Required: true}, {Kind: StepLeastLoaded}}, CSATWeight: 0.3}},
		{"skills, team optional, both weights", Config{Steps: []Step{
			{Kind: StepSkills, Required: true}, {Kind: StepTeam}, {Kind: StepFollower}}, CSATWeight: 0.5, ResolutionWeight: 0.2}},
		{"no filters, both weights (worst case: all 30k)", Config{CSATWeight: 0.3, ResolutionWeight: 0.1}},
		{"no filters, round robin, limit 100", Config{Steps: []Step{{Kind: StepRoundRobin}}}},
	}
}

// BenchmarkRoute routes one ticket among 30,000 staff (500 regions, each
// with a store; 40 teams; 40 skill tags), cycling through 1,024 requests.
func BenchmarkRoute(b *testing.B) {
	rng := rand.New(rand.NewPCG(2026, 3))
	w := newWorld(rng, 30000, 500, 40)
	p := NewPool(w.staff)
	reqs := make([]Request, 1024)
	for k := range reqs {
		reqs[k] = w.request(rng)
	}
	for _, c := range benchConfigs() {
		b.Run(c.name, func(b *testing.B) {
			limit := 0
			if c.cfg.Steps != nil && len(c.cfg.Steps) == 1 {
				limit = 100
			}
			ranked := 0
			k := 0
			for b.Loop() {
				r := reqs[k%len(reqs)]
				r.Limit = limit
				ranked += len(p.Route(c.cfg, r).Ranking)
				k++
			}
			b.ReportMetric(float64(ranked)/float64(k), "ranked/op")
		})
	}
}

// BenchmarkNewPool indexes 30,000 staff.
func BenchmarkNewPool(b *testing.B) {
	w := newWorld(rand.New(rand.NewPCG(2026, 3)), 30000, 500, 40)
	for b.Loop() {
		NewPool(w.staff)
	}
}
