package routing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultLimit is the ranking length when Request.Limit is 0 or less.
const DefaultLimit = 10

// Trace step names for the steps that are not in a Config (those carry
// their StepKind, in capitals).
const (
	// TraceConfig is the only step of a Decision refused for an invalid
	// Config.
	TraceConfig = "config"
	// TraceAvailable is the step every route applies after the filters:
	// it drops the staff who are excluded, cannot take tickets, are at
	// capacity, or are off shift.
	TraceAvailable = "available"
)

// Request describes the ticket to route.
type Request struct {
	Region    string    // the customer's region; "" for unknown
	StoreID   int       // the customer's store (a department); 0 for none
	TeamID    int       // the team the ticket type belongs to (a department); 0 for none
	Skills    []string  // the skills the ticket needs
	Followers []int     // staff following the customer in WeCom
	Exclude   []int     // staff who must not get it, e.g. the agent it was claimed back from
	Now       time.Time // what Staff.OnShift is asked about
	Limit     int       // ranking length wanted; 0 means DefaultLimit
}

// Decision is what Route found.
type Decision struct {
	// Ranking is staff IDs, best first. Empty means nobody fits: the
	// ticket goes to the team queue.
	Ranking []int `json:"ranking"`
	// Trace is every step taken, in order, each with the number of
	// candidates before and after it and a sentence saying what it did.
	Trace []TraceStep `json:"trace"`
	// Scores holds the score of each ranked staff member. Lower is
	// better, and the ranking is by ascending score. For LEAST_LOADED it
	// is the weighted load, between -1 and 2: Load/Capacity, minus the
	// CSAT term, plus the resolution term (see Config); for ROUND_ROBIN it is
	// LastAssignedAt in Unix seconds, 0 for never assigned. Equal scores
	// are ordered by LastAssignedAt (older first), then by ID.
	Scores map[int]float64 `json:"scores,omitempty"`
	// Details holds the figures behind each ranked staff member's place,
	// for Explain and for display.
	Details map[int]Detail `json:"details,omitempty"`
}

// TraceStep is one step of a Decision's trace.
type TraceStep struct {
	Step   string `json:"step"`   // the StepKind, TraceAvailable or TraceConfig
	Before int    `json:"before"` // candidates before the step
	After  int    `json:"after"`  // candidates after it (for the ordering step: ranked)
	Note   string `json:"note"`   // what it did, as one English clause
}

// Detail is what a ranked staff member's place rests on.
type Detail struct {
	Rank          int           `json:"rank"` // 1-based place in Ranking
	Load          int           `json:"load"`
	Capacity      int           `json:"capacity"`
	CSAT          float64       `json:"csat,omitempty"`
	CSATCount     int           `json:"csatCount,omitempty"`
	AvgResolution time.Duration `json:"avgResolution,omitempty"`
	// MedianResolution is the candidates' median AvgResolution, when the
	// resolution weight took part in the score.
	MedianResolution time.Duration `json:"medianResolution,omitempty"`
	LastAssignedAt   time.Time     `json:"lastAssignedAt,omitzero"`
	// SinceAssigned is Request.Now minus LastAssignedAt (0 when never
	// assigned or when Now was not given).
	SinceAssigned time.Duration `json:"sinceAssigned,omitempty"`
}

// Availability of a member, memoized in scratch.state for one Route.
const (
	availUnknown uint8 = iota
	availYes
	availExcluded
	availNoCapacity // Capacity <= 0
	availFull       // Load >= Capacity
	availOffShift
	availStates
)

// set is a candidate set: every member, or the ascending indexes ids,
// held in scratch buffer buf (-1 when ids is a posting list of the pool,
// which must not be written; bits is then its bitmap, if it has one).
type set struct {
	all  bool
	ids  []int32
	bits []uint64
	buf  int
}

// none is the empty set.
var none = set{buf: -1}

func (s set) size(n int) int {
	if s.all {
		return n
	}
	return len(s.ids)
}

type router struct {
	p   *Pool
	s   *scratch
	req *Request
}

