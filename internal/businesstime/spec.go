// Package businesstime computes due times in business time. It owns the
// working calendar of a tenant or a store: several working windows per
// weekday, public holidays that close a whole date, Chinese make-up working
// days (调休: a date, usually a weekend, that is a working day) and the time
// zone all of these are read in. Spec is the stored JSON form of such a
// calendar; Compile validates it into a Calendar, which answers whether an
// instant is within working time, when working time next begins, the instant
// a duration of working time after another (an SLA due time) and the working
// time between two instants.
//
// It is hand-written: no well-kept Go library covers several windows per day
// together with holidays and make-up days in a DST-aware zone, and the rules
// are small enough to own.
//
// Windows are wall-clock times, turned into instants with time.Date in the
// calendar's location, so on a DST-change day a window keeps its clock times
// and lasts an hour more or less. Dates are civil dates in that location.
package businesstime

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// DefaultTimeZone is the zone of a Spec whose TimeZone is empty.
const DefaultTimeZone = "Asia/Shanghai"

// Spec is the stored, JSON form of a calendar. It is kept in an ent JSON
// column and exposed over GraphQL, so its JSON tags are part of the schema.
type Spec struct {
	// TimeZone is an IANA name such as "Asia/Shanghai"; empty means
	// DefaultTimeZone.
	TimeZone string `json:"timeZone"`
	// Weekly has at most one entry per weekday; a weekday without an entry,
	// or with no windows, is closed.
	Weekly []DayHours `json:"weekly"`
	// Holidays are dates ("2026-10-01") closed all day, whatever the weekday.
	Holidays []string `json:"holidays,omitempty"`
	// Workdays are make-up working dates (调休, "2026-10-10"): open with
	// WorkdayHours although the weekday is normally closed.
	Workdays []string `json:"workdays,omitempty"`
	// WorkdayHours are the windows of make-up working dates; empty means the
	// windows of the first weekday, counting from Monday, that has any.
	WorkdayHours []Window `json:"workdayHours,omitempty"`
}

// DayHours are the working windows of one weekday.
type DayHours struct {
	// Weekday is "MONDAY" … "SUNDAY".
	Weekday string   `json:"weekday"`
	Windows []Window `json:"windows"`
}

// Window is one working window of a day, [Start, End) in wall-clock time.
type Window struct {
	// Start is "HH:MM", "00:00" to "23:59".
	Start string `json:"start"`
	// End is "HH:MM" after Start; "24:00" is the end of the day.
	End string `json:"end"`
}

// SpecError is why Compile rejected a Spec. Field is the JSON path of the
// value at fault, such as "weekly[1].windows[0].end".
type SpecError struct {
	Field   string
	Message string
}

func (e *SpecError) Error() string {
	return "businesstime: " + e.Field + ": " + e.Message
}

