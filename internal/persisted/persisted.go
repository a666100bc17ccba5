// Package persisted serves persisted operations: automatic persisted
// queries (Apollo's protocol, stored in Redis behind an in-process cache)
// and trusted-document lists (allowlists pushed as Apollo or Relay
// manifests), and refuses persisted-only callers any other document.
package persisted

import (
	"log/slog"

	"github.com/scrm-dev/scrm/ent"
)

// Options configure the Store.
type Options struct {
	Client *ent.Client
	Logger *slog.Logger
}

// Store keeps trusted documents.
type Store struct{ opts Options }

// New returns a Store.
func New(opts Options) *Store { return &Store{opts: opts} }
