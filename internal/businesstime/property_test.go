package businesstime_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/internal/businesstime"
)

// propertySpecs are the calendars the property tests and the fuzz test
// draw from: plain, with lunch gaps, holidays and make-up days, midnight
// windows, DST zones and make-up days only.
var propertySpecs = []Spec{
	nineToSix, office, goldenWeek, night, nyDaily, nySundayNight, nyAllDay, nyOffice,
	{TimeZone: "Europe/London", Weekly: days([]string{"SATURDAY", "SUNDAY"}, win("00:30", "01:30"), win("23:00", "24:00"))},
	{TimeZone: "Asia/Shanghai", Workdays: []string{"2026-09-27", "2026-10-10", "2027-02-07", "2027-02-20"}, WorkdayHours: []Window{win("09:00", "18:00")}},
}

var propertyCals = func() []*businesstime.Calendar {
	out := make([]*businesstime.Calendar, len(propertySpecs))
	for i, s := range propertySpecs {
		c, err := businesstime.Compile(s)
		if err != nil {
			panic(fmt.Sprintf("propertySpecs[%d]: %v", i, err))
		}
		out[i] = c
	}
	return out
}()

var propertyBase = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// checkRoundTrip asserts that d of working time after a is what Between
// counts back, that the due time is not before a, and that the instant just
// before it was working time.
func checkRoundTrip(t *testing.T, c *businesstime.Calendar, a time.Time, d time.Duration) {
	t.Helper()
	due, ok := c.Add(a, d)
	if !ok {
		t.Fatalf("Add(%v, %v) found no working time", a, d)
	}
	if due.Before(a) {
		t.Fatalf("Add(%v, %v) = %v, before from", a, d, due)
	}
	if got := c.Between(a, due); got != d {
		t.Fatalf("Between(%v, Add(%v, %v) = %v) = %v, want %v", a, a, d, due, got, d)
	}
	if d > 0 && !c.IsOpen(due.Add(-time.Nanosecond)) {
		t.Fatalf("Add(%v, %v) = %v, but the instant before it is closed", a, d, due)
	}
	if d > 0 {
		open, ok := c.NextOpen(a)
		if !ok || open.After(due) || !c.IsOpen(open) {
			t.Fatalf("NextOpen(%v) = %v, %v with Add(%v, %v) = %v", a, open, ok, a, d, due)
		}
		if got := c.Between(a, open); got != 0 {
			t.Fatalf("Between(%v, NextOpen = %v) = %v, want 0", a, open, got)
		}
	}
}

func TestAddBetweenRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(20261001, 7))
	for i := range 3000 {
		ci := i % len(propertyCals)
		a := propertyBase.Add(time.Duration(rng.Int64N(int64(3 * 365 * 24 * time.Hour))))
		var d time.Duration
		switch i % 3 {
		case 0:
			d = time.Duration(rng.Int64N(int64(72 * time.Hour)))
		case 1:
			d = time.Duration(rng.Int64N(3000)) * time.Hour
		default:
			d = time.Duration(rng.Int64N(200*60)) * time.Minute
		}
		if ci == len(propertyCals)-1 { // make-up days only: 36h in all, from 27 September
			d %= 30 * time.Hour
			a = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(20 * 24 * time.Hour))))
		}
		checkRoundTrip(t, propertyCals[ci], a, d)
	}
}

func FuzzAddBetween(f *testing.F) {
	f.Add(uint8(0), int64(0), int64(time.Hour))
	f.Add(uint8(2), int64(120*24*time.Hour), int64(48*time.Hour))
	f.Add(uint8(4), int64(280*24*time.Hour), int64(2000*time.Hour))
	f.Add(uint8(5), int64(520*24*time.Hour+3*time.Hour), int64(5*time.Hour+time.Minute))
	f.Fuzz(func(t *testing.T, which uint8, offset, dur int64) {
		ci := int(which) % len(propertyCals)
		span := int64(4 * 365 * 24 * time.Hour)
		a := propertyBase.Add(time.Duration((offset%span + span) % span))
		limit := int64(5000 * time.Hour)
		if ci == len(propertyCals)-1 {
			a = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration((offset%span + span) % int64(20*24*time.Hour)))
			limit = int64(30 * time.Hour)
		}
		d := time.Duration((dur%limit + limit) % limit)
		checkRoundTrip(t, propertyCals[ci], a, d)
	})
}

// reference is a direct, slow reading of a Spec: every date's windows by
// time.Date, one date after another, no skipping.
type reference struct {
	loc                *time.Location
	weekly             map[time.Weekday][]Window
	holidays, workdays map[string]bool
	workHours          []Window
}

