package e2e_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/pii"
	"github.com/scrm-dev/scrm/internal/sqlstats"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/resolvers"
)

// BenchmarkAgentConsole compares the agent console page (50 customers with
// tags, last 5 orders and open tickets) served through the whole stack (a
// real HTTP request to the real handler: auth, limits, gqlgen, entgql, ent,
// tenancy interceptors):
//
//   - authz: as agent1 with authorization on (roles read per request, the
//     field guard masking phones, the agent's data scope, the audit entry);
//   - scoped-off: authorization off, the same page asked for explicitly
//     (customers agent1 follows, tickets assigned to them): what the
//     enforcement itself costs;
//   - graphql: authorization off, the query as it stands (the whole
//     tenant: a different, wider page);
//   - sql: the graphql page fetched by hand-written database/sql queries.
//
// Each iteration runs all four, interleaved, so they share the machine's
// conditions. `make bench` seeds the data and runs it.
func BenchmarkAgentConsole(b *testing.B) {
	url := os.Getenv("SCRM_BENCH_DATABASE_URL")
	if url == "" {
		b.Skip("set SCRM_BENCH_DATABASE_URL to a seeded database (make bench does)")
	}
	kr, err := pii.ParseKeys(os.Getenv("SCRM_PII_KEYS"), os.Getenv("SCRM_PII_ACTIVE_KEY"), os.Getenv("SCRM_PII_INDEX_KEY"))
	if err != nil {
		b.Fatalf("the keys the bench data was seeded with (make bench sets them): %v", err)
	}
	pii.Use(kr)
	ctx := context.Background()
	st, err := store.Open(ctx, url, store.Options{MaxOpenConns: 8})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tid := st.Client.Tenant.Query().Where(tenant.Slug("demo")).OnlyIDX(sys())
	agent := st.Client.Staff.Query().Where(staff.TenantID(tid), staff.Login("agent1")).OnlyX(sys())
	iss, _ := auth.NewIssuer(testSecret, "scrm")
	tok, _ := iss.Issue(auth.Staff{TenantID: tid, StaffID: agent.ID, Roles: agent.Roles}, time.Hour)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	az, err := authz.New(ctx, authz.Options{DB: st.DB, Driver: st.Driver(), Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	defer az.Close()
	server := func(guarded bool) *httptest.Server {
		opts := resolvers.Options{Client: st.Client, Logger: logger, Authz: az, WithoutFieldGuard: !guarded}
		hopts := httpapi.Options{
			Schema:    resolvers.NewExecutableSchema(opts),
			Configure: func(s *handler.Server) { resolvers.Configure(s, opts) },
			Issuer:    iss, Logger: logger, MaxPageSize: 100,
		}
		if guarded {
			hopts.Authorize = az.Authorize(st.Client)
		}
		return httptest.NewServer(httpapi.New(hopts))
	}
	on, off := server(true), server(false)
	defer on.Close()
	defer off.Close()
	body, _ := json.Marshal(map[string]any{"query": AgentConsoleQuery, "variables": map[string]any{"n": 50}})
	scopedBody, _ := json.Marshal(map[string]any{"query": agentConsoleAskedForScope,
		"variables": map[string]any{"n": 50, "me": gid.Encode(agent.ID)}})

	// viaGraphQL times what a client waits for: the request, the server's
	// work and the response body; decoding it is the client's business.
	viaGraphQL := func(srv *httptest.Server, body []byte) []byte {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("graphql: %d %v", resp.StatusCode, err)
		}
		return raw
	}
	viaSQL := func() (consolePage, int64) {
		return handWritten(b, st.DB, tid, 50)
	}

	// With authorization off the agent sees the whole tenant, so the
	// hand-written queries fetch the same page as the unguarded stack; the
	// guarded page is the agent's own customers, phones masked.
	var out struct {
		Data   consolePage
		Errors []gqlError
	}
	if err := json.Unmarshal(viaGraphQL(off, body), &out); err != nil || len(out.Errors) > 0 {
		b.Fatalf("graphql: %v %+v", err, out.Errors)
	}
	h, sqlStatements := viaSQL()
	if got, want := out.Data.summary(), h.summary(); got != want {
		b.Fatalf("the paths disagree:\ngraphql %s\nsql     %s", got, want)
	}
	var guarded struct {
		Data   consolePage
		Errors []gqlError
	}
	if err := json.Unmarshal(viaGraphQL(on, body), &guarded); err != nil || len(guarded.Errors) > 0 {
		b.Fatalf("graphql with authorization: %v %+v", err, guarded.Errors)
	}
	if len(guarded.Data.Customers.Edges) == 0 {
		b.Fatal("agent1 sees no customers: the guarded run would measure nothing")
	}
	var asked struct {
		Data   consolePage
		Errors []gqlError
	}
	if err := json.Unmarshal(viaGraphQL(off, scopedBody), &asked); err != nil || len(asked.Errors) > 0 {
		b.Fatalf("graphql asking for the scope: %v %+v", err, asked.Errors)
	}
	if got, want := guarded.Data.summary(), asked.Data.summary(); got != want {
		b.Fatalf("enforced and asked-for scopes disagree:\nauthz %s\nasked %s", got, want)
	}
	// Count the stack's statements with the same counter the access log uses.
	statements := func(srv *httptest.Server) int64 {
		cctx, counter := sqlstats.WithCounter(ctx)
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body)).WithContext(cctx)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		srv.Config.Handler.ServeHTTP(httptest.NewRecorder(), req)
		return counter.Count()
	}
	onStatements, offStatements := statements(on), statements(off)

	onTimes := make([]time.Duration, 0, b.N)
	askedTimes := make([]time.Duration, 0, b.N)
	offTimes := make([]time.Duration, 0, b.N)
	sqlTimes := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		viaGraphQL(on, body)
		onTimes = append(onTimes, time.Since(start))
		start = time.Now()
		viaGraphQL(off, scopedBody)
		askedTimes = append(askedTimes, time.Since(start))
		start = time.Now()
		viaGraphQL(off, body)
		offTimes = append(offTimes, time.Since(start))
		start = time.Now()
		viaSQL()
		sqlTimes = append(sqlTimes, time.Since(start))
	}
	b.StopTimer()
	ap50, ap99 := percentiles(onTimes)
	kp50, kp99 := percentiles(askedTimes)
	gp50, gp99 := percentiles(offTimes)
	sp50, sp99 := percentiles(sqlTimes)
	b.ReportMetric(ms(ap50), "authz-p50-ms")
	b.ReportMetric(ms(ap99), "authz-p99-ms")
	b.ReportMetric(ms(kp50), "scoped-off-p50-ms")
	b.ReportMetric(ms(kp99), "scoped-off-p99-ms")
	b.ReportMetric(float64(ap50)/float64(kp50), "authz/scoped-off-p50")
	b.ReportMetric(ms(gp50), "graphql-p50-ms")
	b.ReportMetric(ms(gp99), "graphql-p99-ms")
	b.ReportMetric(ms(sp50), "sql-p50-ms")
	b.ReportMetric(ms(sp99), "sql-p99-ms")
	b.ReportMetric(float64(ap50)/float64(gp50), "authz/graphql-p50")
	b.ReportMetric(float64(gp50)/float64(sp50), "graphql/sql-p50")
	b.ReportMetric(float64(gp99)/float64(sp99), "graphql/sql-p99")
	b.ReportMetric(float64(onStatements), "authz-stmts")
	b.ReportMetric(float64(offStatements), "graphql-stmts")
	b.ReportMetric(float64(sqlStatements), "sql-stmts")
}

