package businesstime

import (
	"cmp"
	"slices"
	"time"
)

// horizonDays bounds every search for working time: a calendar with none in
// three years is taken to have none at all.
const horizonDays = 3*365 + 1

// zoneMargin keeps the fast paths away from UTC-offset changes, where a
// wall-clock time may name no instant or two.
const zoneMargin = 48 * time.Hour

// Calendar is a compiled Spec, or the 24/7 calendar of Always. It is
// immutable and safe for concurrent use.
type Calendar struct {
	loc    *time.Location
	always bool

	weekly    [7][]span // by time.Weekday
	workHours []span    // on make-up working dates
	dayTotal  [7]time.Duration
	weekTotal time.Duration
	specials  []special // holidays and make-up dates, by day
	workdays  []int64   // make-up dates, sorted
}

// special is a date whose hours do not come from its weekday.
type special struct {
	day  int64
	open bool // a make-up working date; otherwise a holiday
}

// interval is working time [s, e) as instants.
type interval struct{ s, e time.Time }

// Always is the 24/7 calendar ("calendar time") in loc (UTC if nil): its
// answers are plain time arithmetic.
func Always(loc *time.Location) *Calendar {
	if loc == nil {
		loc = time.UTC
	}
	return &Calendar{loc: loc, always: true}
}

// Location is the calendar's time zone; instants it returns are in it.
func (c *Calendar) Location() *time.Location { return c.loc }

// IsOpen reports whether t is within working time.
func (c *Calendar) IsOpen(t time.Time) bool {
	if c.always {
		return true
	}
	var buf [8]interval
	for _, iv := range c.intervals(c.dayOf(t), buf[:0]) {
		if !t.Before(iv.s) && t.Before(iv.e) {
			return true
		}
	}
	return false
}

// NextOpen is the first instant at or after t within working time: t itself
// if the calendar is open at t. It reports false if the calendar does not
// open within three years of t.
func (c *Calendar) NextOpen(t time.Time) (time.Time, bool) {
	t = t.In(c.loc)
	if c.always {
		return t, true
	}
	var buf [8]interval
	day := c.dayOf(t)
	last := day + horizonDays
	for day <= last {
		if c.weekTotal == 0 {
			w, ok := c.nextWorkday(day)
			if !ok || w > last {
				break
			}
			day = w
		}
		for _, iv := range c.intervals(day, buf[:0]) {
			if iv.e.After(t) {
				if iv.s.After(t) {
					return iv.s, true
				}
				return t, true
			}
		}
		day++
	}
	return time.Time{}, false
}

// Add is the instant at which d of working time has passed after from: the
// SLA due time of something received at from. If that is the end of a
// window, Add returns the end, not the next opening. A d of zero or less
// returns from. Add reports false if it meets three years without working
// time (in particular, if the calendar never opens again).
//
// Whole weeks and days without holidays, make-up dates or offset changes
// are skipped by their precomputed totals, so long durations cost little.
func (c *Calendar) Add(from time.Time, d time.Duration) (time.Time, bool) {
	from = from.In(c.loc)
	if d <= 0 {
		return from, true
	}
	if c.always {
		return from.Add(d), true
	}
	var buf [8]interval
	rem := d
	day := c.dayOf(from)
	t := from
	lastWork := day // the last day with working time, for the horizon
	for {
		if day-lastWork > horizonDays {
			return time.Time{}, false
		}
		if ds := c.dayStart(day); !t.After(ds) {
			if c.weekTotal == 0 {
				w, ok := c.nextWorkday(day)
				if !ok || w-lastWork > horizonDays {
					return time.Time{}, false
				}
				if w != day {
					day, t = w, c.dayStart(w)
					continue
				}
			} else if n := c.plainDays(day, ds); n > 0 {
				skipped := false
				if weeks := min(n/7, int64((rem-1)/c.weekTotal)); weeks > 0 {
					rem -= time.Duration(weeks) * c.weekTotal
					day += 7 * weeks
					n -= 7 * weeks
					lastWork, skipped = day-1, true
				}
				for ; n > 0; n-- {
					dt := c.dayTotal[weekday(day)]
					if rem <= dt {
						break
					}
					rem -= dt
					if dt > 0 {
						lastWork = day
					}
					day++
					skipped = true
				}
				if skipped {
					t = c.dayStart(day)
					continue
				}
			}
		}
		for _, iv := range c.intervals(day, buf[:0]) {
			if !iv.e.After(t) {
				continue
			}
			s := iv.s
			if s.Before(t) {
				s = t
			}
			avail := iv.e.Sub(s)
			if rem <= avail {
				return s.Add(rem), true
			}
			rem -= avail
			lastWork = day
		}
		day++
		t = c.dayStart(day)
	}
}

