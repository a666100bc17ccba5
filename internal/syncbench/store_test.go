package syncbench_test

import (
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors"
	"github.com/scrm-dev/scrm/internal/ordersync"
	"github.com/scrm-dev/scrm/internal/sqlstats"
)

// BenchmarkStoreStatements counts the SQL statements (BEGIN and COMMIT
// not included) and times ordersync.Store on MariaDB, one order at a
// time, for each outcome: a new order, a newer version of it, and the
// same version again. Orders come from the Douyin fake through the real
// client, as the job fetches them.
//
//	go test ./internal/syncbench -run '^$' -bench StoreStatements -benchtime 1x
func BenchmarkStoreStatements(b *testing.B) {
	const n = 500
	r := newRig(b, rigOptions{shops: 1})
	now := time.Now()
	f := r.fakes[0]
	dc, err := r.clients.Douyin(r.accounts[0])
	if err != nil {
		b.Fatal(err)
	}
	ctx := viewerCtx(r)
	var ids []string
	fetch := func() []*connectors.Order {
		out := make([]*connectors.Order, len(ids))
		for i, id := range ids {
			if out[i], err = dc.Order(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		return out
	}
	store := func(name string, orders []*connectors.Order, want ordersync.Outcome) {
		cctx, counter := sqlstats.WithCounter(ctx)
		start := time.Now()
		for _, o := range orders {
			res, err := ordersync.Store(cctx, r.st.Client, o)
			if err != nil {
				b.Fatal(err)
			}
			if res.Outcome != want {
				b.Fatalf("%s: order %s %s, want %s", name, o.ID, res.Outcome, want)
			}
		}
		took := time.Since(start)
		b.ReportMetric(float64(counter.Count())/float64(len(orders)), name+"-stmts/order")
		b.ReportMetric(ms(took)/float64(len(orders)), name+"-ms/order")
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		seen := map[string]bool{}
		for _, id := range f.OrderIDs() {
			seen[id] = true
		}
		f.Generate(int64(7+i), n, now.Add(-48*time.Hour), now.Add(-time.Hour))
		ids = ids[:0]
		for _, id := range f.OrderIDs() {
			if !seen[id] {
				ids = append(ids, id)
			}
		}
		b.StartTimer()
		orders := fetch()
		store("created", orders, ordersync.Created)
		for i, id := range ids {
			f.Touch(id, "", now.Add(time.Duration(i)*time.Millisecond))
		}
		newer := fetch()
		store("updated", newer, ordersync.Updated)
		store("unchanged", newer, ordersync.Unchanged)
	}
}
