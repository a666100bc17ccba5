package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/internal/auth"
)

// counterSchema is a tiny executable schema: count reads a counter, bump
// (a mutation) increments it. It resolves top-level fields only, which is
// all these tests ask of it.
type counterSchema struct {
	schema *ast.Schema
	n      atomic.Int64
}

func newCounterSchema() *counterSchema {
	return &counterSchema{schema: gqlparser.MustLoadSchema(&ast.Source{Name: "counter.graphql", Input: `
		type Query { count: Int! }
		type Mutation { bump: Int! }
		type Subscription { counted: Int! }
	`})}
}

func (s *counterSchema) Schema() *ast.Schema { return s.schema }

func (s *counterSchema) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}

func (s *counterSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	done := false
	return func(context.Context) *graphql.Response {
		if done {
			return nil
		}
		done = true
		data := map[string]any{}
		for _, sel := range oc.Operation.SelectionSet {
			f := sel.(*ast.Field)
			switch f.Name {
			case "count":
				data[f.Alias] = s.n.Load()
			case "bump":
				data[f.Alias] = s.n.Add(1)
			case "__typename":
				data[f.Alias] = f.ObjectDefinition.Name
			}
		}
		b, _ := json.Marshal(data)
		return &graphql.Response{Data: b}
	}
}

// documents stands in for the persisted operations component: it resolves
// extensions.documentId to a query and records what it was given.
type documents struct {
	mu   sync.Mutex
	seen []graphql.RawParams
}

func (*documents) ExtensionName() string                   { return "TestDocuments" }
func (*documents) Validate(graphql.ExecutableSchema) error { return nil }
func (d *documents) MutateOperationParameters(_ context.Context, raw *graphql.RawParams) *gqlerror.Error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen = append(d.seen, *raw)
	if id, ok := raw.Extensions["documentId"].(string); ok {
		if id != "sha256:count" {
			return &gqlerror.Error{Message: "unknown document", Extensions: map[string]any{"code": "PERSISTED_QUERY_NOT_FOUND"}}
		}
		raw.Query = "{ count }"
	}
	return nil
}

type graphqlServer struct {
	h      http.Handler
	schema *counterSchema
	docs   *documents
	token  string
}

func newGraphQLTestServer(t *testing.T, maxBatch int) *graphqlServer {
	t.Helper()
	iss, err := auth.NewIssuer(strings.Repeat("k", 32), "scrm")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(auth.Staff{TenantID: 1, StaffID: 1}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s := &graphqlServer{schema: newCounterSchema(), docs: &documents{}, token: tok}
	s.h = New(Options{Schema: s.schema, Issuer: iss, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MaxBatch: maxBatch, Configure: func(srv *handler.Server) { srv.Use(s.docs) }})
	return s
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a request with the given body, Content-Type and Accept ("-"
// leaves a header out).
func (s *graphqlServer) do(t *testing.T, method, target, body, contentType, accept string) answer {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	if contentType != "-" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "-" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Header(), rec.Body.String()}
}

func (s *graphqlServer) post(t *testing.T, body, accept string) answer {
	t.Helper()
	return s.do(t, http.MethodPost, "/graphql", body, "application/json", accept)
}

const (
	gqlResponse = "application/graphql-response+json"
	appJSON     = "application/json"
)

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		accept string
		want   string // "" not acceptable
	}{
		{"", gqlResponse},
		{gqlResponse, gqlResponse},
		{appJSON, appJSON},
		{"application/json; charset=utf-8", appJSON},
		{"*/*", gqlResponse},
		{"application/*", gqlResponse},
		{"application/graphql-response+json, application/json;q=0.9", gqlResponse},
		{"application/json, application/graphql-response+json;q=0.5", appJSON},
		{"application/json, text/plain, */*", appJSON}, // axios
		{"text/html, */*;q=0.1", gqlResponse},
		{"*/*, application/graphql-response+json;q=0", appJSON},
		{"text/html", ""},
		{"application/xml, text/plain", ""},
		{"application/json;q=0", ""},
		{"not a media type", ""},
	} {
		got, ok := negotiate(c.accept)
		if !ok {
			got = ""
		}
		if got != c.want {
			t.Errorf("negotiate(%q) = %q, want %q", c.accept, got, c.want)
		}
	}
}

