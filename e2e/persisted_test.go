package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent/trusteddocument"
	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/resolvers"
)

// postExt sends a GraphQL request with extensions over POST (a documentId
// travels in extensions, as the POST transport puts it).
func (e *env) postExt(t *testing.T, token, query string, vars, ext map[string]any) *response {
	t.Helper()
	body := map[string]any{"variables": vars, "extensions": ext}
	if query != "" {
		body["query"] = query
	}
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+token)
	return e.serve(t, req)
}

// get sends a GraphQL request over GET.
func (e *env) get(t *testing.T, token string, params url.Values) *response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/graphql?"+params.Encode(), nil)
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+token)
	return e.serve(t, req)
}

func apqExt(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

func apqParam(hash string) string {
	b, _ := json.Marshal(apqExt(hash))
	return string(b)
}

// unique makes a document no test has registered before.
func unique(query string) string {
	return fmt.Sprintf("%s # %d", query, time.Now().UnixNano())
}

func wantCode(t *testing.T, r *response, code string) gqlError {
	t.Helper()
	err := r.only(t)
	if err.code() != code {
		t.Fatalf("want %s, got %s", code, r.Body)
	}
	return err
}

func TestAPQRegisterThenHashOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.token(t, "demo", "admin")
		query := unique("query APQProbe { me { login } }")
		hash := persisted.Hash(query)

		t.Run("an unknown hash is PERSISTED_QUERY_NOT_FOUND, as Apollo clients expect", func(t *testing.T) {
			r := e.postExt(t, admin, "", nil, apqExt(hash))
			err := wantCode(t, r, "PERSISTED_QUERY_NOT_FOUND")
			// A request error: 400 under application/graphql-response+json
			// (200 under application/json); Apollo's link reads the body
			// either way.
			if r.Status != http.StatusBadRequest || err.Message != "PersistedQueryNotFound" {
				t.Fatalf("status %d, message %q", r.Status, err.Message)
			}
		})
		t.Run("a hash that is not the query's is refused and not stored", func(t *testing.T) {
			wrong := persisted.Hash("something else")
			r := e.postExt(t, admin, query, nil, apqExt(wrong))
			if err := wantCode(t, r, "BAD_REQUEST"); err.Message != "provided APQ hash does not match query" {
				t.Fatalf("message %q", err.Message)
			}
			if n := e.rdb.Client.Exists(context.Background(), persisted.APQKeyPrefix+wrong).Val(); n != 0 {
				t.Fatal("a mismatched document was stored")
			}
		})
		t.Run("registered with its query, it runs by hash over POST and GET", func(t *testing.T) {
			e.postExt(t, admin, query, nil, apqExt(hash)).ok(t)
			var got struct{ Me struct{ Login string } }
			e.postExt(t, admin, "", nil, apqExt(hash)).ok(t).decode(t, &got)
			if got.Me.Login != "admin" {
				t.Fatalf("got %+v", got)
			}
			r := e.get(t, admin, url.Values{"extensions": {apqParam(hash)}}).ok(t)
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("a persisted query without @cacheControl must stay no-store, got %q", cc)
			}
		})
		t.Run("Redis keeps it for a week, for every replica", func(t *testing.T) {
			ttl := e.rdb.Client.TTL(context.Background(), persisted.APQKeyPrefix+hash).Val()
			if ttl < 6*24*time.Hour {
				t.Fatalf("TTL %s", ttl)
			}
			other := e.withResolverOptions(func(o *resolvers.Options) {
				o.Documents = persisted.New(persisted.Options{Client: e.st.Client, Redis: e.rdb.Client,
					Schema: graph.NewExecutableSchema(graph.Config{}).Schema()})
			})
			other.postExt(t, admin, "", nil, apqExt(hash)).ok(t)
		})
	})
}

