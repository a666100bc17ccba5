package authz

import (
	"context"
	"fmt"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/casbinrule"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// DefaultsVersion numbers the default policies. A tenant records the
// version its defaults were installed at (Tenant.policy_version); when the
// product adds default lines (new admin-only fields, say), UpgradeDefaults
// gives existing tenants exactly the lines added since, once: a default
// line an admin later removes stays removed.
const DefaultsVersion = 4

// defaultsAddedIn lists the default policies version v added to those of
// v-1 (DefaultPolicies has them all; TestDefaultsAddedAreDefaults checks).
func defaultsAddedIn(v int) []Policy {
	var ps []Policy
	add := func(role string, act Act, effect string, objects ...string) {
		for _, o := range objects {
			ps = append(ps, Policy{Role: role, Object: o, Act: act, Effect: effect})
		}
	}
	switch v {
	case 2: // platform connectors, background jobs, channel QR codes, hand-overs
		for _, role := range []string{RoleSupervisor, RoleAgent, RoleMarketer} {
			add(role, ActRead, EffectDeny, connectorAdminOnly...)
		}
		add(RoleSupervisor, ActRead, EffectDeny, channelWrites...)
		add(RoleSupervisor, ActWrite, EffectDeny, "ConnectorAccount.*", "Channel.*")
		add(RoleAgent, ActRead, EffectDeny, "Mutation.handOverCustomers")
		add(RoleAgent, ActRead, EffectDeny, channelWrites...)
		add(RoleMarketer, ActRead, EffectDeny, "Mutation.handOverCustomers")
		add(RoleMarketer, ActWrite, EffectAllow, "Channel.*")
	case 3: // the ticket workflow engine
		add(RoleSupervisor, ActRead, EffectDeny, ticketConfig...)
		add(RoleAgent, ActRead, EffectDeny, ticketConfig...)
		add(RoleAgent, ActRead, EffectDeny, "Mutation.assignTicket", "Query.ticketMetrics")
		add(RoleMarketer, ActRead, EffectDeny, ticketConfig...)
		add(RoleMarketer, ActRead, EffectDeny, ticketWork...)
		add(RoleMarketer, ActRead, EffectDeny, "Mutation.assignTicket", "Query.ticketMetrics")
		add(RoleMarketer, ActRead, EffectDeny, ticketTexts...)
	case 4: // partners and mini-program customers
		for _, role := range []string{RoleSupervisor, RoleAgent, RoleMarketer} {
			add(role, ActRead, EffectDeny, partnerAdminOnly...)
		}
		ps = append(ps, partnerDefaults()...)
		ps = append(ps, customerDefaults()...)
	}
	return ps
}

// UpgradeDefaults gives every tenant whose defaults are older than
// DefaultsVersion the lines added since, and records the version. It
// returns how many tenants it upgraded.
func UpgradeDefaults(ctx context.Context, client *ent.Client) (int, error) {
	ctx = viewer.System(ctx)
	old, err := client.Tenant.Query().Where(tenant.PolicyVersionLT(DefaultsVersion)).All(ctx)
	if err != nil {
		return 0, err
	}
	for i, t := range old {
		if err := upgradeTenant(ctx, client, t); err != nil {
			return i, fmt.Errorf("authz: upgrade the default policies of tenant %d: %w", t.ID, err)
		}
	}
	return len(old), nil
}

func upgradeTenant(ctx context.Context, client *ent.Client, t *ent.Tenant) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	dom := Domain(t.ID)
	rows, err := tx.CasbinRule.Query().Where(casbinrule.PType("p"), casbinrule.V1(dom)).All(ctx)
	if err != nil {
		return err
	}
	have := map[[4]string]bool{}
	for _, r := range rows {
		have[[4]string{r.V0, r.V2, r.V3, r.V4}] = true
	}
	var lines [][]string
	for v := t.PolicyVersion + 1; v <= DefaultsVersion; v++ {
		for _, p := range defaultsAddedIn(v) {
			l := p.line(dom)
			if key := [4]string{l[0], l[2], l[3], l[4]}; !have[key] {
				have[key] = true
				lines = append(lines, l)
			}
		}
	}
	if len(lines) > 0 {
		if err := insertLines(ctx, tx.Client(), "p", lines); err != nil {
			return err
		}
	}
	if err := tx.Tenant.UpdateOneID(t.ID).SetPolicyVersion(DefaultsVersion).Exec(ctx); err != nil {
		return err
	}
	return tx.Commit()
}
