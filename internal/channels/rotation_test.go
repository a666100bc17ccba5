package channels

import (
	"slices"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent/schema/schematype"
)

func TestOnDuty(t *testing.T) {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	monday := func(h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, shanghai) } // a Monday
	rotation := []schematype.ChannelShift{
		{Weekdays: []int{1, 2, 3, 4, 5}, Start: "09:00", End: "12:00", StaffIDs: []int{1, 2}},
		{Weekdays: []int{1}, Start: "11:00", End: "18:00", StaffIDs: []int{2, 3}},
		{Weekdays: []int{7}, Start: "00:00", End: "24:00", StaffIDs: []int{4}},
	}
	none := func(int) bool { return false }
	for _, tc := range []struct {
		name    string
		at      time.Time
		atLimit func(int) bool
		want    []int
	}{
		{"the morning shift at its start", monday(9, 0), none, []int{1, 2}},
		{"overlapping shifts, each named once", monday(11, 30), none, []int{1, 2, 3}},
		{"the end is exclusive", monday(12, 0), none, []int{2, 3}},
		{"nobody on duty: the backup", monday(20, 0), none, []int{9}},
		{"a whole-day shift on Sunday", time.Date(2026, 11, 29, 23, 59, 0, 0, shanghai), none, []int{4}},
		{"staff at their limit are left out", monday(10, 0), func(id int) bool { return id == 1 }, []int{2}},
		{"everyone at their limit: the backup", monday(10, 0), func(id int) bool { return id != 9 }, []int{9}},
		{"the backup at its limit still takes them", monday(20, 0), func(int) bool { return true }, []int{9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OnDuty(rotation, []int{9}, tc.at, tc.atLimit); !slices.Equal(got, tc.want) {
				t.Fatalf("OnDuty = %v, want %v", got, tc.want)
			}
		})
	}
}
