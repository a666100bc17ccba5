// Package customerauth signs mini-program customers in: it exchanges a
// wx.login code for the customer's identity (through connectors/wechat)
// and issues a customer token.
package customerauth

import (
	"log/slog"

	"github.com/scrm-dev/scrm/ent"
)

// Options configure the Service.
type Options struct {
	Client *ent.Client
	Logger *slog.Logger
}

// Service signs customers in.
type Service struct{ opts Options }

// New returns a Service.
func New(opts Options) *Service { return &Service{opts: opts} }
