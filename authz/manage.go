package authz

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/casbinrule"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// The changes below are written through db, the caller's ent client: in a
// GraphQL mutation, its transaction, so a refused change leaves nothing
// behind and an accepted one commits with the rest of the mutation (and
// its audit entry). Each takes effect on this replica when the
// transaction commits and on the others within a second (Changed).

// adminPowers are what the tenant must never lose: someone active must
// still be able to manage roles and policies.
var adminPowers = []string{"Mutation.grant", "Mutation.revoke", "Mutation.assignRoles", "Query.policies"}

// Grant sets a policy line of the tenant: it adds the line, or changes the
// effect of the role's line for the same object and act.
func (a *Authorizer) Grant(ctx context.Context, db *ent.Client, schema *ast.Schema, tenantID int, p Policy) error {
	if err := a.checkPolicy(tenantID, schema, p); err != nil {
		return err
	}
	const field = "rule"
	// One line per role, object and act: granting replaces its effect.
	dom := Domain(tenantID)
	if _, err := db.CasbinRule.Delete().
		Where(casbinrule.PType("p"), casbinrule.V0(p.Role), casbinrule.V1(dom), casbinrule.V2(p.Object), casbinrule.V3(string(p.Act))).
		Exec(ctx); err != nil {
		return err
	}
	if err := insertLines(ctx, db, "p", [][]string{p.line(dom)}); err != nil {
		return err
	}
	return a.settle(ctx, db, tenantID, field)
}

// Revoke removes a policy line from the tenant.
func (a *Authorizer) Revoke(ctx context.Context, db *ent.Client, tenantID int, p Policy) error {
	n, err := db.CasbinRule.Delete().Where(lineIs("p", p.line(Domain(tenantID)))...).Exec(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return apperr.Invalid("rule", "the tenant has no such policy line (%s)", p)
	}
	return a.settle(ctx, db, tenantID, "rule")
}

// DefineRole creates a custom role, or replaces the roles it inherits. A
// new role starts with the own data scope and nothing else.
func (a *Authorizer) DefineRole(ctx context.Context, db *ent.Client, tenantID int, name string, inherits []string) error {
	if err := checkRoleName("name", name); err != nil {
		return err
	}
	if IsBuiltin(name) {
		return apperr.Invalid("name", "%q is a built-in role; define a new role that inherits it instead", name)
	}
	for i, r := range inherits {
		if !a.RoleExists(tenantID, r) {
			return apperr.Invalid(fmt.Sprintf("inherits[%d]", i), "unknown role %q", r)
		}
		if r == name || slices.Contains(a.ancestors(tenantID, r), name) {
			return apperr.Invalid(fmt.Sprintf("inherits[%d]", i), "%q would inherit from itself", name)
		}
	}
	dom := Domain(tenantID)
	if _, err := db.CasbinRule.Delete().Where(casbinrule.PType("g"), casbinrule.V0(name), casbinrule.V2(dom)).Exec(ctx); err != nil {
		return err
	}
	var gs [][]string
	for _, r := range slices.Compact(slices.Sorted(slices.Values(inherits))) {
		gs = append(gs, []string{name, r, dom})
	}
	if err := insertLines(ctx, db, "g", gs); err != nil {
		return err
	}
	if !a.RoleExists(tenantID, name) {
		own := Policy{Role: name, Object: RoleScope{Kind: ScopeOwn}.Object(), Act: ActScope, Effect: EffectAllow}
		if err := insertLines(ctx, db, "p", [][]string{own.line(dom)}); err != nil {
			return err
		}
	}
	return a.settle(ctx, db, tenantID, "inherits")
}

