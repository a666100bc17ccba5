package querylimit

import (
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// repeatsRuleName marks the repeated fields error, so that Limits can give
// it its code after gqlgen has coded it as a validation failure.
const repeatsRuleName = "QueryLimitFieldRepeats"

// validationRules returns gqlparser's default rules with
// OverlappingFieldsCanBeMerged behind the repeated fields guard. That rule
// compares every pair of fields sharing a response name, so
// { me { id id id … } } costs quadratic time: a thousand repeats take
// hundreds of milliseconds, well within any token limit a real query
// needs. The guard counts the repeats in linear time and runs the rule
// only on documents within MaxFieldRepeats. A fresh set each call: gqlgen
// edits the set it is given.
func (c Config) validationRules() *rules.Rules {
	r := rules.NewDefaultRules()
	if c.MaxFieldRepeats > 0 {
		r.ReplaceRule(rules.OverlappingFieldsCanBeMergedRule.Name, guardOverlaps(c.MaxFieldRepeats))
	}
	return r
}

func guardOverlaps(limit int) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		done := false
		// The first operation's observer fires after the walker has
		// resolved that operation; the guard needs only the syntax, and the
		// rule's own walk below resolves the whole document again.
		observers.OnOperation(func(w *core.Walker, _ *ast.OperationDefinition) {
			if done {
				return
			}
			done = true
			if name, n, pos := mostRepeated(w.Document, limit); n > limit {
				addError(func(err *gqlerror.Error) {
					err.Rule = repeatsRuleName
					err.Message = fmt.Sprintf("%q is selected %d times in one selection set; the limit is %d", name, n, limit)
					err.Extensions = map[string]any{"limit": int64(limit), "value": int64(n)}
					if pos != nil {
						err.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
					}
				})
				return
			}
			inner := &core.Events{}
			rules.OverlappingFieldsCanBeMergedRule.RuleFunc(inner, addError)
			core.Walk(w.Schema, w.Document, inner)
		})
	}
}

// mostRepeated finds the first response name selected more than limit
// times in one selection set of the document, inline fragments merged
// into the set they are in (as the overlap rule merges them).
func mostRepeated(doc *ast.QueryDocument, limit int) (string, int, *ast.Position) {
	r := repeats{counts: map[string]int{}, limit: limit}
	for _, op := range doc.Operations {
		if r.set(op.SelectionSet) {
			return r.name, r.n, r.pos
		}
	}
	for _, f := range doc.Fragments {
		if r.set(f.SelectionSet) {
			return r.name, r.n, r.pos
		}
	}
	return "", 0, nil
}

type repeats struct {
	counts map[string]int // response name → fields, for the set at hand
	limit  int
	name   string
	n      int
	found  bool // a name is over the limit: name, at pos
	pos    *ast.Position
}

// set reports whether set, or a set nested in it, repeats a name too often.
func (r *repeats) set(set ast.SelectionSet) bool {
	clear(r.counts)
	r.count(set)
	if r.found {
		r.n = r.counts[r.name]
		return true
	}
	return r.children(set)
}

// count counts the whole set, so the error can say how many, and notes
// the first field over the limit.
func (r *repeats) count(set ast.SelectionSet) {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			name := sel.Alias
			if name == "" {
				name = sel.Name
			}
			r.counts[name]++
			if !r.found && r.counts[name] > r.limit {
				r.found, r.name, r.pos = true, name, sel.Position
			}
		case *ast.InlineFragment:
			r.count(sel.SelectionSet)
		}
	}
}

func (r *repeats) children(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if len(sel.SelectionSet) > 0 && r.set(sel.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if r.children(sel.SelectionSet) {
				return true
			}
		}
	}
	return false
}
