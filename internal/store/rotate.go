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
	// Indexed counts customers given the phone blind index they lacked
	// (rows from before encryption at rest), Identities the phone
	// identities whose plaintext number became its blind index.
	Indexed, Identities int
}

// RotateKeys re-encrypts every sealed value that is not under kr's active
// key (including any still in plaintext), in batches, while the product
// runs: each row is rewritten only if it has not changed since it was
// read, and a row written meanwhile is already under the active key. It
// also completes rows from before encryption at rest: the phone's blind
// index, and phone identities that still hold the number.
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
	var err error
	if total.Indexed, err = s.backfillPhoneIndexes(ctx, kr, batch); err != nil {
		return total, err
	}
	if total.Identities, err = s.blindPhoneIdentities(ctx, kr, batch); err != nil {
		return total, err
	}
	return total, nil
}

// backfillPhoneIndexes gives customers with a phone and no blind index
// their index.
func (s *Store) backfillPhoneIndexes(ctx context.Context, kr *pii.Keyring, batch int) (int, error) {
	return s.rewrite(ctx, batch,
		"SELECT id, phone FROM customers WHERE id > ? AND phone IS NOT NULL AND phone <> '' AND phone_index IS NULL ORDER BY id LIMIT ?",
		"UPDATE customers SET phone_index = ? WHERE id = ? AND phone_index IS NULL",
		func(stored string) (string, bool, error) {
			phone, err := pii.ScanColumn(&sql.NullString{String: stored, Valid: true})
			if err != nil {
				return "", false, err
			}
			idx := kr.PhoneIndex(phone)
			return idx, idx != "", nil
		})
}

// blindPhoneIdentities replaces phone identities' plaintext numbers with
// their blind index (as ent/schema does for new ones).
func (s *Store) blindPhoneIdentities(ctx context.Context, kr *pii.Keyring, batch int) (int, error) {
	return s.rewrite(ctx, batch,
		"SELECT id, external_id FROM customer_identities WHERE id > ? AND platform = 'PHONE' AND external_id NOT LIKE 'pi:%' ORDER BY id LIMIT ?",
		"UPDATE customer_identities SET external_id = ? WHERE id = ? AND external_id NOT LIKE 'pi:%'",
		func(stored string) (string, bool, error) {
			idx := kr.PhoneIndex(stored)
			return "pi:" + idx, idx != "", nil
		})
}

// rewrite pages through the rows query selects (id, value) and sets each
// to what change makes of its value. A row change refuses is left alone
// and stays out of later pages.
func (s *Store) rewrite(ctx context.Context, batch int, query, update string, change func(string) (string, bool, error)) (int, error) {
	done, after := 0, 0
	for {
		rows, err := s.DB.QueryContext(ctx, query, after, batch)
		if err != nil {
			return done, err
		}
		type row struct {
			id  int
			val string
		}
		var page []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.val); err != nil {
				rows.Close()
				return done, err
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return done, err
		}
		for _, r := range page {
			nv, ok, err := change(r.val)
			if err != nil {
				return done, err
			}
			if !ok {
				continue
			}
			res, err := s.DB.ExecContext(ctx, update, nv, r.id)
			if err != nil {
				return done, fmt.Errorf("row %d: %w", r.id, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				done++
			}
		}
		if len(page) < batch {
			return done, nil
		}
		after = page[len(page)-1].id
	}
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