// agentConsoleAskedForScope is AgentConsoleQuery asking explicitly for
// what agent1's data scope lets them see, for measuring authorization off
// on the same page.
const agentConsoleAskedForScope = `query AgentConsole($n: Int!, $me: ID!) {
  customers(first: $n, orderBy: {field: LAST_ORDER_AT, direction: DESC}, where: {hasFollowersWith: {id: $me}}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name phone city tier totalSpend orderCount lastOrderAt
      tags { id name }
      orders(first: 5, orderBy: {field: PLACED_AT, direction: DESC}) {
        totalCount
        edges { node { id platform platformOrderID status paidAmount placedAt } }
      }
      tickets(first: 10, where: {statusNotIn: [RESOLVED, CLOSED], assigneeID: $me}) {
        edges { node { id number title status priority } }
      }
    } }
  }
}`

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)*50/100], s[min(len(s)-1, len(s)*99/100)]
}

// consolePage is the data of the agent console page, shaped as the GraphQL
// response so both paths decode into it.
type consolePage struct {
	Customers struct {
		TotalCount int
		Edges      []struct {
			Node consoleCustomer
		}
	}
}

type consoleCustomer struct {
	ID, Name, Phone, City, Tier string
	TotalSpend, OrderCount      int64
	LastOrderAt                 *time.Time
	Tags                        []struct{ ID, Name string }
	Orders                      struct {
		TotalCount int
		Edges      []struct{ Node consoleOrder }
	}
	Tickets struct {
		Edges []struct{ Node consoleTicket }
	}
}

type consoleOrder struct {
	ID, Platform, PlatformOrderID, Status string
	PaidAmount                            int64
	PlacedAt                              time.Time
}

type consoleTicket struct{ ID, Number, Title, Status, Priority string }

// summary lists the ids on the page, to compare the two paths.
func (p consolePage) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "total=%d", p.Customers.TotalCount)
	for _, e := range p.Customers.Edges {
		c := e.Node
		fmt.Fprintf(&b, " %s[tags=%d orders=%d/%d", c.ID, len(c.Tags), len(c.Orders.Edges), c.Orders.TotalCount)
		for _, o := range c.Orders.Edges {
			b.WriteString(" " + o.Node.ID)
		}
		fmt.Fprintf(&b, " tickets=%d]", len(c.Tickets.Edges))
	}
	return b.String()
}

