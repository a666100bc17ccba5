package querylimit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// PageSize is a gqlgen extension enforcing only the page size cap on every
// connection field of an operation, nested ones included. Limits enforces
// it too (Config.MaxPageSize), with the same errors; use one or the other.
type PageSize struct {
	Max int
}

var (
	_ graphql.HandlerExtension        = PageSize{}
	_ graphql.OperationContextMutator = PageSize{}
)

// ExtensionName implements graphql.HandlerExtension.
func (PageSize) ExtensionName() string { return "PageSize" }

// Validate implements graphql.HandlerExtension.
func (p PageSize) Validate(graphql.ExecutableSchema) error {
	if p.Max < 1 {
		return fmt.Errorf("querylimit: page size cap must be positive, got %d", p.Max)
	}
	return nil
}

// MutateOperationContext checks the operation before it runs.
func (p PageSize) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	return check(Config{
		MaxPageSize: p.Max,
		MaxDepth:    -1, MaxCost: -1, MaxNodes: -1, MaxAliases: -1, MaxRootFields: -1,
	}.withDefaults(), rc.Operation, rc.Variables)
}

// pageSize checks first/last of a connection field and returns how many
// nodes it asks for: the larger of the two, or 1 when it selects only
// totalCount or pageInfo.
func (w *walker) pageSize(f *ast.Field) (int64, *gqlerror.Error) {
	limit := w.cfg.MaxPageSize
	first, hasFirst, err := w.intArg(f, "first")
	if err != nil {
		return 0, err
	}
	last, hasLast, err := w.intArg(f, "last")
	if err != nil {
		return 0, err
	}
	if !hasFirst && !hasLast {
		if limit > 0 && selectsNodes(f.SelectionSet) {
			return 0, badInput(f, "first", fmt.Sprintf("%s: say how many to fetch with first or last (at most %d)", f.Alias, limit))
		}
		return 1, nil // only totalCount or pageInfo: nothing is fetched
	}
	for _, a := range []struct {
		name  string
		value int64
		set   bool
	}{{"first", first, hasFirst}, {"last", last, hasLast}} {
		if limit > 0 && a.set && (a.value < 1 || a.value > int64(limit)) {
			return 0, badInput(f, a.name, fmt.Sprintf("%s: %s must be between 1 and %d, got %d", f.Alias, a.name, limit, a.value))
		}
	}
	return max(first, last, 1), nil
}

// selectsNodes reports whether a connection selection asks for nodes
// rather than only totalCount or pageInfo.
func selectsNodes(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "edges" || sel.Name == "nodes" {
				return true
			}
		case *ast.InlineFragment:
			if selectsNodes(sel.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if sel.Definition != nil && selectsNodes(sel.Definition.SelectionSet) {
				return true
			}
		}
	}
	return false
}

func (w *walker) intArg(f *ast.Field, name string) (int64, bool, *gqlerror.Error) {
	arg := f.Arguments.ForName(name)
	if arg == nil {
		return 0, false, nil
	}
	v, err := arg.Value.Value(w.vars)
	if err != nil {
		return 0, false, badInput(f, name, err.Error())
	}
	if v == nil {
		return 0, false, nil
	}
	n, ok := toInt(v)
	if !ok {
		return 0, false, badInput(f, name, fmt.Sprintf("%s: %s must be an integer", f.Alias, name))
	}
	return n, true, nil
}

// toInt reads an integer argument however it was decoded: from a literal,
// from JSON variables (json.Number) or already coerced.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
	}
	return 0, false
}

func badInput(f *ast.Field, arg, message string) *gqlerror.Error {
	err := &gqlerror.Error{
		Message:    message,
		Extensions: map[string]any{"code": CodeBadUserInput, "field": arg},
	}
	if f.Position != nil {
		err.Locations = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	return err
}
