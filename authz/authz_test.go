package authz_test

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph"
)

// azSchema is the API's schema, for checks of what policies and
// classifications name.
func azSchema() *ast.Schema { return graph.NewExecutableSchema(graph.Config{}).Schema() }

// TestDefaultPoliciesNameTheAPI: a default line naming something the API
// does not have grants or denies nothing, silently.
func TestDefaultPoliciesNameTheAPI(t *testing.T) {
	schema := azSchema()
	for _, p := range authz.DefaultPolicies() {
		if p.Act == authz.ActScope {
			if _, err := authz.ParseScope(p.Object); err != nil {
				t.Errorf("%s: %v", p, err)
			}
			continue
		}
		if err := authz.ValidObject(schema, p.Object); err != nil {
			t.Errorf("default line %q: %v", p, err)
		}
		if p.Effect == authz.EffectMask {
			if _, ok := authz.Sensitive[p.Object]; !ok {
				t.Errorf("default line %q masks a field that has no mask", p)
			}
		}
	}
}

// TestDefaultPoliciesCoverEveryRole: every built-in role but the non-staff
// ones has lines, and every role has a data scope.
func TestDefaultPoliciesCoverEveryRole(t *testing.T) {
	lines := map[string]int{}
	scopes := map[string]int{}
	for _, p := range authz.DefaultPolicies() {
		lines[p.Role]++
		if p.Act == authz.ActScope {
			scopes[p.Role]++
		}
	}
	for _, role := range []string{authz.RoleAdmin, authz.RoleSupervisor, authz.RoleAgent, authz.RoleMarketer, authz.RoleAuditor} {
		if lines[role] == 0 || scopes[role] != 1 {
			t.Errorf("role %s: %d lines, %d data scopes; want lines and exactly one scope", role, lines[role], scopes[role])
		}
	}
	for role := range lines {
		if !authz.IsBuiltin(role) {
			t.Errorf("default lines for %q, which is no built-in role", role)
		}
	}
}

// TestClassificationsNameTheAPI: Sensitive and NotPersonal list fields of
// the API's object types, each in one list, each sensitive one with a
// class.
func TestClassificationsNameTheAPI(t *testing.T) {
	schema := azSchema()
	exists := func(obj string) bool {
		typ, field, ok := strings.Cut(obj, ".")
		def := schema.Types[typ]
		return ok && def != nil && def.Kind == ast.Object && def.Fields.ForName(field) != nil
	}
	for obj, class := range authz.Sensitive {
		if !exists(obj) {
			t.Errorf("authz.Sensitive lists %s, which the API does not have", obj)
		}
		if class == "" {
			t.Errorf("authz.Sensitive gives %s no class", obj)
		}
		if _, both := authz.NotPersonal[obj]; both {
			t.Errorf("%s is both sensitive and not personal", obj)
		}
	}
	for obj, why := range authz.NotPersonal {
		if !exists(obj) {
			t.Errorf("authz.NotPersonal lists %s, which the API does not have", obj)
		}
		if strings.TrimSpace(why) == "" {
			t.Errorf("authz.NotPersonal gives no reason for %s", obj)
		}
	}
}

// TestMaskValue: the masks the field guard applies.
func TestMaskValue(t *testing.T) {
	c := &ent.Customer{Province: "浙江省", City: "杭州市"}
	for _, tc := range []struct {
		obj, value string
		parent     any
		want       string
	}{
		{"Customer.phone", "13812345678", nil, "138****5678"},
		{"Staff.mobile", "13812345678", nil, "138****5678"},
		{"Customer.name", "张三", nil, "张*"},
		{"Customer.address", "西湖区文三路 123 号", c, "浙江省杭州市****"},
		{"Customer.email", "alice@example.com", nil, "a***@example.com"},
		{"Customer.idNumber", "11010519491231002X", nil, "110105********002X"},
		{"Customer.birthday", "1990-03-07", nil, "1990-**-**"},
		{"Customer.phone", "", nil, ""},
	} {
		if got := authz.MaskValue(tc.obj, tc.value, tc.parent); got != tc.want {
			t.Errorf("MaskValue(%s, %q) = %q, want %q", tc.obj, tc.value, got, tc.want)
		}
	}
	// An address never shows its street, whatever the parent.
	for _, parent := range []any{nil, c, &ent.Customer{}} {
		if got := authz.MaskValue("Customer.address", "文三路 123 号", parent); strings.Contains(got, "文三路") || !strings.Contains(got, "****") {
			t.Errorf("MaskValue(address, parent %v) = %q", parent, got)
		}
	}
	// Every class has a mask that hides something.
	for obj, class := range authz.Sensitive {
		if got := authz.MaskValue(obj, "13812345678", nil); got == "13812345678" {
			t.Errorf("%s (class %s) is not masked", obj, class)
		}
	}
}
