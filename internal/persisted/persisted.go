// Package persisted serves persisted operations: automatic persisted
// queries (Apollo's protocol, stored in Redis behind an in-process cache)
// and trusted-document lists (allowlists pushed as Apollo or Relay
// manifests), and refuses persisted-only callers any other document. It
// also decides when a persisted GET query may be cached by HTTP caches
// (@cacheControl). It owns the documents' storage and validation, not the
// transports (internal/httpapi) nor who is persisted-only (whoever fills
// the viewer: viewer.PersistedOnly and DocumentLists).
package persisted

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/predicate"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/ent/trusteddocument"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/txhook"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Options configure the Store.
type Options struct {
	Client *ent.Client
	// Schema is what documents are validated against (pushes and checks).
	Schema *ast.Schema
	// Redis holds automatic persisted queries for every replica; without
	// it they live in this process only.
	Redis  redis.UniversalClient
	Logger *slog.Logger
	// APQTTL is how long an automatic persisted query stays in Redis
	// after its last use; 7 days when zero.
	APQTTL time.Duration
	// DocumentTTL is how long a replica trusts what it read of a tenant's
	// trusted documents; 30 s when zero. A push or delete on this replica
	// takes effect at once, on the others within DocumentTTL.
	DocumentTTL time.Duration
	// CacheSize bounds the in-process caches (entries); 10000 when zero.
	CacheSize int
	// Now is the clock of the caches; time.Now when nil.
	Now func() time.Time
}

// Store keeps trusted documents and automatic persisted queries.
type Store struct {
	opts Options
	apq  *APQCache
	docs *docCache
}

