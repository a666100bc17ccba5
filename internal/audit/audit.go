// Package audit keeps each tenant's append-only, hash-chained audit trail:
// who did what to which objects and fields, when, from where.
//
// Writing is cheap for requests: a Recorder collects a request's entries
// (mutations, reads of unmasked personal data, reveals, policy changes,
// exports) and writes them in one INSERT, inside the mutation's
// transaction when there is one, so an undone mutation leaves no entry.
//
// Chaining happens after the fact: the sealer (Seal, run by the worker
// every minute and before every check) takes the tenant's pending entries
// in the order they were written and gives each a seq, the previous
// entry's hash and its own hash, sha256(prev_hash || canonical entry). The
// tenant row keeps the head (last seq and hash), so a deleted entry — even
// the last one — or an edited one breaks the chain where Verify finds it.
// Sealing later rather than on insert keeps a request to one round trip
// and avoids serialising every writer of a tenant on the chain head.
package audit

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Entry is one thing worth recording.
type Entry struct {
	Action     auditlog.Action
	Operation  string
	ObjectType string
	ObjectIDs  []string
	Fields     []string
	Purpose    string
}

// Recorder collects one request's entries. Safe for concurrent use
// (gqlgen resolves fields concurrently).
type Recorder struct {
	ActorID   int
	Roles     []string
	ClientIP  string
	RequestID string

	mu       sync.Mutex
	entries  []Entry
	reads    map[string]*Entry // by object type: one entry per type per request
	recorded atomic.Int64
}

// Recorded counts what was ever recorded, flushed or not: a live update
// whose execution recorded something was about this viewer and cannot be
// shared with another.
func (r *Recorder) Recorded() int64 { return r.recorded.Load() }

// Add records e.
func (r *Recorder) Add(e Entry) {
	r.recorded.Add(1)
	r.mu.Lock()
	r.entries = append(r.entries, e)
	r.mu.Unlock()
}

// Read records that field of the object obj (an ent entity) was read
// unmasked. Reads of one type collapse into one entry listing the objects
// and fields.
func (r *Recorder) Read(typ, field string, obj any) {
	r.recorded.Add(1)
	id := objectID(obj)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reads == nil {
		r.reads = map[string]*Entry{}
	}
	e, ok := r.reads[typ]
	if !ok {
		e = &Entry{Action: auditlog.ActionRead, Operation: "query", ObjectType: typ}
		r.reads[typ] = e
	}
	if !slices.Contains(e.Fields, field) {
		e.Fields = append(e.Fields, field)
	}
	if id != "" && !slices.Contains(e.ObjectIDs, id) {
		e.ObjectIDs = append(e.ObjectIDs, id)
	}
}

// Pending reports how many entries Flush would write.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries) + len(r.reads)
}

// Flush writes the collected entries with one INSERT through db (the
// mutation's transaction, or the client) and forgets them. The tenant is
// the viewer's, as for any write.
func (r *Recorder) Flush(ctx context.Context, db *ent.Client) error {
	r.mu.Lock()
	entries := r.entries
	for _, typ := range sortedKeys(r.reads) {
		e := *r.reads[typ]
		slices.Sort(e.Fields)
		entries = append(entries, e)
	}
	r.entries, r.reads = nil, nil
	r.mu.Unlock()
	if len(entries) == 0 {
		return nil
	}
	creates := make([]*ent.AuditLogCreate, len(entries))
	for i, e := range entries {
		c := db.AuditLog.Create().
			SetAction(e.Action).
			SetOperation(e.Operation).
			SetObjectType(e.ObjectType).
			SetObjectIds(nonNil(e.ObjectIDs)).
			SetFields(nonNil(e.Fields)).
			SetPurpose(e.Purpose).
			SetActorRoles(nonNil(r.Roles)).
			SetClientIP(r.ClientIP).
			SetRequestID(r.RequestID)
		if r.ActorID != 0 {
			c.SetActorID(r.ActorID)
		}
		creates[i] = c
	}
	if err := db.AuditLog.CreateBulk(creates...).Exec(ctx); err != nil {
		return fmt.Errorf("audit: write %d entries: %w", len(entries), err)
	}
	return nil
}

type ctxKey struct{}

// NewContext returns ctx carrying r.
func NewContext(ctx context.Context, r *Recorder) context.Context {
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the request's recorder, or nil.
func FromContext(ctx context.Context) *Recorder {
	r, _ := ctx.Value(ctxKey{}).(*Recorder)
	return r
}

// objectID returns the global ID of an ent entity (any struct pointer
// with an int ID field), or "".
func objectID(obj any) string {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	f := v.Elem().FieldByName("ID")
	if !f.IsValid() || f.Kind() != reflect.Int {
		return ""
	}
	return gid.Encode(int(f.Int()))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// RecordSignInFailure writes a failed sign-in to the trail of the tenant
// the credential claimed, when that tenant exists; a credential naming no
// tenant is only logged by the caller.
func RecordSignInFailure(ctx context.Context, client *ent.Client, tenantID int, clientIP, requestID, reason string) error {
	if tenantID <= 0 {
		return nil
	}
	ctx = viewer.ForTenant(ctx, tenantID)
	exists, err := client.Tenant.Query().Exist(ctx)
	if err != nil || !exists {
		return err
	}
	rec := &Recorder{ClientIP: clientIP, RequestID: requestID}
	rec.Add(Entry{Action: auditlog.ActionSignInFailed, Operation: "signIn", Purpose: reason})
	return rec.Flush(ctx, client)
}

// SignInFailures returns a recorder of failed sign-ins for the HTTP layer;
// a failure to record is logged, never shown to the (unauthenticated)
// caller.
func SignInFailures(client *ent.Client, logger *slog.Logger) func(ctx context.Context, tenantID int, clientIP, reason string) {
	return func(ctx context.Context, tenantID int, clientIP, reason string) {
		id := requestid.FromContext(ctx)
		if err := RecordSignInFailure(ctx, client, tenantID, clientIP, id, reason); err != nil {
			logger.WarnContext(ctx, "audit: record a failed sign-in", "request_id", id, "error", err)
		}
	}
}
