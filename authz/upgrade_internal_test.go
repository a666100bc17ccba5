package authz

import (
	"slices"
	"testing"
)

// TestDefaultsAddedAreDefaults: every line a version adds is a default
// line, so new and upgraded tenants end with the same policies.
func TestDefaultsAddedAreDefaults(t *testing.T) {
	all := DefaultPolicies()
	for v := 2; v <= DefaultsVersion; v++ {
		added := defaultsAddedIn(v)
		if len(added) == 0 {
			t.Fatalf("version %d adds nothing", v)
		}
		for _, p := range added {
			if !slices.Contains(all, p) {
				t.Errorf("version %d adds %s, which DefaultPolicies lacks", v, p)
			}
		}
	}
}