// SetScope replaces a role's data scope.
func (a *Authorizer) SetScope(ctx context.Context, db *ent.Client, tenantID int, role string, s RoleScope) error {
	if !a.RoleExists(tenantID, role) {
		return apperr.Invalid("role", "unknown role %q", role)
	}
	if s.Kind == ScopeDepartments && len(s.Departments) == 0 {
		return apperr.Invalid("departmentIDs", "the DEPARTMENTS scope needs at least one department")
	}
	if s.Kind != ScopeDepartments && len(s.Departments) > 0 {
		return apperr.Invalid("departmentIDs", "only the DEPARTMENTS scope takes departments")
	}
	if len(s.Departments) > 0 {
		// Counted through the viewer's own queries: another tenant's
		// department does not exist for them.
		n, err := db.Department.Query().Where(departmentIDIn(s.Departments)).Count(ctx)
		if err != nil {
			return err
		}
		if n != len(slices.Compact(slices.Sorted(slices.Values(s.Departments)))) {
			return apperr.Invalid("departmentIDs", "no department with one of those IDs")
		}
	}
	dom := Domain(tenantID)
	if _, err := db.CasbinRule.Delete().
		Where(casbinrule.PType("p"), casbinrule.V0(role), casbinrule.V1(dom), casbinrule.V3(string(ActScope))).
		Exec(ctx); err != nil {
		return err
	}
	line := Policy{Role: role, Object: s.Object(), Act: ActScope, Effect: EffectAllow}.line(dom)
	if err := insertLines(ctx, db, "p", [][]string{line}); err != nil {
		return err
	}
	return a.settle(ctx, db, tenantID, "scope")
}

// AssignRoles replaces a staff member's roles.
func (a *Authorizer) AssignRoles(ctx context.Context, db *ent.Client, tenantID, staffID int, roles []string) (*ent.Staff, error) {
	for i, r := range roles {
		if !a.RoleExists(tenantID, r) {
			return nil, apperr.Invalid(fmt.Sprintf("roles[%d]", i), "unknown role %q; the tenant's roles are %s", r, strings.Join(a.roleNames(tenantID), ", "))
		}
	}
	roles = slices.Compact(slices.Sorted(slices.Values(roles)))
	s, err := db.Staff.UpdateOneID(staffID).SetRoles(roles).Save(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Invalid("staffID", "no staff member with that ID")
	}
	if err != nil {
		return nil, err
	}
	return s, a.settle(ctx, db, tenantID, "roles")
}

// settle refuses a change that leaves nobody able to manage the tenant,
// and otherwise arranges for it to take effect once committed.
func (a *Authorizer) settle(ctx context.Context, db *ent.Client, tenantID int, field string) error {
	if err := checkNotLockedOut(ctx, db, tenantID, field); err != nil {
		return err
	}
	if tx := ent.TxFromContext(ctx); tx != nil {
		tx.OnCommit(func(next ent.Committer) ent.Committer {
			return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
				if err := next.Commit(ctx, tx); err != nil {
					return err
				}
				return a.Changed()
			})
		})
		return nil
	}
	return a.Changed()
}

// checkNotLockedOut evaluates the tenant's policies as they stand in db
// (uncommitted changes included) on a scratch enforcer.
func checkNotLockedOut(ctx context.Context, db *ent.Client, tenantID int, field string) error {
	dom := Domain(tenantID)
	e, err := tenantEnforcer(ctx, db, tenantID)
	if err != nil {
		return err
	}
	managers, err := db.Staff.Query().
		Where(staff.TenantID(tenantID), staff.StatusEQ(staff.StatusActive)).
		Select(staff.FieldRoles).
		All(viewer.System(ctx))
	if err != nil {
		return err
	}
	if len(managers) == 0 {
		return nil // a tenant being set up has nobody to lock out yet
	}
	for _, s := range managers {
		for _, role := range s.Roles {
			if canAll(e, role, dom, adminPowers) {
				return nil
			}
		}
	}
	return apperr.Invalid(field, "refused: no active staff member would be left able to manage roles and policies (%s)", strings.Join(adminPowers, ", "))
}