func newReference(s Spec) *reference {
	r := &reference{loc: time.UTC, weekly: map[time.Weekday][]Window{}, holidays: map[string]bool{}, workdays: map[string]bool{}}
	if s.TimeZone != "" {
		r.loc = mustLoad(s.TimeZone)
	}
	names := map[string]time.Weekday{"SUNDAY": 0, "MONDAY": 1, "TUESDAY": 2, "WEDNESDAY": 3, "THURSDAY": 4, "FRIDAY": 5, "SATURDAY": 6}
	for _, dh := range s.Weekly {
		r.weekly[names[dh.Weekday]] = dh.Windows
	}
	for _, h := range s.Holidays {
		r.holidays[h] = true
	}
	for _, w := range s.Workdays {
		r.workdays[w] = true
	}
	r.workHours = s.WorkdayHours
	for wd := 1; len(r.workHours) == 0 && wd <= 7; wd++ {
		r.workHours = r.weekly[time.Weekday(wd%7)]
	}
	return r
}

type refInterval struct{ s, e time.Time }

func (r *reference) date(y int, m time.Month, d int) []refInterval {
	date := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	key := date.Format(time.DateOnly)
	ws := r.weekly[date.Weekday()]
	switch {
	case r.holidays[key]:
		ws = nil
	case r.workdays[key]:
		ws = r.workHours
	}
	var out []refInterval
	for _, w := range ws {
		out = append(out, refInterval{
			time.Date(date.Year(), date.Month(), date.Day(), 0, clock(w.Start), 0, 0, r.loc),
			time.Date(date.Year(), date.Month(), date.Day(), 0, clock(w.End), 0, 0, r.loc),
		})
	}
	return out
}

// clock is "HH:MM" in minutes.
func clock(s string) int {
	return int(s[0]-'0')*600 + int(s[1]-'0')*60 + int(s[3]-'0')*10 + int(s[4]-'0')
}

func (r *reference) add(from time.Time, d time.Duration) time.Time {
	from = from.In(r.loc)
	y, m, day := from.Date()
	for i := range 5000 {
		for _, iv := range r.date(y, m, day+i) {
			if !iv.e.After(from) {
				continue
			}
			s := iv.s
			if s.Before(from) {
				s = from
			}
			if iv.e.Sub(s) >= d {
				return s.Add(d)
			}
			d -= iv.e.Sub(s)
		}
	}
	panic("reference: no working time")
}

func (r *reference) between(a, b time.Time) time.Duration {
	a = a.In(r.loc)
	y, m, day := a.Date()
	var total time.Duration
	for i := 0; time.Date(y, m, day+i, 0, 0, 0, 0, r.loc).Before(b); i++ {
		for _, iv := range r.date(y, m, day+i) {
			s, e := iv.s, iv.e
			if s.Before(a) {
				s = a
			}
			if e.After(b) {
				e = b
			}
			if e.After(s) {
				total += e.Sub(s)
			}
		}
	}
	return total
}

// TestMatchesReference checks the skipping of whole weeks and days against
// the slow reading, across holidays, make-up days and DST changes.
func TestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for si, s := range propertySpecs[:len(propertySpecs)-1] {
		c, r := propertyCals[si], newReference(s)
		for range 150 {
			a := propertyBase.Add(time.Duration(rng.Int64N(int64(3 * 365 * 24 * time.Hour))))
			d := time.Duration(rng.Int64N(int64(2500 * time.Hour)))
			if rng.IntN(2) == 0 {
				d = d.Truncate(time.Minute)
			}
			got, _ := c.Add(a, d)
			if want := r.add(a, d); d > 0 && !got.Equal(want) {
				t.Fatalf("spec %d: Add(%v, %v) = %v, reference %v", si, a, d, got, want)
			}
			b := a.Add(time.Duration(rng.Int64N(int64(400 * 24 * time.Hour))))
			if got, want := c.Between(a, b), r.between(a, b); got != want {
				t.Fatalf("spec %d: Between(%v, %v) = %v, reference %v", si, a, b, got, want)
			}
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	from := sh(2026, 1, 5, 10, 17) // a Monday
	cals := []struct {
		name string
		spec Spec
	}{
		{"9-18", nineToSix},
		{"GoldenWeek", goldenWeek},
		{"NewYork", nyOffice},
	}
	for _, cal := range cals {
		c := compile(b, cal.spec)
		for _, d := range []time.Duration{48 * time.Hour, 2000 * time.Hour} {
			b.Run(fmt.Sprintf("%s/%v", cal.name, d), func(b *testing.B) {
				for b.Loop() {
					if _, ok := c.Add(from, d); !ok {
						b.Fatal("no working time")
					}
				}
			})
		}
	}
}

func BenchmarkBetween(b *testing.B) {
	c := compile(b, nyOffice)
	from := ny(2026, 1, 5, 10, 17)
	to := from.AddDate(1, 0, 0)
	for b.Loop() {
		c.Between(from, to)
	}
}
