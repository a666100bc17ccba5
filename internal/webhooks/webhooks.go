// Package webhooks delivers the tenant's events to partners' HTTPS
// endpoints: fan-out from the event outbox, signed deliveries, retries
// with backoff for up to 24 hours, the delivery log, pausing a failing
// endpoint.
package webhooks

import (
	"log/slog"

	"github.com/scrm-dev/scrm/ent"
)

// Options configure the Service.
type Options struct {
	Client *ent.Client
	Logger *slog.Logger
}

// Service manages endpoints and delivers events to them.
type Service struct{ opts Options }

// New returns a Service.
func New(opts Options) *Service { return &Service{opts: opts} }
