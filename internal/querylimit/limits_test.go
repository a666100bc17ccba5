package querylimit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/querylimit"
	"github.com/scrm-dev/scrm/resolvers"
)

// agentConsole is the heaviest page of the agent console: the default
// limits must let it through with room to spare.
const agentConsole = `{ customers(first: 50) { edges { node { id name phone
  orders(first: 10) { edges { node { id status totalAmount items { id } } } }
  tickets(first: 10) { edges { node { id title status } } } } } } }`

// agentConsoleCost is its cost by hand: 50 × (edges, node, 3 scalars,
// orders 1 + 10 × (edges, node, 3 scalars, items 1 + 10 × id), tickets
// 1 + 10 × (edges, node, 3 scalars)), plus customers itself.
const agentConsoleCost = 1 + 50*(1+1+3+(1+10*(1+1+3+(1+10*1)))+(1+10*(1+1+3)))

// e2eAgentConsole is the agent console query of e2e/limits_test.go.
const e2eAgentConsole = `query AgentConsole($n: Int!) {
  customers(first: $n, orderBy: {field: LAST_ORDER_AT, direction: DESC}) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name phone city tier totalSpend orderCount lastOrderAt
      tags { id name }
      orders(first: 5, orderBy: {field: PLACED_AT, direction: DESC}) {
        totalCount
        edges { node { id platform platformOrderID status paidAmount placedAt } }
      }
      tickets(first: 10, where: {statusNotIn: [RESOLVED, CLOSED]}) {
        edges { node { id number title status priority } }
      }
    } }
  }
}`

type trustedKey struct{}

// newServer is the production GraphQL server as far as limits go: the real
// schema, POST answering application/graphql-response+json, a query cache
// and the product's error presenter. Operations that pass the limits are
// answered {"passed":true} without running, since the schema has no
// resolvers here, unless the request says X-Execute. Requests saying
// X-Trusted may introspect.
func newServer(cfg querylimit.Config) http.Handler {
	srv := handler.New(graph.NewExecutableSchema(graph.Config{}))
	srv.AddTransport(transport.POST{UseGrapQLResponseJsonByDefault: true})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](100))
	querylimit.Install(srv, cfg, func(ctx context.Context) bool { return ctx.Value(trustedKey{}) != nil })
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if graphql.GetOperationContext(ctx).Headers.Get("X-Execute") != "" {
			return next(ctx)
		}
		return graphql.OneShot(&graphql.Response{Data: json.RawMessage(`{"passed":true}`)})
	})
	srv.SetErrorPresenter(resolvers.ErrorPresenter(slog.New(slog.DiscardHandler)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Trusted") != "" {
			r = r.WithContext(context.WithValue(r.Context(), trustedKey{}, true))
		}
		srv.ServeHTTP(w, r)
	})
}

type gqlError struct {
	Message    string
	Extensions map[string]any
	Locations  []struct{ Line, Column int }
}

type answer struct {
	status int
	Data   json.RawMessage
	Errors []gqlError
}

func (a answer) code() string {
	if len(a.Errors) == 0 {
		return ""
	}
	code, _ := a.Errors[0].Extensions["code"].(string)
	return code
}

func (a answer) noData() bool { return len(a.Data) == 0 || string(a.Data) == "null" }

func post(t testing.TB, h http.Handler, query string, vars map[string]any, headers ...string) answer {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return postBody(t, h, body, headers...)
}

func postBody(t testing.TB, h http.Handler, body []byte, headers ...string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		req.Header.Set(h, "1")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code}
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		t.Fatalf("status %d, body %.300s: %v", rec.Code, rec.Body, err)
	}
	return a
}

// expect checks that a passed the limits (code "") or was refused, before
// running, with code.
func expect(t *testing.T, a answer, code string) {
	t.Helper()
	if code == "" {
		if a.status != http.StatusOK || len(a.Errors) > 0 {
			t.Fatalf("refused (status %d): %+v", a.status, a.Errors)
		}
		return
	}
	if a.status != http.StatusBadRequest || a.code() != code || !a.noData() {
		t.Fatalf("want %s with status 400 and no data, got status %d, data %s, errors %+v", code, a.status, a.Data, a.Errors)
	}
	if len(a.Errors) != 1 {
		t.Fatalf("want one error, got %+v", a.Errors)
	}
}

