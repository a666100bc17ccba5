package authz

import (
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/util"
)

// decide returns the effect of the policy line that governs role acting
// on obj in dom, and false when no line matches (which denies):
//
//   - the role's own lines first, then those of the roles it inherits,
//     nearest first; the first role with a matching line decides;
//   - among one role's matching lines the most specific object wins
//     ("Type.field" over "Type.*" over "*");
//   - at equal specificity deny beats mask beats allow.
func decide(e casbin.IEnforcer, dom, role string, obj string, act Act) (string, bool) {
	seen := map[string]bool{role: true}
	level := []string{role}
	for depth := 0; len(level) > 0 && depth < 16; depth++ {
		best, bestRank := "", -1
		for _, r := range level {
			lines, _ := e.GetFilteredPolicy(0, r, dom, "", string(act))
			for _, l := range lines {
				if len(l) < 5 || !util.KeyMatch(obj, l[2]) {
					continue
				}
				if rank := specificity(l[2])*4 + severity(l[4]); rank > bestRank {
					best, bestRank = l[4], rank
				}
			}
		}
		if bestRank >= 0 {
			return best, true
		}
		var next []string
		for _, r := range level {
			parents, _ := e.GetRoleManager().GetRoles(r, dom)
			for _, p := range parents {
				if !seen[p] {
					seen[p] = true
					next = append(next, p)
				}
			}
		}
		level = next
	}
	return "", false
}

// specificity ranks an object pattern: an exact field over a type's
// wildcard over everything.
func specificity(pattern string) int {
	switch {
	case pattern == "*":
		return 0
	case strings.HasSuffix(pattern, ".*"):
		return 1
	}
	return 2
}

// severity breaks ties between lines of equal specificity.
func severity(effect string) int {
	switch effect {
	case EffectDeny:
		return 3
	case EffectMask:
		return 2
	case EffectAllow:
		return 1
	}
	return 0
}
