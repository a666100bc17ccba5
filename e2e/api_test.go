package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/internal/auth"
)

func TestSignIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		t.Run("a request without a token is refused before GraphQL runs", func(t *testing.T) {
			r := e.post(t, "", `{ me { login } }`, nil)
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", r.Status, r.Body)
			}
			if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/graphql-response+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if err := r.only(t); err.code() != "UNAUTHENTICATED" || r.Statements != 0 {
				t.Errorf("got %+v after %d statements", err, r.Statements)
			}
		})
		t.Run("a forged token is refused", func(t *testing.T) {
			other, _ := auth.NewIssuer(strings.Repeat("x", 40), "scrm")
			tok, _ := other.Issue(auth.Staff{TenantID: e.tenantID(t, "demo"), StaffID: 1}, time.Hour)
			r := e.post(t, tok, `{ me { login } }`, nil)
			if r.Status != http.StatusUnauthorized || r.only(t).code() != "UNAUTHENTICATED" {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
			}
		})
		t.Run("an expired token is refused", func(t *testing.T) {
			tok, _ := e.iss.Issue(auth.Staff{TenantID: e.tenantID(t, "demo"), StaffID: 1}, -time.Hour)
			r := e.post(t, tok, `{ me { login } }`, nil)
			if r.Status != http.StatusUnauthorized || !strings.Contains(r.only(t).Message, "expired") {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
		})
		t.Run("me is the signed-in staff member", func(t *testing.T) {
			r := e.post(t, e.token(t, "demo", "agent1"), `{ me { login roles departments { name kind } } tenant { slug timezone } }`, nil).ok(t)
			var got struct {
				Me struct {
					Login       string
					Roles       []string
					Departments []struct{ Name, Kind string }
				}
				Tenant struct{ Slug, Timezone string }
			}
			r.decode(t, &got)
			if got.Me.Login != "agent1" || got.Me.Roles[0] != "agent" || got.Me.Departments[0].Kind != "STORE" {
				t.Errorf("me = %+v", got.Me)
			}
			if got.Tenant.Slug != "demo" || got.Tenant.Timezone != "Asia/Shanghai" {
				t.Errorf("tenant = %+v", got.Tenant)
			}
		})
	})
}

func TestGraphQLOverHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "admin")
		get := func(params url.Values, accept string) *response {
			req := httptest.NewRequest(http.MethodGet, "/graphql?"+params.Encode(), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			return e.serve(t, req)
		}
		t.Run("GET runs queries", func(t *testing.T) {
			r := get(url.Values{"query": {`query Q($n: Int) { customers(first: $n) { totalCount } }`}, "variables": {`{"n": 1}`}}, "")
			r.ok(t)
			if r.Header.Get("Content-Type") != "application/graphql-response+json" {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
		})
		t.Run("GET refuses mutations with 405 and changes nothing", func(t *testing.T) {
			before := e.st.Client.Customer.Query().CountX(sys())
			r := get(url.Values{"query": {`mutation { createCustomer(input: {name: "GET"}) { id } }`}}, "")
			if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
				t.Fatalf("status %d allow %q: %s", r.Status, r.Header.Get("Allow"), r.Body)
			}
			if after := e.st.Client.Customer.Query().CountX(sys()); after != before {
				t.Errorf("customers %d -> %d", before, after)
			}
		})
		newPost := func(body, contentType, accept string) *http.Request {
			req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if contentType != "" {
				req.Header.Set("Content-Type", contentType)
			}
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			return req
		}
		postRaw := func(t *testing.T, body, contentType, accept string) *response {
			return e.serve(t, newPost(body, contentType, accept))
		}
		t.Run("a POST a browser may send cross-site never runs a mutation", func(t *testing.T) {
			before := e.st.Client.Customer.Query().CountX(sys())
			mutation := `{"query":"mutation { createCustomer(input: {name: \"CSRF\"}) { id } }"}`
			for _, c := range []struct{ contentType, body string }{
				{"application/x-www-form-urlencoded", "query=" + url.QueryEscape(`mutation { createCustomer(input: {name: "CSRF"}) { id } }`)},
				{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n" + mutation + "\r\n--x--\r\n"},
				{"text/plain;charset=UTF-8", mutation},
				{"", mutation},
			} {
				r := postRaw(t, c.body, c.contentType, "")
				if r.Status != http.StatusUnsupportedMediaType || r.only(t).code() != "UNSUPPORTED_MEDIA_TYPE" {
					t.Errorf("%q: status %d: %s", c.contentType, r.Status, r.Body)
				}
			}
			if after := e.st.Client.Customer.Query().CountX(sys()); after != before {
				t.Errorf("customers %d -> %d", before, after)
			}
		})
		t.Run("legacy clients get request errors with 200 under application/json", func(t *testing.T) {
			r := postRaw(t, `{"query":"{ customers(first: 1) { nope } }"}`, "application/json", "application/json")
			if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" ||
				r.only(t).code() != "GRAPHQL_VALIDATION_FAILED" || r.Data != nil {
				t.Fatalf("status %d %q: %s", r.Status, r.Header.Get("Content-Type"), r.Body)
			}
		})
		t.Run("an Accept allowing neither media type is a 406", func(t *testing.T) {
			if r := postRaw(t, `{"query":"{ tenant { slug } }"}`, "application/json", "text/html"); r.Status != http.StatusNotAcceptable {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
		})
		t.Run("a batch runs each operation, mutations included, and answers an array", func(t *testing.T) {
			before := e.st.Client.Customer.Query().CountX(sys())
			rec := httptest.NewRecorder()
			e.handler.ServeHTTP(rec, newPost(`[{"query":"mutation { createCustomer(input: {name: \"批量\"}) { name } }"},
				{"query":"query Slug { tenant { slug } }"}, {"query":"{ customers(first: 1) { nope } }"}]`, "application/json", ""))
			var results []struct {
				Data   map[string]json.RawMessage `json:"data"`
				Errors []gqlError                 `json:"errors"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &results); rec.Code != http.StatusOK || err != nil || len(results) != 3 {
				t.Fatalf("status %d (%v): %s", rec.Code, err, rec.Body)
			}
			if string(results[0].Data["createCustomer"]) != `{"name":"批量"}` || string(results[1].Data["tenant"]) != `{"slug":"demo"}` {
				t.Errorf("results: %s", rec.Body)
			}
			if results[2].Data != nil || len(results[2].Errors) != 1 || results[2].Errors[0].code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("the invalid operation: %s", rec.Body)
			}
			if after := e.st.Client.Customer.Query().CountX(sys()); after != before+1 {
				t.Errorf("customers %d -> %d", before, after)
			}
		})
		t.Run("a batch over the cap is refused whole", func(t *testing.T) {
			before := e.st.Client.Customer.Query().CountX(sys())
			op := `{"query":"mutation { createCustomer(input: {name: \"cap\"}) { id } }"}`
			r := postRaw(t, "["+strings.TrimSuffix(strings.Repeat(op+",", 11), ",")+"]", "application/json", "")
			if r.Status != http.StatusBadRequest || r.only(t).code() != "BATCH_TOO_LARGE" {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if after := e.st.Client.Customer.Query().CountX(sys()); after != before {
				t.Errorf("customers %d -> %d", before, after)
			}
		})
		t.Run("an empty batch is a 400", func(t *testing.T) {
			if r := postRaw(t, `[]`, "application/json", ""); r.Status != http.StatusBadRequest || r.only(t).code() != "BAD_REQUEST" {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
		})
		t.Run("a syntax error is a 400 request error", func(t *testing.T) {
			r := e.post(t, tok, `{ customers(first: 1) { `, nil)
			// A request error has no data entry at all (not "data": null).
			if r.Status != http.StatusBadRequest || r.only(t).code() != "GRAPHQL_PARSE_FAILED" || r.Data != nil {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
		})
		t.Run("an unknown field is a 400 validation error", func(t *testing.T) {
			r := e.post(t, tok, `{ customers(first: 1) { nope } }`, nil)
			if r.Status != http.StatusBadRequest || r.only(t).code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
		})
		t.Run("legacy clients asking for application/json get it", func(t *testing.T) {
			r := get(url.Values{"query": {`{ tenant { slug } }`}}, "application/json")
			r.ok(t)
			if r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
		})
		t.Run("health and readiness", func(t *testing.T) {
			for _, path := range []string{"/healthz", "/readyz"} {
				r := e.serve(t, httptest.NewRequest(http.MethodGet, path, nil))
				if r.Status != http.StatusOK {
					t.Errorf("%s: %d %s", path, r.Status, r.Body)
				}
			}
		})
		t.Run("every response carries a request id", func(t *testing.T) {
			r := e.post(t, tok, `{ tenant { slug } }`, nil)
			if len(r.Header.Get("X-Request-ID")) < 8 {
				t.Errorf("X-Request-ID = %q", r.Header.Get("X-Request-ID"))
			}
		})
	})
}

func TestConnections(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "admin")
		tid := e.tenantID(t, "demo")
		t.Run("pages walk the whole list exactly once", func(t *testing.T) {
			seen := map[string]bool{}
			var after any
			for page := 0; ; page++ {
				r := e.post(t, tok, `query($after: Cursor) {
					customers(first: 37, after: $after, orderBy: {field: NAME}) {
						totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }`,
					map[string]any{"after": after}).ok(t)
				var got struct {
					Customers struct {
						TotalCount int
						PageInfo   struct {
							HasNextPage bool
							EndCursor   string
						}
						Edges []struct{ Node struct{ ID string } }
					}
				}
				r.decode(t, &got)
				for _, edge := range got.Customers.Edges {
					if seen[edge.Node.ID] {
						t.Fatalf("customer %s on two pages", edge.Node.ID)
					}
					seen[edge.Node.ID] = true
				}
				if !got.Customers.PageInfo.HasNextPage {
					if len(seen) != got.Customers.TotalCount {
						t.Fatalf("walked %d customers, totalCount %d", len(seen), got.Customers.TotalCount)
					}
					break
				}
				after = got.Customers.PageInfo.EndCursor
				if page > 20 {
					t.Fatal("pagination does not end")
				}
			}
			want := e.st.Client.Customer.Query().Where(customer.TenantID(tid)).CountX(sys())
			if len(seen) != want {
				t.Errorf("walked %d customers, tenant has %d", len(seen), want)
			}
		})
		t.Run("where filters and orderBy sort", func(t *testing.T) {
			r := e.post(t, tok, `{ customers(first: 100, where: {city: "上海市", hasOwner: true}, orderBy: {field: TOTAL_SPEND, direction: DESC}) {
				totalCount edges { node { city totalSpend owner { login } } } } }`, nil).ok(t)
			var got struct {
				Customers struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							City       string
							TotalSpend int
							Owner      struct{ Login string }
						}
					}
				}
			}
			r.decode(t, &got)
			want := e.st.Client.Customer.Query().Where(customer.TenantID(tid), customer.City("上海市"), customer.HasOwner()).CountX(sys())
			if got.Customers.TotalCount != want || want == 0 {
				t.Fatalf("totalCount %d, want %d", got.Customers.TotalCount, want)
			}
			for i, edge := range got.Customers.Edges {
				if edge.Node.City != "上海市" || edge.Node.Owner.Login == "" {
					t.Errorf("edge %d: %+v", i, edge.Node)
				}
				if i > 0 && edge.Node.TotalSpend > got.Customers.Edges[i-1].Node.TotalSpend {
					t.Errorf("not sorted by totalSpend at %d", i)
				}
			}
		})
		t.Run("node and nodes resolve every type", func(t *testing.T) {
			// The seed opens its tickets around the workflow engine, so
			// they have no history and nothing waits for approval: a
			// refund agent1 resolves at once has both.
			agent1 := e.token(t, "demo", "agent1")
			var opened struct{ CreateTicket struct{ ID string } }
			e.post(t, agent1, `mutation($type: ID!) { createTicket(input: {title: "申请退款：重复扣款", ticketTypeID: $type}) { id } }`,
				map[string]any{"type": typeGID(t, e, "REFUND")}).ok(t).decode(t, &opened)
			refund := opened.CreateTicket.ID
			e.post(t, agent1, `mutation($id: ID!) { transitionTicket(id: $id, to: RESOLVED, comment: "重复扣款，同意退款",
				customFields: {refund_amount: 12800}) { status } }`, map[string]any{"id": refund}).ok(t)

			// Two requests: an operation may have at most ten root fields.
			r := e.post(t, tok, `query($refund: ID!) {
				customers(first: 1) { edges { node { id identities(first: 1) { edges { node { id } } } orders(first: 1) { edges { node { id items { id } } } } } } }
				tickets(first: 1) { edges { node { id comments(first: 1) { edges { node { id } } } } } }
				refund: node(id: $refund) { id ... on Ticket { changes(first: 1) { edges { node { id } } } approvals { id } } }
				departments(first: 1) { edges { node { id } } } staff(first: 1) { edges { node { id } } }
				tags(first: 1) { edges { node { id } } } tagGroups(first: 1) { edges { node { id } } }
				forms(first: 1, where: {hasSubmissions: true}) { edges { node { id submissions(first: 1) { edges { node { id } } } } } }
				campaigns(first: 1) { edges { node { id } } } tenant { id } }`, map[string]any{"refund": refund}).ok(t)
			r2 := e.post(t, tok, `{
				followUps(first: 1) { edges { node { id } } } connectorAccounts(first: 1) { edges { node { id } } }
				channels(first: 1) { edges { node { id } } }
				ticketTypes(first: 1) { edges { node { id surveyForm { id } } } }
				slaPolicies(first: 1) { edges { node { id } } } businessCalendars(first: 1) { edges { node { id } } }
				auditLog(first: 1) { edges { node { id } } }
				apiKeys(first: 1) { edges { node { id } } } trustedDocuments(first: 1) { edges { node { id } } }
				webhookEndpoints(first: 1) { edges { node { id deliveries(first: 1) { edges { node { id } } } } } } }`, nil).ok(t)
			ids := append(collectIDs(r.Data), collectIDs(r2.Data)...)
			if len(ids) < len(ent.NodeTables)-len(notInAPI) {
				t.Fatalf("found only %d ids: %s", len(ids), r.Data)
			}
			nr := e.post(t, tok, `query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }`, map[string]any{"ids": ids}).ok(t)
			var got struct {
				Nodes []*struct {
					ID       string
					Typename string `json:"__typename"`
				}
			}
			nr.decode(t, &got)
			types := map[string]bool{}
			for i, n := range got.Nodes {
				if n == nil || n.ID != ids[i] {
					t.Fatalf("nodes[%d] = %+v, want %s", i, n, ids[i])
				}
			}
			for _, id := range ids {
				one := e.post(t, tok, `query($id: ID!) { node(id: $id) { id __typename } }`, map[string]any{"id": id}).ok(t)
				var n struct {
					Node struct {
						ID       string
						Typename string `json:"__typename"`
					}
				}
				one.decode(t, &n)
				if n.Node.ID != id {
					t.Errorf("node(%s) = %+v", id, n.Node)
				}
				types[n.Node.Typename] = true
			}
			if len(types) != len(ent.NodeTables)-len(notInAPI) {
				t.Errorf("node resolved only %d types: %v", len(types), types)
			}
		})
	})
}
