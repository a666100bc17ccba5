package resolvers

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/requestid"
)

// auditObserver turns what the field guard lets through into audit
// entries on the request's recorder.
type auditObserver struct{}

var _ graph.FieldObserver = auditObserver{}

func (auditObserver) SensitiveRead(ctx context.Context, typ, field string, obj any) {
	if rec := audit.FromContext(ctx); rec != nil {
		rec.Read(typ, field, obj)
	}
}

// policyMutations change who may do what; their entries say how.
var policyMutations = []string{"grant", "revoke", "defineRole", "setRoleScope", "assignRoles"}

// selfAudited mutations write their own, more specific entries.
var selfAudited = []string{"revealCustomerField", "exportCustomerData", "eraseCustomer"}

func (auditObserver) Mutated(ctx context.Context, field string, args map[string]any, result any) {
	rec := audit.FromContext(ctx)
	if rec == nil || slices.Contains(selfAudited, field) {
		return
	}
	e := audit.Entry{Action: auditlog.ActionMutation, Operation: field}
	e.ObjectType, e.ObjectIDs = describeResult(result)
	if id, ok := args["id"].(string); ok && len(e.ObjectIDs) == 0 {
		e.ObjectIDs = []string{id}
	}
	for _, name := range graph.InputKeys(args) {
		if input, ok := args[name].(map[string]any); ok {
			e.Fields = append(e.Fields, graph.InputKeys(input)...)
		}
	}
	if slices.Contains(policyMutations, field) {
		e.Action = auditlog.ActionPolicy
		e.Fields = nil
		for _, name := range graph.InputKeys(args) {
			e.Fields = append(e.Fields, fmt.Sprintf("%s=%v", name, args[name]))
		}
	}
	rec.Add(e)
}

// describeResult names the type and global ID of what a mutation
// returned, when it is an entity.
func describeResult(result any) (string, []string) {
	v := reflect.ValueOf(result)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return "", nil
	}
	typ := v.Elem().Type().Name()
	if f := v.Elem().FieldByName("ID"); f.IsValid() && f.Kind() == reflect.Int {
		return typ, []string{gid.Encode(int(f.Int()))}
	}
	return typ, nil
}

// auditFlush writes a request's audit entries once it has run: inside the
// mutation's transaction (it is installed after entgql.Transactioner, so
// it runs within it), or on their own for queries. An entry that cannot be
// written fails the request: an unaudited read of personal data must not
// be answered.
type auditFlush struct {
	client *ent.Client
	logger *slog.Logger
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = auditFlush{}

func (auditFlush) ExtensionName() string                   { return "AuditFlush" }
func (auditFlush) Validate(graphql.ExecutableSchema) error { return nil }
func (a auditFlush) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	rsp := next(ctx)
	rec := audit.FromContext(ctx)
	if rec == nil || rec.Pending() == 0 {
		return rsp
	}
	db := a.client
	if c := ent.FromContext(ctx); c != nil {
		db = c
	}
	if err := rec.Flush(ctx, db); err != nil {
		id := requestid.FromContext(ctx)
		a.logger.ErrorContext(ctx, "audit flush", "request_id", id, "error", err)
		return graphql.ErrorResponse(ctx, "internal error; quote request id %s when reporting it", id)
	}
	return rsp
}

func (r *Resolver) verifyAuditChain(ctx context.Context) (*model.AuditChainReport, error) {
	rep, err := audit.Verify(ctx, r.client, viewerFrom(ctx).TenantID)
	if err != nil {
		return nil, err
	}
	out := &model.AuditChainReport{Ok: rep.OK, Checked: rep.Checked}
	if !rep.OK {
		seq := int(rep.BrokenAt)
		reason := strings.Clone(rep.Reason)
		out.BrokenAtSeq, out.Reason = &seq, &reason
	}
	return out, nil
}

// kickRelay wakes the event relays once a mutation has committed (it is
// installed before entgql.Transactioner, so it runs outside the
// transaction), so subscribers hear of the change at once rather than at
// the relay's next poll.
type kickRelay struct {
	rdb    redis.UniversalClient
	logger *slog.Logger
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = kickRelay{}

func (kickRelay) ExtensionName() string                   { return "KickRelay" }
func (kickRelay) Validate(graphql.ExecutableSchema) error { return nil }
func (k kickRelay) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	rsp := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return rsp
	}
	op := graphql.GetOperationContext(ctx).Operation
	if op != nil && op.Operation == ast.Mutation && rsp != nil && len(rsp.Errors) == 0 {
		if err := realtime.Kick(ctx, k.rdb); err != nil {
			k.logger.WarnContext(ctx, "kick the event relay", "request_id", requestid.FromContext(ctx), "error", err)
		}
	}
	return rsp
}
