package businesstime_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests' zones, whatever the host has

	"github.com/scrm-dev/scrm/internal/businesstime"
)

type (
	Spec     = businesstime.Spec
	DayHours = businesstime.DayHours
	Window   = businesstime.Window
)

var (
	shanghai = mustLoad("Asia/Shanghai")
	newYork  = mustLoad("America/New_York")
)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var (
	monFri  = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"}
	allWeek = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}
)

func win(start, end string) Window { return Window{Start: start, End: end} }

func days(names []string, ws ...Window) []DayHours {
	out := make([]DayHours, 0, len(names))
	for _, n := range names {
		out = append(out, DayHours{Weekday: n, Windows: ws})
	}
	return out
}

func compile(tb testing.TB, s Spec) *businesstime.Calendar {
	tb.Helper()
	c, err := businesstime.Compile(s)
	if err != nil {
		tb.Fatalf("Compile: %v", err)
	}
	return c
}

// sh is a wall-clock time in Shanghai.
func sh(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, shanghai)
}

// ny is a wall-clock time in New York.
func ny(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, newYork)
}

var (
	// office: Monday to Friday, 09:00–12:00 and 13:30–18:00 (7h30 a day).
	office = Spec{TimeZone: "Asia/Shanghai", Weekly: days(monFri, win("09:00", "12:00"), win("13:30", "18:00"))}
	// nineToSix: Monday to Friday, 09:00–18:00.
	nineToSix = Spec{TimeZone: "Asia/Shanghai", Weekly: days(monFri, win("09:00", "18:00"))}
	// goldenWeek: office with China's National Day 2026 and its make-up
	// days (Sunday 27 September, Saturday 10 October).
	goldenWeek = Spec{
		TimeZone: "Asia/Shanghai",
		Weekly:   office.Weekly,
		Holidays: []string{"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
		Workdays: []string{"2026-09-27", "2026-10-10"},
	}
	// night: every day 18:00–24:00 and 00:00–02:00.
	night = Spec{TimeZone: "Asia/Shanghai", Weekly: days(allWeek, win("00:00", "02:00"), win("18:00", "24:00"))}
	// nyDaily: every day 09:00–17:00 in New York.
	nyDaily = Spec{TimeZone: "America/New_York", Weekly: days(allWeek, win("09:00", "17:00"))}
	// nySundayNight: Sundays 00:00–06:00 in New York, across both DST changes.
	nySundayNight = Spec{TimeZone: "America/New_York", Weekly: days([]string{"SUNDAY"}, win("00:00", "06:00"))}
	// nyAllDay: every day 00:00–24:00 in New York.
	nyAllDay = Spec{TimeZone: "America/New_York", Weekly: days(allWeek, win("00:00", "24:00"))}
	// nyOffice: Monday to Friday 09:00–17:00 in New York with US holidays.
	nyOffice = Spec{
		TimeZone: "America/New_York",
		Weekly:   days(monFri, win("09:00", "12:00"), win("13:00", "17:00")),
		Holidays: []string{"2026-01-01", "2026-05-25", "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25", "2027-01-01"},
	}
)

func TestAdd(t *testing.T) {
	withWednesdayHoliday := office
	withWednesdayHoliday.Holidays = []string{"2026-11-25"}
	withNewYear := office
	withNewYear.Holidays = []string{"2027-01-01"}

	// 2026-11-23 is a Monday.
	tests := []struct {
		name string
		spec Spec
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"same window", office, sh(2026, 11, 23, 9, 30), time.Hour, sh(2026, 11, 23, 10, 30)},
		{"to the end of a window", office, sh(2026, 11, 23, 11, 0), time.Hour, sh(2026, 11, 23, 12, 0)},
		{"over lunch", office, sh(2026, 11, 23, 11, 0), 2 * time.Hour, sh(2026, 11, 23, 14, 30)},
		{"whole day", office, sh(2026, 11, 23, 9, 0), 7*time.Hour + 30*time.Minute, sh(2026, 11, 23, 18, 0)},
		{"overnight", office, sh(2026, 11, 23, 17, 0), 2 * time.Hour, sh(2026, 11, 24, 10, 0)},
		{"friday to monday", office, sh(2026, 11, 27, 17, 0), 3 * time.Hour, sh(2026, 11, 30, 11, 0)},
		{"before opening", office, sh(2026, 11, 23, 7, 0), time.Hour, sh(2026, 11, 23, 10, 0)},
		{"after closing", office, sh(2026, 11, 23, 20, 0), time.Hour, sh(2026, 11, 24, 10, 0)},
		{"inside the lunch gap", office, sh(2026, 11, 23, 12, 45), time.Hour, sh(2026, 11, 23, 14, 30)},
		{"on a saturday", office, sh(2026, 11, 28, 10, 0), 30 * time.Minute, sh(2026, 11, 30, 9, 30)},
		{"zero stays put, even when closed", office, sh(2026, 11, 28, 10, 0), 0, sh(2026, 11, 28, 10, 0)},
		{"negative stays put", office, sh(2026, 11, 23, 10, 0), -time.Hour, sh(2026, 11, 23, 10, 0)},
		{"seconds and nanoseconds", office, sh(2026, 11, 23, 11, 59).Add(30*time.Second + 5), time.Minute, sh(2026, 11, 23, 13, 30).Add(30*time.Second + 5)},
		{"two weeks to the end of a friday", office, sh(2026, 11, 23, 9, 0), 75 * time.Hour, sh(2026, 12, 4, 18, 0)},
		{"two weeks and an hour", office, sh(2026, 11, 23, 9, 0), 76 * time.Hour, sh(2026, 12, 7, 10, 0)},
		{"holiday on wednesday", withWednesdayHoliday, sh(2026, 11, 24, 17, 0), 2 * time.Hour, sh(2026, 11, 26, 10, 0)},
		{"month end", office, sh(2026, 7, 31, 17, 30), time.Hour, sh(2026, 8, 3, 9, 30)},
		{"year end and new year's day", withNewYear, sh(2026, 12, 31, 17, 0), 2 * time.Hour, sh(2027, 1, 4, 10, 0)},
		{"leap day", nineToSix, sh(2028, 2, 28, 17, 0), 2 * time.Hour, sh(2028, 2, 29, 10, 0)},
		{"2000h on 9-18", nineToSix, sh(2026, 1, 5, 9, 0), 2000 * time.Hour, sh(2026, 11, 11, 11, 0)},
		{"window ending at midnight", night, sh(2026, 11, 23, 23, 0), 2 * time.Hour, sh(2026, 11, 24, 1, 0)},
		{"from after midnight", night, sh(2026, 11, 24, 1, 30), time.Hour, sh(2026, 11, 24, 18, 30)},
		{"exactly to midnight", night, sh(2026, 11, 23, 18, 0), 6 * time.Hour, sh(2026, 11, 24, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compile(t, tt.spec)
			got, ok := c.Add(tt.from, tt.d)
			if !ok || !got.Equal(tt.want) {
				t.Fatalf("Add(%v, %v) = %v, %v; want %v", tt.from, tt.d, got, ok, tt.want)
			}
			if got.Location() != c.Location() {
				t.Errorf("Add returned an instant in %v, want %v", got.Location(), c.Location())
			}
			if tt.d > 0 {
				if back := c.Between(tt.from, got); back != tt.d {
					t.Errorf("Between(from, Add(from, d)) = %v, want %v", back, tt.d)
				}
			}
		})
	}
}

