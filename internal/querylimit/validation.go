package querylimit

import (
	"fmt"
	"math"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// guardRulePrefix starts the Rule of the guard's errors, followed by their
// code: gqlgen codes every validation error GRAPHQL_VALIDATION_FAILED, and
// Limits gives them theirs back from it.
const guardRulePrefix = "querylimit:"

// validationRules returns gqlparser's default rules with
// OverlappingFieldsCanBeMerged behind a guard. That rule compares every
// pair of fields that merge into one response key, and every pair of
// fragments spread into one selection, each pair down through its
// sub-selections: { me { id id id … } } takes quadratic time (a thousand
// ids, 300 ms), three levels of 18 repeats nine seconds, 700 fragments
// spread side by side most of a second, all well within any token limit
// a real query needs. The guard merges the document as the rule and the
// executor do, in time linear in what it visits, and lets the rule run only
// on documents within MaxFieldRepeats and MaxFragmentSpreads at every
// level. A fresh set each call: gqlgen edits the set it is given.
func (c Config) validationRules() *rules.Rules {
	r := rules.NewDefaultRules()
	if c.MaxFieldRepeats > 0 || c.MaxFragmentSpreads > 0 {
		r.ReplaceRule(rules.OverlappingFieldsCanBeMergedRule.Name, guardOverlaps(c))
	}
	return r
}

func guardOverlaps(c Config) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		done := false
		// The first operation's observer fires once the walker has resolved
		// that operation; the guard needs only the syntax, and the rule's
		// own walk below resolves the whole document again.
		observers.OnOperation(func(w *core.Walker, _ *ast.OperationDefinition) {
			if done {
				return
			}
			done = true
			g := newMergeGuard(c, w.Document)
			if g.hasFragmentCycle() {
				return // NoFragmentCycles refuses it; the rule need not run
			}
			if v := g.document(); v != nil {
				addError(v.option)
				return
			}
			inner := &core.Events{}
			rules.OverlappingFieldsCanBeMergedRule.RuleFunc(inner, addError)
			core.Walk(w.Schema, w.Document, inner)
		})
	}
}

// violation is a document the guard refuses.
type violation struct {
	code, message string
	limit, value  int64
	pos           *ast.Position
}

func (v *violation) option(err *gqlerror.Error) {
	err.Rule = guardRulePrefix + v.code
	err.Message = v.message
	err.Extensions = map[string]any{"limit": v.limit, "value": v.value}
	if v.pos != nil {
		err.Locations = []gqlerror.Location{{Line: v.pos.Line, Column: v.pos.Column}}
	}
}

// mergeGuard merges selection sets level by level as the executor would:
// the fields every occurrence of a response key selects form the next
// level. A fragment is expanded once per level however often it is spread
// there, so fragments spreading fragments cost what they add, not a power
// of it; the budget bounds what is left (distinct aliases through
// fragments can still multiply) at the cost limit, which a document
// expanding to more fields than that cannot pass anyway.
type mergeGuard struct {
	doc              *ast.QueryDocument
	repeats, spreads int
	budget, allowed  int64 // selections left to visit, of allowed
	fragments        map[string]*ast.FragmentDefinition
}

func newMergeGuard(c Config, doc *ast.QueryDocument) *mergeGuard {
	g := &mergeGuard{doc: doc, repeats: c.MaxFieldRepeats, spreads: c.MaxFragmentSpreads,
		fragments: make(map[string]*ast.FragmentDefinition, len(doc.Fragments))}
	if g.repeats <= 0 {
		g.repeats = math.MaxInt
	}
	if g.spreads <= 0 {
		g.spreads = math.MaxInt
	}
	g.allowed = c.MaxCost
	if g.allowed <= 0 {
		g.allowed = 1 << 20 // no cost limit: still bounded, at tens of milliseconds
	}
	g.budget = g.allowed
	for _, f := range doc.Fragments {
		if _, dup := g.fragments[f.Name]; !dup { // the first, as the walker takes it
			g.fragments[f.Name] = f
		}
	}
	return g
}

