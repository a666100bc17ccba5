// Package testenv gives tests the real parts the product runs on: every
// test that touches the database runs against the embedded SQLite default
// and against MariaDB/MySQL; tests that touch Redis run against the
// in-process server and a real Redis. Each MariaDB test database is fresh
// and built by the versioned migrations, so the migrations are tested too.
//
// The external services are found at SCRM_TEST_MYSQL_URL (a server URL,
// default mysql://root@tcp(127.0.0.1:3306)/) and SCRM_TEST_REDIS_URL
// (default redis://127.0.0.1:6379/15). When one is unreachable, tests skip
// it, except under CI=true, where that is a failure.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/scrm-dev/scrm/internal/pii"
	"github.com/scrm-dev/scrm/internal/redisconn"
	"github.com/scrm-dev/scrm/internal/store"
)

// Backend names.
const (
	SQLite  = "sqlite"
	MariaDB = "mariadb"
)

// CI reports whether the tests run in CI, where every backend is required.
func CI() bool { return os.Getenv("CI") == "true" }

// MySQLServerURL returns the MySQL server tests use.
func MySQLServerURL() string {
	if u := os.Getenv("SCRM_TEST_MYSQL_URL"); u != "" {
		return u
	}
	return "mysql://root@tcp(127.0.0.1:3306)/"
}

// RedisURL returns the Redis tests use.
func RedisURL() string {
	if u := os.Getenv("SCRM_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/15"
}

// DatabaseBackends lists the databases to run against.
func DatabaseBackends() []string { return []string{SQLite, MariaDB} }

var (
	mysqlOnce sync.Once
	mysqlErr  error
)

// unavailable skips (or, in CI, fails) a test whose external service is
// unreachable.
func unavailable(tb testing.TB, what string, err error) {
	tb.Helper()
	if CI() {
		tb.Fatalf("%s is required under CI=true but unreachable: %v", what, err)
	}
	tb.Skipf("%s unreachable (%v); skipped outside CI", what, err)
}

func mysqlServer() (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(strings.TrimPrefix(MySQLServerURL(), "mysql://"))
	if err != nil {
		return nil, fmt.Errorf("SCRM_TEST_MYSQL_URL: %w", err)
	}
	cfg.DBName = ""
	return cfg, nil
}

// UnavailableError reports an external service that cannot be reached.
type UnavailableError struct {
	What string
	Err  error
}

func (e *UnavailableError) Error() string { return fmt.Sprintf("%s unreachable: %v", e.What, e.Err) }

// Check ends tb for err: a skip for an unreachable service outside CI, a
// failure otherwise.
func Check(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	var u *UnavailableError
	if errors.As(err, &u) {
		unavailable(tb, u.What, u.Err)
	}
	tb.Fatal(err)
}

// TestKeyring is the fixed keyring tests encrypt personal data with (the
// previous key stays readable, as after a rotation).
var TestKeyring = func() *pii.Keyring {
	key := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	kr, err := pii.NewKeyring(pii.KeyringConfig{
		Active: "test2",
		Keys: []pii.Key{
			{ID: "test1", Algorithm: pii.SM4GCM, Secret: key(1, 16)},
			{ID: "test2", Algorithm: pii.AES256GCM, Secret: key(2, 32)},
		},
		IndexSecret: key(3, 32),
	})
	if err != nil {
		panic(err)
	}
	return kr
}()

// UseTestKeyring installs TestKeyring.
func UseTestKeyring() { pii.Use(TestKeyring) }

// OpenStore returns a fresh, migrated database on backend, closed and
// removed when the test ends.
func OpenStore(tb testing.TB, backend string) *store.Store {
	tb.Helper()
	st, cleanup, err := NewStore(context.Background(), backend)
	Check(tb, err)
	tb.Cleanup(cleanup)
	return st
}

// NewStore returns a fresh, migrated database on backend and the function
// that closes and removes it, for fixtures shared by a package's tests.
func NewStore(ctx context.Context, backend string) (*store.Store, func(), error) {
	UseTestKeyring()
	switch backend {
	case SQLite:
		dir, err := os.MkdirTemp("", "scrm-test-")
		if err != nil {
			return nil, nil, err
		}
		st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "test.db"), store.Options{})
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		cleanup := func() { st.Close(); os.RemoveAll(dir) }
		if err := st.Migrate(ctx); err != nil {
			cleanup()
			return nil, nil, err
		}
		return st, cleanup, nil
	case MariaDB:
		server, err := mysqlServer()
		if err != nil {
			return nil, nil, err
		}
		admin, err := sql.Open("mysql", server.FormatDSN())
		if err != nil {
			return nil, nil, err
		}
		mysqlOnce.Do(func() {
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			mysqlErr = admin.PingContext(pctx)
		})
		if mysqlErr != nil {
			admin.Close()
			return nil, nil, &UnavailableError{"MariaDB at " + server.Addr, mysqlErr}
		}
		name := "scrm_test_" + randomHex(6)
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
			admin.Close()
			return nil, nil, err
		}
		drop := func() {
			_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name)
			admin.Close()
		}
		dbCfg := server.Clone()
		dbCfg.DBName = name
		st, err := store.Open(ctx, "mysql://"+dbCfg.FormatDSN(), store.Options{MaxOpenConns: 10})
		if err != nil {
			drop()
			return nil, nil, err
		}
		cleanup := func() { st.Close(); drop() }
		if err := st.Migrate(ctx); err != nil {
			cleanup()
			return nil, nil, err
		}
		return st, cleanup, nil
	}
	return nil, nil, fmt.Errorf("testenv: unknown backend %q", backend)
}

// Redis backend names.
const (
	EmbeddedRedis = "embedded-redis"
	RealRedis     = "redis"
)

// RedisBackends lists the Redis servers to run against.
func RedisBackends() []string { return []string{EmbeddedRedis, RealRedis} }

// OpenRedis returns a connection to backend. On a real Redis it selects
// database db and flushes it: test packages run in parallel, so each that
// uses Redis passes its own database number.
func OpenRedis(tb testing.TB, backend string, db int) *redisconn.Conn {
	tb.Helper()
	ctx := context.Background()
	url := ""
	if backend == RealRedis {
		url = RedisURL()
		if i := strings.LastIndexByte(url, '/'); i > len("redis://") {
			url = url[:i]
		}
		url = fmt.Sprintf("%s/%d", url, db)
	}
	conn, err := redisconn.Open(ctx, url)
	if err != nil && backend == RealRedis {
		err = &UnavailableError{"Redis at " + RedisURL(), err}
	}
	Check(tb, err)
	tb.Cleanup(func() { conn.Close() })
	if backend == RealRedis {
		if err := conn.Client.FlushDB(ctx).Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return conn
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
