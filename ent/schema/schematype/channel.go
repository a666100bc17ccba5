package schematype

import (
	"fmt"
	"slices"
	"time"
)

// ChannelShift is one rule of a channel QR code's staff rotation: on the
// given weekdays (1 Monday ... 7 Sunday), from Start until End ("HH:MM"
// in the tenant's time zone, End exclusive, "24:00" for the end of the
// day), the staff members StaffIDs take the customers who scan the code.
type ChannelShift struct {
	Weekdays []int  `json:"weekdays"`
	Start    string `json:"start"`
	End      string `json:"end"`
	StaffIDs []int  `json:"staffIDs"`
}

// Minutes returns the shift's window as minutes since midnight.
func (s ChannelShift) Minutes() (start, end int, err error) {
	if start, err = clockMinutes(s.Start); err != nil {
		return 0, 0, fmt.Errorf("start: %w", err)
	}
	if end, err = clockMinutes(s.End); err != nil {
		return 0, 0, fmt.Errorf("end: %w", err)
	}
	if end <= start {
		return 0, 0, fmt.Errorf("end %s is not after start %s", s.End, s.Start)
	}
	return start, end, nil
}

// Covers reports whether the shift is on at t (already in the tenant's
// time zone). A malformed shift covers nothing.
func (s ChannelShift) Covers(t time.Time) bool {
	start, end, err := s.Minutes()
	if err != nil {
		return false
	}
	day := int(t.Weekday())
	if day == 0 {
		day = 7
	}
	m := t.Hour()*60 + t.Minute()
	return slices.Contains(s.Weekdays, day) && start <= m && m < end
}

// Check reports what is wrong with the shift's weekdays and times.
func (s ChannelShift) Check() error {
	if len(s.Weekdays) == 0 {
		return fmt.Errorf("weekdays: name at least one day (1 Monday ... 7 Sunday)")
	}
	for _, d := range s.Weekdays {
		if d < 1 || d > 7 {
			return fmt.Errorf("weekdays: %d is not a day (1 Monday ... 7 Sunday)", d)
		}
	}
	_, _, err := s.Minutes()
	return err
}

func clockMinutes(s string) (int, error) {
	if s == "24:00" {
		return 24 * 60, nil
	}
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM)", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}
