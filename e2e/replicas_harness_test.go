package e2e_test

// The process-level harness of replicas_test.go: the real `scrm` binary,
// run as separate serve and worker processes on one fresh MariaDB database
// and one private redis-server, as in production.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/internal/testenv"
)

// Fixed throwaway secrets shared by every process of a cluster: tokens
// minted by one replica verify on the others, and personal data encrypted
// by the seed reads back everywhere.
const (
	clusterJWTSecret = "replicas-test-secret-replicas-test-secret-0123"
	clusterPIIKeys   = "rep1:aes-256-gcm:cmVwbGljYXMtdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2Q="
	clusterPIIIndex  = "cmVwbGljYXMtdGVzdC1pbmRleC0wMTIzNDU2Nzg5YWI="
)

var (
	scrmBuildOnce sync.Once
	scrmBuildDir  string
	scrmBuildErr  error
)

// scrmBinary builds ./cmd/scrm once per test run. It is built with the
// race detector when the tests are (the build then reuses the packages
// `go test -race` compiled, and a data race in a product process fails the
// test that ran it).
func scrmBinary(t *testing.T) string {
	t.Helper()
	scrmBuildOnce.Do(func() {
		start := time.Now()
		defer func() {
			t.Logf("built ./cmd/scrm (race detector: %v) in %s", raceBuild, time.Since(start).Round(time.Millisecond))
		}()
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			scrmBuildErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		if scrmBuildDir, err = os.MkdirTemp("", "scrm-replicas-bin-"); err != nil {
			scrmBuildErr = err
			return
		}
		cleanups = append(cleanups, func() { os.RemoveAll(scrmBuildDir) })
		args := []string{"build", "-o", filepath.Join(scrmBuildDir, "scrm")}
		if raceBuild {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/scrm")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			scrmBuildErr = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if scrmBuildErr != nil {
		t.Fatal(scrmBuildErr)
	}
	return filepath.Join(scrmBuildDir, "scrm")
}

// proc is one process the test started: its output (stdout and stderr)
// kept for the test's log, its end observed.
type proc struct {
	name    string
	cmd     *exec.Cmd
	out     *lockedBuffer
	done    chan struct{} // closed once it has exited
	err     error         // how it exited, once done is closed
	mu      sync.Mutex
	stopped bool // the test ended it (a kill or a stop), so its exit is no crash
	killed  bool // with SIGKILL
}

// startProc starts path with args and env. When the test ends the process
// is stopped (see finish).
func startProc(t *testing.T, name string, env []string, path string, args ...string) *proc {
	t.Helper()
	p := newProc(t, name, env, path, args...)
	t.Cleanup(func() { p.finish(t) })
	return p
}

// newProc starts path with args and env; the caller finishes it.
func newProc(t *testing.T, name string, env []string, path string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(path, args...), out: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p
}

// finish stops the process at the end of the test. It is a failure that
// the process exited before (a crash), did not stop cleanly on SIGTERM,
// or (built with the race detector) reported a data race; if the test
// failed, the process's warnings, errors and last lines are logged.
func (p *proc) finish(t *testing.T) {
	t.Helper()
	if p.exited() && !p.wasStopped() {
		t.Errorf("%s exited on its own (%s)", p.name, p.status())
	}
	p.stop()
	if !p.wasKilled() && p.err != nil {
		t.Errorf("%s did not stop cleanly on SIGTERM: %v", p.name, p.err)
	}
	if raceBuild && strings.Contains(p.out.String(), "WARNING: DATA RACE") {
		t.Errorf("%s: the race detector reported a data race", p.name)
	}
	if t.Failed() {
		p.log(t)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// status tells how the process exited, or that it runs.
func (p *proc) status() string {
	if !p.exited() {
		return "running"
	}
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

func (p *proc) wasStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}

func (p *proc) wasKilled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// kill ends the process at once, as a crash or an OOM kill would, and
// waits for it.
func (p *proc) kill() {
	p.mu.Lock()
	p.stopped, p.killed = true, true
	p.mu.Unlock()
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop asks the process to end (SIGTERM), as an orchestrator would, and
// kills it after 15s.
func (p *proc) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill() // and reported: it did not stop cleanly
		<-p.done
	}
}

// log writes the process's warnings and errors (at most 60) and its last
// 30 lines to the test log.
func (p *proc) log(t *testing.T) {
	t.Helper()
	var notable, all []string
	sc := bufio.NewScanner(strings.NewReader(p.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		all = append(all, line)
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) ||
			strings.Contains(line, "DATA RACE") || strings.HasPrefix(line, "panic") || strings.HasPrefix(line, "scrm:") {
			notable = append(notable, line)
		}
	}
	if len(notable) > 60 {
		notable = append(notable[:30], append([]string{"…"}, notable[len(notable)-30:]...)...)
	}
	tail := all[max(0, len(all)-30):]
	t.Logf("=== %s (%s) warnings and errors:\n%s\n=== %s last lines:\n%s",
		p.name, p.status(), strings.Join(notable, "\n"), p.name, strings.Join(tail, "\n"))
}

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cluster is a set of scrm processes sharing one database and one Redis.
type cluster struct {
	t         *testing.T
	bin       string
	env       []string // the environment of every scrm process
	db        *sql.DB  // the cluster's database, for checking the event log
	dir       string   // SCRM_DATA_DIR, and redis-server's working directory
	redisPath string
	redisPort int
	redis     *proc   // the redis-server running now
	redises   []*proc // every one started, finished after the scrm processes
}

// newCluster gives a fresh, migrated and seeded MariaDB database and a
// private redis-server to the processes the test starts. MariaDB and the
// redis-server binary are required under CI=true; elsewhere the test is
// skipped without them.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Check(t, &testenv.UnavailableError{What: "the redis-server binary", Err: err})
	}
	dbURL, db := freshMariaDB(t)
	c := &cluster{t: t, bin: scrmBinary(t), db: db, dir: t.TempDir(), redisPath: redisServer, redisPort: freePort(t)}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCRM_") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env,
		"SCRM_ENV=production",
		"SCRM_DATABASE_URL="+dbURL,
		fmt.Sprintf("SCRM_REDIS_URL=redis://127.0.0.1:%d/0", c.redisPort),
		"SCRM_JWT_SECRET="+clusterJWTSecret,
		"SCRM_PII_KEYS="+clusterPIIKeys,
		"SCRM_PII_INDEX_KEY="+clusterPIIIndex,
		"SCRM_DATA_DIR="+c.dir,
		"SCRM_LOG_FORMAT=json",
		// One writer makes the changes of many users.
		"SCRM_RATE_LIMIT_STAFF=0",
		// The seeded connector accounts would call the real platforms
		// (the engine's assignment notifications go to WeCom): point them
		// at a port that refuses at once, so no task hangs on the network
		// and holds a worker's shutdown.
		"SCRM_WECOM_BASE_URL=http://127.0.0.1:1",
		"SCRM_TAOBAO_BASE_URL=http://127.0.0.1:1/router/rest",
		"SCRM_DOUYIN_BASE_URL=http://127.0.0.1:1",
	)
	// Registered before any scrm process starts, so it runs after they
	// have stopped: Redis outlives its clients.
	t.Cleanup(func() {
		for _, r := range c.redises {
			r.finish(t)
		}
	})
	start := time.Now()
	c.startRedis()
	c.run("migrate")
	c.run("seed", "--demo")
	t.Logf("database %s migrated and seeded in %s", strings.TrimPrefix(dbURL, "mysql://"), time.Since(start).Round(time.Millisecond))
	return c
}

