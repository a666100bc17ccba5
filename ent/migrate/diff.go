//go:build ignore

// Command diff writes a new versioned migration (goose format, MySQL
// dialect) for whatever ent/schema has that the existing migrations lack.
// It replays the migrations on a scratch database of a local MySQL or
// MariaDB and compares the result with the schema. Run it through
// `make migration NAME=add_something`.
package main

import (
	"context"
	"database/sql"
	"log"
	"net/url"
	"os"
	"strings"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	mysqldriver "github.com/go-sql-driver/mysql"

	"github.com/scrm-dev/scrm/ent/migrate"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: go run -mod=mod ent/migrate/diff.go <name>")
	}
	// A server (not a database) in Atlas's URL form: mysql://user:pass@host:port
	server := os.Getenv("SCRM_MIGRATION_DEV_URL")
	if server == "" {
		server = "mysql://root@127.0.0.1:3306"
	}
	u, err := url.Parse(server)
	if err != nil {
		log.Fatalf("SCRM_MIGRATION_DEV_URL: %v", err)
	}
	cfg := mysqldriver.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net, cfg.Addr = "tcp", u.Host
	const scratch = "scrm_migration_dev"
	ctx := context.Background()
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{"DROP DATABASE IF EXISTS " + scratch, "CREATE DATABASE " + scratch} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			log.Fatalf("preparing the scratch database (is MariaDB running?): %v", err)
		}
	}
	defer db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+scratch)

	dir, err := sqltool.NewGooseDir("ent/migrate/migrations")
	if err != nil {
		log.Fatalf("opening the migration directory: %v", err)
	}
	err = migrate.NamedDiff(ctx, strings.TrimSuffix(server, "/")+"/"+scratch, os.Args[1],
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.MySQL),
		schema.WithFormatter(sqltool.GooseFormatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
	if err != nil {
		log.Fatalf("generating the migration: %v", err)
	}
}
