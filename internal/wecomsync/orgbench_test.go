package wecomsync_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	_ "github.com/scrm-dev/scrm/authz" // registers the default policies new tenants get
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/wecomsync"
)

// BenchmarkOrgSync30k syncs a 500-store chain (600 departments, 30,000
// staff) from the fake WeCom, through the transport's shared rate limits,
// into a fresh database: one op is one full first sync.
//
//	go test ./internal/wecomsync -run '^$' -bench OrgSync -benchtime 1x
func BenchmarkOrgSync30k(b *testing.B) {
	for _, backend := range testenv.DatabaseBackends() {
		b.Run(backend, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				st := testenv.OpenStore(b, backend)
				tn, err := st.Client.Tenant.Create().SetName("bench").SetSlug("bench").Save(viewer.System(context.Background()))
				if err != nil {
					b.Fatal(err)
				}
				ctx := viewer.ForTenant(context.Background(), tn.ID)
				fake := wecomfake.New(wecomfake.Options{CorpID: "wwbench", AgentID: 1, Secret: "s"})
				wecomfake.Generate(fake, 1, wecomfake.Sizes{Departments: 600, Users: 30000})
				ts := httptest.NewServer(fake)
				rdb := testenv.OpenRedis(b, testenv.EmbeddedRedis, 4).Client
				api := wecom.New(wecom.Config{BaseURL: ts.URL, CorpID: "wwbench", AgentID: 1, Secret: "s", Account: "bench",
					Transport: transport.New(transport.Options{Redis: rdb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}),
					Tokens:    tokens.New(rdb, "bench:")})
				b.StartTimer()
				res, err := wecomsync.Org(ctx, st.Client, api)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				n := st.Client.Staff.Query().Where(staff.WecomUserIDNotNil()).CountX(ctx)
				b.ReportMetric(float64(n), "staff")
				b.ReportMetric(float64(res.Departments), "departments")
				b.ReportMetric(float64(fake.Calls("user/simplelist")), "api_calls")
				ts.Close()
			}
		})
	}
}