// New returns a Store.
func New(opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.APQTTL <= 0 {
		opts.APQTTL = 7 * 24 * time.Hour
	}
	if opts.DocumentTTL <= 0 {
		opts.DocumentTTL = 30 * time.Second
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Store{
		opts: opts,
		apq:  NewAPQCache(opts.Redis, APQOptions{TTL: opts.APQTTL, Size: opts.CacheSize, Logger: opts.Logger, Now: opts.Now}),
		docs: &docCache{lru: lru.New[docEntry](opts.CacheSize), ttl: opts.DocumentTTL, now: opts.Now},
	}
}

// PushResult says what a push changed.
type PushResult struct {
	List             string
	Added, Unchanged int
}

// Push adds a manifest's documents to a tenant's list. Every document must
// validate against the schema, or nothing is stored (BAD_USER_INPUT naming
// each failing document). Pushing the same manifest again changes nothing;
// an id already on the list with another body is refused (CONFLICT): ids
// are immutable, clients that change a document give it a new id.
func (s *Store) Push(ctx context.Context, tenantID int, list string, manifest []byte) (PushResult, error) {
	res := PushResult{List: list}
	if err := checkListName(list); err != nil {
		return res, err
	}
	docs, err := ParseManifest(manifest)
	if err != nil {
		return res, err
	}
	if s.opts.Schema == nil {
		return res, errors.New("persisted: the Store has no schema to validate documents against")
	}
	if problems := Validate(s.opts.Schema, docs); len(problems) > 0 {
		return res, apperr.Invalid("manifest", "%s", summary(problems))
	}
	ctx = viewer.ForTenant(ctx, tenantID)
	err = s.inTx(ctx, func(c *ent.Client) error {
		ids := make([]string, len(docs))
		for i, d := range docs {
			ids[i] = d.ID
		}
		have := map[string]string{}
		for chunk := range slices.Chunk(ids, 500) {
			rows, err := c.TrustedDocument.Query().
				Where(trusteddocument.List(list), trusteddocument.DocumentIDIn(chunk...)).
				Select(trusteddocument.FieldDocumentID, trusteddocument.FieldHash).All(ctx)
			if err != nil {
				return fmt.Errorf("read list %s: %w", list, err)
			}
			for _, r := range rows {
				have[r.DocumentID] = r.Hash
			}
		}
		var changed []string
		creates := make([]*ent.TrustedDocumentCreate, 0, len(docs))
		for _, d := range docs {
			hash, ok := have[d.ID]
			switch {
			case ok && hash == d.Hash:
				res.Unchanged++
			case ok:
				changed = append(changed, strconv.Quote(d.ID))
			default:
				creates = append(creates, c.TrustedDocument.Create().SetList(list).SetDocumentID(d.ID).
					SetHash(d.Hash).SetBody(d.Body).SetOperationName(d.Name))
			}
		}
		if len(changed) > 0 {
			return apperr.Conflict("manifest", "list %s already holds %s with a different body; document ids are immutable: give a changed document a new id (or push to a new list)",
				list, joinFew(changed, 10))
		}
		for chunk := range slices.Chunk(creates, 200) {
			if err := c.TrustedDocument.CreateBulk(chunk...).Exec(ctx); err != nil {
				return fmt.Errorf("store list %s: %w", list, err)
			}
		}
		res.Added = len(creates)
		return nil
	})
	if err != nil {
		return PushResult{List: list}, err
	}
	txhook.AfterCommit(ctx, func() { s.docs.invalidate(tenantID) })
	return res, nil
}

// DeleteList removes a tenant's list and returns how many documents it
// held. Callers limited to the list are refused from then on (on other
// replicas within DocumentTTL).
func (s *Store) DeleteList(ctx context.Context, tenantID int, list string) (int, error) {
	ctx = viewer.ForTenant(ctx, tenantID)
	var n int
	err := s.inTx(ctx, func(c *ent.Client) (err error) {
		n, err = c.TrustedDocument.Delete().Where(trusteddocument.List(list)).Exec(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete list %s: %w", list, err)
	}
	txhook.AfterCommit(ctx, func() { s.docs.invalidate(tenantID) })
	return n, nil
}

// Check validates stored documents against the current schema: one
// tenant's (by slug) or, with tenantSlug empty, every tenant's. It returns
// the broken ones and how many it checked.
func (s *Store) Check(ctx context.Context, tenantSlug string) ([]Problem, int, error) {
	ctx = viewer.System(ctx)
	q := s.opts.Client.Tenant.Query()
	if tenantSlug != "" {
		q = q.Where(tenant.Slug(tenantSlug))
	}
	tenants, err := q.Order(tenant.ByID()).Select(tenant.FieldID, tenant.FieldSlug).All(ctx)
	if err != nil {
		return nil, 0, err
	}
	if tenantSlug != "" && len(tenants) == 0 {
		return nil, 0, fmt.Errorf("no tenant %q", tenantSlug)
	}
	var problems []Problem
	checked := 0
	for _, t := range tenants {
		rows, err := s.opts.Client.TrustedDocument.Query().Where(trusteddocument.TenantID(t.ID)).
			Order(trusteddocument.ByList(), trusteddocument.ByDocumentID()).All(ctx)
		if err != nil {
			return nil, 0, err
		}
		checked += len(rows)
		for _, r := range rows {
			d := Document{ID: r.DocumentID, Name: r.OperationName, Body: r.Body, Hash: r.Hash}
			for _, p := range Validate(s.opts.Schema, []Document{d}) {
				p.Tenant, p.List = t.Slug, r.List
				problems = append(problems, p)
			}
		}
	}
	return problems, checked, nil
}

// APQ is the automatic persisted queries' cache.
func (s *Store) APQ() *APQCache { return s.apq }

// stored is one trusted document as the hot path keeps it.
type stored struct {
	List, DocumentID, Body string
}

// byHash returns the tenant's trusted documents with a body of hash.
func (s *Store) byHash(ctx context.Context, tenantID int, hash string) ([]stored, error) {
	return s.docs.get(tenantID, 'h', hash, func() ([]stored, error) {
		return s.load(ctx, tenantID, trusteddocument.Hash(hash))
	})
}

// byID returns the tenant's trusted documents of id (one per list).
func (s *Store) byID(ctx context.Context, tenantID int, id string) ([]stored, error) {
	return s.docs.get(tenantID, 'i', id, func() ([]stored, error) {
		return s.load(ctx, tenantID, trusteddocument.DocumentID(id))
	})
}

func (s *Store) load(ctx context.Context, tenantID int, where predicate.TrustedDocument) ([]stored, error) {
	rows, err := s.opts.Client.TrustedDocument.Query().Where(where).
		Order(trusteddocument.ByList()).
		Select(trusteddocument.FieldList, trusteddocument.FieldDocumentID, trusteddocument.FieldBody).
		All(viewer.ForTenant(ctx, tenantID))
	if err != nil {
		return nil, fmt.Errorf("read trusted documents: %w", err)
	}
	out := make([]stored, len(rows))
	for i, r := range rows {
		out[i] = stored{List: r.List, DocumentID: r.DocumentID, Body: r.Body}
	}
	return out, nil
}

func (s *Store) inTx(ctx context.Context, fn func(*ent.Client) error) error {
	if tx := ent.TxFromContext(ctx); tx != nil { // a GraphQL mutation's
		return fn(tx.Client())
	}
	tx, err := s.opts.Client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx.Client()); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

func joinFew(items []string, max int) string {
	if len(items) > max {
		return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
	}
	switch len(items) {
	case 1:
		return items[0]
	default:
		return fmt.Sprintf("%s and %s", strings.Join(items[:len(items)-1], ", "), items[len(items)-1])
	}
}

// docCache keeps what the hot path read of tenants' trusted documents,
// found or not, for a short TTL. Keys carry the tenant's generation, so a
// push or delete drops all of a tenant's entries at once (on this
// replica).
type docCache struct {
	lru  *lru.LRU[docEntry]
	ttl  time.Duration
	now  func() time.Time
	mu   sync.RWMutex
	gens map[int]uint64
}

type docEntry struct {
	docs    []stored
	expires time.Time
}

func (c *docCache) gen(tenantID int) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gens[tenantID]
}

func (c *docCache) invalidate(tenantID int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens == nil {
		c.gens = map[int]uint64{}
	}
	c.gens[tenantID]++
}

func (c *docCache) get(tenantID int, kind byte, key string, load func() ([]stored, error)) ([]stored, error) {
	var buf [128]byte // on the stack for hashes and most ids
	k := append(buf[:0], kind)
	k = strconv.AppendInt(k, int64(tenantID), 10)
	k = append(k, '/')
	k = strconv.AppendUint(k, c.gen(tenantID), 10)
	k = append(k, '/')
	k = append(k, key...)
	now := c.now()
	if e, ok := c.lru.Get(context.Background(), string(k)); ok && now.Before(e.expires) {
		return e.docs, nil
	}
	docs, err := load()
	if err != nil {
		return nil, err
	}
	c.lru.Add(context.Background(), string(k), docEntry{docs: docs, expires: now.Add(c.ttl)})
	return docs, nil
}
