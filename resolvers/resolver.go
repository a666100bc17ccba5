// Package resolvers implements the GraphQL API: thin translations from
// GraphQL to calls on the ent client (or domain packages), nothing more.
// Tenancy is enforced underneath, in ent/schema; errors are mapped to
// extensions.code once, in errors.go.
package resolvers

import (
	"context"
	"log/slog"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/authz"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/graph"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apikeys"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/customerauth"
	"github.com/scrm-dev/scrm/internal/persisted"
	"github.com/scrm-dev/scrm/internal/ratelimit"
	"github.com/scrm-dev/scrm/internal/realtime"
	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/txhook"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/internal/webhooks"
	"github.com/scrm-dev/scrm/jobs"
)

// Resolver is the root resolver; it holds what every resolver may use.
type Resolver struct {
	client         *ent.Client
	authz          *authz.Authorizer
	schema         *ast.Schema
	revealLimit    *ratelimit.Window
	revealsPerHour int
	realtime       *realtime.Hub
	jobs           *jobs.Admin
	publicURL      string
	platforms      *connectoraccounts.Clients
	clock          func() time.Time
	logger         *slog.Logger
	tickets        *tickets.Engine
	apiKeys        *apikeys.Service
	documents      *persisted.Store
	webhooks       *webhooks.Service
	customers      *customerauth.Service
}

// Options configure the executable schema.
type Options struct {
	Client *ent.Client
	Logger *slog.Logger
	// Authz decides permissions; the field guard applies them.
	Authz *authz.Authorizer
	// Redis, when set, bounds reveals per staff member across replicas
	// to RevealsPerHour (30 when zero).
	Redis          redis.UniversalClient
	RevealsPerHour int
	// Realtime delivers events to subscriptions; without it they are
	// refused.
	Realtime *realtime.Hub
	// Jobs enqueues background work (syncs) and shows the queues to
	// admins; without it those fields answer an error.
	Jobs *jobs.Admin
	// PublicURL is where platforms reach this server (callback URLs).
	PublicURL string
	// Platforms builds connector accounts' clients, for mutations that
	// act on a platform (channels, customer tags, hand-overs); without it
	// they answer an error.
	Platforms *connectoraccounts.Clients
	// Now is the clock of rules that depend on the time of day (channel
	// rotation); time.Now when nil.
	Now func() time.Time
	// Tickets is the ticket workflow engine; without it the workflow
	// mutations answer an error.
	Tickets *tickets.Engine
	// APIKeys makes and revokes partner keys; Documents keeps trusted
	// documents; Webhooks manages partners' endpoints; Customers signs
	// mini-program customers in. Without one, its fields answer an error.
	APIKeys   *apikeys.Service
	Documents *persisted.Store
	Webhooks  *webhooks.Service
	Customers *customerauth.Service
	// WithoutFieldGuard leaves field permissions out. Only the benchmark
	// sets it, to measure what they cost.
	WithoutFieldGuard bool
}

// NewExecutableSchema returns the API's schema bound to its resolvers.
func NewExecutableSchema(opts Options) graphql.ExecutableSchema {
	r := &Resolver{client: opts.Client, authz: opts.Authz, revealsPerHour: opts.RevealsPerHour, realtime: opts.Realtime,
		jobs: opts.Jobs, publicURL: opts.PublicURL, platforms: opts.Platforms, clock: opts.Now, logger: opts.Logger, tickets: opts.Tickets,
		apiKeys: opts.APIKeys, documents: opts.Documents, webhooks: opts.Webhooks, customers: opts.Customers}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	if r.revealsPerHour <= 0 {
		r.revealsPerHour = 30
	}
	if opts.Redis != nil {
		r.revealLimit = ratelimit.New(opts.Redis, "scrm:reveal")
	}
	es := graph.NewExecutableSchema(graph.Config{Resolvers: r, Directives: graph.DirectiveRoot{
		// @cacheControl only shapes the HTTP answer (internal/persisted
		// reads it from the operation); execution ignores it.
		CacheControl: func(ctx context.Context, _ any, next graphql.Resolver, _ int, _ *model.CacheControlScope) (any, error) {
			return next(ctx)
		},
	}})
	r.schema = es.Schema()
	return es
}

// Configure installs on srv what the resolvers rely on: the field guard
// (field-level permissions), a transaction around each mutation (so
// multi-step writes are atomic) and the error presenter that maps errors
// to extensions.code.
func Configure(srv *handler.Server, opts Options) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	if !opts.WithoutFieldGuard {
		srv.AroundFields(graph.FieldGuard(schema, auditObserver{}))
	}
	if opts.Redis != nil {
		srv.Use(kickRelay{rdb: opts.Redis, logger: opts.Logger})
	}
	srv.Use(operationsOnly{entgql.Transactioner{TxOpener: opts.Client}})
	srv.Use(auditFlush{client: opts.Client, logger: opts.Logger})
	srv.SetErrorPresenter(ErrorPresenter(opts.Logger))
	srv.SetRecoverFunc(RecoverFunc(opts.Logger))
}

// db returns the transaction of the current mutation, or the client.
func (r *Resolver) db(ctx context.Context) *ent.Client {
	if c := ent.FromContext(ctx); c != nil {
		return c
	}
	return r.client
}

// viewerFrom returns the request's viewer. The HTTP layer refuses requests
// without one, so its absence is a wiring bug.
func viewerFrom(ctx context.Context) *viewer.Viewer {
	if v := viewer.FromContext(ctx); v != nil {
		return v
	}
	return &viewer.Viewer{}
}

// jobsAdmin is the background job queues (nil-safe: a server without
// them answers jobs.ErrNoQueues).
func (r *Resolver) jobsAdmin() *jobs.Admin { return r.jobs }

// afterCommit runs fn once the request's transaction has committed (at
// once outside one): work for other processes must not see rows that
// might still roll back.
func (r *Resolver) afterCommit(ctx context.Context, fn func(context.Context)) {
	txhook.AfterCommit(ctx, func() { fn(context.WithoutCancel(ctx)) })
}

// ptrs turns a slice of values into one of pointers, as gqlgen wants.
func ptrs[T any](vs []T) []*T {
	out := make([]*T, len(vs))
	for i := range vs {
		out[i] = &vs[i]
	}
	return out
}

// operationsOnly runs a response interceptor only for requests that got
// as far as an operation. gqlgen also dispatches errors of requests it
// could not read (a malformed body) through the interceptors, with no
// operation in the context, and entgql.Transactioner panics on those. The
// mini-program sign-in gets no transaction either (see signInOnly).
type operationsOnly struct{ entgql.Transactioner }

func (o operationsOnly) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) || signInOnly(graphql.GetOperationContext(ctx).Operation) {
		return next(ctx)
	}
	return o.Transactioner.InterceptResponse(ctx, next)
}