func TestPOSTMediaTypesAndStatus(t *testing.T) {
	s := newGraphQLTestServer(t, 0)
	for _, c := range []struct {
		name        string
		body        string
		contentType string
		accept      string
		status      int
		mediaType   string
		code        string // extensions.code of the one error; "" none
		hasData     bool
	}{
		{"a query answers graphql-response+json by default", `{"query":"{ count }"}`, appJSON, "-", 200, gqlResponse, "", true},
		{"application/json when the client asks for it", `{"query":"{ count }"}`, appJSON, appJSON, 200, appJSON, "", true},
		{"a charset parameter is fine", `{"query":"{ count }"}`, "application/json; charset=utf-8", gqlResponse, 200, gqlResponse, "", true},
		{"null members are absent members", `{"query":"{ count }","variables":null,"operationName":null,"extensions":null}`, appJSON, gqlResponse, 200, gqlResponse, "", true},
		{"extensions pass through", `{"query":"{ count }","extensions":{"some":"value"}}`, appJSON, gqlResponse, 200, gqlResponse, "", true},
		{"an Accept allowing neither media type is a 406", `{"query":"{ count }"}`, appJSON, "text/html", 406, appJSON, "BAD_REQUEST", false},
		{"another charset is a 415", `{"query":"{ count }"}`, "application/json; charset=latin1", "-", 415, gqlResponse, "UNSUPPORTED_MEDIA_TYPE", false},
		{"application/graphql bodies are a 415", `{ count }`, "application/graphql", "-", 415, gqlResponse, "UNSUPPORTED_MEDIA_TYPE", false},
		{"unparsable JSON is a 400", `{"query": "{ count }"`, appJSON, gqlResponse, 400, gqlResponse, "BAD_REQUEST", false},
		{"unparsable JSON is a 400 under application/json too", `{"query": `, appJSON, appJSON, 400, appJSON, "BAD_REQUEST", false},
		{"trailing garbage is a 400", `{"query":"{ count }"} x`, appJSON, "-", 400, gqlResponse, "BAD_REQUEST", false},
		{"an empty body is a 400", ``, appJSON, "-", 400, gqlResponse, "BAD_REQUEST", false},
		{"a JSON string is a 400", `"{ count }"`, appJSON, "-", 400, gqlResponse, "BAD_REQUEST", false},
		{"a missing query is a 400", `{"qeury":"{ count }"}`, appJSON, gqlResponse, 400, gqlResponse, "BAD_REQUEST", false},
		{"a missing query is a 400 under application/json too", `{}`, appJSON, appJSON, 400, appJSON, "BAD_REQUEST", false},
		{"a query that is not a string is a 400", `{"query":{"obj":"ect"}}`, appJSON, "-", 400, gqlResponse, "BAD_REQUEST", false},
		{"operationName that is not a string is a 400", `{"query":"{ count }","operationName":5}`, appJSON, "-", 400, gqlResponse, "BAD_REQUEST", false},
		{"variables that are not an object are a 400", `{"query":"{ count }","variables":["array"]}`, appJSON, "-", 400, gqlResponse, "BAD_REQUEST", false},
		{"variables as a JSON string are a 400", `{"query":"{ count }","variables":"{}"}`, appJSON, "-", 400, gqlResponse, "BAD_REQUEST", false},
		{"extensions that are not an object are a 400", `{"query":"{ count }","extensions":false}`, appJSON, "-", 400, gqlResponse, "BAD_REQUEST", false},
		{"a parse error is a 400 without data", `{"query":"{"}`, appJSON, gqlResponse, 400, gqlResponse, "GRAPHQL_PARSE_FAILED", false},
		{"a parse error is a 200 under application/json", `{"query":"{"}`, appJSON, appJSON, 200, appJSON, "GRAPHQL_PARSE_FAILED", false},
		{"a validation error is a 400 without data", `{"query":"{ nope }"}`, appJSON, gqlResponse, 400, gqlResponse, "GRAPHQL_VALIDATION_FAILED", false},
		{"a validation error is a 200 under application/json", `{"query":"{ nope }"}`, appJSON, appJSON, 200, appJSON, "GRAPHQL_VALIDATION_FAILED", false},
		{"a variable coercion error is a 400", `{"query":"query($n: Int!) { count }","variables":{"n":null}}`, appJSON, gqlResponse, 400, gqlResponse, "GRAPHQL_VALIDATION_FAILED", false},
		{"an unknown operationName is a 400", `{"query":"query A { count }","operationName":"B"}`, appJSON, gqlResponse, 400, gqlResponse, "GRAPHQL_VALIDATION_FAILED", false},
		{"a subscription needs a stream", `{"query":"subscription { counted }"}`, appJSON, gqlResponse, 400, gqlResponse, "BAD_REQUEST", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := s.do(t, http.MethodPost, "/graphql", c.body, c.contentType, c.accept)
			if a.status != c.status {
				t.Fatalf("status %d, want %d: %s", a.status, c.status, a.body)
			}
			if got := a.header.Get("Content-Type"); got != c.mediaType {
				t.Errorf("Content-Type %q, want %q", got, c.mediaType)
			}
			var resp struct {
				Data   *json.RawMessage `json:"data"`
				Errors []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.Unmarshal([]byte(a.body), &resp); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, a.body)
			}
			if (resp.Data != nil) != c.hasData {
				t.Errorf("data entry present = %v, want %v: %s", resp.Data != nil, c.hasData, a.body)
			}
			switch {
			case c.code == "" && len(resp.Errors) > 0:
				t.Errorf("unexpected errors: %s", a.body)
			case c.code != "" && (len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != c.code || resp.Errors[0].Message == ""):
				t.Errorf("want one error coded %s: %s", c.code, a.body)
			}
		})
	}
}