func TestGoldenWeek(t *testing.T) {
	c := compile(t, goldenWeek)
	adds := []struct {
		name string
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"friday into make-up sunday 27 September", sh(2026, 9, 25, 17, 0), 2 * time.Hour, sh(2026, 9, 27, 10, 0)},
		{"make-up sunday keeps the lunch gap", sh(2026, 9, 27, 11, 0), 2 * time.Hour, sh(2026, 9, 27, 14, 30)},
		{"over the whole holiday", sh(2026, 9, 30, 17, 0), 2 * time.Hour, sh(2026, 10, 8, 10, 0)},
		{"from inside the holiday", sh(2026, 10, 3, 10, 0), time.Hour, sh(2026, 10, 8, 10, 0)},
		{"friday into make-up saturday 10 October", sh(2026, 10, 9, 17, 0), 2 * time.Hour, sh(2026, 10, 10, 10, 0)},
		{"three days end on friday 9 October", sh(2026, 9, 30, 9, 0), 22*time.Hour + 30*time.Minute, sh(2026, 10, 9, 18, 0)},
		{"and an hour more is saturday 10 October", sh(2026, 9, 30, 9, 0), 23*time.Hour + 30*time.Minute, sh(2026, 10, 10, 10, 0)},
		{"twenty working days from 21 September", sh(2026, 9, 21, 9, 0), 20 * (7*time.Hour + 30*time.Minute), sh(2026, 10, 21, 18, 0)},
	}
	for _, tt := range adds {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.Add(tt.from, tt.d)
			if !ok || !got.Equal(tt.want) {
				t.Fatalf("Add(%v, %v) = %v, %v; want %v", tt.from, tt.d, got, ok, tt.want)
			}
		})
	}

	// Fri 25 Sep, Sun 27, Mon 28, Tue 29, Wed 30, Thu 8 Oct, Fri 9, Sat 10.
	if got, want := c.Between(sh(2026, 9, 25, 0, 0), sh(2026, 10, 12, 0, 0)), 8*(7*time.Hour+30*time.Minute); got != want {
		t.Errorf("Between over Golden Week = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		at   time.Time
		open bool
	}{
		{sh(2026, 9, 26, 10, 0), false}, // Saturday
		{sh(2026, 9, 27, 10, 0), true},  // make-up Sunday
		{sh(2026, 10, 1, 10, 0), false}, // Thursday, holiday
		{sh(2026, 10, 7, 10, 0), false}, // Wednesday, holiday
		{sh(2026, 10, 8, 10, 0), true},
		{sh(2026, 10, 10, 12, 30), false}, // make-up Saturday's lunch
		{sh(2026, 10, 10, 13, 30), true},
		{sh(2026, 10, 11, 10, 0), false}, // Sunday
	} {
		if got := c.IsOpen(tc.at); got != tc.open {
			t.Errorf("IsOpen(%v) = %v, want %v", tc.at, got, tc.open)
		}
	}
	if got, ok := c.NextOpen(sh(2026, 9, 30, 18, 0)); !ok || !got.Equal(sh(2026, 10, 8, 9, 0)) {
		t.Errorf("NextOpen after 30 September = %v, %v; want 8 October 09:00", got, ok)
	}

	// Make-up days with hours of their own.
	own := goldenWeek
	own.WorkdayHours = []Window{win("10:00", "16:00")}
	c2 := compile(t, own)
	if got, ok := c2.Add(sh(2026, 9, 25, 17, 0), 2*time.Hour); !ok || !got.Equal(sh(2026, 9, 27, 11, 0)) {
		t.Errorf("with WorkdayHours: Add = %v, %v; want 27 September 11:00", got, ok)
	}
	if got, want := c2.Between(sh(2026, 9, 27, 0, 0), sh(2026, 9, 28, 0, 0)), 6*time.Hour; got != want {
		t.Errorf("with WorkdayHours: Between over 27 September = %v, want %v", got, want)
	}
}

