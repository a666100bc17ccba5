package store_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/testenv"
)

// TestMigrationsMatchTheSchema fails when ent/schema changed without a new
// migration: after every migration file ran, ent finds nothing to change.
// Fix it with `make migration NAME=what_changed`.
func TestMigrationsMatchTheSchema(t *testing.T) {
	st := testenv.OpenStore(t, testenv.MariaDB)
	ctx := context.Background()
	pending, err := st.PendingMigrations(ctx)
	if err != nil || pending {
		t.Fatalf("pending %v, %v", pending, err)
	}
	var diff bytes.Buffer
	if err := st.Client.Schema.WriteTo(ctx, &diff); err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, line := range strings.Split(diff.String(), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "BEGIN;" && line != "COMMIT;" && !strings.HasPrefix(line, "--") {
			changes = append(changes, line)
		}
	}
	if len(changes) > 0 {
		t.Fatalf("ent/schema differs from the migrations; run `make migration NAME=...`:\n%s", strings.Join(changes, "\n"))
	}
}

func TestSQLiteMigratesItselfRepeatedly(t *testing.T) {
	st := testenv.OpenStore(t, testenv.SQLite)
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestParseURL(t *testing.T) {
	for _, ok := range []string{"", "sqlite://data/x.db", "sqlite:x.db", "mysql://root@tcp(127.0.0.1:3306)/scrm?parseTime=true", "mysql://u:p@tcp(h:3306)/scrm"} {
		if err := store.ParseURL(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"postgres://x/y", "mysql://root@tcp(127.0.0.1:3306)/", "mysql://%%%", "sqlite://"} {
		if err := store.ParseURL(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestErrorsDoNotShowPasswords(t *testing.T) {
	err := store.ParseURL("redis://u:secret@h/0")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("got %v", err)
	}
}
