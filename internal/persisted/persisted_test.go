package persisted_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

var schema = graph.NewExecutableSchema(graph.Config{}).Schema()

const (
	orders  = "query Orders { orders(first: 10) { edges { node { id status } } } }"
	tenant  = "query Tenant { tenant { name } }"
	broken  = "query Broken { orders(first: 1) { edges { node { id shoeSize } } } }"
	twoOps  = "query A { tenant { name } } query B { tenant { slug } }"
	mutates = "mutation Close($id: ID!) { transitionTicket(id: $id, to: CLOSED) { id } }"
)

func apollo(t testing.TB, ops ...[3]string) []byte {
	t.Helper()
	var list []map[string]string
	for _, o := range ops {
		list = append(list, map[string]string{"id": o[0], "name": o[1], "type": "query", "body": o[2]})
	}
	b, err := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": list})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseManifest(t *testing.T) {
	t.Run("Apollo's persisted query list keeps its order and names", func(t *testing.T) {
		docs, err := persisted.ParseManifest(apollo(t, [3]string{persisted.Hash(tenant), "Tenant", tenant}, [3]string{persisted.Hash(orders), "Orders", orders}))
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 2 || docs[0].Name != "Tenant" || docs[1].Body != orders || docs[1].Hash != persisted.Hash(orders) {
			t.Fatalf("%+v", docs)
		}
	})
	t.Run("Relay's persistConfig map reads in id order", func(t *testing.T) {
		docs, err := persisted.ParseManifest(fmt.Appendf(nil, `{"b2": %q, "a1": %q}`, orders, tenant))
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 2 || docs[0].ID != "a1" || docs[0].Body != tenant || docs[1].ID != "b2" {
			t.Fatalf("%+v", docs)
		}
	})
	for name, in := range map[string]string{
		"not JSON":                          `operations:`,
		"an unknown format":                 `{"format": "graphql-codegen", "operations": []}`,
		"an Apollo list of another version": `{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}`,
		"operations without a format":       `{"operations": [{"id": "x", "body": "{ tenant { name } }"}]}`,
		"a map with a non-string value":     `{"a": 1}`,
		"nothing in it":                     `{}`,
		"an operation without a body":       `{"a": ""}`,
		"an unknown operation type":         `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "x", "type": "query!", "body": "{ tenant { name } }"}]}`,
		"one id with two bodies":            `{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id": "x", "body": "{ tenant { name } }"}, {"id": "x", "body": "{ tenant { slug } }"}]}`,
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			_, err := persisted.ParseManifest([]byte(in))
			if e, ok := apperr.As(err); !ok || e.Code != apperr.CodeBadUserInput || e.Field != "manifest" {
				t.Fatalf("want BAD_USER_INPUT on manifest, got %v", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	docs := []persisted.Document{
		{ID: "ok", Body: orders},
		{ID: "broken", Body: broken},
		{ID: "two", Body: twoOps},
		{ID: "garbled", Body: "query {"},
		{ID: persisted.Hash(tenant), Body: orders},
		{ID: "typed", Type: "query", Body: mutates},
		{ID: "named", Name: "Other", Body: tenant},
	}
	for i := range docs {
		docs[i].Hash = persisted.Hash(docs[i].Body)
	}
	problems := persisted.Validate(schema, docs)
	want := map[string]string{
		"broken":               `orders.edges.node.shoeSize: Cannot query field "shoeSize" on type "Order"`,
		"two":                  "holds 2 operations",
		"garbled":              "does not parse",
		persisted.Hash(tenant): "the id is a SHA-256 but the body's is " + persisted.Hash(orders),
		"typed":                "the manifest says query but the operation is a mutation",
		"named":                `the manifest names it Other but the operation is "Tenant"`,
	}
	if len(problems) != len(want) {
		t.Fatalf("want %d problems, got %v", len(want), problems)
	}
	for _, p := range problems {
		if !strings.Contains(strings.Join(p.Errors, "; "), want[p.DocumentID]) {
			t.Errorf("%s: want %q in %v", p.DocumentID, want[p.DocumentID], p.Errors)
		}
	}
	if docs[0].Name != "Orders" || docs[0].Type != "query" {
		t.Errorf("Validate fills in the name and type: %+v", docs[0])
	}
}

func newStore(t testing.TB, backend string) (*persisted.Store, int) {
	t.Helper()
	st := testenv.OpenStore(t, backend)
	tn, err := st.Client.Tenant.Create().SetName("门店").SetSlug("pq-" + strings.ToLower(backend)).Save(viewer.System(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return persisted.New(persisted.Options{Client: st.Client, Schema: schema}), tn.ID
}

func TestPush(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			s, tid := newStore(t, backend)
			ctx := context.Background()
			manifest := apollo(t, [3]string{persisted.Hash(orders), "Orders", orders}, [3]string{persisted.Hash(tenant), "Tenant", tenant})

			t.Run("stores a manifest, and again changes nothing", func(t *testing.T) {
				res, err := s.Push(ctx, tid, "pos-3.2", manifest)
				if err != nil || res.Added != 2 || res.Unchanged != 0 {
					t.Fatalf("%+v %v", res, err)
				}
				res, err = s.Push(ctx, tid, "pos-3.2", manifest)
				if err != nil || res.Added != 0 || res.Unchanged != 2 {
					t.Fatalf("%+v %v", res, err)
				}
			})
			t.Run("refuses a whole manifest with one invalid document, naming it", func(t *testing.T) {
				_, err := s.Push(ctx, tid, "pos-3.3", apollo(t, [3]string{"fine", "", tenant}, [3]string{"bad-one", "", broken}))
				e, ok := apperr.As(err)
				if !ok || e.Code != apperr.CodeBadUserInput || !strings.Contains(e.Message, `"bad-one"`) || strings.Contains(e.Message, `"fine"`) {
					t.Fatalf("got %v", err)
				}
				if _, n, _ := s.Check(ctx, ""); n != 2 {
					t.Fatalf("%d documents stored, want the first push's 2", n)
				}
			})
			t.Run("refuses an id whose SHA-256 is not its body's", func(t *testing.T) {
				_, err := s.Push(ctx, tid, "pos-3.3", apollo(t, [3]string{persisted.Hash(orders), "Tenant", tenant}))
				if e, ok := apperr.As(err); !ok || !strings.Contains(e.Message, "the id is a SHA-256") {
					t.Fatalf("got %v", err)
				}
			})
			t.Run("ids are immutable: another body under a stored id is a conflict", func(t *testing.T) {
				if _, err := s.Push(ctx, tid, "erp", fmt.Appendf(nil, `{"q1": %q}`, orders)); err != nil {
					t.Fatal(err)
				}
				_, err := s.Push(ctx, tid, "erp", fmt.Appendf(nil, `{"q1": %q, "q2": %q}`, tenant, tenant))
				if e, ok := apperr.As(err); !ok || e.Code != apperr.CodeConflict || !strings.Contains(e.Message, `"q1"`) {
					t.Fatalf("got %v", err)
				}
				if _, n, _ := s.Check(ctx, ""); n != 3 {
					t.Fatalf("q2 must not be stored either: %d documents", n)
				}
			})
			t.Run("deletes a list", func(t *testing.T) {
				n, err := s.DeleteList(ctx, tid, "erp")
				if err != nil || n != 1 {
					t.Fatalf("%d %v", n, err)
				}
			})
		})
	}
}

// runGate runs the extensions' parameter mutators on raw as the executor
// would, for viewer v.
func runGate(s *persisted.Store, v *viewer.Viewer, raw *graphql.RawParams) *gqlerror.Error {
	ctx := graphql.WithOperationContext(viewer.NewContext(context.Background(), v), &graphql.OperationContext{})
	for _, ext := range s.Extensions() {
		if m, ok := ext.(graphql.OperationParameterMutator); ok {
			if err := m.MutateOperationParameters(ctx, raw); err != nil {
				return err
			}
		}
	}
	return nil
}

func code(err *gqlerror.Error) string {
	if err == nil {
		return ""
	}
	c, _ := err.Extensions["code"].(string)
	return c
}

func TestGate(t *testing.T) {
	s, tid := newStore(t, testenv.SQLite)
	ctx := context.Background()
	if _, err := s.Push(ctx, tid, "pos", fmt.Appendf(nil, `{"orders": %q}`, orders)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Push(ctx, tid, "erp", fmt.Appendf(nil, `{"tenant": %q}`, tenant)); err != nil {
		t.Fatal(err)
	}
	staff := &viewer.Viewer{TenantID: tid, StaffID: 1}
	key := &viewer.Viewer{TenantID: tid, PersistedOnly: true, DocumentLists: []string{"pos"}}
	lists := &viewer.Viewer{TenantID: tid, DocumentLists: []string{"pos"}}
	other := &viewer.Viewer{TenantID: tid + 1000, StaffID: 1}
	apq := func(body string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": json.Number("1"), "sha256Hash": persisted.Hash(body)}}
	}
	cases := []struct {
		name     string
		v        *viewer.Viewer
		raw      graphql.RawParams
		code     string
		wantBody string
	}{
		{"staff run any list's documentId", staff, graphql.RawParams{Extensions: map[string]any{"documentId": "tenant"}}, "", tenant},
		{"a documentId may be the body's sha256", staff, graphql.RawParams{Extensions: map[string]any{"documentId": "sha256:" + persisted.Hash(orders)}}, "", orders},
		{"a viewer limited to lists runs only theirs", lists, graphql.RawParams{Extensions: map[string]any{"documentId": "tenant"}}, persisted.CodeDocumentNotFound, ""},
		{"another tenant finds nothing", other, graphql.RawParams{Extensions: map[string]any{"documentId": "orders"}}, persisted.CodeDocumentNotFound, ""},
		{"documentId and a query are not both", staff, graphql.RawParams{Query: orders, Extensions: map[string]any{"documentId": "orders"}}, "BAD_REQUEST", ""},
		{"a trusted hash needs no registration", staff, graphql.RawParams{Extensions: apq(tenant)}, "", tenant},
		{"an unknown hash is APQ's", staff, graphql.RawParams{Extensions: apq("{ me { id } }")}, persisted.CodeNotFound, ""},
		{"a hash that does not match is refused with a code", staff, graphql.RawParams{Query: tenant, Extensions: apq(orders)}, "BAD_REQUEST", ""},
		{"staff send free text", staff, graphql.RawParams{Query: "{ me { id } }"}, "", "{ me { id } }"},
		{"a persisted-only key runs its list's text", key, graphql.RawParams{Query: orders}, "", orders},
		{"a persisted-only key runs its list's hash", key, graphql.RawParams{Extensions: apq(orders)}, "", orders},
		{"a persisted-only key may not send free text", key, graphql.RawParams{Query: "{ me { id } }"}, persisted.CodeRequired, ""},
		{"a persisted-only key may not run another list", key, graphql.RawParams{Query: tenant}, persisted.CodeRequired, ""},
		{"a persisted-only key may not register", key, graphql.RawParams{Query: "{ me { id } }", Extensions: apq("{ me { id } }")}, persisted.CodeRequired, ""},
		{"a persisted-only key may not send nothing", key, graphql.RawParams{}, persisted.CodeRequired, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := c.raw
			err := runGate(s, c.v, &raw)
			if code(err) != c.code {
				t.Fatalf("want code %q, got %v", c.code, err)
			}
			if c.code == "" && raw.Query != c.wantBody {
				t.Fatalf("query %q, want %q", raw.Query, c.wantBody)
			}
		})
	}
	t.Run("a push is seen at once on this replica", func(t *testing.T) {
		raw := graphql.RawParams{Extensions: map[string]any{"documentId": "late"}}
		if code(runGate(s, staff, &raw)) != persisted.CodeDocumentNotFound {
			t.Fatal("late is not there yet")
		}
		if _, err := s.Push(ctx, tid, "pos", fmt.Appendf(nil, `{"late": %q}`, tenant)); err != nil {
			t.Fatal(err)
		}
		if err := runGate(s, staff, &raw); err != nil {
			t.Fatalf("the negative answer was not dropped: %v", err)
		}
	})
}

func TestAPQCache(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			conn := testenv.OpenRedis(t, backend, 4)
			ctx := context.Background()
			now := time.Unix(1_700_000_000, 0)
			clock := func() time.Time { return now }
			a := persisted.NewAPQCache(conn.Client, persisted.APQOptions{TTL: 7 * 24 * time.Hour, Now: clock})
			b := persisted.NewAPQCache(conn.Client, persisted.APQOptions{TTL: 7 * 24 * time.Hour, Now: clock})
			h := persisted.Hash(tenant)

			if _, ok := a.Get(ctx, h); ok {
				t.Fatal("nothing registered yet")
			}
			a.Add(ctx, h, tenant)
			t.Run("the registering replica answers from its LRU", func(t *testing.T) {
				conn.Client.Del(ctx, persisted.APQKeyPrefix+h)
				if body, ok := a.Get(ctx, h); !ok || body != tenant {
					t.Fatal("LRU miss")
				}
				a.Add(ctx, h, tenant)
			})
			t.Run("another replica finds it in Redis", func(t *testing.T) {
				if body, ok := b.Get(ctx, h); !ok || body != tenant {
					t.Fatal("Redis miss")
				}
			})
			t.Run("use refreshes the Redis TTL", func(t *testing.T) {
				conn.Client.Expire(ctx, persisted.APQKeyPrefix+h, time.Hour)
				now = now.Add(2 * 24 * time.Hour) // past TTL/7 since a last refreshed it
				if _, ok := a.Get(ctx, h); !ok {
					t.Fatal("miss")
				}
				if ttl := conn.Client.TTL(ctx, persisted.APQKeyPrefix+h).Val(); ttl < 6*24*time.Hour {
					t.Fatalf("TTL %s not refreshed", ttl)
				}
			})
			t.Run("without Redis it is one process's", func(t *testing.T) {
				solo := persisted.NewAPQCache(nil, persisted.APQOptions{})
				solo.Add(ctx, h, tenant)
				if _, ok := solo.Get(ctx, h); !ok {
					t.Fatal("miss")
				}
			})
		})
	}
}