// Route ranks the staff for one ticket. It applies cfg's filters in
// order, then the availability step, then the ordering, and returns the
// best req.Limit candidates. See Decision for the meaning of the scores
// and Step.Required for when a filter stops the routing or is skipped.
//
// A filter with nothing to filter by does not apply (its trace note says
// so): SKILLS without skills, REGION without region or store, TEAM
// without team. FOLLOWER with no followers does apply and leaves nobody:
// when it is required, a customer nobody follows goes to the queue.
//
// An invalid cfg (see Config.Validate) routes nobody; its only trace step
// is TraceConfig with the error.
func (p *Pool) Route(cfg Config, req Request) Decision {
	n := len(p.members)
	if err := cfg.Validate(); err != nil {
		return Decision{Trace: []TraceStep{{
			Step: TraceConfig, Before: n,
			Note: err.Error() + ", so the ticket goes to the queue",
		}}}
	}
	limit := req.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	s := p.getScratch()
	defer p.putScratch(s)
	r := &router{p: p, s: s, req: &req}
	for _, id := range req.Exclude {
		if i, ok := p.byID[id]; ok {
			s.state[i] = availExcluded
		}
	}

	d := Decision{Trace: make([]TraceStep, 0, len(cfg.Steps)+2)}
	cur := set{all: true, buf: -1}
	order := StepLeastLoaded
	for _, st := range cfg.Steps {
		if st.Kind.ordering() {
			order = st.Kind
			continue
		}
		var stop bool
		if cur, stop = r.filter(st, cur, &d); stop {
			return d
		}
	}
	cands := r.available(cur, &d)
	if len(cands) == 0 {
		return d
	}
	r.rank(order, cfg, cands, limit, &d)
	return d
}

// filter applies one filter step to cur. It returns the new candidates,
// and true when a required filter left nobody.
func (r *router) filter(st Step, cur set, d *Decision) (set, bool) {
	before := cur.size(len(r.p.members))
	label, match, applies := r.match(st.Kind, cur)
	ts := TraceStep{Step: string(st.Kind), Before: before, After: before}
	after := len(match.ids)
	switch {
	case !applies:
		ts.Note = label + ", not applied"
	case after == 0 && st.Required:
		ts.After = 0
		ts.Note = fmt.Sprintf("%s: 0 of %d, required, so the ticket goes to the queue", label, before)
		d.Trace = append(d.Trace, ts)
		return match, true
	case after == 0:
		ts.Note = fmt.Sprintf("%s: 0 of %d, not required, so skipped", label, before)
	case !st.Required && !r.anyAvailable(match.ids):
		ts.Note = fmt.Sprintf("%s: %d of %d but none available, not required, so skipped", label, after, before)
	default:
		ts.After = after
		ts.Note = fmt.Sprintf("%s: %d of %d", label, after, before)
		cur = match
	}
	d.Trace = append(d.Trace, ts)
	return cur, false
}

