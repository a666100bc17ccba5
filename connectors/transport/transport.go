// Package transport is the one HTTP client layer every platform connector
// calls through. A connector describes a call (which account, which
// endpoint, how to send it and how to read the platform's answer); this
// package decides when it may go and what to do when it fails:
//
//   - Rate limits per account and per endpoint, set below each platform's
//     published limits, counted in Redis (GCRA, github.com/go-redis/redis_rate)
//     so that every replica and worker shares one budget.
//   - A platform's own rate-limit answer (WeCom 45009, TOP code 7, ...) puts
//     the account's endpoint in a cool-down kept in Redis: every process
//     holds back for the time the platform asked, not only the one that
//     was told.
//   - An invalid-token answer drops the cached token (connectors/tokens)
//     and retries once with a new one.
//   - "System busy" answers and network errors are retried with backoff,
//     at most three times.
//   - A circuit breaker per account (github.com/sony/gobreaker) stops
//     calling a platform that keeps failing, so a dead account does not
//     tie up workers; refusals that are the caller's fault do not trip it.
//   - Every call is counted and timed in Prometheus metrics and logged at
//     debug level with the request id of the job or request that made it.
//
// Base URLs are the connectors' business: each takes one, so tests and the
// demo point them at the fakes.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
)

// Kind says how to react to a platform's refusal.
type Kind int

const (
	// KindPermanent: the call cannot succeed as made (bad request, no
	// permission for the API, IP not trusted); fail without retrying.
	KindPermanent Kind = iota
	// KindTokenInvalid: the access token was refused; fetch a new one.
	KindTokenInvalid
	// KindRateLimited: the platform throttled us; wait RetryAfter.
	KindRateLimited
	// KindBusy: a transient failure on the platform's side; retry.
	KindBusy
	// KindNotFound: the object is gone or not visible to us; record and
	// go on with the rest (WeCom 84061, 60111, ...).
	KindNotFound
	// KindAuth: the account's own credentials are wrong or revoked; the
	// account needs an admin.
	KindAuth
)

func (k Kind) String() string {
	return [...]string{"permanent", "token_invalid", "rate_limited", "busy", "not_found", "auth"}[k]
}

// Error is a platform's refusal of one call.
type Error struct {
	Platform, Endpoint string
	Code               string
	Message            string
	Kind               Kind
	// RetryAfter is how long the platform asked us to wait (rate limits).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %s %s", e.Platform, e.Endpoint, e.Code, e.Message)
}

// IsKind reports whether err is a platform refusal of kind k.
func IsKind(err error, k Kind) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Kind == k
}

// ErrCircuitOpen is returned without calling while an account's breaker
// is open.
var ErrCircuitOpen = errors.New("the platform account keeps failing: calls are paused for a while")

// Endpoint is one API of a platform with the budget we allow ourselves on
// it per account.
type Endpoint struct {
	Platform string
	Name     string
	// Limit per account; zero means no limit of ours.
	Limit redis_rate.Limit
}

// Call is one request.
type Call struct {
	// Account names the account (tenant and platform account id) for
	// limits, breaker and metrics.
	Account string
	Endpoint
	// Send makes the HTTP request and reads the answer into the caller's
	// result; it returns *Error for a platform refusal.
	Send func(ctx context.Context) error
	// RenewToken is called after a KindTokenInvalid refusal, before the
	// one retry; nil when the endpoint needs no token.
	RenewToken func(ctx context.Context) error
}

