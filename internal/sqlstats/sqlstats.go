// Package sqlstats counts the SQL statements each request (or job) sends,
// by wrapping ent's driver. The HTTP layer logs the count with every request
// and tests assert it, which is how N+1 query patterns are caught before
// they ship. It observes; it never changes a statement.
package sqlstats

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"sync/atomic"

	"entgo.io/ent/dialect"
)

// Counter counts statements.
type Counter struct{ n atomic.Int64 }

// Count returns the number of statements counted so far.
func (c *Counter) Count() int64 { return c.n.Load() }

func (c *Counter) add() {
	if c != nil {
		c.n.Add(1)
	}
}

type ctxKey struct{}

// WithCounter returns ctx carrying a counter, reusing one already there so
// that an outer observer (a test) sees every statement.
func WithCounter(ctx context.Context) (context.Context, *Counter) {
	if c := FromContext(ctx); c != nil {
		return ctx, c
	}
	c := &Counter{}
	return context.WithValue(ctx, ctxKey{}, c), c
}

// FromContext returns the counter in ctx, or nil.
func FromContext(ctx context.Context) *Counter {
	c, _ := ctx.Value(ctxKey{}).(*Counter)
	return c
}

// Driver wraps an ent driver and counts each statement against the counter
// in the statement's context.
type Driver struct {
	dialect.Driver
}

// Wrap returns drv with counting.
func Wrap(drv dialect.Driver) *Driver { return &Driver{Driver: drv} }

// Exec counts and runs a statement.
func (d *Driver) Exec(ctx context.Context, query string, args, v any) error {
	FromContext(ctx).add()
	return d.Driver.Exec(ctx, query, args, v)
}

// Query counts and runs a query.
func (d *Driver) Query(ctx context.Context, query string, args, v any) error {
	FromContext(ctx).add()
	return d.Driver.Query(ctx, query, args, v)
}

// ExecContext serves ent's sql/execquery feature.
func (d *Driver) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ex, ok := d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("sqlstats: driver %T has no ExecContext", d.Driver)
	}
	FromContext(ctx).add()
	return ex.ExecContext(ctx, query, args...)
}

// QueryContext serves ent's sql/execquery feature.
func (d *Driver) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	q, ok := d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("sqlstats: driver %T has no QueryContext", d.Driver)
	}
	FromContext(ctx).add()
	return q.QueryContext(ctx, query, args...)
}

// Tx starts a counted transaction. BEGIN and COMMIT are not counted: they
// cost a round trip but scale with mutations, not with data.
func (d *Driver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx}, nil
}

// BeginTx starts a counted transaction with options.
func (d *Driver) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *stdsql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return nil, fmt.Errorf("sqlstats: driver %T has no BeginTx", d.Driver)
	}
	tx, err := b.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx}, nil
}

// Tx is a counted transaction.
type Tx struct {
	dialect.Tx
}

// Exec counts and runs a statement.
func (t *Tx) Exec(ctx context.Context, query string, args, v any) error {
	FromContext(ctx).add()
	return t.Tx.Exec(ctx, query, args, v)
}

// Query counts and runs a query.
func (t *Tx) Query(ctx context.Context, query string, args, v any) error {
	FromContext(ctx).add()
	return t.Tx.Query(ctx, query, args, v)
}

// ExecContext serves ent's sql/execquery feature inside transactions.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	ex, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("sqlstats: tx %T has no ExecContext", t.Tx)
	}
	FromContext(ctx).add()
	return ex.ExecContext(ctx, query, args...)
}

// QueryContext serves ent's sql/execquery feature inside transactions.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	q, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("sqlstats: tx %T has no QueryContext", t.Tx)
	}
	FromContext(ctx).add()
	return q.QueryContext(ctx, query, args...)
}
