package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fixed secrets of the benchmark's throwaway data. The PII keys are those
// of the Makefile's BENCH_PII (the database must be seeded with the keys
// the server reads it with); the environment's SCRM_PII_KEYS and
// SCRM_PII_INDEX_KEY win when set.
const (
	benchJWTSecret   = "bench-only-jwt-secret-0123456789abcdef0123456789"
	benchPIIKeys     = "bench1:aes-256-gcm:YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZiE="
	benchPIIIndexKey = "YmVuY2gtb25seS1pbmRleC0wMTIzNDU2Nzg5YWJjZCE="
)

// childEnv is the environment of a child process: the coordinator's
// without any SCRM_* variable (the server under test is configured here
// and nowhere else), then extra.
func childEnv(o *Options, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCRM_") {
			env = append(env, kv)
		}
	}
	env = append(env, o.ExtraEnv...)
	return append(env, extra...)
}

// serverEnv configures `scrm serve` (and `scrm token`) for the bench.
func serverEnv(o *Options, addr, redisURL string) []string {
	keys, index := os.Getenv("SCRM_PII_KEYS"), os.Getenv("SCRM_PII_INDEX_KEY")
	if keys == "" && index == "" {
		keys, index = benchPIIKeys, benchPIIIndexKey
	}
	env := []string{
		"SCRM_ENV=production",
		"SCRM_HTTP_ADDR=" + addr,
		"SCRM_DATABASE_URL=" + o.DatabaseURL,
		"SCRM_REDIS_URL=" + redisURL,
		"SCRM_SERVE_WORKER=false",
		"SCRM_JWT_SECRET=" + benchJWTSecret,
		"SCRM_LOG_LEVEL=warn",
		"SCRM_PII_KEYS=" + keys,
		"SCRM_PII_INDEX_KEY=" + index,
		"SCRM_DATA_DIR=" + filepath.Join(o.LogDir, "data"),
	}
	return append(env, o.ServerEnv...)
}

// server is the `scrm serve` under test, a child process.
type server struct {
	cmd     *exec.Cmd
	pid     int
	addr    string // 127.0.0.1:port
	env     []string
	logPath string
	exited  chan struct{}
	waitErr error
}

// startServer starts `scrm serve` on a free loopback port, checks it may
// open nofile files, and waits until /readyz answers.
func startServer(ctx context.Context, o *Options, redisURL string, nofile int) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp(o.LogDir, "server-*.log")
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	s := &server{addr: addr, logPath: logf.Name(), exited: make(chan struct{})}
	s.env = childEnv(o, serverEnv(o, addr, redisURL)...)
	s.cmd = exec.Command(o.Exe, "serve")
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start scrm serve: %w", err)
	}
	s.pid = s.cmd.Process.Pid
	go func() { s.waitErr = s.cmd.Wait(); close(s.exited) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("scrm serve exited (%v); its log %s:\n%s", s.waitErr, s.logPath, tail(s.logPath, 20))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				// Go raises its soft limit to the hard one at start; check
				// the running server's.
				soft, _, err := ProcNoFile(s.pid)
				if err == nil && soft >= 0 && soft < int64(nofile) {
					err = fmt.Errorf("the server may open %d files, the bench needs %d: raise the hard limit (ulimit -Hn)", soft, nofile)
				}
				if err != nil {
					s.stop()
					return nil, err
				}
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("scrm serve not ready after 60s; its log %s:\n%s", s.logPath, tail(s.logPath, 20))
		}
	}
}

// alive reports an unexpected exit of the server.
func (s *server) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("scrm serve exited (%v); its log %s:\n%s", s.waitErr, s.logPath, tail(s.logPath, 20))
	default:
		return nil
	}
}

// stop asks the server to shut down (SIGTERM), and kills it after 30s.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// token runs `scrm token` against the bench database.
func (s *server) token(ctx context.Context, o *Options) (string, error) {
	cmd := exec.CommandContext(ctx, o.Exe, "token", "--tenant", o.Tenant, "--user", o.User)
	cmd.Env = s.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scrm token: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return "", errors.New("scrm token printed nothing")
	}
	return lines[len(lines)-1], nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func tail(path string, lines int) string {
	b, _ := os.ReadFile(path)
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// gql posts GraphQL operations as one staff member.
type gql struct {
	url, token string
	http       *http.Client
}

func newGQL(addr, token string) *gql {
	return &gql{url: "http://" + addr + "/graphql", token: token, http: &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute},
	}}
}

