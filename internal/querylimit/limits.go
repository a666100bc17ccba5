package querylimit

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Limits is a gqlgen extension enforcing Config: the size of the document
// and variables before parsing, and depth, cost, nodes, aliases, root
// fields and page sizes after validation, in one walk over the operation.
// Install adds it with the server settings it needs.
type Limits struct {
	Config Config
}

var (
	_ graphql.HandlerExtension          = Limits{}
	_ graphql.OperationParameterMutator = Limits{}
	_ graphql.OperationContextMutator   = Limits{}
	_ graphql.ResponseInterceptor       = Limits{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Limits) ExtensionName() string { return "QueryLimits" }

// Validate implements graphql.HandlerExtension.
func (Limits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters refuses oversized documents and variables
// before gqlgen parses or coerces them.
func (l Limits) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	cfg := l.Config.withDefaults()
	if limit := cfg.MaxDocumentBytes; limit > 0 && len(p.Query) > limit {
		return refusal(CodeDocumentTooLarge,
			fmt.Sprintf("the document is %d bytes; the document size limit is %d bytes", len(p.Query), limit),
			int64(limit), int64(len(p.Query)), nil)
	}
	return checkVariables(p.Variables, cfg.MaxVariablesBytes, cfg.MaxVariableListLength)
}

// MutateOperationContext checks the operation, variables coerced, before
// it runs.
func (l Limits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	return check(l.Config.withDefaults(), oc.Operation, oc.Variables)
}

// InterceptResponse gives our codes to the parser's own limits (its token
// limit, which Install sets, and its fixed cap on nesting) and to the
// validation guard's refusals: gqlgen codes every parse and validation error
// itself, after the parser and rules have made them. The messages are
// gqlparser's, matched exactly; a gqlparser that words them differently
// leaves them GRAPHQL_PARSE_FAILED, still a 400.
func (l Limits) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	for _, err := range resp.Errors {
		if code, ok := strings.CutPrefix(err.Rule, guardRulePrefix); ok {
			err.Extensions["code"] = code
			continue
		}
		if err.Extensions["code"] != errcode.ParseFailed {
			continue
		}
		var n int64
		switch {
		case scanLimit(err.Message, "exceeded token limit of %d", &n):
			err.Message = fmt.Sprintf("the document has more than %d tokens; the token limit is %d", n, n)
			err.Extensions["code"] = CodeDocumentTooLarge
			err.Extensions["limit"] = n
			err.Extensions["value"] = n + 1
		case scanLimit(err.Message, "exceeded maximum nesting depth of %d", &n):
			depth := int64(l.Config.withDefaults().MaxDepth)
			if depth <= 0 {
				depth = n
			}
			err.Message = fmt.Sprintf("the document nests more than %d levels deep; the depth limit is %d", n, depth)
			err.Extensions["code"] = CodeTooDeep
			err.Extensions["limit"] = depth
			err.Extensions["value"] = n + 1
		}
	}
	return resp
}

// scanLimit reads the number out of one of gqlparser's limit messages.
func scanLimit(message, format string, n *int64) bool {
	prefix, _, _ := strings.Cut(format, "%d")
	if !strings.HasPrefix(message, prefix) {
		return false
	}
	_, err := fmt.Sscanf(message, format, n)
	return err == nil
}

// check walks the operation once and reports the first limit it exceeds,
// page sizes first (they are the caller's input), then the others from
// the most to the least structural. Nodes come before cost: every node
// costs at least 1, so with the defaults an operation over the node limit
// is over the cost limit too, and "nested pages" says better what is wrong.
func check(cfg Config, op *ast.OperationDefinition, vars map[string]any) *gqlerror.Error {
	w := walker{cfg: cfg, vars: vars}
	s := w.selections(op.SelectionSet, 1)
	if s.err != nil {
		return s.err
	}
	opPos := op.Position
	switch {
	case cfg.MaxDepth > 0 && s.depth > cfg.MaxDepth:
		return refusal(CodeTooDeep,
			fmt.Sprintf("fields nest %d levels deep here; the depth limit is %d", s.depth, cfg.MaxDepth),
			int64(cfg.MaxDepth), int64(s.depth), s.deepest)
	case cfg.MaxAliases > 0 && s.aliases > int64(cfg.MaxAliases):
		return refusal(CodeTooManyAliases,
			fmt.Sprintf("the operation has %d aliased fields; the alias limit is %d", s.aliases, cfg.MaxAliases),
			int64(cfg.MaxAliases), s.aliases, opPos)
	case cfg.MaxRootFields > 0 && s.roots > int64(cfg.MaxRootFields):
		return refusal(CodeTooManyRootFields,
			fmt.Sprintf("the operation has %d root fields; the root field limit is %d", s.roots, cfg.MaxRootFields),
			int64(cfg.MaxRootFields), s.roots, opPos)
	case cfg.MaxNodes > 0 && s.nodes > cfg.MaxNodes:
		return refusal(CodeNodeLimit,
			fmt.Sprintf("the operation could fetch %s nodes; the node limit is %d (a nested connection's first/last multiplies its parents')",
				count(s.nodes), cfg.MaxNodes),
			cfg.MaxNodes, s.nodes, opPos)
	case cfg.MaxCost > 0 && s.cost > cfg.MaxCost:
		return refusal(CodeTooComplex,
			fmt.Sprintf("the operation costs %s; the cost limit is %d (each field costs 1; a list multiplies its fields by first/last, or by %d without them)",
				count(s.cost), cfg.MaxCost, cfg.ListMultiplier),
			cfg.MaxCost, s.cost, opPos)
	}
	return nil
}

