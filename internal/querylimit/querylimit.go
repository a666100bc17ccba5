// Package querylimit refuses GraphQL operations that would ask for more
// than the API serves, before any resolver runs: oversized documents and
// variables, documents built to make parsing or validation slow, and
// operations too deep, too wide or too costly to execute. It also decides,
// per request, who may see the schema (introspection and "Did you mean"
// suggestions). It owns the limits and their error codes, not the policy of
// who is trusted: that comes in as a function from the wiring.
package querylimit

import (
	"context"

	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The extensions.code of each refusal. Refusals happen before execution,
// so all of them are request errors: HTTP 400 under
// application/graphql-response+json.
const (
	// CodeBadUserInput refuses a connection without first/last, or with
	// first/last outside 1..MaxPageSize.
	CodeBadUserInput = "BAD_USER_INPUT"
	// CodeTooDeep refuses an operation nested deeper than MaxDepth.
	CodeTooDeep = "QUERY_TOO_DEEP"
	// CodeTooComplex refuses an operation costing more than MaxCost.
	CodeTooComplex = "QUERY_TOO_COMPLEX"
	// CodeNodeLimit refuses an operation that could fetch more than
	// MaxNodes connection nodes.
	CodeNodeLimit = "NODE_LIMIT_EXCEEDED"
	// CodeTooManyAliases refuses an operation with more than MaxAliases
	// aliased fields.
	CodeTooManyAliases = "TOO_MANY_ALIASES"
	// CodeTooManyRootFields refuses an operation with more than
	// MaxRootFields root fields.
	CodeTooManyRootFields = "TOO_MANY_ROOT_FIELDS"
	// CodeDocumentTooLarge refuses a document longer than MaxDocumentBytes
	// or with more than TokenLimit tokens.
	CodeDocumentTooLarge = "DOCUMENT_TOO_LARGE"
	// CodeVariablesTooLarge refuses variables larger than MaxVariablesBytes
	// or holding a list longer than MaxVariableListLength.
	CodeVariablesTooLarge = "VARIABLES_TOO_LARGE"
	// CodeTooManyDuplicateFields refuses a selection set that selects one
	// response name more than MaxFieldRepeats times.
	CodeTooManyDuplicateFields = "TOO_MANY_DUPLICATE_FIELDS"
	// CodeTooManyFragments refuses a selection into which more than
	// MaxFragmentSpreads distinct fragments are spread.
	CodeTooManyFragments = "TOO_MANY_FRAGMENTS"
)

func init() {
	for _, code := range []string{
		CodeBadUserInput, CodeTooDeep, CodeTooComplex, CodeNodeLimit, CodeTooManyAliases,
		CodeTooManyRootFields, CodeDocumentTooLarge, CodeVariablesTooLarge, CodeTooManyDuplicateFields,
		CodeTooManyFragments,
	} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

// Config holds every limit. A zero field takes its default (DefaultConfig);
// a negative one turns that limit off.
type Config struct {
	// MaxDepth caps how deep fields nest, fragments expanded and
	// introspection included: { me { id } } is 2 deep.
	MaxDepth int
	// MaxCost caps the operation's cost: each field costs 1, and a list
	// multiplies the cost of its fields by its first/last, or by
	// ListMultiplier when it has neither. It approximates how many values
	// the server resolves when every list is full.
	MaxCost int64
	// ListMultiplier is the size assumed for a list field without
	// first/last (an order's items, a staff member's departments).
	ListMultiplier int
	// MaxNodes caps the nodes all connections together may return: the
	// sum over connections of the product of first/last along their path.
	MaxNodes int64
	// MaxAliases caps the aliased fields of an operation (an alias equal
	// to the field name does not count).
	MaxAliases int
	// MaxRootFields caps the root fields of an operation (__typename does
	// not count).
	MaxRootFields int
	// MaxPageSize caps first/last of connections.
	MaxPageSize int
	// MaxDocumentBytes caps the length of the query text.
	MaxDocumentBytes int
	// TokenLimit caps the tokens the parser reads; see Install.
	TokenLimit int
	// MaxFieldRepeats caps how many fields may merge into one response key
	// (repeats, inline fragments, fragments, and repeats of the parents
	// all merged, as the executor merges them). Validation compares such
	// fields pairwise, so repeats cost quadratic time.
	MaxFieldRepeats int
	// MaxFragmentSpreads caps the distinct fragments spread into one
	// merged selection; validation compares them pairwise too.
	MaxFragmentSpreads int
	// MaxVariablesBytes caps the size of the variables, counted as JSON.
	MaxVariablesBytes int
	// MaxVariableListLength caps the length of any list in the variables.
	MaxVariableListLength int
}

// DefaultConfig returns the limits for an API on the open internet.
//
// The agent console's heaviest screen (50 customers, each with 10 orders
// with their items and 10 tickets) is 8 deep, costs 10,851 and fetches
// 1,050 nodes, so the cost cap leaves it nearly five times the room, while
// three nested pages of 100 (a million nodes) are refused. 32 KiB of query
// text is several times the largest console query and GraphiQL's
// introspection query (about 2 KiB); 8,000 tokens is what 32 KiB of real
// queries comes to (names and whitespace average more than 4 bytes a
// token), while a document of single-character tokens is stopped early.
// 64 KiB of variables covers a page of bulk input with room to spare.
func DefaultConfig() Config {
	return Config{
		MaxDepth:              15,
		MaxCost:               50_000,
		ListMultiplier:        10,
		MaxNodes:              500_000,
		MaxAliases:            30,
		MaxRootFields:         10,
		MaxPageSize:           100,
		MaxDocumentBytes:      32 << 10,
		TokenLimit:            8_000,
		MaxFieldRepeats:       20,
		MaxFragmentSpreads:    50,
		MaxVariablesBytes:     64 << 10,
		MaxVariableListLength: 1_000,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	fill := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.MaxDepth, d.MaxDepth)
	fill(&c.ListMultiplier, d.ListMultiplier)
	fill(&c.MaxAliases, d.MaxAliases)
	fill(&c.MaxRootFields, d.MaxRootFields)
	fill(&c.MaxPageSize, d.MaxPageSize)
	fill(&c.MaxDocumentBytes, d.MaxDocumentBytes)
	fill(&c.TokenLimit, d.TokenLimit)
	fill(&c.MaxFieldRepeats, d.MaxFieldRepeats)
	fill(&c.MaxFragmentSpreads, d.MaxFragmentSpreads)
	fill(&c.MaxVariablesBytes, d.MaxVariablesBytes)
	fill(&c.MaxVariableListLength, d.MaxVariableListLength)
	if c.MaxCost == 0 {
		c.MaxCost = d.MaxCost
	}
	if c.MaxNodes == 0 {
		c.MaxNodes = d.MaxNodes
	}
	if c.ListMultiplier < 1 {
		c.ListMultiplier = 1
	}
	return c
}

// Install puts every limit on srv: the Limits and Introspection extensions,
// the parser's token limit and the validation rules that bound repeated
// fields. The last two are server settings no extension can make, which
// is why this is a function. allowIntrospection says per request whether
// the caller may see the schema; nil allows nobody.
//
// Install sets srv's validation rules: call it instead of, not after,
// another SetValidationRulesFn.
func Install(srv *handler.Server, cfg Config, allowIntrospection func(context.Context) bool) {
	cfg = cfg.withDefaults()
	if cfg.TokenLimit > 0 {
		srv.SetParserTokenLimit(cfg.TokenLimit)
	}
	srv.SetValidationRulesFn(cfg.validationRules)
	srv.Use(Limits{Config: cfg})
	srv.Use(Introspection{Allow: allowIntrospection})
}

// refusal builds the error of a refused operation, located at pos.
func refusal(code, message string, limit, value int64, pos *ast.Position) *gqlerror.Error {
	err := &gqlerror.Error{
		Message:    message,
		Extensions: map[string]any{"code": code, "limit": limit, "value": value},
	}
	if pos != nil {
		err.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
	}
	return err
}
