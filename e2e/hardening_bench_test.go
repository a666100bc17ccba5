package e2e_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/querylimit"
	"github.com/scrm-dev/scrm/internal/ratelimit"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/resolvers"
)

// BenchmarkAPIHardening measures what the API's protections cost on the
// agent console page (AgentConsoleQuery, 50 customers), through the real
// handler on the seeded SQLite demo:
//
//   - bare: the operation limits off (page sizes only), no persisted
//     queries, no rate limit, the query sent in full;
//   - hardened: every operation limit, the persisted-query extensions and
//     a rate-limit check per request (token buckets in Redis:
//     SCRM_HARDENING_REDIS=real uses the machine's Redis, database 0;
//     otherwise in process), the query sent as an APQ hash only.
//
// Each iteration runs both, interleaved, so they share the machine's
// conditions; it reports the p50 of each and the overhead at p50.
//
//	go test ./e2e -run '^$' -bench APIHardening -benchtime 400x
func BenchmarkAPIHardening(b *testing.B) {
	testenv.UseTestKeyring()
	st := testenv.OpenStore(b, testenv.SQLite)
	if err := seed.Demo(b.Context(), st.Client, seed.Options{}); err != nil {
		b.Fatal(err)
	}
	e := newEnv(b, testenv.SQLite, st)
	tok := benchToken(b, e, "agent1")

	var limiter ratelimit.RequestLimiter = ratelimit.NewLocal()
	if os.Getenv("SCRM_HARDENING_REDIS") == "real" {
		rdb := testenv.OpenRedis(b, testenv.RealRedis, 0)
		limiter = ratelimit.Requests{Bucket: ratelimit.NewBucket(rdb.Client, "bench:rl")}
	}
	off := querylimit.Config{MaxDepth: -1, MaxCost: -1, MaxNodes: -1, MaxAliases: -1, MaxRootFields: -1,
		MaxDocumentBytes: -1, MaxVariablesBytes: -1}
	bare := e.handlerFor(withoutDocuments(e), func(o *httpapi.Options) {
		o.Limits, o.Persisted, o.RateLimits = off, nil, nil
	})
	hardened := e.handlerFor(e.opts, func(o *httpapi.Options) {
		o.RateLimits = &httpapi.RateLimits{Limiter: limiter, Staff: 1 << 30}
	})

	vars := map[string]any{"n": 50}
	hash := persisted.Hash(AgentConsoleQuery)
	apq := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	full := benchBody(map[string]any{"query": AgentConsoleQuery, "variables": vars})
	hashOnly := benchBody(map[string]any{"variables": vars, "extensions": apq})
	// Register the document once, as a client's first request does.
	benchServe(b, hardened, tok, benchBody(map[string]any{"query": AgentConsoleQuery, "variables": vars, "extensions": apq}))
	for range 20 { // warm both
		benchServe(b, bare, tok, full)
		benchServe(b, hardened, tok, hashOnly)
	}

	bareTimes := make([]time.Duration, 0, b.N)
	hardTimes := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bareTimes = append(bareTimes, benchServe(b, bare, tok, full))
		hardTimes = append(hardTimes, benchServe(b, hardened, tok, hashOnly))
	}
	b.StopTimer()
	p50 := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	bp, hp := p50(bareTimes), p50(hardTimes)
	b.ReportMetric(float64(bp.Microseconds()), "bare-p50-µs")
	b.ReportMetric(float64(hp.Microseconds()), "hardened-p50-µs")
	b.ReportMetric(100*(float64(hp)-float64(bp))/float64(bp), "overhead-%")
}

// withoutDocuments is the API without the persisted-query resolvers (the
// bare variant has no persisted queries at all).
func withoutDocuments(e *env) resolvers.Options {
	o := e.opts
	o.Documents = nil
	return o
}

func benchToken(b *testing.B, e *env, login string) string {
	b.Helper()
	tid, err := e.st.Client.Tenant.Query().Where(tenant.Slug("demo")).OnlyID(sys())
	if err != nil {
		b.Fatal(err)
	}
	s, err := e.st.Client.Staff.Query().Where(staff.TenantID(tid), staff.Login(login)).Only(sys())
	if err != nil {
		b.Fatal(err)
	}
	tok, err := e.iss.Issue(auth.Staff{TenantID: tid, TenantSlug: "demo", StaffID: s.ID, Roles: s.Roles}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

func benchBody(v map[string]any) []byte {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return body
}

func benchServe(b *testing.B, h http.Handler, tok string, body []byte) time.Duration {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, req)
	d := time.Since(start)
	if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
		b.Fatalf("status %d: %.400s", rec.Code, rec.Body.Bytes())
	}
	return d
}