// count prints a saturated total as what it is: a lower bound.
func count(n int64) string {
	if n == math.MaxInt64 {
		return "more than 9223372036854775806"
	}
	return fmt.Sprint(n)
}

// summary is what a selection set adds to an operation. A fragment's
// summary does not depend on where it is spread (only depth does, and that
// adds), so each fragment is summarised once however often it is spread:
// a fragment spreading another twice, ten levels down, is walked ten
// times, not a thousand.
type summary struct {
	depth   int           // levels of fields below the set, 1 for leaves only
	deepest *ast.Position // a field at that depth
	cost    int64
	nodes   int64
	aliases int64
	roots   int64 // fields at the set's top, __typename aside
	err     *gqlerror.Error
}

func (s *summary) add(o summary) {
	if o.depth > s.depth {
		s.depth, s.deepest = o.depth, o.deepest
	}
	s.cost = sum(s.cost, o.cost)
	s.nodes = sum(s.nodes, o.nodes)
	s.aliases = sum(s.aliases, o.aliases)
	s.roots = sum(s.roots, o.roots)
	if s.err == nil {
		s.err = o.err
	}
}

type walker struct {
	cfg       Config
	vars      map[string]any
	fragments map[string]*fragmentSummary // made on the first spread
}

type fragmentSummary struct {
	summary
	done bool // false while the fragment is being walked: a cycle
}

// selections summarises a selection set; level is the depth of its fields,
// kept only to stop early: past the depth limit nothing else matters.
func (w *walker) selections(set ast.SelectionSet, level int) summary {
	var s summary
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			s.add(w.field(sel, level))
			if sel.Name != "__typename" {
				s.roots++
			}
		case *ast.InlineFragment:
			s.add(w.selections(sel.SelectionSet, level))
		case *ast.FragmentSpread:
			s.add(w.spread(sel, level))
		}
		if s.err != nil || w.tooDeep(level-1+s.depth) {
			break
		}
	}
	return s
}

func (w *walker) tooDeep(depth int) bool { return w.cfg.MaxDepth > 0 && depth > w.cfg.MaxDepth }

func (w *walker) spread(sp *ast.FragmentSpread, level int) summary {
	if sp.Definition == nil {
		return summary{}
	}
	if w.fragments == nil {
		w.fragments = map[string]*fragmentSummary{}
	}
	if f, ok := w.fragments[sp.Name]; ok {
		if !f.done {
			return summary{} // a cycle: validation refuses it before us
		}
		return f.summary
	}
	f := &fragmentSummary{}
	w.fragments[sp.Name] = f
	// Walked as if at level 1 so the summary holds wherever it is spread;
	// the early stop is then only as early as the fragment allows.
	f.summary = w.selections(sp.Definition.SelectionSet, 1)
	f.done = true
	return f.summary
}

func (w *walker) field(f *ast.Field, level int) summary {
	s := summary{depth: 1, deepest: f.Position, cost: 1}
	if f.Alias != "" && f.Alias != f.Name {
		s.aliases = 1
	}
	if w.tooDeep(level) {
		return s // the depth is known to be over; the rest is not needed
	}
	mult, connection, err := w.multiplier(f)
	if err != nil {
		s.err = err
		return s
	}
	if len(f.SelectionSet) == 0 {
		return s
	}
	c := w.selections(f.SelectionSet, level+1)
	s.err = c.err
	s.depth = c.depth + 1
	s.deepest = c.deepest
	s.aliases = sum(s.aliases, c.aliases)
	s.cost = sum(1, product(mult, c.cost))
	if connection {
		s.nodes = product(mult, sum(1, c.nodes))
	} else {
		s.nodes = c.nodes
	}
	return s
}

// multiplier returns how many times a field's selections run: first/last
// of a connection (checked against the page size) or of a list taking
// them, 1 for a connection's edges and nodes (first/last counted them
// already) and for single values, and the default for other lists.
func (w *walker) multiplier(f *ast.Field) (mult int64, connection bool, err *gqlerror.Error) {
	def := f.Definition
	if def == nil || def.Type == nil {
		return 1, false, nil
	}
	if isConnection(def) {
		n, err := w.pageSize(f)
		return n, true, err
	}
	if def.Type.Elem == nil {
		return 1, false, nil
	}
	if (f.Name == "edges" || f.Name == "nodes") && f.ObjectDefinition != nil &&
		strings.HasSuffix(f.ObjectDefinition.Name, "Connection") {
		return 1, false, nil
	}
	if def.Arguments.ForName("first") != nil || def.Arguments.ForName("last") != nil {
		first, hasFirst := w.listArg(f, "first")
		last, hasLast := w.listArg(f, "last")
		if hasFirst || hasLast {
			return max(first, last, 1), false, nil
		}
	}
	return int64(w.cfg.ListMultiplier), false, nil
}

// listArg reads first or last of a plain list field, from the operation
// or else the schema's default. The resolver validates it; here it only
// sizes the cost.
func (w *walker) listArg(f *ast.Field, name string) (int64, bool) {
	var v any
	if arg := f.Arguments.ForName(name); arg != nil {
		var err error
		if v, err = arg.Value.Value(w.vars); err != nil {
			return 0, false
		}
	} else if def := f.Definition.Arguments.ForName(name); def != nil && def.DefaultValue != nil {
		var err error
		if v, err = def.DefaultValue.Value(nil); err != nil {
			return 0, false
		}
	}
	n, ok := toInt(v)
	return n, ok
}

func isConnection(def *ast.FieldDefinition) bool {
	return strings.HasSuffix(def.Type.Name(), "Connection") && def.Arguments.ForName("first") != nil
}

// sum and product saturate: a document of nested pages can describe more
// nodes than an int64 holds, and it must still compare as over the limit.
func sum(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func product(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}