// chain is { me { departments { parent { … { id } } } } }, depth deep.
func chain(depth int) string {
	var b strings.Builder
	b.WriteString("{ me { departments { ")
	for range depth - 3 {
		b.WriteString("parent { ")
	}
	b.WriteString("id")
	b.WriteString(strings.Repeat(" }", depth))
	return b.String()
}

// aliased is { me { a0: id a1: name … } }, n aliases of two fields.
func aliased(n int) string {
	var b strings.Builder
	b.WriteString("{ me {")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, []string{"id", "name"}[i%2])
	}
	b.WriteString(" } }")
	return b.String()
}

// roots is a query of n root fields.
func roots(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " r%d: me { id }", i)
	}
	b.WriteString(" }")
	return b.String()
}

// fragments is a query spreading n fragments side by side.
func fragments(n int) string {
	var spreads, defs strings.Builder
	for i := range n {
		fmt.Fprintf(&spreads, " ...F%d", i)
		fmt.Fprintf(&defs, " fragment F%d on Staff { f%d: id }", i, i)
	}
	return "{ me {" + spreads.String() + " } }" + defs.String()
}

func ids(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// off turns every limit off except the ones a case sets, so each case
// checks one limit.
func off(c querylimit.Config) querylimit.Config {
	set := func(v *int) {
		if *v == 0 {
			*v = -1
		}
	}
	set(&c.MaxDepth)
	set(&c.MaxAliases)
	set(&c.MaxRootFields)
	set(&c.MaxDocumentBytes)
	set(&c.TokenLimit)
	set(&c.MaxFieldRepeats)
	set(&c.MaxFragmentSpreads)
	set(&c.MaxVariablesBytes)
	set(&c.MaxVariableListLength)
	if c.MaxCost == 0 {
		c.MaxCost = -1
	}
	if c.MaxNodes == 0 {
		c.MaxNodes = -1
	}
	return c
}

func TestLimits(t *testing.T) {
	nested := `{ customers(first: 100) { edges { node { orders(first: 100) { edges { node {
	  customer { orders(first: 51) { totalCount edges { node { id } } } } } } } } } } }`
	nestedNodes := int64(100 + 100*100 + 100*100*51)

	for _, tc := range []struct {
		name  string
		cfg   querylimit.Config // zero: the defaults
		query string
		vars  map[string]any
		code  string
		value int64 // extensions.value, when not zero
	}{
		{name: "the agent console query passes the defaults", query: agentConsole},
		{name: "a standard introspection query passes the defaults", query: introspectionQuery},
		{name: "the end-to-end tests' agent console query passes the defaults", query: e2eAgentConsole, vars: map[string]any{"n": 100}},

		{name: "depth at the limit passes", query: chain(15)},
		{name: "depth over the limit is refused", query: chain(16), code: querylimit.CodeTooDeep, value: 16},
		{name: "depth counts fragments", cfg: off(querylimit.Config{MaxDepth: 5}),
			query: `{ me { ...D } } fragment D on Staff { departments { parent { ...P } } } fragment P on Department { parent { parent { id } } }`,
			code:  querylimit.CodeTooDeep, value: 6},
		{name: "depth counts inline fragments", cfg: off(querylimit.Config{MaxDepth: 5}),
			query: `{ me { departments { ... on Department { parent { ... { parent { parent { id } } } } } } } }`,
			code:  querylimit.CodeTooDeep, value: 6},
		{name: "depth counts introspection", cfg: off(querylimit.Config{MaxDepth: 5}),
			query: `{ __type(name: "Customer") { fields { type { ofType { ofType { name } } } } } }`,
			code:  querylimit.CodeTooDeep, value: 6},
		{name: "introspection within the depth passes", cfg: off(querylimit.Config{MaxDepth: 5}),
			query: `{ __type(name: "Customer") { fields { type { name } } } }`},

		{name: "cost at the limit passes", cfg: off(querylimit.Config{MaxCost: agentConsoleCost}), query: agentConsole},
		{name: "cost over the limit is refused", cfg: off(querylimit.Config{MaxCost: agentConsoleCost - 1}),
			query: agentConsole, code: querylimit.CodeTooComplex, value: agentConsoleCost},
		{name: "cost takes first from variables", cfg: off(querylimit.Config{MaxCost: 300}),
			query: `query($n: Int) { customers(first: $n) { edges { node { id } } } }`, vars: map[string]any{"n": 100},
			code: querylimit.CodeTooComplex, value: 301},
		{name: "cost takes last from variables", cfg: off(querylimit.Config{MaxCost: 301}),
			query: `query($n: Int) { customers(last: $n) { edges { node { id } } } }`, vars: map[string]any{"n": 100}},
		{name: "a list without first multiplies by the default", cfg: off(querylimit.Config{MaxCost: 21}),
			query: `{ me { departments { id name } } }`, code: querylimit.CodeTooComplex, value: 22},
		{name: "a list's own first default counts", cfg: off(querylimit.Config{MaxCost: 210}),
			query: `{ jobQueues { deadJobs { id } } }`, code: querylimit.CodeTooComplex, value: 211},
		{name: "a list's first counts", cfg: off(querylimit.Config{MaxCost: 31}),
			query: `{ jobQueues { deadJobs(first: 2) { id } } }`},
		{name: "cost counts a fragment each time it is spread", cfg: off(querylimit.Config{MaxCost: 7}),
			query: `{ a: me { ...F } b: me { ... on Staff { ...F } } } fragment F on Staff { id name login }`,
			code:  querylimit.CodeTooComplex, value: 8},

		{name: "nodes at the limit pass", cfg: off(querylimit.Config{MaxNodes: nestedNodes}), query: nested},
		{name: "nodes over the limit are refused", cfg: off(querylimit.Config{MaxNodes: nestedNodes - 1}),
			query: nested, code: querylimit.CodeNodeLimit, value: nestedNodes},
		{name: "nested pages over the default node limit are refused",
			query: nested, code: querylimit.CodeNodeLimit, value: nestedNodes},

		{name: "aliases at the limit pass", query: aliased(30)},
		{name: "aliases over the limit are refused", query: aliased(31), code: querylimit.CodeTooManyAliases, value: 31},
		{name: "an alias naming its own field does not count", query: strings.Replace(aliased(31), "a0: id", "id: id", 1)},
		{name: "aliases in a fragment count each spread", cfg: off(querylimit.Config{MaxAliases: 3}),
			query: `{ me { ...A } x: me { ...A } } fragment A on Staff { i: id n: name }`,
			code:  querylimit.CodeTooManyAliases, value: 5},

		{name: "root fields at the limit pass", query: roots(10)},
		{name: "root fields over the limit are refused", query: roots(11), code: querylimit.CodeTooManyRootFields, value: 11},
		{name: "__typename is not a root field", query: strings.Replace(roots(10), "{", "{ __typename", 1)},
		{name: "root fields count fragments", cfg: off(querylimit.Config{MaxRootFields: 2}),
			query: `{ me { id } ...Q } fragment Q on Query { a: me { id } ... on Query { b: me { id } } }`,
			code:  querylimit.CodeTooManyRootFields, value: 3},

		{name: "the page size cap passes", query: `{ orders(first: 100) { edges { node { id } } } }`},
		{name: "over the page size cap is refused", query: `{ orders(first: 101) { edges { node { id } } } }`, code: querylimit.CodeBadUserInput},
		{name: "a variable over the page size cap is refused", query: `query($n: Int) { orders(last: $n) { edges { node { id } } } }`,
			vars: map[string]any{"n": 101}, code: querylimit.CodeBadUserInput},
		{name: "nodes without a page size are refused", query: `{ tickets { edges { node { id } } } }`, code: querylimit.CodeBadUserInput},
		{name: "counting needs no page size", query: `{ customers { totalCount } }`},

		{name: "a document at the size limit passes", cfg: off(querylimit.Config{MaxDocumentBytes: 100}),
			query: "{ __typename }" + strings.Repeat(" ", 100-len("{ __typename }"))},
		{name: "a document over the size limit is refused", cfg: off(querylimit.Config{MaxDocumentBytes: 100}),
			query: "{ __typename }" + strings.Repeat(" ", 101-len("{ __typename }")), code: querylimit.CodeDocumentTooLarge, value: 101},
		// { me { id id … } } is 5 tokens and one per id.
		{name: "tokens at the limit pass", cfg: off(querylimit.Config{TokenLimit: 25}), query: "{ me {" + strings.Repeat(" id", 20) + " } }"},
		{name: "tokens over the limit are refused", cfg: off(querylimit.Config{TokenLimit: 25}),
			query: "{ me {" + strings.Repeat(" id", 21) + " } }", code: querylimit.CodeDocumentTooLarge, value: 26},

		{name: "repeated fields at the limit pass", query: "{ me {" + strings.Repeat(" id", 20) + " } }"},
		{name: "repeated fields over the limit are refused", query: "{ me {" + strings.Repeat(" id", 21) + " } }",
			code: querylimit.CodeTooManyDuplicateFields, value: 21},
		{name: "repeated fields count inline fragments", query: "{ me { id ... on Staff {" + strings.Repeat(" id", 10) + " } ... {" + strings.Repeat(" id", 10) + " } } }",
			code: querylimit.CodeTooManyDuplicateFields, value: 21},
		{name: "repeated fields count by response name", query: "{ me {" + strings.Repeat(" x: id", 21) + " } }",
			code: querylimit.CodeTooManyDuplicateFields, value: 21},
		{name: "repeated fields count fragments", query: "{ me { ...A ...B } } fragment A on Staff {" + strings.Repeat(" id", 10) + " } fragment B on Staff {" + strings.Repeat(" id", 11) + " }",
			code: querylimit.CodeTooManyDuplicateFields, value: 21},
		{name: "repeated fields merge under repeated parents", query: "{" + strings.Repeat(" me { id id id }", 7) + " }",
			code: querylimit.CodeTooManyDuplicateFields, value: 21},
		{name: "repeated parents within the limit pass", query: "{" + strings.Repeat(" me { id id }", 10) + " }"},
		{name: "fragments at the spread limit pass", cfg: querylimit.Config{MaxAliases: -1}, query: fragments(50)},
		{name: "fragments over the spread limit are refused", query: fragments(51), code: querylimit.CodeTooManyFragments, value: 51},

		// {"s":"…"} counts 2 for the braces, 4 for the quotes, colon and
		// comma around the name, 1 for the name and 2 for the quotes.
		{name: "variables at the size limit pass", cfg: off(querylimit.Config{MaxVariablesBytes: 100}),
			query: `query($s: String!) { __type(name: $s) { name } }`, vars: map[string]any{"s": strings.Repeat("x", 91)}},
		{name: "variables over the size limit are refused", cfg: off(querylimit.Config{MaxVariablesBytes: 100}),
			query: `query($s: String!) { __type(name: $s) { name } }`, vars: map[string]any{"s": strings.Repeat("x", 92)},
			code: querylimit.CodeVariablesTooLarge, value: 101},
		{name: "a list at the length limit passes", query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
			vars: map[string]any{"ids": ids(1000)}},
		{name: "a list over the length limit is refused", query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
			vars: map[string]any{"ids": ids(1001)}, code: querylimit.CodeVariablesTooLarge, value: 1001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, newServer(tc.cfg), tc.query, tc.vars)
			expect(t, a, tc.code)
			if tc.code == "" {
				return
			}
			err := a.Errors[0]
			if tc.value != 0 && err.Extensions["value"] != float64(tc.value) {
				t.Errorf("extensions.value = %v, want %d (%s)", err.Extensions["value"], tc.value, err.Message)
			}
			if tc.code != querylimit.CodeBadUserInput {
				if _, ok := err.Extensions["limit"].(float64); !ok {
					t.Errorf("extensions.limit missing: %+v", err)
				}
				limit := fmt.Sprint(err.Extensions["limit"])
				if !strings.Contains(err.Message, "limit") || !strings.Contains(err.Message, limit) {
					t.Errorf("message %q does not name the limit %s", err.Message, limit)
				}
			}
		})
	}
}