func TestNextOpenAndIsOpen(t *testing.T) {
	c := compile(t, office)
	next := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"open", sh(2026, 11, 23, 10, 15), sh(2026, 11, 23, 10, 15)},
		{"at opening", sh(2026, 11, 23, 9, 0), sh(2026, 11, 23, 9, 0)},
		{"before opening", sh(2026, 11, 23, 0, 0), sh(2026, 11, 23, 9, 0)},
		{"at a window's end", sh(2026, 11, 23, 12, 0), sh(2026, 11, 23, 13, 30)},
		{"friday evening", sh(2026, 11, 27, 18, 0), sh(2026, 11, 30, 9, 0)},
		{"given in UTC", time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC), sh(2026, 11, 23, 9, 0)},
	}
	for _, tt := range next {
		got, ok := c.NextOpen(tt.at)
		if !ok || !got.Equal(tt.want) || got.Location() != c.Location() {
			t.Errorf("%s: NextOpen(%v) = %v, %v; want %v", tt.name, tt.at, got, ok, tt.want)
		}
	}
	open := []struct {
		at   time.Time
		want bool
	}{
		{sh(2026, 11, 23, 8, 59), false},
		{sh(2026, 11, 23, 9, 0), true},
		{sh(2026, 11, 23, 12, 0).Add(-time.Nanosecond), true},
		{sh(2026, 11, 23, 12, 0), false},
		{sh(2026, 11, 23, 13, 30), true},
		{sh(2026, 11, 23, 18, 0), false},
		{sh(2026, 11, 28, 10, 0), false},
		{time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC), true}, // 10:00 in Shanghai
	}
	for _, tt := range open {
		if got := c.IsOpen(tt.at); got != tt.want {
			t.Errorf("IsOpen(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}

	n := compile(t, night)
	for _, tt := range []struct {
		at   time.Time
		want bool
	}{
		{sh(2026, 11, 24, 0, 0), true},
		{sh(2026, 11, 23, 23, 59), true},
		{sh(2026, 11, 24, 2, 0), false},
		{sh(2026, 11, 24, 17, 59), false},
	} {
		if got := n.IsOpen(tt.at); got != tt.want {
			t.Errorf("night: IsOpen(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
}

func TestBetween(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		a, b time.Time
		want time.Duration
	}{
		{"a day", office, sh(2026, 11, 23, 0, 0), sh(2026, 11, 24, 0, 0), 7*time.Hour + 30*time.Minute},
		{"over lunch", office, sh(2026, 11, 23, 11, 0), sh(2026, 11, 23, 14, 0), 90 * time.Minute},
		{"weekend", office, sh(2026, 11, 27, 17, 0), sh(2026, 11, 30, 10, 0), 2 * time.Hour},
		{"closed only", office, sh(2026, 11, 28, 0, 0), sh(2026, 11, 30, 9, 0), 0},
		{"empty", office, sh(2026, 11, 23, 10, 0), sh(2026, 11, 23, 10, 0), 0},
		{"reversed", office, sh(2026, 11, 23, 18, 0), sh(2026, 11, 23, 9, 0), 0},
		{"2026 on 9-18: 261 weekdays", nineToSix, sh(2026, 1, 1, 0, 0), sh(2027, 1, 1, 0, 0), 261 * 9 * time.Hour},
		{"midnight windows", night, sh(2026, 11, 23, 23, 0), sh(2026, 11, 24, 1, 0), 2 * time.Hour},
		{"a year, US holidays", nyOffice, ny(2026, 1, 1, 0, 0), ny(2027, 1, 1, 0, 0), (261 - 6) * 7 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compile(t, tt.spec)
			if got := c.Between(tt.a, tt.b); got != tt.want {
				t.Errorf("Between(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestDaylightSaving(t *testing.T) {
	// In 2026 New York springs forward on Sunday 8 March at 02:00 and falls
	// back on Sunday 1 November at 02:00. Windows keep their wall clock.
	daily := compile(t, nyDaily)
	sunday := compile(t, nySundayNight)
	allDay := compile(t, nyAllDay)

	adds := []struct {
		name string
		c    *businesstime.Calendar
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"into the spring-forward day", daily, ny(2026, 3, 7, 16, 0), 2 * time.Hour, ny(2026, 3, 8, 10, 0)},
		{"into the fall-back day", daily, ny(2026, 10, 31, 16, 0), 2 * time.Hour, ny(2026, 11, 1, 10, 0)},
		{"a week over spring-forward", daily, ny(2026, 3, 5, 9, 0), 7 * 8 * time.Hour, ny(2026, 3, 11, 17, 0)},
		{"00:00-06:00 lasts 5h in March", sunday, ny(2026, 3, 8, 0, 0), 5 * time.Hour, ny(2026, 3, 8, 6, 0)},
		{"and no more", sunday, ny(2026, 3, 8, 0, 0), 5*time.Hour + time.Minute, ny(2026, 3, 15, 0, 1)},
		{"across the skipped hour", sunday, ny(2026, 3, 8, 1, 30), time.Hour, ny(2026, 3, 8, 3, 30)},
		{"00:00-06:00 lasts 7h in November", sunday, ny(2026, 11, 1, 0, 0), 6 * time.Hour, ny(2026, 11, 1, 5, 0)},
		{"to its end", sunday, ny(2026, 11, 1, 0, 0), 7 * time.Hour, ny(2026, 11, 1, 6, 0)},
		{"all day is elapsed time", allDay, ny(2026, 3, 7, 12, 0), 48 * time.Hour, ny(2026, 3, 9, 13, 0)},
		{"all day in November", allDay, ny(2026, 10, 31, 12, 0), 48 * time.Hour, ny(2026, 11, 2, 11, 0)},
	}
	for _, tt := range adds {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.c.Add(tt.from, tt.d)
			if !ok || !got.Equal(tt.want) {
				t.Fatalf("Add(%v, %v) = %v, %v; want %v", tt.from, tt.d, got, ok, tt.want)
			}
			if back := tt.c.Between(tt.from, got); back != tt.d {
				t.Errorf("Between(from, Add(from, d)) = %v, want %v", back, tt.d)
			}
		})
	}

	betweens := []struct {
		name string
		c    *businesstime.Calendar
		a, b time.Time
		want time.Duration
	}{
		{"weekend around spring-forward", daily, ny(2026, 3, 7, 9, 0), ny(2026, 3, 9, 9, 0), 16 * time.Hour},
		{"sunday night in March", sunday, ny(2026, 3, 8, 0, 0), ny(2026, 3, 9, 0, 0), 5 * time.Hour},
		{"sunday night in November", sunday, ny(2026, 11, 1, 0, 0), ny(2026, 11, 2, 0, 0), 7 * time.Hour},
		{"23-hour day", allDay, ny(2026, 3, 8, 0, 0), ny(2026, 3, 9, 0, 0), 23 * time.Hour},
		{"25-hour day", allDay, ny(2026, 11, 1, 0, 0), ny(2026, 11, 2, 0, 0), 25 * time.Hour},
		{"a year of elapsed time", allDay, ny(2026, 1, 1, 0, 0), ny(2027, 1, 1, 0, 0), 365 * 24 * time.Hour},
	}
	for _, tt := range betweens {
		if got := tt.c.Between(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: Between = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !sunday.IsOpen(ny(2026, 3, 8, 3, 0)) || sunday.IsOpen(ny(2026, 3, 8, 6, 0)) {
		t.Error("IsOpen around the spring-forward window is wrong")
	}
	if got, ok := sunday.NextOpen(ny(2026, 3, 8, 6, 0)); !ok || !got.Equal(ny(2026, 3, 15, 0, 0)) {
		t.Errorf("NextOpen = %v, %v; want 15 March 00:00", got, ok)
	}
}

func TestAlways(t *testing.T) {
	if got := businesstime.Always(nil).Location(); got != time.UTC {
		t.Errorf("Always(nil).Location() = %v, want UTC", got)
	}
	c := businesstime.Always(newYork)
	from := ny(2026, 3, 7, 12, 34).Add(567 * time.Millisecond)
	for _, d := range []time.Duration{time.Nanosecond, time.Hour, 48 * time.Hour, 2000 * time.Hour, 5 * 365 * 24 * time.Hour} {
		got, ok := c.Add(from, d)
		if !ok || !got.Equal(from.Add(d)) || got.Location() != newYork {
			t.Errorf("Add(from, %v) = %v, %v; want %v", d, got, ok, from.Add(d))
		}
		if back := c.Between(from, from.Add(d)); back != d {
			t.Errorf("Between = %v, want %v", back, d)
		}
	}
	if got, ok := c.NextOpen(from); !ok || !got.Equal(from) || !c.IsOpen(from) {
		t.Errorf("NextOpen(from) = %v, %v; want from, and open", got, ok)
	}
	if got := c.Between(from, from.Add(-time.Hour)); got != 0 {
		t.Errorf("reversed Between = %v, want 0", got)
	}
}

func TestHorizon(t *testing.T) {
	onlyOnce := Spec{Workdays: []string{"2020-01-06"}, WorkdayHours: []Window{win("09:00", "18:00")}}
	c := compile(t, onlyOnce)
	if c.Location().String() != "Asia/Shanghai" {
		t.Errorf("empty TimeZone gave %v, want Asia/Shanghai", c.Location())
	}
	if got, ok := c.Add(sh(2020, 1, 6, 8, 0), time.Hour); !ok || !got.Equal(sh(2020, 1, 6, 10, 0)) {
		t.Errorf("Add on the one workday = %v, %v", got, ok)
	}
	if got, ok := c.Add(sh(2020, 1, 6, 17, 0), 2*time.Hour); ok {
		t.Errorf("Add past the last working time = %v, true; want false", got)
	}
	if got, ok := c.NextOpen(sh(2026, 1, 1, 0, 0)); ok {
		t.Errorf("NextOpen after the last working time = %v, true; want false", got)
	}
	if got := c.Between(sh(2019, 1, 1, 0, 0), sh(2031, 1, 1, 0, 0)); got != 9*time.Hour {
		t.Errorf("Between around the one workday = %v, want 9h", got)
	}

	soon := compile(t, Spec{Workdays: []string{"2028-06-01"}, WorkdayHours: []Window{win("09:00", "18:00")}})
	if got, ok := soon.NextOpen(sh(2026, 1, 1, 0, 0)); !ok || !got.Equal(sh(2028, 6, 1, 9, 0)) {
		t.Errorf("NextOpen 2.5 years ahead = %v, %v", got, ok)
	}
	if got, ok := soon.Add(sh(2026, 1, 1, 0, 0), time.Hour); !ok || !got.Equal(sh(2028, 6, 1, 10, 0)) {
		t.Errorf("Add 2.5 years ahead = %v, %v", got, ok)
	}
	late := compile(t, Spec{Workdays: []string{"2030-01-01"}, WorkdayHours: []Window{win("09:00", "18:00")}})
	if got, ok := late.NextOpen(sh(2026, 1, 1, 0, 0)); ok {
		t.Errorf("NextOpen 4 years ahead = %v, true; want false", got)
	}
	if got, ok := late.Add(sh(2026, 1, 1, 0, 0), time.Hour); ok {
		t.Errorf("Add 4 years ahead = %v, true; want false", got)
	}

	// Holidays for more than three years close everything in between.
	var many []string
	for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2030; d = d.AddDate(0, 0, 1) {
		many = append(many, d.Format(time.DateOnly))
	}
	closed := compile(t, Spec{Weekly: nineToSix.Weekly, Holidays: many})
	if got, ok := closed.NextOpen(sh(2026, 1, 1, 0, 0)); ok {
		t.Errorf("NextOpen before four years of holidays = %v, true; want false", got)
	}
	if got, ok := closed.Add(sh(2025, 12, 31, 17, 0), 2*time.Hour); ok {
		t.Errorf("Add into four years of holidays = %v, true; want false", got)
	}
}

func TestCompileNormalizes(t *testing.T) {
	// Unsorted and touching windows, "24:00", any weekday order.
	c := compile(t, Spec{TimeZone: "UTC", Weekly: []DayHours{
		{Weekday: "SUNDAY", Windows: []Window{win("22:00", "24:00")}},
		{Weekday: "MONDAY", Windows: []Window{win("13:30", "18:00"), win("09:00", "12:00"), win("12:00", "12:30")}},
		{Weekday: "TUESDAY"},
	}})
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	if got, want := c.Between(mon, mon.AddDate(0, 0, 1)), 8*time.Hour; got != want {
		t.Errorf("Monday = %v, want %v", got, want)
	}
	if got, ok := c.Add(mon.Add(11*time.Hour), 2*time.Hour); !ok || !got.Equal(mon.Add(14*time.Hour)) {
		t.Errorf("Add over merged windows = %v, %v; want 14:00", got, ok)
	}
	if got, ok := c.Add(mon.Add(-90*time.Minute), 2*time.Hour); !ok || !got.Equal(mon.Add(9*time.Hour+30*time.Minute)) {
		t.Errorf("Add from Sunday 22:30 = %v, %v; want Monday 09:30", got, ok)
	}
}

func TestSpecJSON(t *testing.T) {
	s := Spec{
		TimeZone:     "Asia/Shanghai",
		Weekly:       []DayHours{{Weekday: "MONDAY", Windows: []Window{win("09:00", "18:00")}}},
		Holidays:     []string{"2026-10-01"},
		Workdays:     []string{"2026-10-10"},
		WorkdayHours: []Window{win("10:00", "16:00")},
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"timeZone":"Asia/Shanghai","weekly":[{"weekday":"MONDAY","windows":[{"start":"09:00","end":"18:00"}]}],` +
		`"holidays":["2026-10-01"],"workdays":["2026-10-10"],"workdayHours":[{"start":"10:00","end":"16:00"}]}`
	if string(b) != want {
		t.Errorf("json = %s\nwant   %s", b, want)
	}
	b, _ = json.Marshal(Spec{TimeZone: "UTC", Weekly: []DayHours{}})
	if string(b) != `{"timeZone":"UTC","weekly":[]}` {
		t.Errorf("json of a bare spec = %s", b)
	}
}

func TestCompileErrors(t *testing.T) {
	mon := func(ws ...Window) []DayHours { return []DayHours{{Weekday: "MONDAY", Windows: ws}} }
	ok := mon(win("09:00", "18:00"))
	tests := []struct {
		name  string
		spec  Spec
		field string
		msg   string // a part of the message
	}{
		{"unknown zone", Spec{TimeZone: "Mars/Olympus_Mons", Weekly: ok}, "timeZone", "unknown time zone"},
		{"server's zone", Spec{TimeZone: "Local", Weekly: ok}, "timeZone", "depends on the server"},
		{"unknown weekday", Spec{Weekly: []DayHours{{Weekday: "FUNDAY"}}}, "weekly[0].weekday", "unknown weekday"},
		{"lower-case weekday", Spec{Weekly: []DayHours{{Weekday: "monday"}}}, "weekly[0].weekday", "unknown weekday"},
		{"repeated weekday", Spec{Weekly: append(mon(win("09:00", "12:00")), mon(win("13:00", "18:00"))...)}, "weekly[1].weekday", "already given by weekly[0]"},
		{"malformed start", Spec{Weekly: mon(win("9:00", "18:00"))}, "weekly[0].windows[0].start", "malformed time"},
		{"malformed end", Spec{Weekly: mon(win("09:00", "18h00"))}, "weekly[0].windows[0].end", "malformed time"},
		{"minutes out of range", Spec{Weekly: mon(win("09:00", "12:60"))}, "weekly[0].windows[0].end", "malformed time"},
		{"hours out of range", Spec{Weekly: mon(win("09:00", "25:00"))}, "weekly[0].windows[0].end", "malformed time"},
		{"24:30", Spec{Weekly: mon(win("09:00", "24:30"))}, "weekly[0].windows[0].end", "malformed time"},
		{"24:00 as a start", Spec{Weekly: mon(win("24:00", "24:00"))}, "weekly[0].windows[0].start", "only allowed as an end"},
		{"start equals end", Spec{Weekly: mon(win("09:00", "09:00"))}, "weekly[0].windows[0].end", "not after start"},
		{"start after end", Spec{Weekly: mon(win("09:00", "18:00"), win("20:00", "19:00"))}, "weekly[0].windows[1].end", "not after start"},
		{"overlap, unsorted", Spec{Weekly: mon(win("13:00", "18:00"), win("09:00", "13:30"))}, "weekly[0].windows[0]", "overlaps weekly[0].windows[1]"},
		{"overlap, nested", Spec{Weekly: mon(win("09:00", "18:00"), win("10:00", "11:00"))}, "weekly[0].windows[1]", "overlaps weekly[0].windows[0]"},
		{"malformed holiday", Spec{Weekly: ok, Holidays: []string{"2026-10-01", "2026-13-01"}}, "holidays[1]", "malformed date"},
		{"no such day", Spec{Weekly: ok, Holidays: []string{"2026-02-30"}}, "holidays[0]", "malformed date"},
		{"short date", Spec{Weekly: ok, Holidays: []string{"2026-1-01"}}, "holidays[0]", "malformed date"},
		{"repeated holiday", Spec{Weekly: ok, Holidays: []string{"2026-10-01", "2026-10-01"}}, "holidays[1]", "already listed"},
		{"malformed workday", Spec{Weekly: ok, Workdays: []string{"tomorrow"}}, "workdays[0]", "malformed date"},
		{"repeated workday", Spec{Weekly: ok, Workdays: []string{"2026-10-10", "2026-10-10"}}, "workdays[1]", "already listed"},
		{"holiday and workday", Spec{Weekly: ok, Holidays: []string{"2026-10-01", "2026-10-10"}, Workdays: []string{"2026-10-10"}}, "workdays[0]", "also a holiday (holidays[1])"},
		{"bad workday hours", Spec{Weekly: ok, Workdays: []string{"2026-10-10"}, WorkdayHours: []Window{win("10:00", "9:00")}}, "workdayHours[0].end", "malformed time"},
		{"overlapping workday hours", Spec{Weekly: ok, WorkdayHours: []Window{win("10:00", "12:00"), win("11:00", "13:00")}}, "workdayHours[1]", "overlaps workdayHours[0]"},
		{"no weekly", Spec{}, "weekly", "no working time"},
		{"weekdays without windows", Spec{Weekly: []DayHours{{Weekday: "MONDAY"}, {Weekday: "TUESDAY", Windows: []Window{}}}}, "weekly", "no working time"},
		{"workdays without hours", Spec{Workdays: []string{"2026-10-10"}}, "workdayHours", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := businesstime.Compile(tt.spec)
			var se *businesstime.SpecError
			if !errors.As(err, &se) {
				t.Fatalf("Compile = %v, %v; want a *SpecError", c, err)
			}
			if se.Field != tt.field || !strings.Contains(se.Message, tt.msg) {
				t.Errorf("SpecError{%q, %q}; want field %q, message with %q", se.Field, se.Message, tt.field, tt.msg)
			}
			if !strings.Contains(err.Error(), tt.field+": ") {
				t.Errorf("Error() = %q does not name the field", err.Error())
			}
		})
	}
}
