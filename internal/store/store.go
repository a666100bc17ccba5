// Package store opens the product's database: SQLite (the embedded default,
// a file under the data directory) or MySQL (production; MariaDB and TiDB
// speak the same protocol). It returns the ent client with statement
// counting installed, and brings the schema up to date: ent's automatic
// migration on SQLite, the versioned migrations in ent/migrate/migrations
// on MySQL.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/migrate/migrations"
	_ "github.com/scrm-dev/scrm/ent/runtime" // registers schema hooks, interceptors and validators
	"github.com/scrm-dev/scrm/internal/sqlstats"
)

// Options tune the connection pool.
type Options struct {
	// DataDir holds the SQLite file when the URL is empty.
	DataDir      string
	MaxOpenConns int
}

// Store is an open database.
type Store struct {
	Client  *ent.Client
	DB      *sql.DB
	Dialect string // dialect.SQLite or dialect.MySQL
	// Location describes the database for logs, without credentials.
	Location string
}

// Driver is the database/sql driver name of the store ("mysql" or
// "sqlite"), for libraries that take a *sql.DB and need to know its
// dialect.
func (s *Store) Driver() string {
	if s.Dialect == dialect.MySQL {
		return "mysql"
	}
	return "sqlite"
}

// ParseURL validates a database URL without connecting, so configuration
// errors surface at start-up.
func ParseURL(url string) error {
	_, err := resolve(url, "")
	return err
}

// target is a resolved database URL.
type target struct {
	dialect, driver, dsn string
	sqlitePath           string // the file, for SQLite
}

// resolve turns a database URL into a database/sql driver name and DSN.
func resolve(url, dataDir string) (target, error) {
	sqlite := func(path string) target {
		return target{dialect: dialect.SQLite, driver: "sqlite", dsn: sqliteDSN(path), sqlitePath: path}
	}
	switch {
	case url == "":
		if dataDir == "" {
			dataDir = "data"
		}
		return sqlite(filepath.Join(dataDir, "scrm.db")), nil
	case strings.HasPrefix(url, "sqlite://"), strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		if path == "" {
			return target{}, errors.New("a sqlite URL needs a file path, as in sqlite://data/scrm.db")
		}
		return sqlite(path), nil
	case strings.HasPrefix(url, "mysql://"):
		cfg, err := mysql.ParseDSN(strings.TrimPrefix(url, "mysql://"))
		if err != nil {
			return target{}, fmt.Errorf("not a MySQL URL (want mysql://user:pass@tcp(host:3306)/scrm?parseTime=true): %w", err)
		}
		if cfg.DBName == "" {
			return target{}, errors.New("the MySQL URL names no database, as in mysql://user:pass@tcp(host:3306)/scrm")
		}
		cfg.ParseTime = true
		cfg.Loc = time.UTC
		// Client-side interpolation saves the prepare/close round trips
		// of server-side statements; safe with utf8mb4.
		if _, set := cfg.Params["interpolateParams"]; !set {
			cfg.InterpolateParams = true
		}
		return target{dialect: dialect.MySQL, driver: "mysql", dsn: cfg.FormatDSN()}, nil
	}
	return target{}, fmt.Errorf("unsupported database URL %q: use mysql://... or sqlite://path (empty for the embedded SQLite default)", redact(url))
}

func sqliteDSN(path string) string {
	// WAL lets readers run beside the writer; IMMEDIATE transactions take
	// the write lock up front instead of failing when they upgrade.
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// Open connects to the database at url.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	t, err := resolve(url, opts.DataDir)
	if err != nil {
		return nil, err
	}
	location := redact(url)
	if t.dialect == dialect.SQLite {
		if err := os.MkdirAll(filepath.Dir(t.sqlitePath), 0o755); err != nil {
			return nil, fmt.Errorf("create the data directory: %w", err)
		}
		location = "sqlite:" + t.sqlitePath
	}
	db, err := sql.Open(t.driver, t.dsn)
	if err != nil {
		return nil, err
	}
	maxOpen := opts.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 25
	}
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(maxOpen)
	db.SetConnMaxLifetime(30 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", location, err)
	}
	drv := sqlstats.Wrap(entsql.OpenDB(t.dialect, db))
	return &Store{
		Client:   ent.NewClient(ent.Driver(drv)),
		DB:       db,
		Dialect:  t.dialect,
		Location: location,
	}, nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.Client.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.DB.PingContext(ctx) }

// Migrate brings the schema up to date.
func (s *Store) Migrate(ctx context.Context) error {
	if s.Dialect == dialect.SQLite {
		if err := s.Client.Schema.Create(ctx); err != nil {
			return fmt.Errorf("migrate the SQLite schema: %w", err)
		}
		return nil
	}
	// Deploys may run `scrm migrate` from several places at once; a MySQL
	// named lock, held on its own connection, lets one apply at a time.
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK('scrm_migrate', 300)").Scan(&got); err != nil || got.Int64 != 1 {
		return fmt.Errorf("take the migration lock (another scrm migrate running?): %v", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK('scrm_migrate')") //nolint:errcheck // released with the connection anyway
	p, err := s.migrations()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// Analyze refreshes the optimizer's statistics, which a bulk load leaves
// stale enough for MySQL to pick bad join orders until its background
// sampling catches up.
func (s *Store) Analyze(ctx context.Context) error {
	if s.Dialect == dialect.SQLite {
		_, err := s.DB.ExecContext(ctx, "ANALYZE")
		return err
	}
	rows, err := s.DB.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'")
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, "`"+t+"`")
	}
	rows.Close()
	if len(tables) == 0 {
		return nil
	}
	// ANALYZE TABLE answers with a result set, so it is queried, not executed.
	res, err := s.DB.QueryContext(ctx, "ANALYZE TABLE "+strings.Join(tables, ", "))
	if err != nil {
		return err
	}
	return res.Close()
}

// EnsureCurrent makes sure the schema is current before the product uses
// it: the embedded SQLite migrates itself; MySQL must have been migrated
// with `scrm migrate`, which a deploy runs once rather than every replica
// racing to.
func (s *Store) EnsureCurrent(ctx context.Context) error {
	if s.Dialect == dialect.SQLite {
		return s.Migrate(ctx)
	}
	pending, err := s.PendingMigrations(ctx)
	if err != nil {
		return err
	}
	if pending {
		return errors.New("the database has migrations to apply; run `scrm migrate` first")
	}
	return nil
}

// PendingMigrations reports whether versioned migrations remain to apply.
// The SQLite default migrates itself and never has any.
func (s *Store) PendingMigrations(ctx context.Context) (bool, error) {
	if s.Dialect == dialect.SQLite {
		return false, nil
	}
	p, err := s.migrations()
	if err != nil {
		return false, err
	}
	return p.HasPending(ctx)
}

func (s *Store) migrations() (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectMySQL, s.DB, migrations.FS)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// redact hides a password in a database URL.
func redact(url string) string {
	at := strings.LastIndexByte(url, '@')
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	creds := url[scheme+3 : at]
	if user, _, ok := strings.Cut(creds, ":"); ok {
		return url[:scheme+3] + user + ":***" + url[at:]
	}
	return url
}
