package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent/apikey"
	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/persisted"
)

const createKey = `mutation($in: CreateAPIKeyInput!) {
  createAPIKey(input: $in) { secret apiKey { id name prefix scopes persistedOnly ipAllowlist rateLimit expiresAt revokedAt } }
}`

type createdKey struct {
	CreateAPIKey struct {
		Secret string `json:"secret"`
		APIKey struct {
			ID        string   `json:"id"`
			Prefix    string   `json:"prefix"`
			Scopes    []string `json:"scopes"`
			RevokedAt *string  `json:"revokedAt"`
		} `json:"apiKey"`
	} `json:"createAPIKey"`
}

func (e *env) createKey(t *testing.T, admin string, in map[string]any) createdKey {
	t.Helper()
	var out createdKey
	e.post(t, admin, createKey, map[string]any{"in": in}).ok(t).decode(t, &out)
	return out
}

func TestAPIKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.token(t, "demo", "admin")
		ordersKey := e.createKey(t, admin, map[string]any{
			"name": "ERP 订单同步", "scopes": []string{"Query.orders", "Order", "OrderItem", "Order.customer"},
		})
		secret := ordersKey.CreateAPIKey.Secret
		prefix := ordersKey.CreateAPIKey.APIKey.Prefix

		t.Run("the key is shown once and stored hashed", func(t *testing.T) {
			if !strings.HasPrefix(secret, prefix+"_") || !strings.HasPrefix(prefix, "scrm_pk_") || len(prefix) != len("scrm_pk_")+8 {
				t.Fatalf("key %q, prefix %q", secret, prefix)
			}
			row, err := e.st.Client.APIKey.Query().Where(apikey.Prefix(prefix)).Only(sys())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(row.SecretHash, secret[len(prefix)+1:]) || len(row.SecretHash) != 64 {
				t.Fatalf("stored %q", row.SecretHash)
			}
			res := e.post(t, admin, `{ apiKeys(first: 50) { edges { node { prefix name scopes } } } }`, nil).ok(t)
			if !strings.Contains(string(res.Data), prefix) || strings.Contains(string(res.Body), secret) {
				t.Fatalf("listing: %s", res.Body)
			}
		})

		t.Run("a key reads what its scopes name and nothing else", func(t *testing.T) {
			res := e.post(t, secret, `{ orders(first: 3) { totalCount edges { node { id status totalAmount items { id } } } } }`, nil).ok(t)
			var data struct {
				Orders struct {
					TotalCount int `json:"totalCount"`
				} `json:"orders"`
			}
			res.decode(t, &data)
			if data.Orders.TotalCount == 0 {
				t.Fatalf("a partner key sees the tenant's orders: %s", res.Body)
			}
			if err := e.post(t, secret, `{ customers(first: 3) { edges { node { id } } } }`, nil).only(t); err.code() != "FORBIDDEN" {
				t.Fatalf("customers without the scope: %+v", err)
			}
			// Order.customer is in scope, Customer is not: the edge
			// resolves, its fields are refused.
			res = e.post(t, secret, `{ orders(first: 1) { edges { node { id customer { name } } } } }`, nil)
			if len(res.Errors) == 0 || res.Errors[0].code() != "FORBIDDEN" || !strings.Contains(res.Errors[0].Message, "Customer.name") {
				t.Fatalf("Customer.name without the scope: %s", res.Body)
			}
			if err := e.post(t, secret, `mutation { createTicket(input: {title: "x"}) { id } }`, nil).only(t); err.code() != "FORBIDDEN" {
				t.Fatalf("mutation without the scope: %+v", err)
			}
			if err := e.post(t, secret, `{ apiKeys(first: 1) { totalCount } }`, nil).only(t); err.code() != "FORBIDDEN" {
				t.Fatalf("a key managing keys: %+v", err)
			}
		})

		t.Run("a key with a mutation scope writes", func(t *testing.T) {
			k := e.createKey(t, admin, map[string]any{"name": "POS", "scopes": []string{"Mutation.createTicket", "Ticket.id", "Ticket.title"}})
			res := e.post(t, k.CreateAPIKey.Secret, `mutation { createTicket(input: {title: "门店退货 POS"}) { id title } }`, nil).ok(t)
			if !strings.Contains(string(res.Data), "门店退货 POS") {
				t.Fatalf("%s", res.Body)
			}
		})

		t.Run("bad input is refused naming the field and stores nothing", func(t *testing.T) {
			before, _ := e.st.Client.APIKey.Query().Count(sys())
			past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			for _, c := range []struct {
				in    map[string]any
				field string
			}{
				{map[string]any{"name": "x", "scopes": []string{}}, "scopes"},
				{map[string]any{"name": "x", "scopes": []string{"Nope"}}, "scopes.0"},
				{map[string]any{"name": "x", "scopes": []string{"Query.orders", "*"}}, "scopes.1"},
				{map[string]any{"name": "x", "scopes": []string{"Query"}}, "scopes.0"},
				{map[string]any{"name": "x", "scopes": []string{"Order.nope"}}, "scopes.0"},
				{map[string]any{"name": " ", "scopes": []string{"Order"}}, "name"},
				{map[string]any{"name": "x", "scopes": []string{"Order"}, "ipAllowlist": []string{"10.0.0.0/33"}}, "ipAllowlist.0"},
				{map[string]any{"name": "x", "scopes": []string{"Order"}, "expiresAt": past}, "expiresAt"},
				{map[string]any{"name": "x", "scopes": []string{"Order"}, "rateLimit": -1}, "rateLimit"},
				{map[string]any{"name": "x", "scopes": []string{"Order"}, "persistedOnly": true}, "documentLists"},
				{map[string]any{"name": "x", "scopes": []string{"Order"}, "documentLists": []string{"bad list"}}, "documentLists.0"},
			} {
				err := e.post(t, admin, createKey, map[string]any{"in": c.in}).only(t)
				if err.code() != "BAD_USER_INPUT" || err.field() != c.field {
					t.Errorf("%v: got %s on %q (%s), want BAD_USER_INPUT on %q", c.in, err.code(), err.field(), err.Message, c.field)
				}
			}
			if after, _ := e.st.Client.APIKey.Query().Count(sys()); after != before {
				t.Fatalf("keys %d → %d", before, after)
			}
			if err := e.post(t, e.token(t, "demo", "sup1"), createKey, map[string]any{"in": map[string]any{"name": "x", "scopes": []string{"Order"}}}).only(t); err.code() != "FORBIDDEN" {
				t.Fatalf("a supervisor making keys: %+v", err)
			}
		})

		t.Run("an IP allowlist is checked against the client behind trusted proxies", func(t *testing.T) {
			k := e.createKey(t, admin, map[string]any{"name": "warehouse", "scopes": []string{"Query.orders", "Order"}, "ipAllowlist": []string{"203.0.113.0/24"}})
			res := e.post(t, k.CreateAPIKey.Secret, `{ orders(first: 1) { totalCount } }`, nil)
			if res.Status != http.StatusUnauthorized || res.only(t).code() != "UNAUTHENTICATED" || !strings.Contains(res.Errors[0].Message, "may not be used from") {
				t.Fatalf("from outside the allowlist: %d %s", res.Status, res.Body)
			}
			behind := e.withHTTPOptions(func(o *httpapi.Options) {
				o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
			})
			req := func(xff string) *http.Request {
				r := postRequest(k.CreateAPIKey.Secret, `{ orders(first: 1) { totalCount } }`)
				r.RemoteAddr = "192.0.2.10:4000"
				r.Header.Set("X-Forwarded-For", xff)
				return r
			}
			behind.serve(t, req("203.0.113.7")).ok(t)
			// A client cannot talk its way in: only the hop the proxy
			// appended counts.
			if res := behind.serve(t, req("203.0.113.7, 198.51.100.1")); res.Status != http.StatusUnauthorized {
				t.Fatalf("spoofed X-Forwarded-For: %d %s", res.Status, res.Body)
			}
			// Without trusted proxies the header is ignored.
			if res := e.serve(t, req("203.0.113.7")); res.Status != http.StatusUnauthorized {
				t.Fatalf("X-Forwarded-For from an untrusted peer: %d %s", res.Status, res.Body)
			}
		})

		t.Run("a persisted-only key runs only its trusted documents", func(t *testing.T) {
			list := fmt.Sprintf("erp-%d", time.Now().UnixNano())
			doc := "query KeyOrders { orders(first: 2) { totalCount } }"
			e.post(t, admin, pushMutation, map[string]any{"list": list, "manifest": apolloManifest(map[string]string{"KeyOrders": doc})}).ok(t)
			k := e.createKey(t, admin, map[string]any{"name": "POS persisted", "scopes": []string{"Query.orders", "Order"},
				"persistedOnly": true, "documentLists": []string{list}})
			key := k.CreateAPIKey.Secret
			e.postExt(t, key, "", nil, map[string]any{"documentId": persisted.Hash(doc)}).ok(t)
			e.post(t, key, doc, nil).ok(t) // the exact text of a trusted document
			wantCode(t, e.post(t, key, `{ orders(first: 2) { totalCount } }`, nil), "PERSISTED_QUERY_REQUIRED")
			// The same query from a key without the restriction runs.
			e.post(t, secret, `{ orders(first: 2) { totalCount } }`, nil).ok(t)
		})

		t.Run("revoked and expired keys are refused", func(t *testing.T) {
			k := e.createKey(t, admin, map[string]any{"name": "agency", "scopes": []string{"Query.orders", "Order"}})
			e.post(t, k.CreateAPIKey.Secret, `{ orders(first: 1) { totalCount } }`, nil).ok(t)
			e.post(t, admin, `mutation($id: ID!) { revokeAPIKey(id: $id) { revokedAt } }`, map[string]any{"id": k.CreateAPIKey.APIKey.ID}).ok(t)
			res := e.post(t, k.CreateAPIKey.Secret, `{ orders(first: 1) { totalCount } }`, nil)
			if res.Status != http.StatusUnauthorized || !strings.Contains(res.only(t).Message, "revoked") {
				t.Fatalf("revoked key: %d %s", res.Status, res.Body)
			}

			k = e.createKey(t, admin, map[string]any{"name": "old", "scopes": []string{"Query.orders", "Order"}})
			if err := e.st.Client.APIKey.Update().Where(apikey.Prefix(k.CreateAPIKey.APIKey.Prefix)).
				SetExpiresAt(time.Now().Add(-time.Minute)).Exec(sys()); err != nil {
				t.Fatal(err)
			}
			res = e.post(t, k.CreateAPIKey.Secret, `{ orders(first: 1) { totalCount } }`, nil)
			if res.Status != http.StatusUnauthorized || !strings.Contains(res.only(t).Message, "expired") {
				t.Fatalf("expired key: %d %s", res.Status, res.Body)
			}
			// A made-up key with a real prefix, and garbage.
			for _, bad := range []string{k.CreateAPIKey.Secret[:len(k.CreateAPIKey.Secret)-2] + "xx", "scrm_pk_nothing"} {
				if res := e.post(t, bad, `{ orders(first: 1) { totalCount } }`, nil); res.Status != http.StatusUnauthorized {
					t.Fatalf("%q: %d %s", bad, res.Status, res.Body)
				}
			}
		})
	})
}

