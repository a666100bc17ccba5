package e2e_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/ratelimit"
)

func TestRateLimits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for name, limiter := range map[string]ratelimit.RequestLimiter{
			"redis buckets": ratelimit.Requests{Bucket: ratelimit.NewBucket(e.rdb.Client, "e2e:rl:"+e.backend)},
			"in process":    ratelimit.NewLocal(),
		} {
			t.Run(name, func(t *testing.T) {
				limited := e.withHTTPOptions(func(o *httpapi.Options) {
					// 30 a minute: bursts of 5, then one every 2 s.
					o.RateLimits = &httpapi.RateLimits{Limiter: limiter, Staff: 30, Customer: 30, Partner: 30}
				})
				agent := e.token(t, "demo", "agent1")
				for i := 0; i < 5; i++ {
					limited.post(t, agent, `{ me { id } }`, nil).ok(t)
				}
				res := limited.post(t, agent, `{ me { id } }`, nil)
				if res.Status != http.StatusTooManyRequests || res.only(t).code() != "RATE_LIMITED" {
					t.Fatalf("sixth request in the burst: %d %s", res.Status, res.Body)
				}
				if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 2 {
					t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
				}
				// Buckets are per caller.
				limited.post(t, e.token(t, "demo", "agent2"), `{ me { id } }`, nil).ok(t)

				// A key's own limit wins over the partner default.
				admin := e.token(t, "demo", "admin")
				k := e.createKey(t, admin, map[string]any{"name": "tight " + name, "scopes": []string{"Query.orders", "Order"}, "rateLimit": 6})
				limited.post(t, k.CreateAPIKey.Secret, `{ orders(first: 1) { totalCount } }`, nil).ok(t)
				for i := 0; i < 5; i++ {
					if res := limited.post(t, k.CreateAPIKey.Secret, `{ orders(first: 1) { totalCount } }`, nil); res.Status == http.StatusTooManyRequests {
						return
					}
				}
				t.Fatal("a key limited to 6 a minute (burst 5) made 6 requests at once")
			})
		}
	})
}

func TestRequestDeadline(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		hurried := e.withHTTPOptions(func(o *httpapi.Options) { o.RequestTimeout = time.Nanosecond })
		res := hurried.post(t, e.token(t, "demo", "admin"), `{ customers(first: 5) { edges { node { id name } } } }`, nil)
		if len(res.Errors) == 0 || res.Status != http.StatusServiceUnavailable {
			t.Fatalf("a request past its deadline answered %d %s", res.Status, res.Body)
		}
		for _, err := range res.Errors {
			if err.code() != "TIMEOUT" {
				t.Fatalf("want TIMEOUT errors, got %s", res.Body)
			}
		}
		if strings.Contains(string(res.Body), "context deadline") || strings.Contains(string(res.Body), "SELECT") {
			t.Fatalf("the answer leaks internals: %s", res.Body)
		}
		// The server is fine afterwards.
		e.post(t, e.token(t, "demo", "admin"), `{ customers(first: 5) { edges { node { id } } } }`, nil).ok(t)
	})
}
