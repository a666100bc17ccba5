package wecomfake

import (
	"context"
	"sync"

	"github.com/scrm-dev/scrm/connectors/wecom"
)

// Archive is an in-memory session archive: tests append records and the
// code under test fetches them by sequence number, as from the SDK.
type Archive struct {
	mu      sync.Mutex
	records []wecom.ArchivedMessage
	seq     int64
}

var _ wecom.Archive = (*Archive)(nil)

// Add appends a record, numbering it.
func (a *Archive) Add(m wecom.ArchivedMessage) wecom.ArchivedMessage {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seq++
	m.Seq = a.seq
	a.records = append(a.records, m)
	return m
}

// Fetch returns up to limit records after afterSeq.
func (a *Archive) Fetch(_ context.Context, afterSeq int64, limit int) ([]wecom.ArchivedMessage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []wecom.ArchivedMessage
	for _, m := range a.records {
		if m.Seq > afterSeq && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}