// freshMariaDB creates an empty database on the test MariaDB server,
// dropped when the test ends, and returns its scrm URL and a connection.
func freshMariaDB(t *testing.T) (string, *sql.DB) {
	t.Helper()
	server, err := mysql.ParseDSN(strings.TrimPrefix(testenv.MySQLServerURL(), "mysql://"))
	if err != nil {
		t.Fatalf("SCRM_TEST_MYSQL_URL: %v", err)
	}
	server.DBName = ""
	admin, err := sql.Open("mysql", server.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		testenv.Check(t, &testenv.UnavailableError{What: "MariaDB at " + server.Addr, Err: err})
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "scrm_test_replicas_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	cfg := server.Clone()
	cfg.DBName = name
	cfg.ParseTime = true
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return "mysql://" + cfg.FormatDSN(), db
}

// startRedis starts the cluster's private redis-server (keeping nothing on
// disk) on its port and waits until it answers.
func (c *cluster) startRedis() {
	c.t.Helper()
	c.redis = newProc(c.t, fmt.Sprintf("redis-server #%d", len(c.redises)+1), os.Environ(), c.redisPath,
		"--port", strconv.Itoa(c.redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", c.dir)
	c.redises = append(c.redises, c.redis)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", c.redisPort)})
	defer rdb.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if rdb.Ping(context.Background()).Err() == nil {
			return
		}
		if c.redis.exited() || time.Now().After(deadline) {
			c.redis.log(c.t)
			c.t.Fatalf("redis-server on port %d did not start (%s)", c.redisPort, c.redis.status())
		}
	}
}

// killRedis kills the redis-server: everything it held is lost, and
// nothing answers on its port until startRedis.
func (c *cluster) killRedis() { c.redis.kill() }

// run runs a scrm command to completion and returns its standard output.
func (c *cluster) run(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("scrm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// token mints a token with `scrm token`.
func (c *cluster) token(tenant, login string) string {
	c.t.Helper()
	return strings.TrimSpace(c.run("token", "--tenant", tenant, "--user", login))
}

// serve starts a `scrm serve` replica (without the in-process worker) and
// waits until its /readyz answers 200; it returns the replica's address.
func (c *cluster) serve(name string) (*proc, string) {
	c.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(c.t))
	p := startProc(c.t, name, slices.Concat(c.env, []string{"SCRM_HTTP_ADDR=" + addr, "SCRM_SERVE_WORKER=false"}), c.bin, "serve")
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := client.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, addr
			}
		}
		if p.exited() || time.Now().After(deadline) {
			p.log(c.t)
			c.t.Fatalf("%s never became ready at %s (%s)", name, addr, p.status())
		}
	}
}