func specErr(field, format string, args ...any) error {
	return &SpecError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// weekdayNames are the Spec's weekday names, indexed by time.Weekday.
var weekdayNames = [7]string{"SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"}

// span is a window in minutes since midnight, [start, end).
type span struct{ start, end int32 }

// Compile validates s and compiles it into a Calendar. Every rejection is a
// *SpecError naming the field at fault.
func Compile(s Spec) (*Calendar, error) {
	c := &Calendar{}
	loc, err := loadLocation(s.TimeZone)
	if err != nil {
		return nil, err
	}
	c.loc = loc

	seen := [7]int{-1, -1, -1, -1, -1, -1, -1}
	for i, dh := range s.Weekly {
		field := fmt.Sprintf("weekly[%d]", i)
		wd := slices.Index(weekdayNames[:], dh.Weekday)
		if wd < 0 {
			return nil, specErr(field+".weekday", "unknown weekday %q (want MONDAY … SUNDAY)", dh.Weekday)
		}
		if seen[wd] >= 0 {
			return nil, specErr(field+".weekday", "%s is already given by weekly[%d]", dh.Weekday, seen[wd])
		}
		seen[wd] = i
		spans, err := compileWindows(dh.Windows, field+".windows")
		if err != nil {
			return nil, err
		}
		c.weekly[wd] = spans
	}

	holidays := make(map[int64]int, len(s.Holidays))
	for i, h := range s.Holidays {
		field := fmt.Sprintf("holidays[%d]", i)
		day, err := parseDate(h, field)
		if err != nil {
			return nil, err
		}
		if j, dup := holidays[day]; dup {
			return nil, specErr(field, "%s is already listed as holidays[%d]", h, j)
		}
		holidays[day] = i
		c.specials = append(c.specials, special{day: day})
	}
	workdays := make(map[int64]int, len(s.Workdays))
	for i, w := range s.Workdays {
		field := fmt.Sprintf("workdays[%d]", i)
		day, err := parseDate(w, field)
		if err != nil {
			return nil, err
		}
		if j, dup := workdays[day]; dup {
			return nil, specErr(field, "%s is already listed as workdays[%d]", w, j)
		}
		if j, both := holidays[day]; both {
			return nil, specErr(field, "%s is also a holiday (holidays[%d])", w, j)
		}
		workdays[day] = i
		c.specials = append(c.specials, special{day: day, open: true})
		c.workdays = append(c.workdays, day)
	}
	slices.SortFunc(c.specials, func(a, b special) int { return cmp.Compare(a.day, b.day) })
	slices.Sort(c.workdays)

	if len(s.WorkdayHours) > 0 {
		spans, err := compileWindows(s.WorkdayHours, "workdayHours")
		if err != nil {
			return nil, err
		}
		c.workHours = spans
	} else {
		for i := range 7 {
			if spans := c.weekly[(i+1)%7]; len(spans) > 0 { // Monday first
				c.workHours = spans
				break
			}
		}
	}

	for wd, spans := range c.weekly {
		for _, sp := range spans {
			c.dayTotal[wd] += time.Duration(sp.end-sp.start) * time.Minute
		}
		c.weekTotal += c.dayTotal[wd]
	}
	if c.weekTotal == 0 {
		if len(c.workdays) == 0 {
			return nil, specErr("weekly", "no working time: no weekday has windows and there are no workdays")
		}
		if len(c.workHours) == 0 {
			return nil, specErr("workdayHours", "required when no weekday has windows")
		}
	}
	return c, nil
}

// loadLocation resolves a Spec's time zone. Asia/Shanghai, the default,
// falls back to a fixed UTC+8 (China has kept it since 1991) on a host
// without tzdata; any other name must load.
func loadLocation(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	if name == "Local" {
		return nil, specErr("timeZone", "%q depends on the server; give an IANA name such as %q", name, DefaultTimeZone)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		if name == DefaultTimeZone {
			return time.FixedZone(DefaultTimeZone, 8*3600), nil
		}
		return nil, specErr("timeZone", "unknown time zone %q", name)
	}
	return loc, nil
}

// compileWindows validates a day's windows and returns them sorted, with
// touching windows merged. field is the JSON path of the list.
func compileWindows(ws []Window, field string) ([]span, error) {
	type indexed struct {
		span
		i int
	}
	list := make([]indexed, 0, len(ws))
	for i, w := range ws {
		f := fmt.Sprintf("%s[%d]", field, i)
		start, err := parseClock(w.Start, false, f+".start")
		if err != nil {
			return nil, err
		}
		end, err := parseClock(w.End, true, f+".end")
		if err != nil {
			return nil, err
		}
		if end <= start {
			return nil, specErr(f+".end", "end %s is not after start %s", w.End, w.Start)
		}
		list = append(list, indexed{span{start, end}, i})
	}
	slices.SortStableFunc(list, func(a, b indexed) int { return cmp.Compare(a.start, b.start) })
	out := make([]span, 0, len(list))
	for k, w := range list {
		if k > 0 {
			prev := list[k-1]
			if w.start < prev.end {
				return nil, specErr(fmt.Sprintf("%s[%d]", field, w.i), "%s–%s overlaps %s[%d] (%s–%s)",
					ws[w.i].Start, ws[w.i].End, field, prev.i, ws[prev.i].Start, ws[prev.i].End)
			}
			if w.start == prev.end {
				out[len(out)-1].end = w.end
				continue
			}
		}
		out = append(out, w.span)
	}
	return out, nil
}

// parseClock reads "HH:MM" as minutes since midnight; "24:00" only as an end.
func parseClock(s string, end bool, field string) (int32, error) {
	digit := func(b byte) bool { return '0' <= b && b <= '9' }
	if len(s) != 5 || s[2] != ':' || !digit(s[0]) || !digit(s[1]) || !digit(s[3]) || !digit(s[4]) {
		return 0, specErr(field, "malformed time %q (want HH:MM)", s)
	}
	h := int32(s[0]-'0')*10 + int32(s[1]-'0')
	m := int32(s[3]-'0')*10 + int32(s[4]-'0')
	switch {
	case h == 24 && m == 0 && end:
	case h == 24 && m == 0:
		return 0, specErr(field, "24:00 is only allowed as an end")
	case h > 23 || m > 59:
		return 0, specErr(field, "malformed time %q (want 00:00 to 23:59)", s)
	}
	return h*60 + m, nil
}

// parseDate reads "YYYY-MM-DD" as a day number (days since 1970-01-01).
func parseDate(s, field string) (int64, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil || t.Format(time.DateOnly) != s {
		return 0, specErr(field, "malformed date %q (want YYYY-MM-DD)", s)
	}
	return civilDay(t.Date()), nil
}
