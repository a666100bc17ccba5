package querylimit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/scrm-dev/scrm/graph"
)

var schema = graph.NewExecutableSchema(graph.Config{}).Schema()

const agentConsole = `{ customers(first: 50) { edges { node { id name phone
  orders(first: 10) { edges { node { id status totalAmount items { id } } } }
  tickets(first: 10) { edges { node { id title status } } } } } } }`

// validated parses and validates a document as the server does.
func validated(tb testing.TB, cfg Config, query string) *ast.QueryDocument {
	tb.Helper()
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, cfg.TokenLimit)
	if err != nil {
		tb.Fatal(err)
	}
	if errs := validator.ValidateWithRules(schema, doc, cfg.validationRules()); len(errs) > 0 {
		tb.Fatal(errs)
	}
	return doc
}

// BenchmarkLimits measures what the limits add to a request for the agent
// console's page once its document is cached: the variables check and
// the walk over the operation.
func BenchmarkLimits(b *testing.B) {
	cfg := DefaultConfig()
	op := validated(b, cfg, agentConsole).Operations[0]
	vars := map[string]any{"n": 50, "where": map[string]any{"nameContains": "wang"}}
	b.ReportAllocs()
	for b.Loop() {
		if err := checkVariables(vars, cfg.MaxVariablesBytes, cfg.MaxVariableListLength); err != nil {
			b.Fatal(err)
		}
		if err := check(cfg, op, vars); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidation measures validating documents (a cache miss) with
// the guarded rules: the agent console's page, and the costliest document
// found that the guard lets through to OverlappingFieldsCanBeMerged (six
// response keys merging 20 fields each, each with three sub-keys).
func BenchmarkValidation(b *testing.B) {
	var worst strings.Builder
	worst.WriteString("{ me { ")
	for k := range 6 {
		for range 20 {
			fmt.Fprintf(&worst, "k%d: departments { ", k)
			for j := range 3 {
				fmt.Fprintf(&worst, "j%d: parent { id } ", j)
			}
			worst.WriteString("} ")
		}
	}
	worst.WriteString("} }")
	cfg := DefaultConfig()
	for name, query := range map[string]string{"agent console": agentConsole, "worst passing": worst.String()} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, cfg.TokenLimit)
				if err != nil {
					b.Fatal(err)
				}
				if errs := validator.ValidateWithRules(schema, doc, cfg.validationRules()); len(errs) > 0 {
					b.Fatal(errs)
				}
			}
		})
	}
}

// FuzzLimits feeds documents to the validation guard and the walk, valid
// or not (the walk then sees what validation resolved before failing),
// with and without variables: neither may panic or loop.
func FuzzLimits(f *testing.F) {
	for _, seed := range []string{
		agentConsole,
		`{ me { departments { parent { parent { id } } } } }`,
		`query($n: Int) { customers(first: $n) { edges { node { id } } } }`,
		`{ me { ...A } } fragment A on Staff { ...B } fragment B on Staff { ...A }`,
		`{ me { ...A } } fragment A on Staff { departments { ...B } } fragment B on Department { parent { ...B } }`,
		`{ me { ...F0 } } fragment F0 on Staff { ...F1 ...F1 } fragment F1 on Staff { id }`,
		`{ a: me { id } b: me { ... on Staff { id } } __typename }`,
		`{ __schema { types { fields { type { ofType { name } } } } } }`,
		`{ jobQueues { deadJobs { id } } orders(last: 2) { totalCount } }`,
		`{ me { id id id } me { id } }`,
		`{ nodes(ids: [1, 2]) { id } node(id: 1) { ... on Customer { orders(first: 1) { edges { node { id } } } } } }`,
	} {
		f.Add(seed, int64(10))
	}
	cfg := DefaultConfig()
	cfg.TokenLimit = 2000 // keeps each input fast; the walk is what is fuzzed
	f.Fuzz(func(t *testing.T, query string, n int64) {
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, cfg.TokenLimit)
		if err != nil {
			return
		}
		_ = validator.ValidateWithRules(schema, doc, cfg.validationRules())
		for _, vars := range []map[string]any{nil, {"n": n}} {
			for _, op := range doc.Operations {
				_ = check(cfg, op, vars)
			}
		}
		_ = newMergeGuard(cfg, doc).document()
	})
}