func TestDepthErrorPointsAtTheField(t *testing.T) {
	a := post(t, newServer(querylimit.Config{MaxDepth: 3}), "{ me {\n departments {\n  parent { id } } } }", nil)
	expect(t, a, querylimit.CodeTooDeep)
	if loc := a.Errors[0].Locations; len(loc) != 1 || loc[0].Line != 3 || loc[0].Column != 12 {
		t.Errorf("located at %+v, want the id field at 3:12", loc)
	}
}

// TestLimitsOnCachedDocuments checks that a document validated once (and
// cached) is still checked against each request's variables.
func TestLimitsOnCachedDocuments(t *testing.T) {
	h := newServer(querylimit.Config{})
	q := `query($n: Int!) { customers(first: $n) { edges { node { id orders(first: $n) { edges { node { id items { id } } } } } } } }`
	expect(t, post(t, h, q, map[string]any{"n": 10}), "")
	a := post(t, h, q, map[string]any{"n": 100})
	expect(t, a, querylimit.CodeTooComplex)
	expect(t, post(t, h, q, map[string]any{"n": 1000}), querylimit.CodeBadUserInput)
}

func TestIntrospection(t *testing.T) {
	h := newServer(querylimit.Config{})
	schemaQuery := `{ __schema { queryType { name } } }`

	t.Run("a trusted caller may introspect", func(t *testing.T) {
		a := post(t, h, schemaQuery, nil, "X-Execute", "X-Trusted")
		if len(a.Errors) > 0 || !strings.Contains(string(a.Data), `"Query"`) {
			t.Fatalf("got %s %+v", a.Data, a.Errors)
		}
	})
	t.Run("anyone else may not", func(t *testing.T) {
		a := post(t, h, schemaQuery, nil, "X-Execute")
		if len(a.Errors) == 0 || strings.Contains(string(a.Data), `"Query"`) {
			t.Fatalf("got %s %+v", a.Data, a.Errors)
		}
	})
	t.Run("anyone may ask for __typename", func(t *testing.T) {
		a := post(t, h, `{ __typename }`, nil, "X-Execute")
		if len(a.Errors) > 0 || string(a.Data) != `{"__typename":"Query"}` {
			t.Fatalf("got %s %+v", a.Data, a.Errors)
		}
	})
	for _, tc := range []struct{ name, query, hint string }{
		{"a misspelt field", `{ me { nme } }`, `Did you mean "name"`},
		{"a misspelt argument", `{ customers(frist: 1) { totalCount } }`, `Did you mean "first"`},
		{"a misspelt type", `{ me { ...F } } fragment F on Staf { id }`, `Did you mean "Staff"`},
		{"a misspelt enum value", `{ customers(first: 1, orderBy: {field: CREATED, direction: ASC}) { totalCount } }`, `Did you mean the enum value`},
	} {
		t.Run("suggestions for "+tc.name+" are for trusted callers only", func(t *testing.T) {
			trusted := post(t, h, tc.query, nil, "X-Trusted")
			if len(trusted.Errors) == 0 || !strings.Contains(trusted.Errors[0].Message, tc.hint) {
				t.Fatalf("trusted caller got %+v, want %s", trusted.Errors, tc.hint)
			}
			other := post(t, h, tc.query, nil)
			if other.status != http.StatusBadRequest || len(other.Errors) == 0 {
				t.Fatalf("got status %d, %+v", other.status, other.Errors)
			}
			for _, err := range other.Errors {
				if strings.Contains(err.Message, "Did you mean") {
					t.Errorf("untrusted caller got a suggestion: %q", err.Message)
				}
			}
			want, _, _ := strings.Cut(trusted.Errors[0].Message, " Did you mean")
			if other.Errors[0].Message != want {
				t.Errorf("message %q, want %q", other.Errors[0].Message, want)
			}
		})
	}
}

