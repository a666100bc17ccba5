package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/scrm-dev/scrm/internal/pii"
)

// SealedColumns lists every column that holds personal data encrypted by
// pii (ent/schema marks them with the sealed value scanner). Rotation
// re-encrypts exactly these; TestRotateKeys fails if any envelope is left
// under an old key anywhere in the database.
var SealedColumns = []struct {
	Table   string
	Columns []string
}{
	{"customers", []string{"phone", "email", "birthday", "address", "id_number"}},
	{"staff", []string{"mobile", "email"}},
}

// Rotation reports what RotateKeys did.
type Rotation struct {
	Rows   int // rows rewritten
	Values int // values re-encrypted (or encrypted for the first time)
}

// RotateKeys re-encrypts every sealed value that is not under kr's active
// key (including any still in plaintext), in batches, while the product
// runs: each row is rewritten only if it has not changed since it was
// read, and a row written meanwhile is already under the active key.
func (s *Store) RotateKeys(ctx context.Context, kr *pii.Keyring, batch int, progress func(table string, rows int)) (Rotation, error) {
	if batch <= 0 {
		batch = 500
	}
	same := "<=>" // MySQL's NULL-safe equality
	if s.Dialect == dialect.SQLite {
		same = "IS"
	}
	var total Rotation
	for _, t := range SealedColumns {
		cols := strings.Join(t.Columns, ", ")
		var set, where []string
		for _, c := range t.Columns {
			set = append(set, c+" = ?")
			where = append(where, c+" "+same+" ?")
		}
		update := fmt.Sprintf("UPDATE %s SET %s WHERE id = ? AND %s", t.Table, strings.Join(set, ", "), strings.Join(where, " AND "))
		query := fmt.Sprintf("SELECT id, %s FROM %s WHERE id > ? ORDER BY id LIMIT %d", cols, t.Table, batch)
		after := 0
		for {
			n, last, r, err := s.rotateBatch(ctx, kr, query, update, after, len(t.Columns))
			if err != nil {
				return total, fmt.Errorf("rotate %s after id %d: %w", t.Table, after, err)
			}
			total.Rows += r.Rows
			total.Values += r.Values
			if progress != nil && r.Rows > 0 {
				progress(t.Table, r.Rows)
			}
			if n < batch {
				break
			}
			after = last
		}
	}
	return total, nil
}

func (s *Store) rotateBatch(ctx context.Context, kr *pii.Keyring, query, update string, after, ncols int) (n, last int, r Rotation, err error) {
	rows, err := s.DB.QueryContext(ctx, query, after)
	if err != nil {
		return 0, 0, r, err
	}
	type row struct {
		id  int
		old []sql.NullString
	}
	var batch []row
	for rows.Next() {
		x := row{old: make([]sql.NullString, ncols)}
		dest := []any{&x.id}
		for i := range x.old {
			dest = append(dest, &x.old[i])
		}
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return 0, 0, r, err
		}
		batch = append(batch, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, r, err
	}
	if len(batch) == 0 {
		return 0, after, r, nil
	}
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, r, err
	}
	defer func() { _ = tx.Rollback() }()
	for _, x := range batch {
		args := make([]any, 0, 2*ncols+1)
		changed := 0
		for _, v := range x.old {
			nv, re, err := reseal(kr, v)
			if err != nil {
				return 0, 0, r, err
			}
			if re {
				changed++
			}
			args = append(args, nv)
		}
		if changed == 0 {
			continue
		}
		args = append(args, x.id)
		for _, v := range x.old {
			args = append(args, v)
		}
		res, err := tx.ExecContext(ctx, update, args...)
		if err != nil {
			return 0, 0, r, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			r.Rows++
			r.Values += changed
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, r, err
	}
	return len(batch), batch[len(batch)-1].id, r, nil
}

// reseal returns v under the active key and whether that changed it.
func reseal(kr *pii.Keyring, v sql.NullString) (sql.NullString, bool, error) {
	if !v.Valid || v.String == "" {
		return v, false, nil
	}
	if id, ok := kr.KeyID(v.String); ok && id == kr.ActiveKeyID() {
		return v, false, nil
	}
	plain := v.String
	if pii.IsEnvelope(v.String) {
		var err error
		if plain, err = kr.Decrypt(v.String); err != nil {
			return v, false, err
		}
	}
	sealed, err := kr.Encrypt(plain)
	if err != nil {
		return v, false, err
	}
	return sql.NullString{String: sealed, Valid: true}, true, nil
}