// Options configure a Client.
type Options struct {
	// Redis holds the shared rate budgets and cool-downs.
	Redis redis.UniversalClient
	// Prefix of the Redis keys; "scrm:conn:" when empty.
	Prefix string
	// MaxWait is how long a call may wait for budget or a cool-down before
	// it gives up with the platform's error (the job then retries later);
	// 30s when zero.
	MaxWait time.Duration
	// Metrics registers the call metrics; nil for none.
	Metrics prometheus.Registerer
	Logger  *slog.Logger
	// BreakerFailures consecutive failures open an account's breaker for
	// BreakerOpenFor; 5 and 30s when zero.
	BreakerFailures uint32
	BreakerOpenFor  time.Duration
	// Sleep waits; a context-aware time.Sleep when nil (tests shorten it).
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client runs calls under the shared limits.
type Client struct {
	opts     Options
	limiter  *redis_rate.Limiter
	metrics  *metrics
	breakers sync.Map // account -> *gobreaker.CircuitBreaker[struct{}]
}

// New returns a client.
func New(opts Options) *Client {
	if opts.Prefix == "" {
		opts.Prefix = "scrm:conn:"
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BreakerFailures == 0 {
		opts.BreakerFailures = 5
	}
	if opts.BreakerOpenFor <= 0 {
		opts.BreakerOpenFor = 30 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	return &Client{opts: opts, limiter: redis_rate.NewLimiter(opts.Redis), metrics: newMetrics(opts.Metrics)}
}

// HTTPClient is the client connectors send with: pooled connections and a
// timeout well inside a job's.
var HTTPClient = &http.Client{
	Timeout: 20 * time.Second,
	Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
	},
}

// retries of KindBusy and network errors.
const maxBusyRetries = 3

// Do runs c: waits for budget, sends through the account's breaker, and
// reacts to the platform's answer as the package doc says.
func (cl *Client) Do(ctx context.Context, c Call) error {
	deadline := time.Now().Add(cl.opts.MaxWait)
	renewed := false
	busy := 0
	for {
		// An open breaker refuses at once: waiting for budget first would
		// only queue calls that are refused anyway.
		if cl.breaker(c.Endpoint.Platform, c.Account).State() == gobreaker.StateOpen {
			cl.metrics.calls.WithLabelValues(c.Endpoint.Platform, c.Endpoint.Name, "circuit_open").Inc()
			return fmt.Errorf("%s account %s: %w", c.Endpoint.Platform, c.Account, ErrCircuitOpen)
		}
		if err := cl.waitTurn(ctx, c, deadline); err != nil {
			return err
		}
		err := cl.send(ctx, c)
		var pe *Error
		switch {
		case err == nil:
			return nil
		case errors.As(err, &pe) && pe.Kind == KindTokenInvalid && c.RenewToken != nil && !renewed:
			renewed = true
			if rerr := c.RenewToken(ctx); rerr != nil {
				return fmt.Errorf("renew the access token: %w", rerr)
			}
		case errors.As(err, &pe) && pe.Kind == KindRateLimited:
			wait := pe.RetryAfter
			if wait <= 0 {
				wait = time.Second
			}
			cl.coolDown(ctx, c, wait)
			if time.Now().Add(wait).After(deadline) {
				return err
			}
		case (errors.As(err, &pe) && pe.Kind == KindBusy) || (pe == nil && !errors.Is(err, ErrCircuitOpen) && ctx.Err() == nil):
			busy++
			if busy > maxBusyRetries {
				return err
			}
			if serr := cl.opts.Sleep(ctx, time.Duration(busy*busy)*200*time.Millisecond); serr != nil {
				return err
			}
		default:
			return err
		}
	}
}

// waitTurn waits out a shared cool-down and takes one unit of the
// account's endpoint budget.
func (cl *Client) waitTurn(ctx context.Context, c Call, deadline time.Time) error {
	if cl.opts.Redis == nil {
		return nil
	}
	key := c.Endpoint.Platform + ":" + c.Account + ":" + c.Endpoint.Name
	for {
		wait, err := cl.opts.Redis.PTTL(ctx, cl.opts.Prefix+"cool:"+key).Result()
		if err != nil {
			return fmt.Errorf("read the platform cool-down: %w", err)
		}
		if wait <= 0 && !c.Endpoint.Limit.IsZero() {
			res, err := cl.limiter.Allow(ctx, cl.opts.Prefix+"rate:"+key, c.Endpoint.Limit)
			if err != nil {
				return fmt.Errorf("take platform call budget: %w", err)
			}
			if res.Allowed > 0 {
				return nil
			}
			wait = res.RetryAfter
			cl.metrics.throttled.WithLabelValues(c.Endpoint.Platform, c.Endpoint.Name).Inc()
		} else if wait <= 0 {
			return nil
		}
		if time.Now().Add(wait).After(deadline) {
			return &Error{Platform: c.Endpoint.Platform, Endpoint: c.Endpoint.Name, Code: "throttled",
				Message: "our own budget for this account is spent", Kind: KindRateLimited, RetryAfter: wait}
		}
		if err := cl.opts.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// coolDown makes every process hold back from the endpoint for d.
func (cl *Client) coolDown(ctx context.Context, c Call, d time.Duration) {
	if cl.opts.Redis == nil {
		return
	}
	key := cl.opts.Prefix + "cool:" + c.Endpoint.Platform + ":" + c.Account + ":" + c.Endpoint.Name
	if err := cl.opts.Redis.Set(ctx, key, "1", d).Err(); err != nil {
		cl.opts.Logger.WarnContext(ctx, "could not share a platform cool-down", "key", key, "error", err)
	}
}

// send makes one attempt through the breaker, timed and counted.
func (cl *Client) send(ctx context.Context, c Call) error {
	start := time.Now()
	_, err := cl.breaker(c.Endpoint.Platform, c.Account).Execute(func() (struct{}, error) {
		return struct{}{}, c.Send(ctx)
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		err = fmt.Errorf("%s account %s: %w", c.Endpoint.Platform, c.Account, ErrCircuitOpen)
	}
	outcome := "ok"
	var pe *Error
	switch {
	case err == nil:
	case errors.As(err, &pe):
		outcome = pe.Kind.String()
	case errors.Is(err, ErrCircuitOpen):
		outcome = "circuit_open"
	default:
		outcome = "network"
	}
	took := time.Since(start)
	cl.metrics.calls.WithLabelValues(c.Endpoint.Platform, c.Endpoint.Name, outcome).Inc()
	cl.metrics.seconds.WithLabelValues(c.Endpoint.Platform, c.Endpoint.Name).Observe(took.Seconds())
	if cl.opts.Logger.Enabled(ctx, slog.LevelDebug) {
		attrs := []any{"platform", c.Endpoint.Platform, "endpoint", c.Endpoint.Name, "account", c.Account,
			"outcome", outcome, "ms", strconv.FormatFloat(float64(took.Microseconds())/1000, 'f', 1, 64)}
		if err != nil {
			attrs = append(attrs, "error", err)
		}
		cl.opts.Logger.DebugContext(ctx, "platform call", attrs...)
	}
	return err
}

// breaker returns the account's breaker. Only failures that say the
// platform or the network is unwell count: a refusal of one request
// (not found, bad input, token to renew, our throttling) does not.
func (cl *Client) breaker(platform, account string) *gobreaker.CircuitBreaker[struct{}] {
	key := platform + ":" + account
	if b, ok := cl.breakers.Load(key); ok {
		return b.(*gobreaker.CircuitBreaker[struct{}])
	}
	failures := cl.opts.BreakerFailures
	b := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        key,
		MaxRequests: 1,
		Timeout:     cl.opts.BreakerOpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsSuccessful: func(err error) bool {
			var pe *Error
			if errors.As(err, &pe) {
				return pe.Kind != KindBusy && pe.Kind != KindAuth
			}
			return err == nil || errors.Is(err, context.Canceled)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			switch {
			case to == gobreaker.StateOpen:
				cl.metrics.breakerOpen.WithLabelValues(platform).Inc()
			case from == gobreaker.StateOpen:
				cl.metrics.breakerOpen.WithLabelValues(platform).Dec()
			}
			cl.opts.Logger.Warn("platform circuit breaker", "account", name, "from", from.String(), "to", to.String())
		},
	})
	actual, _ := cl.breakers.LoadOrStore(key, b)
	return actual.(*gobreaker.CircuitBreaker[struct{}])
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type metrics struct {
	calls       *prometheus.CounterVec
	seconds     *prometheus.HistogramVec
	throttled   *prometheus.CounterVec
	breakerOpen *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scrm_connector_calls_total", Help: "Platform API calls by outcome.",
		}, []string{"platform", "endpoint", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scrm_connector_call_seconds", Help: "Platform API call latency.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"platform", "endpoint"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scrm_connector_throttled_total", Help: "Calls held back by our own per-account budget.",
		}, []string{"platform", "endpoint"}),
		breakerOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scrm_connector_breakers_open", Help: "Accounts whose circuit breaker is open.",
		}, []string{"platform"}),
	}
	if reg != nil {
		m.calls = register(reg, m.calls)
		m.seconds = register(reg, m.seconds)
		m.throttled = register(reg, m.throttled)
		m.breakerOpen = register(reg, m.breakerOpen)
	}
	return m
}

// register registers c, or returns the collector registered before it
// (several clients in one process share the metrics).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