// tenantEnforcer loads one tenant's lines as db sees them (a transaction
// sees its own uncommitted changes) into a scratch enforcer.
func tenantEnforcer(ctx context.Context, db *ent.Client, tenantID int) (*casbin.Enforcer, error) {
	dom := Domain(tenantID)
	rules, err := db.CasbinRule.Query().
		Where(casbinrule.Or(casbinrule.And(casbinrule.PType("p"), casbinrule.V1(dom)), casbinrule.And(casbinrule.PType("g"), casbinrule.V2(dom)))).
		All(ctx)
	if err != nil {
		return nil, err
	}
	m, err := newModel()
	if err != nil {
		return nil, err
	}
	e, err := casbin.NewEnforcer(m)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if r.PType == "g" {
			_, err = e.AddGroupingPolicy(r.V0, r.V1, r.V2)
		} else {
			_, err = e.AddPolicy(r.V0, r.V1, r.V2, r.V3, r.V4)
		}
		if err != nil {
			return nil, err
		}
	}
	return e, nil
}

// RolesIn lists the tenant's roles as db sees them: inside a transaction
// that changed them, before the change takes effect.
func RolesIn(ctx context.Context, db *ent.Client, tenantID int) ([]Role, error) {
	e, err := tenantEnforcer(ctx, db, tenantID)
	if err != nil {
		return nil, err
	}
	return rolesOf(e, Domain(tenantID)), nil
}

// PoliciesIn lists the tenant's policy lines as db sees them.
func PoliciesIn(ctx context.Context, db *ent.Client, tenantID int) ([]Policy, error) {
	e, err := tenantEnforcer(ctx, db, tenantID)
	if err != nil {
		return nil, err
	}
	return policiesOf(e, Domain(tenantID), ""), nil
}

func canAll(e casbin.IEnforcer, role, dom string, objs []string) bool {
	for _, o := range objs {
		if effect, _ := decide(e, dom, role, o, ActRead); effect != EffectAllow {
			return false
		}
	}
	return true
}

// checkPolicy validates a policy line against the roles of the tenant and
// the GraphQL schema.
func (a *Authorizer) checkPolicy(tenantID int, schema *ast.Schema, p Policy) error {
	if !a.RoleExists(tenantID, p.Role) {
		return apperr.Invalid("rule.role", "unknown role %q; define it first (defineRole)", p.Role)
	}
	if !slices.Contains([]Act{ActRead, ActWrite, ActReveal}, p.Act) {
		return apperr.Invalid("rule.act", "unknown act %q", p.Act)
	}
	if !slices.Contains([]string{EffectAllow, EffectMask, EffectDeny}, p.Effect) {
		return apperr.Invalid("rule.effect", "unknown effect %q", p.Effect)
	}
	if p.Effect == EffectMask && p.Act != ActRead {
		return apperr.Invalid("rule.effect", "MASK applies to READ only")
	}
	if err := ValidObject(schema, p.Object); err != nil {
		return apperr.Invalid("rule.object", "%v", err)
	}
	if p.Effect == EffectMask || p.Act == ActReveal {
		if _, ok := Sensitive[p.Object]; !ok && !strings.HasSuffix(p.Object, "*") {
			return apperr.Invalid("rule.object", "%s has no mask: only sensitive fields (%s) can be masked or revealed", p.Object, strings.Join(sensitiveNames(), ", "))
		}
	}
	return nil
}

// ValidObject checks that obj names something in the schema: "*",
// "Type.*" or "Type.field" of an object type.
func ValidObject(schema *ast.Schema, obj string) error {
	if obj == "*" {
		return nil
	}
	typ, field, ok := strings.Cut(obj, ".")
	if !ok {
		return fmt.Errorf("%q is not an object: write \"Type.field\", \"Type.*\" or \"*\"", obj)
	}
	def := schema.Types[typ]
	if def == nil || def.Kind != ast.Object || strings.HasPrefix(typ, "__") {
		return fmt.Errorf("the API has no object type %q", typ)
	}
	if field != "*" && def.Fields.ForName(field) == nil {
		return fmt.Errorf("%s has no field %q", typ, field)
	}
	return nil
}