func TestGETMediaTypesAndStatus(t *testing.T) {
	s := newGraphQLTestServer(t, 0)
	get := func(params url.Values, accept string) answer {
		return s.do(t, http.MethodGet, "/graphql?"+params.Encode(), "", "-", accept)
	}
	t.Run("an Accept allowing neither media type is a 406", func(t *testing.T) {
		if a := get(url.Values{"query": {"{ count }"}}, "text/html"); a.status != http.StatusNotAcceptable {
			t.Errorf("status %d: %s", a.status, a.body)
		}
	})
	t.Run("a validation error is a 200 under application/json", func(t *testing.T) {
		a := get(url.Values{"query": {"{ nope }"}}, appJSON)
		if a.status != http.StatusOK || !strings.Contains(a.body, "GRAPHQL_VALIDATION_FAILED") || strings.Contains(a.body, `"data"`) {
			t.Errorf("status %d: %s", a.status, a.body)
		}
	})
	t.Run("a missing query is a 400", func(t *testing.T) {
		if a := get(url.Values{"operationName": {"A"}}, "-"); a.status != http.StatusBadRequest || !strings.Contains(a.body, "missing query") {
			t.Errorf("status %d: %s", a.status, a.body)
		}
	})
	t.Run("a mutation is a 405 that changes nothing", func(t *testing.T) {
		a := get(url.Values{"query": {"mutation { bump }"}}, "-")
		if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "POST" {
			t.Errorf("status %d allow %q: %s", a.status, a.header.Get("Allow"), a.body)
		}
		if n := s.schema.n.Load(); n != 0 {
			t.Errorf("the counter is %d", n)
		}
	})
}

