// Package apikeys makes, verifies and revokes partner API keys.
package apikeys

import (
	"log/slog"

	"github.com/scrm-dev/scrm/ent"
)

// Options configure the Service.
type Options struct {
	Client *ent.Client
	Logger *slog.Logger
}

// Service makes and verifies keys.
type Service struct{ opts Options }

// New returns a Service.
func New(opts Options) *Service { return &Service{opts: opts} }
