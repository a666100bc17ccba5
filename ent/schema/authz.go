package schema

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"entgo.io/ent"

	gen "github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/hook"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// rolePattern is what a role name looks like; which roles a tenant has is
// authz's business (assignRoles checks).
var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// checkStaffRoles refuses malformed role names.
func checkStaffRoles() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.StaffFunc(func(ctx context.Context, m *gen.StaffMutation) (gen.Value, error) {
			roles, _ := m.Roles()
			appended, _ := m.AppendedRoles()
			for _, r := range append(append([]string(nil), roles...), appended...) {
				if !rolePattern.MatchString(r) {
					return nil, apperr.Invalid("roles", "%q is not a role name (lower case letters, digits and _)", r)
				}
			}
			return next.Mutate(ctx, m)
		})
	}, opWrite)
}

// DefaultPolicyLines returns the policy lines ("p", role, domain, object,
// act, effect) a new tenant starts with. authz sets it; the schema only
// installs the lines, in the transaction that creates the tenant.
var DefaultPolicyLines func(tenantID int) [][]string

// DefaultPolicyVersion is the version of those lines; authz sets it.
var DefaultPolicyVersion int

// installDefaultPolicies gives every new tenant the default policies.
func installDefaultPolicies() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.TenantFunc(func(ctx context.Context, m *gen.TenantMutation) (gen.Value, error) {
			if DefaultPolicyVersion > 0 {
				m.SetPolicyVersion(DefaultPolicyVersion)
			}
			v, err := next.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			if DefaultPolicyLines == nil {
				return nil, errors.New("tenant: authz has not registered the default policies (import authz)")
			}
			t := v.(*gen.Tenant)
			lines := DefaultPolicyLines(t.ID)
			rules := make([]*gen.CasbinRuleCreate, len(lines))
			for i, l := range lines {
				c := m.Client().CasbinRule.Create().SetPType(l[0])
				setters := []func(string) *gen.CasbinRuleCreate{c.SetV0, c.SetV1, c.SetV2, c.SetV3, c.SetV4, c.SetV5}
				for j, val := range l[1:] {
					setters[j](val)
				}
				rules[i] = c
			}
			if err := m.Client().CasbinRule.CreateBulk(rules...).Exec(ctx); err != nil {
				return nil, fmt.Errorf("tenant: install default policies: %w", err)
			}
			return v, nil
		})
	}, ent.OpCreate)
}

// CheckManagers refuses a change that leaves a tenant without an active
// staff member able to manage roles and policies; field names the input
// at fault. authz sets it (the rule is authz's); the schema runs it in the
// transaction of every staff change that could cause that.
var CheckManagers func(ctx context.Context, client *gen.Client, tenantID int, field string) error

// keepAManager applies CheckManagers to staff status and role changes.
func keepAManager() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.StaffFunc(func(ctx context.Context, m *gen.StaffMutation) (gen.Value, error) {
			_, status := m.Status()
			_, roles := m.Roles()
			v := viewer.FromContext(ctx)
			if (!status && !roles) || v == nil || v.IsSystem() || CheckManagers == nil {
				return next.Mutate(ctx, m)
			}
			out, err := next.Mutate(ctx, m)
			if err != nil {
				return nil, err
			}
			field := "status"
			if roles {
				field = "roles"
			}
			if err := CheckManagers(ctx, m.Client(), v.TenantID, field); err != nil {
				return nil, err
			}
			return out, nil
		})
	}, ent.OpUpdate|ent.OpUpdateOne)
}

// sealing marks a context allowed to seal audit entries (internal/audit).
type sealing struct{}

// AllowSealing returns ctx in which audit entries may be sealed: their
// seq and hashes set once. Nothing else may change or delete them.
func AllowSealing(ctx context.Context) context.Context {
	return context.WithValue(ctx, sealing{}, true)
}

// appendOnlyAudit refuses changes to audit entries, except the sealer
// filling in the chain.
func appendOnlyAudit() ent.Hook {
	return hook.On(func(next ent.Mutator) ent.Mutator {
		return hook.AuditLogFunc(func(ctx context.Context, m *gen.AuditLogMutation) (gen.Value, error) {
			if ctx.Value(sealing{}) == nil || m.Op().Is(ent.OpDelete|ent.OpDeleteOne) {
				return nil, apperr.Forbidden("the audit trail is append-only")
			}
			for _, f := range m.Fields() {
				switch f {
				case "seq", "prev_hash", "hash":
				default:
					return nil, apperr.Forbidden("the audit trail is append-only")
				}
			}
			// Set once: an entry already sealed is not there to update.
			m.Where(auditlog.SeqIsNil())
			return next.Mutate(ctx, m)
		})
	}, opChange&^ent.OpCreate)
}
