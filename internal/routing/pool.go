package routing

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Staff is one staff member as routing sees them, loaded by the caller.
type Staff struct {
	ID          int
	Name        string // for the caller; routing does not read it
	Region      string // administrative division code, e.g. "310000"; may be empty
	Departments []int  // the teams and stores the staff member belongs to
	Skills      []string
	Capacity    int // max open tickets; 0 (or less) means cannot take tickets
	Load        int // open tickets now
	// OnShift reports whether the staff member is working at now; nil
	// means always. Route calls it only for members that pass the
	// filters, possibly from several goroutines at once.
	OnShift        func(now time.Time) bool
	CSAT           float64       // recent average, 1..5; 0 with CSATCount 0 means no data
	CSATCount      int           // how many ratings CSAT averages
	AvgResolution  time.Duration // recent average time to resolve; 0 means no data
	LastAssignedAt time.Time     // zero means never
}

// Pool is a snapshot of a tenant's staff, indexed for routing. It is
// immutable once NewPool returns (it keeps no reference to the Staff
// slice or its Departments and Skills), so any number of goroutines may
// Route on it at once.
type Pool struct {
	members []member
	// Per member index, what availability needs first, in compact arrays
	// a scan over every member touches cheaply: whether capacity alone
	// rules the member out (availNoCapacity, availFull, else
	// availUnknown), and its OnShift.
	static   []uint8
	onShift  []func(time.Time) bool
	byID     map[int]int32
	byRegion map[string]*posting
	byDept   map[int]*posting
	bySkill  map[string]*posting

	scratch sync.Pool // of *scratch, sized for members
}

// posting lists the members having one region, department or skill.
type posting struct {
	ids []int32 // member indexes, ascending
	// bits has bit i set when member i is in ids; only for lists with
	// at least one member in denseEvery, where the bitmap is no bigger
	// than the list and testing a bit beats searching it.
	bits []uint64
}

const denseEvery = 32

func (l *posting) add(i int32) {
	// Members are added in ascending order, so a staff member listing a
	// skill or department twice would be last.
	if len(l.ids) == 0 || l.ids[len(l.ids)-1] != i {
		l.ids = append(l.ids, i)
	}
}

func (l *posting) set() set {
	if l == nil {
		return set{buf: -1}
	}
	return set{ids: l.ids, bits: l.bits, buf: -1}
}

// member is what Route reads of a Staff, at its index in Pool.members.
type member struct {
	id        int
	load      int
	capacity  int
	csat      float64 // clamped to 1..5; only meaningful when csatCount > 0
	csatCount int
	avgRes    time.Duration
	// LastAssignedAt as Unix seconds and nanoseconds: the zero time is
	// year 1, before any real assignment, so "never" sorts first.
	lastSec  int64
	lastNsec int32
}

// NewPool indexes staff by region, department and skill. A staff ID that
// appears more than once keeps its first appearance. Department 0 and
// the empty region are not indexed: requests use them for "none".
func NewPool(staff []Staff) *Pool {
	p := &Pool{
		members:  make([]member, 0, len(staff)),
		byID:     make(map[int]int32, len(staff)),
		static:   make([]uint8, 0, len(staff)),
		onShift:  make([]func(time.Time) bool, 0, len(staff)),
		byRegion: make(map[string]*posting),
		byDept:   make(map[int]*posting),
		bySkill:  make(map[string]*posting),
	}
	for k := range staff {
		s := &staff[k]
		if _, dup := p.byID[s.ID]; dup {
			continue
		}
		i := int32(len(p.members))
		p.byID[s.ID] = i
		m := member{
			id:        s.ID,
			load:      s.Load,
			capacity:  s.Capacity,
			csat:      min(max(s.CSAT, 1), 5),
			csatCount: s.CSATCount,
			avgRes:    s.AvgResolution,
			lastSec:   s.LastAssignedAt.Unix(),
			lastNsec:  int32(s.LastAssignedAt.Nanosecond()),
		}
		if math.IsNaN(s.CSAT) || math.IsInf(s.CSAT, 0) || m.csatCount < 0 {
			m.csat, m.csatCount = 0, 0
		}
		if m.avgRes < 0 {
			m.avgRes = 0
		}
		p.members = append(p.members, m)
		static := availUnknown
		switch {
		case m.capacity <= 0:
			static = availNoCapacity
		case m.load >= m.capacity:
			static = availFull
		}
		p.static = append(p.static, static)
		p.onShift = append(p.onShift, s.OnShift)
		if s.Region != "" {
			postingOf(p.byRegion, s.Region).add(i)
		}
		for _, d := range s.Departments {
			if d != 0 {
				postingOf(p.byDept, d).add(i)
			}
		}
		for _, sk := range s.Skills {
			postingOf(p.bySkill, sk).add(i)
		}
	}
	n := len(p.members)
	for _, m := range []map[string]*posting{p.byRegion, p.bySkill} {
		for _, l := range m {
			l.index(n)
		}
	}
	for _, l := range p.byDept {
		l.index(n)
	}
	p.scratch.New = func() any { return &scratch{state: make([]uint8, n)} }
	return p
}

func postingOf[K comparable](m map[K]*posting, k K) *posting {
	l := m[k]
	if l == nil {
		l = &posting{}
		m[k] = l
	}
	return l
}

// index trims l and gives it a bitmap if it is dense among n members.
func (l *posting) index(n int) {
	l.ids = slices.Clip(l.ids)
	if len(l.ids)*denseEvery < n {
		return
	}
	l.bits = make([]uint64, (n+63)/64)
	for _, i := range l.ids {
		l.bits[i/64] |= 1 << (i % 64)
	}
}

// Len is the number of distinct staff members in the pool.
func (p *Pool) Len() int { return len(p.members) }

// scratch is one Route call's working memory, reused through Pool.scratch.
type scratch struct {
	state []uint8    // availability per member index, memoized (avail*)
	bufs  [3][]int32 // candidate sets; see router.buffer
	cand  []int32    // the available candidates
	heap  []entry    // the best Limit candidates
	durs  []int64    // AvgResolution of the candidates, for the median
	skill []*posting // the posting lists of the requested skills
	names []string   // the requested skills, deduplicated
}

func (p *Pool) getScratch() *scratch { return p.scratch.Get().(*scratch) }

func (p *Pool) putScratch(s *scratch) {
	clear(s.state)
	clear(s.skill) // do not pin posting lists or strings past the call
	clear(s.names)
	p.scratch.Put(s)
}