// agentConsole is a manifest of the tests' own, in Apollo's format.
func apolloManifest(ops map[string]string) string {
	type op struct {
		ID   string `json:"id"`
		Name string `json:"name,omitempty"`
		Type string `json:"type"`
		Body string `json:"body"`
	}
	m := struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		Operations []op   `json:"operations"`
	}{Format: "apollo-persisted-query-manifest", Version: 1}
	for name, body := range ops {
		m.Operations = append(m.Operations, op{ID: persisted.Hash(body), Name: name, Type: "query", Body: body})
	}
	b, _ := json.Marshal(m)
	return string(b)
}

const pushMutation = `mutation Push($list: String!, $manifest: String!) {
  pushTrustedDocuments(list: $list, manifest: $manifest) { list added unchanged }
}`

type pushed struct {
	PushTrustedDocuments struct {
		List             string
		Added, Unchanged int
	}
}

func (e *env) listSize(t *testing.T, slug, list string) int {
	t.Helper()
	n, err := e.st.Client.TrustedDocument.Query().Where(trusteddocument.List(list)).Count(viewer.ForTenant(context.Background(), e.tenantID(t, slug)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTrustedDocuments(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.token(t, "demo", "admin")
		agent := e.token(t, "demo", "agent1")
		list := fmt.Sprintf("e2e-%d", time.Now().UnixNano())
		me := "query Me @cacheControl(maxAge: 60) { me { login } }"
		plain := "query Plain { me { login } }"
		types := "query Types @cacheControl(maxAge: 300, scope: PUBLIC) { ticketTypes(first: 5) { totalCount } }"
		mePublic := "query MePublic @cacheControl(maxAge: 60, scope: PUBLIC) { me { login } }"
		failing := "query Failing($id: ID!) @cacheControl(maxAge: 60) { node(id: $id) { id } }"
		manifest := apolloManifest(map[string]string{"Me": me, "Plain": plain, "Types": types, "MePublic": mePublic, "Failing": failing})
		vars := map[string]any{"list": list, "manifest": manifest}

		t.Run("only admins push", func(t *testing.T) {
			wantCode(t, e.post(t, agent, pushMutation, vars), "FORBIDDEN")
		})
		t.Run("an admin pushes a manifest, and again without change", func(t *testing.T) {
			var got pushed
			e.post(t, admin, pushMutation, vars).ok(t).decode(t, &got)
			if p := got.PushTrustedDocuments; p.List != list || p.Added != 5 || p.Unchanged != 0 {
				t.Fatalf("first push: %+v", p)
			}
			e.post(t, admin, pushMutation, vars).ok(t).decode(t, &got)
			if p := got.PushTrustedDocuments; p.Added != 0 || p.Unchanged != 5 {
				t.Fatalf("second push: %+v", p)
			}
		})
		t.Run("a manifest with an invalid document stores nothing and names it", func(t *testing.T) {
			before := e.listSize(t, "demo", list)
			good := "query Fine { tenant { name } }"
			bad := "query Broken { me { login shoeSize } }"
			r := e.post(t, admin, pushMutation, map[string]any{"list": list, "manifest": apolloManifest(map[string]string{"Fine": good, "Broken": bad})})
			err := wantCode(t, r, "BAD_USER_INPUT")
			if err.field() != "manifest" || !strings.Contains(err.Message, persisted.Hash(bad)) || !strings.Contains(err.Message, "me.shoeSize") {
				t.Fatalf("the error must name the document and field: %s", r.Body)
			}
			if after := e.listSize(t, "demo", list); after != before {
				t.Fatalf("%d documents before, %d after", before, after)
			}
		})
		t.Run("an id already on the list with another body is refused", func(t *testing.T) {
			relay := fmt.Sprintf(`{"doc-1": %q}`, "query Fine { tenant { name } }")
			e.post(t, admin, pushMutation, map[string]any{"list": list, "manifest": relay}).ok(t)
			relay = fmt.Sprintf(`{"doc-1": %q}`, "query Fine { tenant { name slug } }")
			err := wantCode(t, e.post(t, admin, pushMutation, map[string]any{"list": list, "manifest": relay}), "CONFLICT")
			if !strings.Contains(err.Message, `"doc-1"`) {
				t.Fatalf("message %q", err.Message)
			}
		})
		t.Run("documents run by documentId over POST and GET", func(t *testing.T) {
			var got struct{ Me struct{ Login string } }
			e.postExt(t, agent, "", nil, map[string]any{"documentId": persisted.Hash(me)}).ok(t).decode(t, &got)
			if got.Me.Login != "agent1" {
				t.Fatalf("got %+v", got)
			}
			e.get(t, agent, url.Values{"documentId": {"doc-1"}}).ok(t)
			e.get(t, agent, url.Values{"documentId": {"sha256:" + persisted.Hash(plain)}}).ok(t)
			wantCode(t, e.get(t, agent, url.Values{"documentId": {"no-such-doc"}}), "PERSISTED_DOCUMENT_NOT_FOUND")
		})
		t.Run("a trusted document's hash runs without registering it", func(t *testing.T) {
			e.postExt(t, agent, "", nil, apqExt(persisted.Hash(plain))).ok(t)
			if n := e.rdb.Client.Exists(context.Background(), persisted.APQKeyPrefix+persisted.Hash(plain)).Val(); n != 0 {
				t.Fatal("a trusted document went to the APQ store")
			}
		})
		t.Run("GET answers of persisted queries are cached as @cacheControl says", func(t *testing.T) {
			cases := []struct {
				name   string
				params url.Values
				want   string
			}{
				{"documentId with maxAge", url.Values{"documentId": {persisted.Hash(me)}}, "private, max-age=60"},
				{"APQ hash with maxAge", url.Values{"extensions": {apqParam(persisted.Hash(me))}}, "private, max-age=60"},
				{"PUBLIC reading no personal data", url.Values{"documentId": {persisted.Hash(types)}}, "public, max-age=300"},
				{"PUBLIC reading Staff is private", url.Values{"documentId": {persisted.Hash(mePublic)}}, "private, max-age=60"},
				{"no @cacheControl", url.Values{"documentId": {persisted.Hash(plain)}}, "no-store"},
				{"the same text, not persisted", url.Values{"query": {me}}, "no-store"},
				{"an answer with errors", url.Values{"documentId": {persisted.Hash(failing)}, "variables": {`{"id":"bogus"}`}}, "no-store"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := e.get(t, agent, c.params)
					if c.name != "an answer with errors" {
						r.ok(t)
					} else if len(r.Errors) == 0 {
						t.Fatalf("want errors: %s", r.Body)
					}
					if cc := r.Header.Get("Cache-Control"); cc != c.want {
						t.Fatalf("Cache-Control %q, want %q", cc, c.want)
					}
					if v := r.Header.Get("Vary"); v != "Authorization, Accept" {
						t.Fatalf("Vary %q", v)
					}
				})
			}
			r := e.get(t, agent, url.Values{"documentId": {persisted.Hash(mePublic)}})
			if !bytes.Contains(r.Body, []byte(`"cacheControl":{"reason"`)) {
				t.Fatalf("a downgraded PUBLIC says so in extensions: %s", r.Body)
			}
			if cc := e.postExt(t, agent, "", nil, map[string]any{"documentId": persisted.Hash(me)}).ok(t).Header.Get("Cache-Control"); cc != "no-store" {
				t.Fatalf("POST answers are never cached, got %q", cc)
			}
		})
		t.Run("another tenant does not see the list", func(t *testing.T) {
			other := e.token(t, "acme", "admin")
			wantCode(t, e.get(t, other, url.Values{"documentId": {persisted.Hash(me)}}), "PERSISTED_DOCUMENT_NOT_FOUND")
		})
		t.Run("deleting the list removes its documents at once", func(t *testing.T) {
			var got struct{ DeleteTrustedDocumentList int }
			e.post(t, admin, `mutation($list: String!) { deleteTrustedDocumentList(list: $list) }`, map[string]any{"list": list}).ok(t).decode(t, &got)
			if got.DeleteTrustedDocumentList != 6 {
				t.Fatalf("deleted %d", got.DeleteTrustedDocumentList)
			}
			wantCode(t, e.get(t, agent, url.Values{"documentId": {persisted.Hash(me)}}), "PERSISTED_DOCUMENT_NOT_FOUND")
		})
	})
}

