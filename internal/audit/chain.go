package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// sealBatch bounds one sealing transaction.
const sealBatch = 500

// canonical is what an entry's hash covers, in a fixed order. Times are
// UTC to the microsecond, what every database keeps.
type canonical struct {
	Tenant     int      `json:"t"`
	Seq        int64    `json:"s"`
	CreatedAt  string   `json:"at"`
	Actor      int      `json:"a"`
	Roles      []string `json:"r"`
	Action     string   `json:"x"`
	Operation  string   `json:"o"`
	ObjectType string   `json:"ot"`
	ObjectIDs  []string `json:"oi"`
	Fields     []string `json:"f"`
	Purpose    string   `json:"p"`
	ClientIP   string   `json:"ip"`
	RequestID  string   `json:"rid"`
}

// Hash chains e (as seq) to prev.
func Hash(prev string, seq int64, e *ent.AuditLog) string {
	c := canonical{
		Tenant: e.TenantID, Seq: seq, CreatedAt: e.CreatedAt.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano),
		Roles: e.ActorRoles, Action: string(e.Action), Operation: e.Operation, ObjectType: e.ObjectType,
		ObjectIDs: e.ObjectIds, Fields: e.Fields, Purpose: e.Purpose, ClientIP: e.ClientIP, RequestID: e.RequestID,
	}
	if e.ActorID != nil {
		c.Actor = *e.ActorID
	}
	body, _ := json.Marshal(c) // plain data: cannot fail
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Seal chains the tenant's pending entries and returns how many it sealed.
// Concurrent sealers of one tenant queue on the tenant row.
func Seal(ctx context.Context, client *ent.Client, tenantID int) (int, error) {
	ctx = schema.AllowSealing(viewer.ForTenant(ctx, tenantID))
	total := 0
	for {
		n, err := sealBatchOf(ctx, client, tenantID)
		total += n
		if err != nil || n < sealBatch {
			return total, err
		}
	}
}

func sealBatchOf(ctx context.Context, client *ent.Client, tenantID int) (int, error) {
	tx, err := client.Tx(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	// A no-op update takes the tenant row's lock: sealers of one tenant
	// take turns, so seqs never clash.
	if err := tx.Tenant.Update().Where(tenant.ID(tenantID)).AddAuditSeq(0).Exec(ctx); err != nil {
		return 0, fmt.Errorf("audit: lock tenant %d: %w", tenantID, err)
	}
	t, err := tx.Tenant.Get(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	pending, err := tx.AuditLog.Query().
		Where(auditlog.SeqIsNil()).
		Order(auditlog.ByID()).
		Limit(sealBatch).
		All(ctx)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	seq, head := t.AuditSeq, t.AuditHead
	for _, e := range pending {
		seq++
		h := Hash(head, seq, e)
		if err := tx.AuditLog.UpdateOneID(e.ID).SetSeq(seq).SetPrevHash(head).SetHash(h).Exec(ctx); err != nil {
			return 0, fmt.Errorf("audit: seal entry %d: %w", e.ID, err)
		}
		head = h
	}
	if err := tx.Tenant.UpdateOneID(tenantID).SetAuditSeq(seq).SetAuditHead(head).Exec(ctx); err != nil {
		return 0, err
	}
	return len(pending), tx.Commit()
}

// SealAll seals every tenant's pending entries.
func SealAll(ctx context.Context, client *ent.Client) error {
	ids, err := client.AuditLog.Query().Where(auditlog.SeqIsNil()).
		Unique(true).Select(auditlog.FieldTenantID).Ints(viewer.System(ctx))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := Seal(ctx, client, id); err != nil {
			return fmt.Errorf("audit: seal tenant %d: %w", id, err)
		}
	}
	return nil
}

// Report is the outcome of Verify.
type Report struct {
	OK      bool
	Checked int
	// BrokenAt is the seq of the first broken link, when not OK.
	BrokenAt int64
	Reason   string
}

// Verify seals pending entries and walks the tenant's whole chain,
// reporting the first broken link: a missing entry (a gap, or entries
// missing at the end), an altered entry (its hash no longer matches), or
// a relinked one (its prev_hash is not its predecessor's hash).
func Verify(ctx context.Context, client *ent.Client, tenantID int) (Report, error) {
	if _, err := Seal(ctx, client, tenantID); err != nil {
		return Report{}, err
	}
	ctx = viewer.ForTenant(ctx, tenantID)
	t, err := client.Tenant.Get(ctx, tenantID)
	if err != nil {
		return Report{}, err
	}
	var (
		r    Report
		want int64 = 1
		prev string
	)
	broken := func(seq int64, format string, args ...any) (Report, error) {
		return Report{Checked: r.Checked, BrokenAt: seq, Reason: fmt.Sprintf(format, args...)}, nil
	}
	for {
		page, err := client.AuditLog.Query().
			Where(auditlog.SeqGTE(want)).
			Order(auditlog.BySeq()).
			Limit(1000).
			All(ctx)
		if err != nil {
			return Report{}, err
		}
		for _, e := range page {
			if *e.Seq != want {
				return broken(want, "entry %d is missing", want)
			}
			if e.PrevHash != prev {
				return broken(want, "entry %d does not follow entry %d", want, want-1)
			}
			if Hash(prev, want, e) != e.Hash {
				return broken(want, "entry %d was altered", want)
			}
			prev = e.Hash
			r.Checked++
			want++
		}
		if len(page) < 1000 {
			break
		}
	}
	if last := want - 1; last != t.AuditSeq || prev != t.AuditHead {
		return broken(last+1, "entries after %d are missing (the chain's head is %d)", last, t.AuditSeq)
	}
	r.OK = true
	return r, nil
}