// BenchmarkPersistedLookup measures the hot path of a request naming a
// trusted document by hash, warm: the gate's cached lookup.
func BenchmarkPersistedLookup(b *testing.B) {
	s, tid := newStore(b, testenv.SQLite)
	if _, err := s.Push(context.Background(), tid, "pos", fmt.Appendf(nil, `{"orders": %q}`, orders)); err != nil {
		b.Fatal(err)
	}
	v := &viewer.Viewer{TenantID: tid, PersistedOnly: true, DocumentLists: []string{"pos"}}
	pq := map[string]any{"version": json.Number("1"), "sha256Hash": persisted.Hash(orders)}
	ext := map[string]any{"persistedQuery": pq}
	raw := graphql.RawParams{Extensions: ext}
	if err := runGate(s, v, &raw); err != nil || raw.Query != orders {
		b.Fatal(err)
	}
	ctx := graphql.WithOperationContext(viewer.NewContext(context.Background(), v), &graphql.OperationContext{})
	gate := s.Extensions()[0].(graphql.OperationParameterMutator)
	b.ReportAllocs()
	for b.Loop() {
		ext["persistedQuery"] = pq // the gate takes it out, as APQ need not see it
		raw := graphql.RawParams{Extensions: ext}
		if err := gate.MutateOperationParameters(ctx, &raw); err != nil {
			b.Fatal(errors.New(err.Message))
		}
	}
}