// postRequest is a GraphQL POST as a client sends it.
func postRequest(token, query string) *http.Request {
	body, _ := json.Marshal(map[string]any{"query": query})
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/graphql-response+json")
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestIntrospectionForOutsiders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.token(t, "demo", "admin")
		k := e.createKey(t, admin, map[string]any{"name": "introspecting", "scopes": []string{"Query.orders", "Order"}})
		prod := e.withHTTPOptions(func(o *httpapi.Options) { o.Production = true })
		const schemaQuery = `{ __schema { queryType { name } } }`
		prod.post(t, admin, schemaQuery, nil).ok(t) // staff keep GraphiQL's explorer
		if r := prod.post(t, k.CreateAPIKey.Secret, schemaQuery, nil); len(r.Errors) == 0 || strings.Contains(string(r.Data), "Query") {
			t.Fatalf("a partner introspected in production: %s", r.Body)
		}
		// No hints at field names either.
		r := prod.post(t, k.CreateAPIKey.Secret, `{ orders(first: 1) { edges { node { statu } } } }`, nil)
		if len(r.Errors) == 0 || strings.Contains(string(r.Body), "Did you mean") {
			t.Fatalf("a partner got suggestions: %s", r.Body)
		}
		if r := prod.post(t, admin, `{ orders(first: 1) { edges { node { statu } } } }`, nil); !strings.Contains(string(r.Body), "Did you mean") {
			t.Fatalf("staff lost suggestions: %s", r.Body)
		}
		// Outside production, partners may introspect (development).
		e.post(t, k.CreateAPIKey.Secret, schemaQuery, nil).ok(t)
	})
}
