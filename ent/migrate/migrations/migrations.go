// Package migrations holds the versioned MySQL schema migrations (goose
// format, written by `make migration`) and embeds them into the binary for
// `scrm migrate`.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