// handWritten fetches the console page the way a careful engineer would
// without an ORM: six statements, windowed per-customer limits.
func handWritten(b *testing.B, db *sql.DB, tenantID, n int) (page consolePage, statements int64) {
	ctx := context.Background()
	q := func(query string, args ...any) *sql.Rows {
		statements++
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			b.Fatal(err)
		}
		return rows
	}
	rows := q(`SELECT id, name, COALESCE(phone, ''), COALESCE(city, ''), tier, total_spend, order_count, last_order_at
		FROM customers WHERE tenant_id = ? ORDER BY last_order_at DESC, id DESC LIMIT ?`, tenantID, n+1)
	var ids []any
	index := map[int]int{}
	for rows.Next() {
		var c consoleCustomer
		var id int
		var last sql.NullTime
		if err := rows.Scan(&id, &c.Name, &c.Phone, &c.City, &c.Tier, &c.TotalSpend, &c.OrderCount, &last); err != nil {
			b.Fatal(err)
		}
		if len(ids) == n {
			break // the extra row only says there is a next page
		}
		// Phones are encrypted at rest: a hand-written app decrypts too.
		phone, err := pii.ScanColumn(&sql.NullString{String: c.Phone, Valid: true})
		if err != nil {
			b.Fatal(err)
		}
		c.Phone = phone
		if last.Valid {
			c.LastOrderAt = &last.Time
		}
		c.ID = gid.Encode(id)
		index[id] = len(page.Customers.Edges)
		ids = append(ids, id)
		page.Customers.Edges = append(page.Customers.Edges, struct{ Node consoleCustomer }{c})
	}
	rows.Close()
	row := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM customers WHERE tenant_id = ?`, tenantID)
	statements++
	if err := row.Scan(&page.Customers.TotalCount); err != nil {
		b.Fatal(err)
	}
	if len(ids) == 0 {
		return page, statements
	}
	in := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	node := func(customerID int) *consoleCustomer { return &page.Customers.Edges[index[customerID]].Node }

	rows = q(`SELECT ct.customer_id, t.id, t.name FROM customer_tags ct JOIN tags t ON t.id = ct.tag_id
		WHERE ct.customer_id IN (`+in+`) ORDER BY t.id`, ids...)
	for rows.Next() {
		var cid, tid int
		var name string
		if err := rows.Scan(&cid, &tid, &name); err != nil {
			b.Fatal(err)
		}
		c := node(cid)
		c.Tags = append(c.Tags, struct{ ID, Name string }{gid.Encode(tid), name})
	}
	rows.Close()

	rows = q(`SELECT id, customer_id, platform, platform_order_id, status, paid_amount, placed_at FROM (
		SELECT id, customer_id, platform, platform_order_id, status, paid_amount, placed_at,
			ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY placed_at DESC, id DESC) AS rn
		FROM orders WHERE customer_id IN (`+in+`)) o WHERE rn <= 5 ORDER BY customer_id, rn`, ids...)
	for rows.Next() {
		var o consoleOrder
		var id, cid int
		if err := rows.Scan(&id, &cid, &o.Platform, &o.PlatformOrderID, &o.Status, &o.PaidAmount, &o.PlacedAt); err != nil {
			b.Fatal(err)
		}
		o.ID = gid.Encode(id)
		c := node(cid)
		c.Orders.Edges = append(c.Orders.Edges, struct{ Node consoleOrder }{o})
	}
	rows.Close()

	rows = q(`SELECT customer_id, COUNT(*) FROM orders WHERE customer_id IN (`+in+`) GROUP BY customer_id`, ids...)
	for rows.Next() {
		var cid, count int
		if err := rows.Scan(&cid, &count); err != nil {
			b.Fatal(err)
		}
		node(cid).Orders.TotalCount = count
	}
	rows.Close()

	rows = q(`SELECT id, customer_id, number, title, status, priority FROM (
		SELECT id, customer_id, number, title, status, priority,
			ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY id) AS rn
		FROM tickets WHERE customer_id IN (`+in+`) AND status NOT IN ('RESOLVED', 'CLOSED')) t WHERE rn <= 10`, ids...)
	for rows.Next() {
		var t consoleTicket
		var id, cid int
		if err := rows.Scan(&id, &cid, &t.Number, &t.Title, &t.Status, &t.Priority); err != nil {
			b.Fatal(err)
		}
		t.ID = gid.Encode(id)
		c := node(cid)
		c.Tickets.Edges = append(c.Tickets.Edges, struct{ Node consoleTicket }{t})
	}
	rows.Close()
	return page, statements
}