// worker starts a `scrm worker` and waits until it says it runs.
func (c *cluster) worker(name string) *proc {
	c.t.Helper()
	p := startProc(c.t, name, c.env, c.bin, "worker")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(p.out.String(), "scrm worker running") {
			return p
		}
		if p.exited() || time.Now().After(deadline) {
			p.log(c.t)
			c.t.Fatalf("%s never started (%s)", name, p.status())
		}
	}
}

// tenantLog summarises a tenant's event log: how many events, how many
// numbered, and the smallest and largest number.
type tenantLog struct{ Events, Numbered, Distinct, MinSeq, MaxSeq int64 }

func (c *cluster) eventLog(slug string) tenantLog {
	c.t.Helper()
	var l tenantLog
	err := c.db.QueryRow(`SELECT COUNT(*), COUNT(seq), COUNT(DISTINCT seq), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0)
		FROM events WHERE tenant_id = (SELECT id FROM tenants WHERE slug = ?)`, slug).
		Scan(&l.Events, &l.Numbered, &l.Distinct, &l.MinSeq, &l.MaxSeq)
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

// gqlClient posts GraphQL operations to one replica.
type gqlClient struct {
	http  *http.Client
	addr  string
	token string
}

func (g *gqlClient) do(ctx context.Context, query string, vars map[string]any) (json.RawMessage, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+g.addr+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/graphql-response+json")
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := g.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw.Bytes(), &out); err != nil || resp.StatusCode != http.StatusOK || len(out.Errors) > 0 {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, raw.String())
	}
	return out.Data, nil
}

// ticketEventOnWire is one ticketUpdated payload.
type ticketEventOnWire struct {
	Cursor int64
	Kind   string
	ID     string
	Title  string
}

const ticketFeedQuery = `subscription($after: String) { ticketUpdated(after: $after) { cursor kind ticket { id title } } }`

// Why a feed ended. errFeedEnded: the server completed the subscription
// (a subscriber that falls behind is ended, to resume from its cursor);
// errFeedBroken: the connection ended; errFeedRefused: the server answered
// the subscription with an error message. A client may resume after each
// of these with its last cursor. errFeedBadEvent: an event it cannot use.
var (
	errFeedEnded    = errors.New("the server completed the subscription")
	errFeedBroken   = errors.New("the connection ended")
	errFeedRefused  = errors.New("the server refused the subscription")
	errFeedBadEvent = errors.New("a bad event")
)

