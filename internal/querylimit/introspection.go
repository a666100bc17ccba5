package querylimit

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Introspection is a gqlgen extension that replaces
// extension.Introspection: it lets a request see the schema only when
// Allow says so, and takes the "Did you mean …" suggestions out of the
// error messages of every other request, since they leak field, type,
// argument and enum names just the same.
//
// gqlgen can only turn suggestions off for the whole server
// (SetDisableSuggestion): the rules are chosen before any request is
// known, and a validated document is cached for every caller. gqlparser
// always appends them to the end of the message, starting " Did you mean",
// so cutting the message there is exact; it is done on the response, so it
// holds whatever error presenter the server has.
type Introspection struct {
	// Allow reports whether the request may introspect; nil allows no one.
	Allow func(ctx context.Context) bool
}

var (
	_ graphql.HandlerExtension        = Introspection{}
	_ graphql.OperationContextMutator = Introspection{}
	_ graphql.ResponseInterceptor     = Introspection{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Introspection) ExtensionName() string { return "Introspection" }

// Validate implements graphql.HandlerExtension.
func (Introspection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext turns introspection on for allowed requests
// (gqlgen starts every operation with it off).
func (i Introspection) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	oc.DisableIntrospection = !i.allowed(ctx)
	return nil
}

// InterceptResponse strips suggestions for requests that may not
// introspect. It asks Allow only when a message has one.
func (i Introspection) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	asked, allowed := false, false
	for _, err := range resp.Errors {
		at := strings.Index(err.Message, suggestion)
		if at < 0 {
			continue
		}
		if !asked {
			asked, allowed = true, i.allowed(ctx)
		}
		if allowed {
			return resp
		}
		err.Message = err.Message[:at]
	}
	return resp
}

// suggestion starts every suggestion gqlparser appends to a message.
const suggestion = " Did you mean "

func (i Introspection) allowed(ctx context.Context) bool { return i.Allow != nil && i.Allow(ctx) }