// TestAbusiveDocuments sends documents built to hurt a GraphQL server and
// checks that each is refused with its own code, and that the server
// answers normally afterwards.
func TestAbusiveDocuments(t *testing.T) {
	h := newServer(querylimit.DefaultConfig())

	var b strings.Builder
	// Nested connections: customers → orders → customer → orders → …
	b.WriteString("{ customers(first: 1) { edges { node { ")
	for range 50 {
		b.WriteString("orders(first: 1) { edges { node { customer { ")
	}
	b.WriteString("id" + strings.Repeat(" } } } }", 50) + " } } } }")
	nestedConnections := b.String()

	b.Reset()
	// Each fragment spreads the next twice: 2^40 copies of id once expanded.
	b.WriteString("{ me { ...F0 } }")
	for i := range 40 {
		fmt.Fprintf(&b, " fragment F%d on Staff { ...F%d ...F%d }", i, i+1, i+1)
	}
	b.WriteString(" fragment F40 on Staff { id }")
	fragmentBomb := b.String()

	b.Reset()
	for i := range 200 {
		fmt.Fprintf(&b, "query Q%d %s\n", i, agentConsole)
	}
	batched := b.String()

	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		code  string
	}{
		{name: "200 levels of fields", query: chain(200), code: querylimit.CodeTooDeep},
		{name: "200 levels of nested connections", query: nestedConnections, code: querylimit.CodeTooDeep},
		{name: "1000 aliases", query: aliased(1000), code: querylimit.CodeTooManyAliases},
		{name: "1000 aliased root fields", query: roots(1000), code: querylimit.CodeTooManyAliases},
		{name: "1000 aliases spread through a fragment", query: "{ me { ...A } } fragment A on Staff {" + strings.Repeat(" a: id", 1000) + " }",
			code: querylimit.CodeTooManyDuplicateFields},
		{name: "a fragment cycle", query: `{ me { ...A } } fragment A on Staff { ...B } fragment B on Staff { ...A }`,
			code: "GRAPHQL_VALIDATION_FAILED"},
		{name: "a fragment spread 2^40 times", query: fragmentBomb, code: querylimit.CodeTooComplex},
		{name: "a 100,000-item list in the variables", query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
			vars: map[string]any{"ids": ids(100_000)}, code: querylimit.CodeVariablesTooLarge},
		{name: "a 1 MB string in the variables", query: `query($s: String!) { __type(name: $s) { name } }`,
			vars: map[string]any{"s": strings.Repeat("x", 1<<20)}, code: querylimit.CodeVariablesTooLarge},
		{name: "a field repeated 5,000 times", query: "{ me {" + strings.Repeat(" id", 5000) + " } }", code: querylimit.CodeTooManyDuplicateFields},
		{name: "18 repeats nested three levels", query: "{" + strings.Repeat(" me {"+strings.Repeat(" departments {"+strings.Repeat(" id", 18)+" }", 18)+" }", 18) + " }",
			code: querylimit.CodeTooManyDuplicateFields},
		{name: "700 fragments side by side", query: fragments(700), code: querylimit.CodeTooManyFragments},
		{name: "a field repeated 10,000 times", query: "{ me {" + strings.Repeat(" id", 10_000) + " } }", code: querylimit.CodeDocumentTooLarge},
		{name: "a root field repeated in 1,000 inline fragments", query: "{" + strings.Repeat(" ... { me { id } }", 1000) + " }",
			code: querylimit.CodeTooManyDuplicateFields},
		{name: "the agent console query 200 times in one document", query: batched, code: querylimit.CodeDocumentTooLarge},
		{name: "the agent console query 11 times in one operation",
			query: "{" + strings.Repeat(strings.TrimSuffix(strings.TrimPrefix(agentConsole, "{"), "}"), 11) + "}",
			code:  querylimit.CodeTooManyRootFields},
		{name: "2,000 levels of fields (the parser's own cap)", query: chain(2000), code: querylimit.CodeTooDeep},
		{name: "2,000 levels never closed", query: "{" + strings.Repeat(" me {", 2000), code: querylimit.CodeTooDeep},
		{name: "500 levels never closed", query: "{" + strings.Repeat(" me {", 500), code: "GRAPHQL_PARSE_FAILED"},
		{name: "a 10 MB query", query: "{ __typename }" + strings.Repeat(" ", 10<<20), code: querylimit.CodeDocumentTooLarge},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			a := post(t, h, tc.query, tc.vars, "X-Execute")
			if a.status != http.StatusBadRequest || a.code() != tc.code || !a.noData() {
				t.Fatalf("want %s with status 400, got status %d, data %s, errors %+v", tc.code, a.status, a.Data, a.Errors)
			}
			// The server still answers.
			ok := post(t, h, `{ __typename }`, nil, "X-Execute")
			if ok.status != http.StatusOK || string(ok.Data) != `{"__typename":"Query"}` {
				t.Fatalf("after it, { __typename } got %d %s %+v", ok.status, ok.Data, ok.Errors)
			}
		})
	}
}

// introspectionQuery is the introspection query GraphiQL sends (as of
// graphql-js 16), trimmed of descriptions; its TypeRef goes 8 ofType deep.
const introspectionQuery = `query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}`
