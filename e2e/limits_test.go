package e2e_test

import (
	"net/http"
	"testing"
)

// AgentConsoleQuery is the page an agent's console opens with: customers
// with their tags, last five orders and open tickets.
const AgentConsoleQuery = `query AgentConsole($n: Int!) {
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

func TestNoNPlusOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "sup1")
		statements := map[int]int64{}
		for _, n := range []int{5, 50} {
			r := e.post(t, tok, AgentConsoleQuery, map[string]any{"n": n}).ok(t)
			var got struct {
				Customers struct {
					Edges []struct {
						Node struct {
							Tags   []struct{ ID string }
							Orders struct {
								TotalCount int
								Edges      []struct{ Node struct{ ID string } }
							}
						}
					}
				}
			}
			r.decode(t, &got)
			if len(got.Customers.Edges) != n {
				t.Fatalf("first %d returned %d customers", n, len(got.Customers.Edges))
			}
			withOrders := 0
			for _, edge := range got.Customers.Edges {
				if len(edge.Node.Orders.Edges) > 5 {
					t.Fatalf("a customer shows %d orders, want at most 5", len(edge.Node.Orders.Edges))
				}
				if edge.Node.Orders.TotalCount > 0 {
					withOrders++
				}
			}
			if withOrders == 0 {
				t.Fatal("no customer on the page has orders; the test would prove nothing")
			}
			statements[n] = r.Statements
		}
		if statements[5] != statements[50] || statements[5] == 0 {
			t.Fatalf("statements: %d for 5 customers, %d for 50: the query cost grows with the page", statements[5], statements[50])
		}
		t.Logf("agent console page costs %d SQL statements", statements[50])
	})
}

func TestPageSizeLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "admin")
		// Signing in reads the viewer's roles; nothing else may run.
		signIn := e.post(t, tok, `{ __typename }`, nil).ok(t).Statements
		for _, tc := range []struct {
			name, query, field string
		}{
			{"more than the cap", `{ customers(first: 101) { edges { node { id } } } }`, "first"},
			{"more than the cap from the end", `{ orders(last: 1000) { edges { node { id } } } }`, "last"},
			{"a nested connection above the cap", `{ customers(first: 1) { edges { node { orders(first: 500) { edges { node { id } } } } } } }`, "first"},
			{"a cap hidden in a fragment", `{ customers(first: 1) { ...F } } fragment F on CustomerConnection { edges { node { tickets(first: 101) { totalCount } } } }`, "first"},
			{"nodes without a page size", `{ tickets { edges { node { id } } } }`, "first"},
			{"zero", `{ tags(first: 0) { edges { node { id } } } }`, "first"},
		} {
			t.Run("refuses "+tc.name+" before running it", func(t *testing.T) {
				r := e.post(t, tok, tc.query, nil)
				if r.Status != http.StatusBadRequest || r.Statements != signIn {
					t.Fatalf("status %d after %d statements: %s", r.Status, r.Statements, r.Body)
				}
				if err := r.only(t); err.code() != "BAD_USER_INPUT" || err.field() != tc.field {
					t.Errorf("got %+v", err)
				}
			})
		}
		t.Run("a variable above the cap is refused too", func(t *testing.T) {
			r := e.post(t, tok, `query($n: Int) { customers(first: $n) { edges { node { id } } } }`, map[string]any{"n": 1000})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
		})
		t.Run("counting needs no page size", func(t *testing.T) {
			e.post(t, tok, `{ customers { totalCount } orders { totalCount pageInfo { hasNextPage } } }`, nil).ok(t)
		})
		t.Run("the cap itself is allowed", func(t *testing.T) {
			e.post(t, tok, `{ orders(first: 100) { edges { node { id } } } }`, nil).ok(t)
		})
	})
}
