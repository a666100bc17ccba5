// Package webhooks delivers the tenant's events to partners' HTTPS
// endpoints: fan-out from the event outbox, signed deliveries, retries
// with backoff for up to 24 hours, the delivery log, pausing a failing
// endpoint. It owns the endpoints' rules (URLs, kinds, secrets) and the
// delivery state machine; queuing is behind Queue (asynq, in jobs) and
// admins are told through Notifier (WeCom app messages).
//
// The design, and why:
//   - Exactly once per endpoint and event: fan-out (Fanout) reads the
//     tenant's relayed events after tenant.webhook_seq, inserts one
//     delivery per matching endpoint (the unique (endpoint, event) index
//     drops a repeat) and moves webhook_seq in the same transaction, only
//     if no other fan-out moved it meanwhile. An endpoint receives events
//     that happened after it was made.
//   - Payloads are thin: global IDs of the subject and of the customer,
//     assignee or surviving customer the event names, plus status,
//     platform and shop. No personal data leaves with a webhook; partners
//     read details through the API under their own key's permissions, so
//     field masks, scopes and the audit trail apply to them as to anyone.
//   - Each attempt is one task. A failed attempt schedules the next one
//     itself (exponential backoff with jitter, up to Window after the
//     delivery was made, then ABANDONED), so the log always says when the
//     next try is due; an attempt number in the task and a conditional
//     update make a stale or doubled task a no-op. Fan-out also requeues
//     attempts overdue by a minute (a task lost with Redis).
//   - After PauseAfter failed attempts in a row an endpoint is PAUSED:
//     its deliveries wait, the tenant's admins get a WeCom message and the
//     audit trail an entry. Resuming re-enqueues what is still within its
//     window. A paused endpoint keeps collecting deliveries for Window
//     after it paused, so a partner's short outage loses nothing.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"time"

	"github.com/scrm-dev/scrm/ent"
)

// Attempt names one delivery attempt to queue.
type Attempt struct {
	TenantID   int `json:"tenant_id"`
	DeliveryID int `json:"delivery_id"`
	// After is how many attempts the delivery had when this one was
	// queued; a task whose delivery has moved on is stale.
	After int `json:"after"`
	// Manual attempts (redeliverWebhook) go out even to a paused endpoint.
	Manual bool `json:"manual,omitempty"`
	// At is when the attempt is due (now when zero).
	At time.Time `json:"-"`
}

// Queue runs attempts in the background (jobs.WebhookQueue on asynq).
type Queue interface {
	EnqueueAttempt(ctx context.Context, a Attempt) error
}

// Notifier sends staff a WeCom app message; key makes a repeat one
// message (tickets.Notifier has the same shape, jobs implements both).
type Notifier interface {
	NotifyStaff(ctx context.Context, tenantID int, staffIDs []int, text, key string) error
}

// Options configure the Service.
type Options struct {
	Client *ent.Client
	Logger *slog.Logger
	// Queue runs delivery attempts; without it deliveries are stored but
	// never sent (the API alone, in some tests).
	Queue Queue
	// Notifier tells admins an endpoint was paused; optional.
	Notifier Notifier
	// PauseAfter is how many failed attempts in a row pause an endpoint
	// (15 when zero).
	PauseAfter int
	// AllowInsecure allows http URLs to loopback hosts and lifts the dial
	// guard against internal addresses: development and tests only.
	AllowInsecure bool
	// RetryBase is the wait after the first failed attempt, doubled after
	// each one up to RetryMax (30s and 4h when zero); Window is how long
	// after its creation a delivery is retried (24h when zero).
	RetryBase, RetryMax, Window time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// HTTPClient sends deliveries; built from AllowInsecure when nil.
	HTTPClient *http.Client
}

// Service manages endpoints and delivers events to them.
type Service struct {
	opts Options
	http *http.Client
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PauseAfter <= 0 {
		opts.PauseAfter = 15
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 30 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 4 * time.Hour
	}
	if opts.Window <= 0 {
		opts.Window = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, http: opts.HTTPClient}
	if s.http == nil {
		s.http = newHTTPClient(opts.AllowInsecure)
	}
	return s
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// db is the transaction of the request in ctx, or the client.
func (s *Service) db(ctx context.Context) *ent.Client {
	if c := ent.FromContext(ctx); c != nil {
		return c
	}
	return s.opts.Client
}

// enqueue queues attempts once the transaction in ctx commits (a task
// must not find its delivery missing), or now outside one. A failure to
// queue is logged: fan-out requeues overdue attempts.
func (s *Service) enqueue(ctx context.Context, attempts ...Attempt) {
	if s.opts.Queue == nil || len(attempts) == 0 {
		return
	}
	send := func() {
		ctx := context.WithoutCancel(ctx)
		for _, a := range attempts {
			if err := s.opts.Queue.EnqueueAttempt(ctx, a); err != nil {
				s.opts.Logger.WarnContext(ctx, "webhooks: queue an attempt", "delivery", a.DeliveryID, "err", err)
			}
		}
	}
	tx := ent.TxFromContext(ctx)
	if tx == nil {
		send()
		return
	}
	tx.OnCommit(func(next ent.Committer) ent.Committer {
		return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
			err := next.Commit(ctx, tx)
			if err == nil {
				send()
			}
			return err
		})
	})
}

// newSecret returns a signing secret: 32 random bytes.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}
