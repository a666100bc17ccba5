package httpapi

import (
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/scrm-dev/scrm/internal/ratelimit"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// RateLimits are the requests per minute each kind of caller may make.
// A partner key may carry its own limit, which wins.
type RateLimits struct {
	Limiter  ratelimit.RequestLimiter
	Staff    int
	Customer int
	Partner  int
	Logger   *slog.Logger
}

type rateLimits struct{ RateLimits }

// take spends one request of the viewer's budget, or answers 429 with
// Retry-After and a RATE_LIMITED error and reports false. When Redis
// cannot be reached the request goes through: an outage of the limiter
// must not become an outage of the API.
func (l *rateLimits) take(w http.ResponseWriter, r *http.Request, v *viewer.Viewer, keyLimit int) bool {
	var key string
	per := l.Staff
	switch {
	case v.APIKeyID != 0:
		key, per = fmt.Sprintf("k:%d", v.APIKeyID), l.Partner
		if keyLimit > 0 {
			per = keyLimit
		}
	case v.CustomerID != 0:
		key, per = fmt.Sprintf("c:%d:%d", v.TenantID, v.CustomerID), l.Customer
	default:
		key = fmt.Sprintf("s:%d:%d", v.TenantID, v.StaffID)
	}
	if per <= 0 {
		return true
	}
	return l.spend(w, r, key, per)
}

// takeAnonymous spends one request of a client address's budget for
// requests made without a token (mini-program sign-ins): the customer
// limit, per address.
func (l *rateLimits) takeAnonymous(w http.ResponseWriter, r *http.Request) bool {
	if l.Customer <= 0 {
		return true
	}
	return l.spend(w, r, "ip:"+clientIP(r), l.Customer)
}

func (l *rateLimits) spend(w http.ResponseWriter, r *http.Request, key string, per int) bool {
	ok, retry, err := l.Limiter.Take(r.Context(), key, per)
	if err != nil {
		if l.Logger != nil {
			l.Logger.WarnContext(r.Context(), "rate limit unavailable; letting the request through", "err", err)
		}
		return true
	}
	if ok {
		return true
	}
	secs := int(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	answerError(w, r, http.StatusTooManyRequests, "RATE_LIMITED",
		fmt.Sprintf("rate limit of %d requests a minute reached; retry in %d s", per, secs))
	return false
}