func sensitiveNames() []string {
	names := make([]string, 0, len(Sensitive))
	for n := range Sensitive {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func checkRoleName(field, name string) error {
	if !validRoleName(name) {
		return apperr.Invalid(field, "%q is not a role name: 1-32 lower-case letters, digits or _, starting with a letter", name)
	}
	return nil
}

func validRoleName(s string) bool {
	if len(s) == 0 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func (a *Authorizer) roleNames(tenantID int) []string {
	var out []string
	for _, r := range a.Roles(tenantID) {
		out = append(out, r.Name)
	}
	return out
}

// ancestors lists every role that role inherits, transitively.
func (a *Authorizer) ancestors(tenantID int, role string) []string {
	roles, _ := a.enforcer.GetImplicitRolesForUser(role, Domain(tenantID))
	return roles
}

func lineIs(ptype string, vals []string) []predicateCasbin {
	ps := []predicateCasbin{casbinrule.PType(ptype)}
	cols := []func(string) predicateCasbin{casbinrule.V0, casbinrule.V1, casbinrule.V2, casbinrule.V3, casbinrule.V4, casbinrule.V5}
	for i, v := range vals {
		ps = append(ps, cols[i](v))
	}
	return ps
}

func insertLines(ctx context.Context, db *ent.Client, ptype string, lines [][]string) error {
	if len(lines) == 0 {
		return nil
	}
	creates := make([]*ent.CasbinRuleCreate, len(lines))
	for i, l := range lines {
		c := db.CasbinRule.Create().SetPType(ptype)
		setters := []func(string) *ent.CasbinRuleCreate{c.SetV0, c.SetV1, c.SetV2, c.SetV3, c.SetV4, c.SetV5}
		for j, v := range l {
			setters[j](v)
		}
		creates[i] = c
	}
	return db.CasbinRule.CreateBulk(creates...).Exec(ctx)
}

// DefaultLines returns the policy lines a new tenant starts with, as the
// casbin_rule table stores them (p_type first).
func DefaultLines(tenantID int) [][]string {
	dom := Domain(tenantID)
	ps := DefaultPolicies()
	out := make([][]string, len(ps))
	for i, p := range ps {
		out[i] = append([]string{"p"}, p.line(dom)...)
	}
	return out
}

// InstallMissingDefaults gives every tenant that has no policy lines the
// default ones: tenants created before authorization existed, or restored
// from a backup without the casbin_rule table; and it upgrades tenants
// whose defaults are of an older version (UpgradeDefaults). New tenants
// get them when they are created (ent/schema). It returns how many
// tenants it filled.
func InstallMissingDefaults(ctx context.Context, client *ent.Client) (int, error) {
	ctx = viewer.System(ctx)
	tenants, err := client.Tenant.Query().IDs(ctx)
	if err != nil {
		return 0, err
	}
	domains, err := client.CasbinRule.Query().Where(casbinrule.PType("p")).
		Unique(true).Select(casbinrule.FieldV1).Strings(ctx)
	if err != nil {
		return 0, err
	}
	filled := 0
	for _, id := range tenants {
		if slices.Contains(domains, Domain(id)) {
			continue
		}
		var lines [][]string
		for _, l := range DefaultLines(id) {
			lines = append(lines, l[1:])
		}
		if err := insertLines(ctx, client, "p", lines); err != nil {
			return filled, fmt.Errorf("authz: default policies of tenant %d: %w", id, err)
		}
		if err := client.Tenant.UpdateOneID(id).SetPolicyVersion(DefaultsVersion).Exec(ctx); err != nil {
			return filled, err
		}
		filled++
	}
	// Tenants with defaults of an older version get the lines added since.
	if _, err := UpgradeDefaults(ctx, client); err != nil {
		return filled, err
	}
	return filled, nil
}
