package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/internal/auth"
)

func newHandler(t *testing.T, checks ...Check) http.Handler {
	t.Helper()
	iss, err := auth.NewIssuer(strings.Repeat("k", 32), "scrm")
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Schema: nil, Issuer: iss, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBodyBytes: 64, Ready: checks})
}

func TestReadinessReportsEachDependency(t *testing.T) {
	h := newHandler(t,
		Check{Name: "database", Ping: func(context.Context) error { return nil }},
		Check{Name: "redis", Ping: func(context.Context) error { return errors.New("refused") }},
	)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"redis":"unreachable"`) ||
		!strings.Contains(rec.Body.String(), `"database":"ok"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "refused") {
		t.Error("readiness leaks the dependency's error")
	}
}

func TestOversizedBodiesAreRefusedUnread(t *testing.T) {
	h := newHandler(t)
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(strings.Repeat("x", 65)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "REQUEST_TOO_LARGE") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
