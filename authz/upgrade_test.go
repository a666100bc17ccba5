package authz_test

import (
	"context"
	"testing"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent/casbinrule"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// TestUpgradeDefaults: a tenant whose defaults predate version 2 gets the
// lines version 2 added (agents lose access to connector accounts), once;
// a line its admin removes afterwards stays removed.
func TestUpgradeDefaults(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			st := testenv.OpenStore(t, backend)
			ctx := viewer.System(context.Background())
			tn := st.Client.Tenant.Create().SetName("old").SetSlug("old").SaveX(ctx)
			if tn.PolicyVersion != authz.DefaultsVersion {
				t.Fatalf("a new tenant's defaults are version %d, want %d", tn.PolicyVersion, authz.DefaultsVersion)
			}
			dom := authz.Domain(tn.ID)
			count := func() int {
				return st.Client.CasbinRule.Query().Where(casbinrule.V0("agent"), casbinrule.V1(dom),
					casbinrule.V2("Mutation.createConnectorAccount")).CountX(ctx)
			}
			all := st.Client.CasbinRule.Query().Where(casbinrule.V1(dom)).CountX(ctx)
			// Make it a version-1 tenant: without the lines version 2 added.
			st.Client.CasbinRule.Delete().Where(casbinrule.V1(dom), casbinrule.V2In("Mutation.createConnectorAccount",
				"Query.jobQueues", "Mutation.handOverCustomers", "Channel.*", "ConnectorAccount.*")).ExecX(ctx)
			st.Client.Tenant.UpdateOne(tn).SetPolicyVersion(1).ExecX(ctx)
			if count() != 0 {
				t.Fatal("setup: the agent still has the line")
			}
			if _, err := authz.InstallMissingDefaults(ctx, st.Client); err != nil {
				t.Fatal(err)
			}
			if count() != 1 || st.Client.CasbinRule.Query().Where(casbinrule.V1(dom)).CountX(ctx) != all {
				t.Fatalf("after the upgrade: agent line %d, lines %d, want 1 and %d",
					count(), st.Client.CasbinRule.Query().Where(casbinrule.V1(dom)).CountX(ctx), all)
			}
			if v := st.Client.Tenant.GetX(ctx, tn.ID).PolicyVersion; v != authz.DefaultsVersion {
				t.Fatalf("version after the upgrade %d", v)
			}
			// An admin's removal after the upgrade is respected.
			st.Client.CasbinRule.Delete().Where(casbinrule.V0("agent"), casbinrule.V1(dom),
				casbinrule.V2("Mutation.createConnectorAccount")).ExecX(ctx)
			if _, err := authz.InstallMissingDefaults(ctx, st.Client); err != nil {
				t.Fatal(err)
			}
			if count() != 0 {
				t.Fatal("a removed default line came back")
			}
		})
	}
}