func TestPersistedDocumentIDsArePassedOn(t *testing.T) {
	s := newGraphQLTestServer(t, 0)
	check := func(t *testing.T, a answer) {
		t.Helper()
		if a.status != http.StatusOK || a.body != `{"data":{"count":0}}`+"\n" {
			t.Fatalf("status %d: %s", a.status, a.body)
		}
		s.docs.mu.Lock()
		defer s.docs.mu.Unlock()
		last := s.docs.seen[len(s.docs.seen)-1]
		if last.Query != "" || last.Extensions["documentId"] != "sha256:count" {
			t.Errorf("the mutator saw query %q, extensions %v", last.Query, last.Extensions)
		}
	}
	t.Run("a POST's documentId becomes extensions.documentId", func(t *testing.T) {
		check(t, s.post(t, `{"documentId":"sha256:count"}`, "-"))
	})
	t.Run("other extensions are kept beside it", func(t *testing.T) {
		check(t, s.post(t, `{"documentId":"sha256:count","extensions":{"trace":true}}`, "-"))
		s.docs.mu.Lock()
		defer s.docs.mu.Unlock()
		if s.docs.seen[len(s.docs.seen)-1].Extensions["trace"] != true {
			t.Error("the client's extensions were lost")
		}
	})
	t.Run("a GET's documentId parameter too", func(t *testing.T) {
		check(t, s.do(t, http.MethodGet, "/graphql?documentId=sha256:count", "", "-", "-"))
	})
	t.Run("an unknown document is the resolver's request error", func(t *testing.T) {
		a := s.post(t, `{"documentId":"sha256:nope"}`, "-")
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, "PERSISTED_QUERY_NOT_FOUND") {
			t.Errorf("status %d: %s", a.status, a.body)
		}
	})
	t.Run("a documentId that is not a string is a 400", func(t *testing.T) {
		if a := s.post(t, `{"documentId":5}`, "-"); a.status != http.StatusBadRequest {
			t.Errorf("status %d: %s", a.status, a.body)
		}
	})
	t.Run("query and documentId together are a 400", func(t *testing.T) {
		if a := s.post(t, `{"query":"{ count }","documentId":"sha256:count"}`, "-"); a.status != http.StatusBadRequest {
			t.Errorf("status %d: %s", a.status, a.body)
		}
	})
	t.Run("an automatic persisted query hash alone reaches GraphQL", func(t *testing.T) {
		a := s.post(t, `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`, "-")
		if strings.Contains(a.body, "missing query") {
			t.Errorf("refused before GraphQL: %s", a.body)
		}
	})
}

func TestBatches(t *testing.T) {
	s := newGraphQLTestServer(t, 3)
	t.Run("each operation runs in order and answers in an array", func(t *testing.T) {
		a := s.post(t, `[{"query":"mutation { bump }"},{"query":"{ count }"},{"query":"{ nope }"},{"query":"mutation { n: bump }"}]`, "-")
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, "BATCH_TOO_LARGE") {
			t.Fatalf("4 operations over a cap of 3: status %d: %s", a.status, a.body)
		}
		if n := s.schema.n.Load(); n != 0 {
			t.Fatalf("a refused batch ran: counter %d", n)
		}
		a = s.post(t, `[{"query":"mutation { bump }"},{"query":"{ count }"},{"query":"{ nope }"}]`, "-")
		if a.status != http.StatusOK || a.header.Get("Content-Type") != gqlResponse {
			t.Fatalf("status %d %s: %s", a.status, a.header.Get("Content-Type"), a.body)
		}
		var results []map[string]json.RawMessage
		if err := json.Unmarshal([]byte(a.body), &results); err != nil || len(results) != 3 {
			t.Fatalf("%v: %s", err, a.body)
		}
		if string(results[0]["data"]) != `{"bump":1}` || string(results[1]["data"]) != `{"count":1}` {
			t.Errorf("results %s", a.body)
		}
		if _, ok := results[2]["data"]; ok || !strings.Contains(string(results[2]["errors"]), "GRAPHQL_VALIDATION_FAILED") {
			t.Errorf("the invalid operation: %s", a.body)
		}
	})
	t.Run("an empty batch is a 400", func(t *testing.T) {
		if a := s.post(t, `[]`, "-"); a.status != http.StatusBadRequest || !strings.Contains(a.body, "BAD_REQUEST") {
			t.Errorf("status %d: %s", a.status, a.body)
		}
	})
	t.Run("a malformed operation refuses the whole batch", func(t *testing.T) {
		before := s.schema.n.Load()
		a := s.post(t, `[{"query":"mutation { bump }"},{"qeury":"{ count }"}]`, "-")
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, "operation 1 of the batch") {
			t.Errorf("status %d: %s", a.status, a.body)
		}
		if s.schema.n.Load() != before {
			t.Error("part of a refused batch ran")
		}
	})
	t.Run("the default cap is 10", func(t *testing.T) {
		d := newGraphQLTestServer(t, 0)
		ops := strings.TrimSuffix(strings.Repeat(`{"query":"{ count }"},`, 10), ",")
		if a := d.post(t, "["+ops+"]", "-"); a.status != http.StatusOK {
			t.Errorf("10: status %d: %s", a.status, a.body)
		}
		if a := d.post(t, "["+ops+`,{"query":"{ count }"}]`, "-"); a.status != http.StatusBadRequest {
			t.Errorf("11: status %d: %s", a.status, a.body)
		}
	})
}

