package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/internal/auth"
)

// run runs the CLI as a user would, in a fresh data directory.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := app()
	cmd.Writer = &out
	cmd.ErrWriter = &out
	err := cmd.Run(context.Background(), append([]string{"scrm"}, args...))
	return out.String(), err
}

func TestSeedThenToken(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SCRM_DATA_DIR", dir)
	t.Setenv("SCRM_DATABASE_URL", "")
	t.Setenv("SCRM_JWT_SECRET", "")
	if out, err := run(t, "seed", "--demo"); err != nil || !strings.Contains(out, "seeded tenants demo and acme") {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	if _, err := run(t, "seed", "--demo"); err == nil {
		t.Error("seeding twice succeeded")
	}
	if out, err := run(t, "seed", "--demo", "--if-empty"); err != nil || !strings.Contains(out, "present") {
		t.Errorf("seed --if-empty: %v %s", err, out)
	}
	out, err := run(t, "token", "--tenant", "demo", "--user", "agent1", "--ttl", "1h")
	if err != nil {
		t.Fatal(err)
	}
	secret, err := auth.DevSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	iss, _ := auth.NewIssuer(secret, "scrm")
	v, exp, err := iss.Verify(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("the printed token does not verify with the development secret: %v", err)
	}
	if !v.HasRole("agent") || time.Until(exp) > time.Hour {
		t.Errorf("viewer %+v, expiry %v", v, exp)
	}
	for _, args := range [][]string{
		{"token", "--tenant", "demo", "--user", "nobody"},
		{"token", "--tenant", "nowhere", "--user", "agent1"},
		{"token", "--tenant", "demo", "--user", "agent1", "--ttl", "-1h"},
		{"token", "--tenant", "demo"},
	} {
		if _, err := run(t, args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}

func TestBadConfigurationStopsStartUp(t *testing.T) {
	t.Setenv("SCRM_DATA_DIR", t.TempDir())
	t.Setenv("SCRM_HTTP_ADDR", "not-an-address")
	_, err := run(t, "serve")
	if err == nil || !strings.Contains(err.Error(), "SCRM_HTTP_ADDR") {
		t.Fatalf("got %v", err)
	}
}

func TestWorkerNeedsASharedRedis(t *testing.T) {
	t.Setenv("SCRM_DATA_DIR", t.TempDir())
	t.Setenv("SCRM_REDIS_URL", "")
	if _, err := run(t, "worker"); err == nil || !strings.Contains(err.Error(), "SCRM_REDIS_URL") {
		t.Fatalf("got %v", err)
	}
}

func TestServeAnswersAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SCRM_DATA_DIR", dir)
	t.Setenv("SCRM_DATABASE_URL", "")
	t.Setenv("SCRM_REDIS_URL", "")
	t.Setenv("SCRM_LOG_LEVEL", "warn")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("SCRM_HTTP_ADDR", addr)
	if _, err := run(t, "seed", "--demo"); err != nil {
		t.Fatal(err)
	}
	tok, err := run(t, "token", "--tenant", "demo", "--user", "admin")
	if err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app().Run(ctx, []string{"scrm", "serve"}) }()
	var ready *http.Response
	for range 100 {
		if ready, err = http.Get("http://" + addr + "/readyz"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || ready.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", ready, err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(`{"query":"{ me { login } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(tok))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"login":"admin"`) {
		t.Fatalf("me: %s", body)
	}
	page, err := http.Get("http://" + addr + "/")
	if err != nil || page.StatusCode != http.StatusOK {
		t.Fatalf("GraphiQL: %v %v", page, err)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
