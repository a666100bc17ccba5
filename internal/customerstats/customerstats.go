// Package customerstats keeps each customer's order totals (total spend,
// order count, last order time) in step with their orders. The Order hook
// in ent/schema calls Recompute in the same transaction as every order
// write; RecomputeTenant repairs a whole tenant after bulk loads.
//
// Totals are recomputed from the orders rather than adjusted by deltas: an
// order re-delivered, re-assigned to another customer or moved back and
// forth between statuses can then never drift the totals.
package customerstats

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// SpendStatuses are the order statuses whose paid amount (less refunds)
// counts towards a customer's total spend.
var SpendStatuses = []string{"PAID", "SHIPPED", "COMPLETED", "REFUNDING", "REFUNDED"}

// CountStatuses are the order statuses counted in a customer's order count:
// paid and not fully refunded.
var CountStatuses = []string{"PAID", "SHIPPED", "COMPLETED", "REFUNDING"}

// Execer runs a statement; ent clients, transactions and mutations are all
// Execers (ent's sql/execquery feature).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// The same statement serves MySQL and SQLite: correlated subqueries over the
// (customer_id, placed_at) index of orders.
var setTotals = fmt.Sprintf(`UPDATE customers SET
	total_spend = COALESCE((SELECT SUM(o.paid_amount - o.refunded_amount) FROM orders o
		WHERE o.customer_id = customers.id AND o.status IN (%s)), 0),
	order_count = (SELECT COUNT(*) FROM orders o
		WHERE o.customer_id = customers.id AND o.status IN (%s)),
	last_order_at = (SELECT MAX(o.placed_at) FROM orders o WHERE o.customer_id = customers.id)
WHERE `, quoteList(SpendStatuses), quoteList(CountStatuses))

// Recompute sets the totals of the given customers from their orders.
func Recompute(ctx context.Context, db Execer, customerIDs []int) error {
	ids := unique(customerIDs)
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	query := setTotals + "id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("recompute totals of %d customers: %w", len(ids), err)
	}
	return nil
}

// RecomputeTenant sets the totals of every customer of a tenant.
func RecomputeTenant(ctx context.Context, db Execer, tenantID int) error {
	if _, err := db.ExecContext(ctx, setTotals+"tenant_id = ?", tenantID); err != nil {
		return fmt.Errorf("recompute customer totals of tenant %d: %w", tenantID, err)
	}
	return nil
}

func unique(ids []int) []int {
	seen := make(map[int]bool, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if id != 0 && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func quoteList(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "'" + v + "'"
	}
	return strings.Join(quoted, ", ")
}

type ctxKey struct{}

// Deferred returns ctx telling the Order hook not to recompute totals: the
// caller is loading orders in bulk and calls RecomputeTenant at the end.
func Deferred(ctx context.Context) context.Context { return context.WithValue(ctx, ctxKey{}, true) }

// IsDeferred reports whether ctx carries Deferred.
func IsDeferred(ctx context.Context) bool { v, _ := ctx.Value(ctxKey{}).(bool); return v }