// TestCrossSiteRequestsNeverRunMutations: a browser posts the "simple"
// media types to any site without a CORS preflight, so none of them may
// run an operation; GET never runs a mutation.
func TestCrossSiteRequestsNeverRunMutations(t *testing.T) {
	s := newGraphQLTestServer(t, 0)
	mutation := `{"query":"mutation { bump }"}`
	for _, c := range []struct{ contentType, body string }{
		{"application/x-www-form-urlencoded", "query=" + url.QueryEscape("mutation { bump }")},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nmutation { bump }\r\n--x--\r\n"},
		{"text/plain", mutation},
		{"text/plain;charset=UTF-8", mutation}, // what fetch sends for a string body
		{"-", mutation},
	} {
		t.Run(c.contentType, func(t *testing.T) {
			a := s.do(t, http.MethodPost, "/graphql", c.body, c.contentType, "-")
			if a.status != http.StatusUnsupportedMediaType || !strings.Contains(a.body, "UNSUPPORTED_MEDIA_TYPE") {
				t.Errorf("status %d: %s", a.status, a.body)
			}
			if c.contentType != "-" && !strings.Contains(a.body, "cross-site request forgery") {
				t.Errorf("the refusal does not name the rule: %s", a.body)
			}
			if a.header.Get("Accept") != appJSON {
				t.Errorf("Accept = %q", a.header.Get("Accept"))
			}
		})
	}
	t.Run("GET", func(t *testing.T) {
		if a := s.do(t, http.MethodGet, "/graphql?query="+url.QueryEscape("mutation { bump }"), "", "-", "-"); a.status != http.StatusMethodNotAllowed {
			t.Errorf("status %d: %s", a.status, a.body)
		}
	})
	if n := s.schema.n.Load(); n != 0 {
		t.Fatalf("a cross-site request ran the mutation: counter %d", n)
	}
	if a := s.post(t, mutation, "-"); a.status != http.StatusOK || s.schema.n.Load() != 1 {
		t.Fatalf("a JSON POST did not run it: %d %s", a.status, a.body)
	}
}

func TestChunkedBodiesOverTheLimitAre413(t *testing.T) {
	s := newGraphQLTestServer(t, 0)
	body := `{"query":"{ count }","variables":{"pad":"` + strings.Repeat("x", 2<<20) + `"}}`
	req := httptest.NewRequest(http.MethodPost, "/graphql", io.MultiReader(strings.NewReader(body)))
	req.ContentLength = -1 // unknown: read up to the limit
	req.Header.Set("Content-Type", appJSON)
	req.Header.Set("Authorization", "Bearer "+s.token)
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("status %d: %s", rec.Code, rec.Body)
	}
}
