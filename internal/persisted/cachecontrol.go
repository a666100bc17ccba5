package persisted

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// PersonalTypes are the schema types that hold personal data (people,
// what they bought, said and submitted, and credentials). An operation
// that selects any of them is never cached by shared caches: @cacheControl
// scope PUBLIC is downgraded to PRIVATE. Interfaces and unions count as
// personal when one of their possible types is (node(id:) can be a
// Customer). Add new types here when they carry personal data.
var PersonalTypes = []string{
	"Customer", "CustomerIdentity", "Consent", "FollowUp", "CustomerTimelineEvent",
	"Order", "OrderItem", "OrderEvent",
	"Ticket", "TicketComment", "TicketChange", "TicketApproval", "TicketEvent",
	"FormSubmission", "Staff", "AuditLog", "ErasureReport", "HandOverResult",
	"APIKey", "CreateAPIKeyPayload", "WebhookEndpoint", "CreateWebhookEndpointPayload", "WebhookDelivery",
	"CustomerLoginPayload", "ConnectorAccount", "Job",
}

// maxAgeLimit caps @cacheControl(maxAge:): a day, whatever a document asks.
const maxAgeLimit = 86400

const decisionKey = "PersistedOperation"

// decision is what the extensions learn about one operation, kept in its
// operation context for the transport.
type decision struct {
	persisted bool
	// cacheControl is the Cache-Control a GET answer may carry; empty
	// means no-store.
	cacheControl string
	downgraded   string
}

func markPersisted(ctx context.Context) {
	graphql.GetOperationContext(ctx).Stats.SetExtension(decisionKey, &decision{persisted: true})
}

func decisionOf(oc *graphql.OperationContext) *decision {
	if oc == nil {
		return nil
	}
	d, _ := oc.Stats.GetExtension(decisionKey).(*decision)
	return d
}

// CacheControl returns the Cache-Control header a successful GET answer to
// the operation may carry ("private, max-age=60"), or "" when it must not
// be stored: the operation was not persisted (an APQ hash or a documentId),
// is not a query, or has no @cacheControl. The transport adds that
// answers with errors are never cached.
func CacheControl(oc *graphql.OperationContext) string {
	if d := decisionOf(oc); d != nil {
		return d.cacheControl
	}
	return ""
}

// cachePolicy reads @cacheControl of persisted queries once the document
// is validated.
type cachePolicy struct{ schema *ast.Schema }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = &cachePolicy{}

func (*cachePolicy) ExtensionName() string { return "CacheControl" }

func (c *cachePolicy) Validate(es graphql.ExecutableSchema) error {
	c.schema = es.Schema()
	if c.schema.Directives["cacheControl"] == nil {
		return fmt.Errorf("persisted: the schema declares no @cacheControl directive")
	}
	return nil
}

func (c *cachePolicy) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	d := decisionOf(oc)
	if d == nil || !d.persisted || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil
	}
	dir := oc.Operation.Directives.ForName("cacheControl")
	if dir == nil {
		return nil
	}
	args := dir.ArgumentMap(oc.Variables)
	maxAge, _ := args["maxAge"].(int64)
	if maxAge <= 0 {
		return nil
	}
	maxAge = min(maxAge, maxAgeLimit)
	scope := "private"
	if fmt.Sprint(args["scope"]) == "PUBLIC" {
		if t := personalType(c.schema, oc.Operation); t != "" {
			d.downgraded = "the operation reads " + t + ", which holds personal data; answered private"
		} else {
			scope = "public"
		}
	}
	d.cacheControl = scope + ", max-age=" + strconv.FormatInt(maxAge, 10)
	return nil
}

// InterceptResponse tells the client when PUBLIC was downgraded, in
// extensions.cacheControl.
func (*cachePolicy) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if graphql.HasOperationContext(ctx) {
		if d := decisionOf(graphql.GetOperationContext(ctx)); d != nil && d.downgraded != "" {
			graphql.RegisterExtension(ctx, "cacheControl", map[string]any{"scope": "PRIVATE", "reason": d.downgraded})
		}
	}
	return next(ctx)
}

// personalType returns the first personal type the operation selects, or
// "".
func personalType(schema *ast.Schema, op *ast.OperationDefinition) string {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) string
	walk = func(set ast.SelectionSet) string {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Definition == nil {
					continue
				}
				if t := personal(schema, s.Definition.Type.Name()); t != "" {
					return t
				}
				if t := walk(s.SelectionSet); t != "" {
					return t
				}
			case *ast.InlineFragment:
				if t := personal(schema, s.TypeCondition); t != "" {
					return t
				}
				if t := walk(s.SelectionSet); t != "" {
					return t
				}
			case *ast.FragmentSpread:
				if seen[s.Name] || s.Definition == nil {
					continue
				}
				seen[s.Name] = true
				if t := personal(schema, s.Definition.TypeCondition); t != "" {
					return t
				}
				if t := walk(s.Definition.SelectionSet); t != "" {
					return t
				}
			}
		}
		return ""
	}
	return walk(op.SelectionSet)
}

func personal(schema *ast.Schema, name string) string {
	if name == "" {
		return ""
	}
	if slices.Contains(PersonalTypes, name) {
		return name
	}
	def := schema.Types[name]
	if def == nil || (def.Kind != ast.Interface && def.Kind != ast.Union) {
		return ""
	}
	for _, p := range schema.GetPossibleTypes(def) {
		if slices.Contains(PersonalTypes, p.Name) {
			return p.Name
		}
	}
	return ""
}
