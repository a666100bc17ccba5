// Package txhook runs work once the transaction of a request commits:
// messages, timers, cache flushes and notices to other replicas must not
// go out for a change that may still roll back, nor before other
// processes can see it.
package txhook

import (
	"context"

	"github.com/scrm-dev/scrm/ent"
)

// AfterCommit runs fn once the transaction in ctx has committed, or at once
// when ctx carries none. A rolled-back transaction never runs it.
func AfterCommit(ctx context.Context, fn func()) {
	tx := ent.TxFromContext(ctx)
	if tx == nil {
		fn()
		return
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				fn()
			}
			return err
		})
	})
}