// Between is the working time in [a, b); 0 if b is not after a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if c.always {
		return b.Sub(a)
	}
	var buf [8]interval
	var total time.Duration
	day, last := c.dayOf(a), c.dayOf(b)
	t := a
	for day <= last {
		if ds := c.dayStart(day); !t.After(ds) {
			if c.weekTotal == 0 {
				w, ok := c.nextWorkday(day)
				if !ok || w > last {
					break
				}
				if w != day {
					day, t = w, c.dayStart(w)
					continue
				}
			} else if n := min(c.plainDays(day, ds), last-day); n > 0 {
				weeks := n / 7
				total += time.Duration(weeks) * c.weekTotal
				day += 7 * weeks
				for n -= 7 * weeks; n > 0; n-- {
					total += c.dayTotal[weekday(day)]
					day++
				}
				t = c.dayStart(day)
				continue
			}
		}
		for _, iv := range c.intervals(day, buf[:0]) {
			s, e := iv.s, iv.e
			if s.Before(t) {
				s = t
			}
			if e.After(b) {
				e = b
			}
			if e.After(s) {
				total += e.Sub(s)
			}
		}
		day++
		t = c.dayStart(day)
	}
	return total
}

// plainDays is how many days from day on (ds being its start) have exactly
// their weekday's precomputed working time: no holiday or make-up date, and
// the UTC offset constant from well before the first to well after the last,
// so wall-clock windows are a fixed distance from midnight.
func (c *Calendar) plainDays(day int64, ds time.Time) int64 {
	zs, ze := ds.ZoneBounds()
	if !zs.IsZero() && ds.Sub(zs) < zoneMargin {
		return 0
	}
	n := int64(horizonDays)
	if !ze.IsZero() {
		room := ze.Sub(ds) - zoneMargin
		if room <= 0 {
			return 0
		}
		n = min(n, int64(room/(24*time.Hour)))
	}
	i, _ := slices.BinarySearchFunc(c.specials, day, byDay)
	if i < len(c.specials) {
		n = min(n, c.specials[i].day-day)
	}
	return n
}

// intervals appends day's working time to buf. Windows become instants by
// time.Date in the calendar's location (wall-clock time, whatever the
// offset), clipped to the day and to one another so they stay ordered and
// disjoint even where a wall-clock time names no instant or two.
func (c *Calendar) intervals(day int64, buf []interval) []interval {
	spans := c.windowsOn(day)
	if len(spans) == 0 {
		return buf
	}
	ds, de := c.dayStart(day), c.dayStart(day+1)
	prev := ds
	for _, sp := range spans {
		s, e := c.at(day, sp.start), c.at(day, sp.end)
		if s.Before(prev) {
			s = prev
		}
		if e.After(de) {
			e = de
		}
		if !s.Before(e) {
			continue
		}
		buf = append(buf, interval{s, e})
		prev = e
	}
	return buf
}

// windowsOn is the windows of a day: none on a holiday, WorkdayHours on a
// make-up date, its weekday's otherwise.
func (c *Calendar) windowsOn(day int64) []span {
	if i, found := slices.BinarySearchFunc(c.specials, day, byDay); found {
		if c.specials[i].open {
			return c.workHours
		}
		return nil
	}
	return c.weekly[weekday(day)]
}

// nextWorkday is the first make-up date on or after day.
func (c *Calendar) nextWorkday(day int64) (int64, bool) {
	i, _ := slices.BinarySearch(c.workdays, day)
	if i == len(c.workdays) {
		return 0, false
	}
	return c.workdays[i], true
}

// at is the instant of a wall-clock time, in minutes, on day; 1440 is the
// next day's midnight.
func (c *Calendar) at(day int64, minutes int32) time.Time {
	return time.Date(1970, time.January, 1+int(day), 0, int(minutes), 0, 0, c.loc)
}

// dayStart is the instant day begins, its midnight (or what time.Date makes
// of it).
func (c *Calendar) dayStart(day int64) time.Time { return c.at(day, 0) }

// dayOf is the day t falls in: the one whose [dayStart, next dayStart)
// holds it.
func (c *Calendar) dayOf(t time.Time) int64 {
	day := civilDay(t.In(c.loc).Date())
	for i := 0; i < 3 && t.Before(c.dayStart(day)); i++ {
		day--
	}
	for i := 0; i < 3 && !t.Before(c.dayStart(day+1)); i++ {
		day++
	}
	return day
}

// civilDay numbers a date: days since 1970-01-01.
func civilDay(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// weekday of a day number; 1970-01-01 was a Thursday.
func weekday(day int64) time.Weekday {
	return time.Weekday(((day+4)%7 + 7) % 7)
}

func byDay(s special, day int64) int { return cmp.Compare(s.day, day) }