// document checks every operation and every fragment definition on its
// own: the rule checks unused fragments too, before NoUnusedFragments
// refuses them.
func (g *mergeGuard) document() *violation {
	for _, op := range g.doc.Operations {
		if v := g.level([]ast.SelectionSet{op.SelectionSet}); v != nil {
			return v
		}
	}
	for _, f := range g.doc.Fragments {
		if v := g.level([]ast.SelectionSet{f.SelectionSet}); v != nil {
			return v
		}
	}
	return nil
}

// level merges sets, the selections of every field sharing one response
// key, and then the level below each key.
func (g *mergeGuard) level(sets []ast.SelectionSet) *violation {
	m := merged{counts: map[string]int{}}
	for _, set := range sets {
		if v := g.collect(&m, set); v != nil {
			return v
		}
	}
	for _, key := range m.keys {
		if v := g.level(m.below[key]); v != nil {
			return v
		}
	}
	return nil
}

type merged struct {
	counts map[string]int                // fields per response key
	keys   []string                      // keys with selections, in document order
	below  map[string][]ast.SelectionSet // their selections
	spread map[string]bool               // fragments expanded at this level
}

func (g *mergeGuard) collect(m *merged, set ast.SelectionSet) *violation {
	for _, sel := range set {
		if g.budget--; g.budget < 0 {
			return g.tooLarge(sel)
		}
		switch sel := sel.(type) {
		case *ast.Field:
			key := sel.Alias
			if key == "" {
				key = sel.Name
			}
			m.counts[key]++
			if n := m.counts[key]; n > g.repeats {
				return &violation{code: CodeTooManyDuplicateFields, pos: sel.Position,
					message: fmt.Sprintf("%q is selected more than %d times in one selection (fragments and repeats of its parents merged); the repeated field limit is %d", key, g.repeats, g.repeats),
					limit:   int64(g.repeats), value: int64(n)}
			}
			if len(sel.SelectionSet) == 0 {
				continue
			}
			if m.below == nil {
				m.below = map[string][]ast.SelectionSet{}
			}
			if _, ok := m.below[key]; !ok {
				m.keys = append(m.keys, key)
			}
			m.below[key] = append(m.below[key], sel.SelectionSet)
		case *ast.InlineFragment:
			if v := g.collect(m, sel.SelectionSet); v != nil {
				return v
			}
		case *ast.FragmentSpread:
			def := g.fragments[sel.Name]
			if def == nil || m.spread[sel.Name] {
				continue
			}
			if m.spread == nil {
				m.spread = map[string]bool{}
			}
			m.spread[sel.Name] = true
			if n := len(m.spread); n > g.spreads {
				return &violation{code: CodeTooManyFragments, pos: sel.Position,
					message: fmt.Sprintf("more than %d fragments are spread into one selection; the fragment spread limit is %d", g.spreads, g.spreads),
					limit:   int64(g.spreads), value: int64(n)}
			}
			if v := g.collect(m, def.SelectionSet); v != nil {
				return v
			}
		}
	}
	return nil
}

func (g *mergeGuard) tooLarge(sel ast.Selection) *violation {
	return &violation{code: CodeTooComplex, pos: sel.GetPosition(),
		message: fmt.Sprintf("the document expands to more than %d selections once fragments are spread; the cost limit is %d", g.allowed, g.allowed),
		limit:   g.allowed, value: g.allowed + 1}
}

// hasFragmentCycle reports whether a fragment spreads itself, directly or
// not, in time linear in the document.
func (g *mergeGuard) hasFragmentCycle() bool {
	const (
		visiting = 1
		done     = 2
	)
	state := make(map[string]int, len(g.fragments))
	var visit func(name string) bool
	var spreads func(set ast.SelectionSet) bool
	visit = func(name string) bool {
		switch state[name] {
		case visiting:
			return true
		case done:
			return false
		}
		f := g.fragments[name]
		if f == nil {
			state[name] = done
			return false
		}
		state[name] = visiting
		if spreads(f.SelectionSet) {
			return true
		}
		state[name] = done
		return false
	}
	spreads = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if spreads(sel.SelectionSet) {
					return true
				}
			case *ast.InlineFragment:
				if spreads(sel.SelectionSet) {
					return true
				}
			case *ast.FragmentSpread:
				if visit(sel.Name) {
					return true
				}
			}
		}
		return false
	}
	for name := range g.fragments {
		if visit(name) {
			return true
		}
	}
	return false
}