// do runs one operation and decodes its data into out.
func (g *gql) do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := g.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(raw, 300))
	}
	if len(r.Errors) > 0 || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, truncate(raw, 300))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(r.Data, out)
}

// tickets returns up to n ids of the tenant's tickets that are not closed.
func (g *gql) tickets(ctx context.Context, n int) ([]string, error) {
	var got struct {
		Tickets struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	err := g.do(ctx, `query($n: Int) { tickets(first: $n, where: {statusNotIn: [CLOSED]}) { edges { node { id } } } }`,
		map[string]any{"n": n}, &got)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	ids := make([]string, 0, n)
	for _, e := range got.Tickets.Edges {
		ids = append(ids, e.Node.ID)
	}
	if len(ids) == 0 {
		return nil, errors.New("the tenant has no open ticket: seed the bench database with `scrm seed --demo`")
	}
	return ids, nil
}

// update changes the ticket's title: one committed UPDATED event.
func (g *gql) update(ctx context.Context, ticket, title string) error {
	return g.do(ctx, `mutation($id: ID!, $t: String!) { updateTicket(id: $id, input: {title: $t}) { id } }`,
		map[string]any{"id": ticket, "t": title}, nil)
}

// create makes a ticket: one committed CREATED event.
func (g *gql) create(ctx context.Context, title string) error {
	return g.do(ctx, `mutation($t: String!) { createTicket(input: {title: $t}) { id } }`, map[string]any{"t": title}, nil)
}

// PrivateRedis as Options.RedisURL runs a redis-server of each session's
// own on a free loopback port. Redis Pub/Sub ignores the database number:
// on a shared Redis, any other scrm process (a test run, a dev server)
// with a tenant of the same id exchanges events with the server under
// test, which distorts the bench and disturbs the other process.
const PrivateRedis = "private"

// redisProc is a private redis-server, a child process.
type redisProc struct {
	cmd    *exec.Cmd
	pid    int
	url    string
	exited chan struct{}
}

func startRedis(ctx context.Context, o *Options) (*redisProc, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("--redis-url %s needs redis-server on the PATH (or give a redis:// URL): %w", PrivateRedis, err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	logf, err := os.CreateTemp(o.LogDir, "redis-*.log")
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r := &redisProc{url: "redis://" + addr + "/0", exited: make(chan struct{})}
	r.cmd = exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", o.LogDir, "--maxclients", "10000")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	r.pid = r.cmd.Process.Pid
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if rdb.Ping(ctx).Err() == nil {
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("redis-server exited; its log %s:\n%s", logf.Name(), tail(logf.Name(), 10))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.stop()
			return nil, fmt.Errorf("redis-server not answering after 10s; its log %s", logf.Name())
		}
	}
}

func (r *redisProc) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// eventMonitor counts the events published on a Redis for any tenant
// while a session runs: more than the session's mutations means another
// process published too.
type eventMonitor struct {
	rdb       *redis.Client
	sub       *redis.PubSub
	published atomic.Int64
	done      chan struct{}
}

func monitorEvents(ctx context.Context, url string) (*eventMonitor, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	m := &eventMonitor{rdb: redis.NewClient(opt), done: make(chan struct{})}
	m.sub = m.rdb.PSubscribe(ctx, "scrm:events:*")
	if _, err := m.sub.Receive(ctx); err != nil {
		m.rdb.Close()
		return nil, err
	}
	ch := m.sub.Channel(redis.WithChannelSize(10000))
	go func() {
		defer close(m.done)
		for msg := range ch {
			if !strings.HasSuffix(msg.Channel, ":kick") {
				m.published.Add(1)
			}
		}
	}()
	return m, nil
}

func (m *eventMonitor) close() {
	m.sub.Close()
	<-m.done
	m.rdb.Close()
}