// persistedOnly returns e with every signed-in viewer limited to lists, as
// a persisted-only API key will be.
func (e *env) persistedOnly(lists ...string) *env {
	c := *e
	base := e.az.Authorize(e.st.Client)
	c.handler = e.handlerWith(e.opts, func(ctx context.Context, v *viewer.Viewer) (context.Context, error) {
		ctx, err := base(ctx, v)
		if err != nil {
			return ctx, err
		}
		limited := *viewer.FromContext(ctx)
		limited.PersistedOnly, limited.DocumentLists = true, lists
		return viewer.NewContext(ctx, &limited), nil
	})
	return &c
}

func TestPersistedOnlyCallers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.token(t, "demo", "admin")
		stamp := time.Now().UnixNano()
		mine, theirs := fmt.Sprintf("pos-%d", stamp), fmt.Sprintf("erp-%d", stamp)
		allowed := "query Allowed { me { login } }"
		elsewhere := "query Elsewhere { tenant { name } }"
		e.post(t, admin, pushMutation, map[string]any{"list": mine, "manifest": apolloManifest(map[string]string{"Allowed": allowed})}).ok(t)
		e.post(t, admin, pushMutation, map[string]any{"list": theirs, "manifest": apolloManifest(map[string]string{"Elsewhere": elsewhere})}).ok(t)
		registered := unique("query Registered { me { id } }")
		e.postExt(t, admin, registered, nil, apqExt(persisted.Hash(registered))).ok(t)

		key := e.persistedOnly(mine)
		tok := e.token(t, "demo", "agent1")
		t.Run("documents on its lists run, by id, hash or exact text", func(t *testing.T) {
			key.postExt(t, tok, "", nil, map[string]any{"documentId": persisted.Hash(allowed)}).ok(t)
			key.get(t, tok, url.Values{"extensions": {apqParam(persisted.Hash(allowed))}}).ok(t)
			key.post(t, tok, allowed, nil).ok(t)
		})
		t.Run("anything else is PERSISTED_QUERY_REQUIRED before it runs", func(t *testing.T) {
			for name, r := range map[string]*response{
				"free text":             key.post(t, tok, "query { me { login } }", nil),
				"an APQ hash":           key.postExt(t, tok, "", nil, apqExt(persisted.Hash(registered))),
				"another list's hash":   key.postExt(t, tok, "", nil, apqExt(persisted.Hash(elsewhere))),
				"a mutation, over POST": key.post(t, tok, `mutation { deleteTrustedDocumentList(list: "x") }`, nil),
			} {
				err := wantCode(t, r, "PERSISTED_QUERY_REQUIRED")
				if !strings.Contains(err.Message, "lists "+mine) {
					t.Fatalf("%s: message %q", name, err.Message)
				}
			}
			wantCode(t, key.postExt(t, tok, "", nil, map[string]any{"documentId": persisted.Hash(elsewhere)}), "PERSISTED_DOCUMENT_NOT_FOUND")
		})
		t.Run("it may not register automatic persisted queries", func(t *testing.T) {
			q := unique("query Sneaky { me { login } }")
			wantCode(t, key.postExt(t, tok, q, nil, apqExt(persisted.Hash(q))), "PERSISTED_QUERY_REQUIRED")
			if n := e.rdb.Client.Exists(context.Background(), persisted.APQKeyPrefix+persisted.Hash(q)).Val(); n != 0 {
				t.Fatal("a persisted-only caller registered a document")
			}
		})
	})
}
