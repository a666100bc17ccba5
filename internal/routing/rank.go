package routing

import (
	"fmt"
	"slices"
	"time"
)

// entry is a candidate in the ranking heap, with its sort keys inline.
type entry struct {
	score float64
	sec   int64 // LastAssignedAt
	nsec  int32
	i     int32 // member index
	id    int
}

// before reports whether a ranks ahead of b: lower score, then older
// LastAssignedAt, then lower ID. IDs are unique, so it is a strict total
// order and the ranking never depends on the order of the staff.
func before(a, b entry) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	return a.id < b.id
}

func compare(a, b entry) int {
	switch {
	case before(a, b):
		return -1
	case before(b, a):
		return 1
	}
	return 0
}

// The heap keeps the best candidates seen so far with the worst of them
// at the root, so a new candidate either replaces the root or is dropped:
// O(n log limit) for n candidates, instead of sorting all n.

func up(h []entry, j int) {
	for j > 0 {
		parent := (j - 1) / 2
		if !before(h[parent], h[j]) {
			return
		}
		h[parent], h[j] = h[j], h[parent]
		j = parent
	}
}

func down(h []entry, j int) {
	for {
		worst := j
		if l := 2*j + 1; l < len(h) && before(h[worst], h[l]) {
			worst = l
		}
		if r := 2*j + 2; r < len(h) && before(h[worst], h[r]) {
			worst = r
		}
		if worst == j {
			return
		}
		h[j], h[worst] = h[worst], h[j]
		j = worst
	}
}

// score is m's LEAST_LOADED score (lower is better): its Load/Capacity,
// minus CSATWeight×(CSAT−3)/2 when it has at least 3 ratings, plus
// ResolutionWeight×(AvgResolution/median − 1) clamped to −1..1 when it
// has an average resolution time.
func (m *member) score(cfg Config, median time.Duration) float64 {
	s := float64(max(m.load, 0)) / float64(m.capacity)
	if cfg.CSATWeight > 0 && m.csatCount >= 3 {
		s -= cfg.CSATWeight * (m.csat - 3) / 2
	}
	if cfg.ResolutionWeight > 0 && m.avgRes > 0 && median > 0 {
		s += cfg.ResolutionWeight * min(max(float64(m.avgRes)/float64(median)-1, -1), 1)
	}
	return s
}

// rank orders cands (all available) and fills in d's ranking, scores,
// details and the ordering step of the trace.
func (r *router) rank(order StepKind, cfg Config, cands []int32, limit int, d *Decision) {
	var median time.Duration
	if order == StepLeastLoaded && cfg.ResolutionWeight > 0 {
		durs := r.s.durs[:0]
		for _, i := range cands {
			if res := r.p.members[i].avgRes; res > 0 {
				durs = append(durs, int64(res))
			}
		}
		r.s.durs = durs
		median = time.Duration(medianOf(durs))
	}

	h := r.s.heap[:0]
	for _, i := range cands {
		m := &r.p.members[i]
		e := entry{sec: m.lastSec, nsec: m.lastNsec, i: i, id: m.id}
		if order == StepLeastLoaded {
			e.score = m.score(cfg, median)
		} // ROUND_ROBIN: every score 0, so LastAssignedAt decides
		switch {
		case len(h) < limit:
			h = append(h, e)
			up(h, len(h)-1)
		case before(e, h[0]):
			h[0] = e
			down(h, 0)
		}
	}
	slices.SortFunc(h, compare)
	r.s.heap = h

	d.Ranking = make([]int, len(h))
	d.Scores = make(map[int]float64, len(h))
	d.Details = make(map[int]Detail, len(h))
	for k, e := range h {
		m := &r.p.members[e.i]
		det := Detail{
			Rank:          k + 1,
			Load:          m.load,
			Capacity:      m.capacity,
			AvgResolution: m.avgRes,
		}
		if m.csatCount > 0 {
			det.CSAT, det.CSATCount = m.csat, m.csatCount
		}
		if order == StepLeastLoaded && cfg.ResolutionWeight > 0 {
			det.MedianResolution = median
		}
		score := e.score
		if m.lastSec != zeroSec || m.lastNsec != 0 {
			det.LastAssignedAt = time.Unix(m.lastSec, int64(m.lastNsec)).UTC()
			if !r.req.Now.IsZero() {
				det.SinceAssigned = max(r.req.Now.Sub(det.LastAssignedAt), 0)
			}
			if order == StepRoundRobin {
				score = float64(m.lastSec) + float64(m.lastNsec)/1e9
			}
		}
		d.Ranking[k] = m.id
		d.Scores[m.id] = score
		d.Details[m.id] = det
	}
	best := d.Ranking[0]
	d.Trace = append(d.Trace, TraceStep{
		Step:   string(order),
		Before: len(cands),
		After:  len(h),
		Note: fmt.Sprintf("%s: top %d of %d, best #%d (%s)",
			orderLabel(order, cfg), len(h), len(cands), best, facts(order, d.Details[best], d.Scores[best])),
	})
}

// zeroSec is the zero time.Time (never assigned) in Unix seconds.
var zeroSec = time.Time{}.Unix()

// orderLabel names the ordering in the trace. It contains no ": ", which
// Explain relies on to take it back from the note.
func orderLabel(order StepKind, cfg Config) string {
	if order == StepRoundRobin {
		return "round robin"
	}
	switch {
	case cfg.CSATWeight > 0 && cfg.ResolutionWeight > 0:
		return "least loaded weighted by CSAT and resolution time"
	case cfg.CSATWeight > 0:
		return "least loaded weighted by CSAT"
	case cfg.ResolutionWeight > 0:
		return "least loaded weighted by resolution time"
	}
	return "least loaded"
}

// medianOf returns the median of a (the mean of the two middle values
// for an even count; 0 for none), reordering a.
func medianOf(a []int64) int64 {
	n := len(a)
	if n == 0 {
		return 0
	}
	k := n / 2
	hi := selectKth(a, k)
	if n%2 == 1 {
		return hi
	}
	lo := slices.Max(a[:k]) // selectKth leaves a[:k] <= a[k]
	return lo + (hi-lo)/2
}

// selectKth reorders a so that a[k] is its k-th smallest value (0-based),
// with a[:k] no greater and a[k+1:] no smaller, and returns it:
// quickselect with a three-way partition (durations repeat), average
// O(len(a)). Should the pivots keep going badly, it sorts what is left.
func selectKth(a []int64, k int) int64 {
	lo, hi := 0, len(a)
	for round := 0; hi-lo > 1; round++ {
		if round == 64 {
			slices.Sort(a[lo:hi])
			break
		}
		x, y, z := a[lo], a[lo+(hi-lo)/2], a[hi-1]
		pivot := max(min(x, y), min(max(x, y), z)) // median of three
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch {
			case a[i] < pivot:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case a[i] > pivot:
				gt--
				a[gt], a[i] = a[i], a[gt]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return pivot
		}
	}
	return a[k]
}
