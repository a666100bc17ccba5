// Package querylimit refuses GraphQL operations that would ask for more
// than the API serves, before any resolver runs: connections must say how
// many nodes they want (first or last) and may not ask for more than the
// page size cap. Later limits (depth, cost, node totals) belong here too.
package querylimit

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodeBadUserInput is the extensions.code of a refused operation. Refusals
// happen before execution, so they are request errors: HTTP 400 under
// application/graphql-response+json.
const CodeBadUserInput = "BAD_USER_INPUT"

func init() { errcode.RegisterErrorType(CodeBadUserInput, errcode.KindProtocol) }

// PageSize is a gqlgen extension enforcing the page size cap on every
// connection field of an operation, nested ones included.
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
	w := walker{max: p.Max, vars: rc.Variables, seen: map[string]bool{}}
	return w.selections(rc.Operation.SelectionSet)
}

type walker struct {
	max  int
	vars map[string]any
	seen map[string]bool // fragments already checked
}

func (w *walker) selections(set ast.SelectionSet) *gqlerror.Error {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if err := w.field(sel); err != nil {
				return err
			}
			if err := w.selections(sel.SelectionSet); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := w.selections(sel.SelectionSet); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if sel.Definition == nil || w.seen[sel.Name] {
				continue
			}
			w.seen[sel.Name] = true
			if err := w.selections(sel.Definition.SelectionSet); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) field(f *ast.Field) *gqlerror.Error {
	if f.Definition == nil || !strings.HasSuffix(f.Definition.Type.Name(), "Connection") ||
		f.Definition.Arguments.ForName("first") == nil {
		return nil
	}
	first, hasFirst, err := w.intArg(f, "first")
	if err != nil {
		return err
	}
	last, hasLast, err := w.intArg(f, "last")
	if err != nil {
		return err
	}
	if !hasFirst && !hasLast {
		if selectsNodes(f.SelectionSet) {
			return w.refuse(f, "first", fmt.Sprintf("%s: say how many to fetch with first or last (at most %d)", f.Alias, w.max))
		}
		return nil // only totalCount or pageInfo: nothing is fetched
	}
	for _, a := range []struct {
		name  string
		value int64
		set   bool
	}{{"first", first, hasFirst}, {"last", last, hasLast}} {
		if a.set && (a.value < 1 || a.value > int64(w.max)) {
			return w.refuse(f, a.name, fmt.Sprintf("%s: %s must be between 1 and %d, got %d", f.Alias, a.name, w.max, a.value))
		}
	}
	return nil
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
		return 0, false, w.refuse(f, name, err.Error())
	}
	switch n := v.(type) {
	case nil:
		return 0, false, nil
	case int:
		return int64(n), true, nil
	case int64:
		return n, true, nil
	case float64:
		if n != math.Trunc(n) {
			break
		}
		return int64(n), true, nil
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true, nil
		}
	}
	return 0, false, w.refuse(f, name, fmt.Sprintf("%s: %s must be an integer", f.Alias, name))
}

func (w *walker) refuse(f *ast.Field, arg, message string) *gqlerror.Error {
	err := &gqlerror.Error{
		Message:    message,
		Extensions: map[string]any{"code": CodeBadUserInput, "field": arg},
	}
	if f.Position != nil {
		err.Locations = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	return err
}