// match returns the members of cur that pass the filter kind, and the
// filter's label for the trace. When the request gives the filter nothing
// to filter by, applies is false and label is the whole note.
func (r *router) match(kind StepKind, cur set) (label string, match set, applies bool) {
	p, req := r.p, r.req
	switch kind {
	case StepSkills:
		names := r.s.names[:0]
		for _, sk := range req.Skills {
			if !slices.Contains(names, sk) {
				names = append(names, sk)
			}
		}
		r.s.names = names
		if len(names) == 0 {
			return "skills: none requested", none, false
		}
		label = "skills " + strings.Join(names, ",")
		lists := r.s.skill[:0]
		for _, sk := range names {
			l := p.bySkill[sk]
			if l == nil {
				return label, none, true
			}
			lists = append(lists, l)
		}
		r.s.skill = lists
		// Shortest first: every intersection is then as small as it gets.
		slices.SortFunc(lists, func(a, b *posting) int { return len(a.ids) - len(b.ids) })
		res := cur
		if res.all {
			res = lists[0].set()
			lists = lists[1:]
		}
		for _, l := range lists {
			if len(res.ids) == 0 {
				break
			}
			res = r.intersect(res, l.set(), cur.buf)
		}
		return label, res, true

	case StepRegion:
		a, b := none, none
		switch {
		case req.Region != "" && req.StoreID != 0:
			label = "region " + req.Region + " or store " + strconv.Itoa(req.StoreID)
			a, b = p.byRegion[req.Region].set(), p.byDept[req.StoreID].set()
		case req.Region != "":
			label = "region " + req.Region
			a = p.byRegion[req.Region].set()
		case req.StoreID != 0:
			label = "store " + strconv.Itoa(req.StoreID)
			b = p.byDept[req.StoreID].set()
		default:
			return "region: the request has no region or store", none, false
		}
		var either set
		switch {
		case len(b.ids) == 0:
			either = a
		case len(a.ids) == 0:
			either = b
		default:
			k := r.buffer(cur.buf, -1, -1)
			either = r.store(k, union(r.s.bufs[k][:0], a.ids, b.ids))
		}
		if cur.all {
			return label, either, true
		}
		return label, r.intersect(either, cur, cur.buf), true

	case StepTeam:
		if req.TeamID == 0 {
			return "team: the request has no team", none, false
		}
		label = "team " + strconv.Itoa(req.TeamID)
		team := p.byDept[req.TeamID].set()
		if cur.all {
			return label, team, true
		}
		return label, r.intersect(team, cur, cur.buf), true

	case StepFollower:
		k := r.buffer(cur.buf, -1, -1)
		ids := r.s.bufs[k][:0]
		for _, id := range req.Followers {
			if i, ok := p.byID[id]; ok {
				ids = append(ids, i)
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		followers := r.store(k, ids)
		label = fmt.Sprintf("the customer's followers (%d)", len(ids))
		if cur.all || len(ids) == 0 {
			return label, followers, true
		}
		return label, r.intersect(followers, cur, cur.buf), true
	}
	panic("routing: match on " + string(kind)) // Validate lets no other kind through
}

// buffer returns a scratch buffer that holds none of the sets a, b, c
// (-1 for a set that is not in a buffer). Three buffers are enough: a
// step needs the candidates before it (kept in case it is skipped), one
// operand, and the result.
func (r *router) buffer(a, b, c int) int {
	for k := range len(r.s.bufs) {
		if k != a && k != b && k != c {
			return k
		}
	}
	panic("routing: no free buffer")
}

// store records ids, written into buffer k, as that buffer's content (it
// may have grown) and returns it as a set.
func (r *router) store(k int, ids []int32) set {
	r.s.bufs[k] = ids
	return set{ids: ids, buf: k}
}

// intersect returns a ∩ b in a buffer that holds neither, nor keep. It
// walks the shorter list and tests the longer one's bitmap when it has
// one; walking the longer list against the shorter one's bitmap is also
// worth it while the longer is at most 8 times as long. Otherwise it
// gallops through the longer list.
func (r *router) intersect(a, b set, keep int) set {
	k := r.buffer(a.buf, b.buf, keep)
	dst := r.s.bufs[k][:0]
	if len(a.ids) > len(b.ids) {
		a, b = b, a
	}
	switch {
	case b.bits != nil:
		dst = filterBits(dst, a.ids, b.bits)
	case a.bits != nil && len(b.ids) <= 8*len(a.ids):
		dst = filterBits(dst, b.ids, a.bits)
	default:
		dst = intersect(dst, a.ids, b.ids)
	}
	return r.store(k, dst)
}

// status returns member i's availability, working it out (and calling
// its OnShift) at most once per Route.
func (r *router) status(i int32) uint8 {
	st := r.s.state[i]
	if st != availUnknown {
		return st
	}
	st = r.p.static[i]
	if st == availUnknown {
		if on := r.p.onShift[i]; on != nil && !on(r.req.Now) {
			st = availOffShift
		} else {
			st = availYes
		}
	}
	r.s.state[i] = st
	return st
}

func (r *router) anyAvailable(ids []int32) bool {
	for _, i := range ids {
		if r.status(i) == availYes {
			return true
		}
	}
	return false
}

// available applies the availability step to cur, adds it to the trace
// and returns the candidates left.
func (r *router) available(cur set, d *Decision) []int32 {
	var count [availStates]int
	cands := r.s.cand[:0]
	if cur.all {
		// Every member once: status without its memo, which nothing
		// reads after this step.
		now, state, onShift := r.req.Now, r.s.state, r.p.onShift
		for i, st := range r.p.static {
			switch {
			case state[i] != availUnknown: // excluded, or worked out by an optional filter
				st = state[i]
			case st != availUnknown:
			case onShift[i] != nil && !onShift[i](now):
				st = availOffShift
			default:
				st = availYes
			}
			count[st]++
			if st == availYes {
				cands = append(cands, int32(i))
			}
		}
	} else {
		for _, i := range cur.ids {
			st := r.status(i)
			count[st]++
			if st == availYes {
				cands = append(cands, i)
			}
		}
	}
	r.s.cand = cands
	before := cur.size(len(r.p.members))
	var why []string
	for _, c := range []struct {
		st   uint8
		what string
	}{
		{availExcluded, "excluded"},
		{availNoCapacity, "cannot take tickets"},
		{availFull, "at capacity"},
		{availOffShift, "off shift"},
	} {
		if count[c.st] > 0 {
			why = append(why, fmt.Sprintf("%d %s", count[c.st], c.what))
		}
	}
	note := fmt.Sprintf("on shift and under capacity: %d of %d", len(cands), before)
	if len(why) > 0 {
		note += " (" + strings.Join(why, ", ") + ")"
	}
	if len(cands) == 0 {
		note += ", so the ticket goes to the queue"
	}
	d.Trace = append(d.Trace, TraceStep{Step: TraceAvailable, Before: before, After: len(cands), Note: note})
	return cands
}