// ticketFeed is one graphql-transport-ws connection to a replica,
// subscribed to ticketUpdated after a cursor; a goroutine reads it into
// items until the connection or the subscription ends (the last item
// carries why).
type ticketFeed struct {
	replica string
	conn    *websocket.Conn
	items   chan feedItem
	quit    chan struct{}
	once    sync.Once
}

type feedItem struct {
	ev  ticketEventOnWire
	err error
}

// openTicketFeed connects to addr as token's staff member and subscribes
// after the cursor after.
func openTicketFeed(replica, addr, token string, after int64) (*ticketFeed, error) {
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial("ws://"+addr+"/graphql", nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", replica, err)
	}
	f := &ticketFeed{replica: replica, conn: conn, items: make(chan feedItem, 64), quit: make(chan struct{})}
	fail := func(err error) (*ticketFeed, error) { conn.Close(); return nil, fmt.Errorf("%s: %w", replica, err) }
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := conn.WriteJSON(wsMsg{Type: "connection_init", Payload: map[string]any{"authorization": "Bearer " + token}}); err != nil {
		return fail(err)
	}
	for {
		var m wsMsg
		if err := conn.ReadJSON(&m); err != nil {
			return fail(fmt.Errorf("waiting for connection_ack: %w", err))
		}
		if m.Type == "connection_ack" {
			break
		}
		if m.Type != "ping" && m.Type != "pong" && m.Type != "ka" {
			return fail(fmt.Errorf("got %+v before connection_ack", m))
		}
	}
	err = conn.WriteJSON(wsMsg{Type: "subscribe", ID: "tickets", Payload: map[string]any{
		"query": ticketFeedQuery, "variables": map[string]any{"after": strconv.FormatInt(after, 10)},
	}})
	if err != nil {
		return fail(err)
	}
	go f.read()
	return f, nil
}

func (f *ticketFeed) read() {
	send := func(it feedItem) bool {
		select {
		case f.items <- it:
			return true
		case <-f.quit:
			return false
		}
	}
	for {
		// A backstop only: the test's own deadline between events is
		// shorter, and says more.
		_ = f.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
		var m struct {
			Type    string          `json:"type"`
			ID      string          `json:"id"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := f.conn.ReadJSON(&m); err != nil {
			send(feedItem{err: fmt.Errorf("%s: %w: %w", f.replica, errFeedBroken, err)})
			return
		}
		switch m.Type {
		case "ping":
			_ = f.conn.WriteJSON(wsMsg{Type: "pong"})
			continue
		case "pong", "ka":
			continue
		case "complete":
			send(feedItem{err: fmt.Errorf("%s: %w", f.replica, errFeedEnded)})
			return
		case "next":
		case "error":
			send(feedItem{err: fmt.Errorf("%s: %w: %s", f.replica, errFeedRefused, m.Payload)})
			return
		default:
			send(feedItem{err: fmt.Errorf("%s: %w: a %q message: %s", f.replica, errFeedBadEvent, m.Type, m.Payload)})
			return
		}
		var p struct {
			Data *struct {
				TicketUpdated struct {
					Cursor string
					Kind   string
					Ticket struct{ ID, Title string }
				}
			}
			Errors json.RawMessage
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Data == nil || len(p.Errors) > 0 {
			send(feedItem{err: fmt.Errorf("%s: %w: %s", f.replica, errFeedBadEvent, m.Payload)})
			return
		}
		ev := p.Data.TicketUpdated
		cursor, err := strconv.ParseInt(ev.Cursor, 10, 64)
		if err != nil {
			send(feedItem{err: fmt.Errorf("%s: %w: cursor %q: %v", f.replica, errFeedBadEvent, ev.Cursor, err)})
			return
		}
		if !send(feedItem{ev: ticketEventOnWire{Cursor: cursor, Kind: ev.Kind, ID: ev.Ticket.ID, Title: ev.Ticket.Title}}) {
			return
		}
	}
}

// close ends the connection and its reader.
func (f *ticketFeed) close() {
	f.once.Do(func() { close(f.quit); f.conn.Close() })
}
