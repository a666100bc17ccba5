package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	_ "github.com/scrm-dev/scrm/authz" // registers the default policies a new tenant gets
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/internal/pii"
	"github.com/scrm-dev/scrm/internal/store"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// rotateOldKeyring is testenv.TestKeyring as it was before the rotation:
// the same keys and index secret, with test1 active.
func rotateOldKeyring(t *testing.T) *pii.Keyring {
	t.Helper()
	key := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	kr, err := pii.NewKeyring(pii.KeyringConfig{
		Active: "test1",
		Keys: []pii.Key{
			{ID: "test1", Algorithm: pii.SM4GCM, Secret: key(1, 16)},
			{ID: "test2", Algorithm: pii.AES256GCM, Secret: key(2, 32)},
		},
		IndexSecret: key(3, 32),
	})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// rotateSealed reads every sealed column of every row: table → row id →
// column → raw value ("" for NULL).
func rotateSealed(t *testing.T, st *store.Store) map[string]map[int]map[string]string {
	t.Helper()
	out := map[string]map[int]map[string]string{}
	for _, sc := range store.SealedColumns {
		rows, err := st.DB.QueryContext(context.Background(),
			fmt.Sprintf("SELECT id, %s FROM %s ORDER BY id", strings.Join(sc.Columns, ", "), sc.Table))
		if err != nil {
			t.Fatal(err)
		}
		out[sc.Table] = map[int]map[string]string{}
		for rows.Next() {
			var id int
			vals := make([]sql.NullString, len(sc.Columns))
			dest := []any{&id}
			for i := range vals {
				dest = append(dest, &vals[i])
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			row := map[string]string{}
			for i, c := range sc.Columns {
				row[c] = vals[i].String
			}
			out[sc.Table][id] = row
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// rotateDump returns the raw content of every table, every column as text.
func rotateDump(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	q := "SHOW TABLES"
	if st.Dialect == dialect.SQLite {
		q = "SELECT name FROM sqlite_master WHERE type='table'"
	}
	rows, err := st.DB.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	sort.Strings(tables)
	out := map[string]string{}
	for _, table := range tables {
		rows, err := st.DB.QueryContext(ctx, "SELECT * FROM `"+table+"`")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		var b strings.Builder
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			for i, v := range vals {
				if i > 0 {
					b.WriteByte('\x1f')
				}
				switch v := v.(type) {
				case nil:
				case []byte:
					b.Write(v)
				case string:
					b.WriteString(v)
				case time.Time:
					b.WriteString(v.Format(time.RFC3339Nano))
				default:
					fmt.Fprint(&b, v)
				}
			}
			b.WriteByte('\n')
		}
		rows.Close()
		out[table] = b.String()
	}
	return out
}

type rotatePerson struct{ phone, email, birthday, address, idNumber string }

func TestRotateKeys(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			st := testenv.OpenStore(t, backend) // installs TestKeyring
			t.Cleanup(testenv.UseTestKeyring)
			ctx := viewer.System(context.Background())
			pii.Use(rotateOldKeyring(t))

			tn, err := st.Client.Tenant.Create().SetName("轮换测试").SetSlug("rotate").Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			people := []rotatePerson{
				{phone: "13800000001", email: "a@example.com", address: "南京西路1号"},
				{phone: "13800000002", address: "淮海中路2号"},
				{email: "c@example.com"},
				{phone: "13800000004", email: "d@example.com", birthday: "1990-02-28", address: "世纪大道4号", idNumber: "11010519491231002X"},
				{}, // nothing personal: nothing to rotate
				{phone: "13800000006", address: "虹桥路6号"},
				{address: "延安路7号"},
			}
			var customerIDs []int
			for i, p := range people {
				create := st.Client.Customer.Create().SetTenantID(tn.ID).SetName(fmt.Sprintf("客户%d", i))
				for _, f := range []struct {
					v   string
					set func(string) *ent.CustomerCreate
				}{{p.phone, create.SetPhone}, {p.email, create.SetEmail}, {p.birthday, create.SetBirthday}, {p.address, create.SetAddress}, {p.idNumber, create.SetIDNumber}} {
					if f.v != "" {
						f.set(f.v)
					}
				}
				c, err := create.Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				customerIDs = append(customerIDs, c.ID)
			}
			for i, mobile := range []string{"13900000001", "", "13900000003"} {
				email := ""
				if i != 2 {
					email = fmt.Sprintf("staff%d@example.com", i)
				}
				create := st.Client.Staff.Create().SetTenantID(tn.ID).SetLogin(fmt.Sprintf("s%d", i)).SetName("员工")
				if mobile != "" {
					create.SetMobile(mobile)
				}
				if email != "" {
					create.SetEmail(email)
				}
				if _, err := create.Save(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// A row from before encryption: its phone is still in the clear.
			legacyID, legacyPhone := customerIDs[1], people[1].phone
			if _, err := st.DB.Exec("UPDATE customers SET phone = ? WHERE id = ?", legacyPhone, legacyID); err != nil {
				t.Fatal(err)
			}
			// A row from before the blind index existed too: plaintext phone,
			// no index, and a phone identity holding the number itself (as
			// the initial schema stored it).
			preIndexID, preIndexPhone := customerIDs[5], people[5].phone
			ident, err := st.Client.CustomerIdentity.Create().SetTenantID(tn.ID).SetCustomerID(preIndexID).
				SetPlatform(customeridentity.PlatformPhone).SetExternalID(preIndexPhone).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.DB.Exec("UPDATE customers SET phone = ?, phone_index = NULL WHERE id = ?", preIndexPhone, preIndexID); err != nil {
				t.Fatal(err)
			}
			if _, err := st.DB.Exec("UPDATE customer_identities SET external_id = ? WHERE id = ?", preIndexPhone, ident.ID); err != nil {
				t.Fatal(err)
			}

			// The new key becomes active; rows written from now on are
			// under it already and need no rewrite.
			kr := testenv.TestKeyring
			pii.Use(kr)
			fresh, err := st.Client.Customer.Create().SetTenantID(tn.ID).SetName("新客户").
				SetPhone("13800000099").SetEmail("new@example.com").Save(ctx)
			if err != nil {
				t.Fatal(err)
			}

			before := rotateSealed(t, st)
			wantRows, wantValues := 0, 0
			wantTable := map[string]int{}
			oldKeyValues := 0
			for table, rows := range before {
				for _, row := range rows {
					n := 0
					for _, v := range row {
						if v == "" {
							continue
						}
						if id, ok := kr.KeyID(v); !ok || id != kr.ActiveKeyID() {
							n++
						}
						if id, ok := kr.KeyID(v); ok && id == "test1" {
							oldKeyValues++
						}
					}
					if n > 0 {
						wantRows++
						wantValues += n
						wantTable[table]++
					}
				}
			}
			// 6 customers and 3 staff have data under test1 or in the clear;
			// the empty customer and the one written under test2 do not.
			if wantRows != 9 || wantValues != 18 || oldKeyValues != 16 {
				t.Fatalf("setup: %d rows, %d values to rotate, %d under test1; want 9, 18, 16", wantRows, wantValues, oldKeyValues)
			}
			if raw := before["customers"][legacyID]["phone"]; raw != legacyPhone {
				t.Fatalf("setup: legacy phone is %q", raw)
			}

			entBefore := st.Client.Customer.Query().AllX(ctx)
			staffBefore := st.Client.Staff.Query().AllX(ctx)

			progress := map[string]int{}
			r, err := st.RotateKeys(ctx, kr, 2, func(table string, rows int) {
				if rows > 2 {
					t.Errorf("progress reported %d rows of %s in one batch of 2", rows, table)
				}
				progress[table] += rows
			})
			if err != nil {
				t.Fatal(err)
			}
			if r.Rows != wantRows || r.Values != wantValues {
				t.Errorf("rotation %+v, want %d rows, %d values", r, wantRows, wantValues)
			}
			for table, n := range wantTable {
				if progress[table] != n {
					t.Errorf("progress for %s: %d rows, want %d", table, progress[table], n)
				}
			}

			after := rotateSealed(t, st)
			t.Run("every sealed value is under the active key", func(t *testing.T) {
				for table, rows := range after {
					for id, row := range rows {
						for col, v := range row {
							if v == "" {
								if before[table][id][col] != "" {
									t.Errorf("%s.%s of row %d was emptied", table, col, id)
								}
								continue
							}
							if kid, ok := kr.KeyID(v); !ok || kid != "test2" {
								t.Errorf("%s.%s of row %d is %q, not under test2", table, col, id, v)
							}
						}
					}
				}
				if row := after["customers"][fresh.ID]; row["phone"] != before["customers"][fresh.ID]["phone"] {
					t.Errorf("a row already under the active key was rewritten")
				}
			})
			t.Run("values read through ent are unchanged", func(t *testing.T) {
				got := map[int]*ent.Customer{}
				for _, c := range st.Client.Customer.Query().AllX(ctx) {
					got[c.ID] = c
				}
				for _, b := range entBefore {
					a := got[b.ID]
					// A legacy row gains the phone index it lacked; every
					// other index stays as it was.
					indexKept := a != nil && (a.PhoneIndex == b.PhoneIndex || b.PhoneIndex == "" && a.PhoneIndex == testenv.TestKeyring.PhoneIndex(a.Phone))
					if a == nil || a.Phone != b.Phone || a.Email != b.Email || a.Birthday != b.Birthday ||
						a.Address != b.Address || a.IDNumber != b.IDNumber || !indexKept {
						t.Errorf("customer %d: %+v -> %+v", b.ID, b, a)
					}
				}
				gotStaff := map[int]*ent.Staff{}
				for _, s := range st.Client.Staff.Query().AllX(ctx) {
					gotStaff[s.ID] = s
				}
				for _, b := range staffBefore {
					if a := gotStaff[b.ID]; a == nil || a.Mobile != b.Mobile || a.Email != b.Email {
						t.Errorf("staff %d: %+v -> %+v", b.ID, b, a)
					}
				}
				for i, p := range people {
					c := got[customerIDs[i]]
					if c.Phone != p.phone || c.Email != p.email || c.Birthday != p.birthday || c.Address != p.address || c.IDNumber != p.idNumber {
						t.Errorf("customer %d reads %+v, want %+v", c.ID, c, p)
					}
				}
			})
			t.Run("the plaintext row is encrypted", func(t *testing.T) {
				raw := after["customers"][legacyID]["phone"]
				if kid, ok := kr.KeyID(raw); !ok || kid != "test2" {
					t.Fatalf("legacy phone is %q", raw)
				}
				if plain, err := kr.Decrypt(raw); err != nil || plain != legacyPhone {
					t.Errorf("legacy phone decrypts to %q, %v", plain, err)
				}
			})
			t.Run("nothing under the old key is left anywhere", func(t *testing.T) {
				for table, data := range rotateDump(t, st) {
					if n := strings.Count(data, "pii1:test1:"); n > 0 {
						t.Errorf("table %s still holds %d values under test1 (is a sealed column missing from store.SealedColumns?)", table, n)
					}
				}
			})
			t.Run("a second run rewrites nothing", func(t *testing.T) {
				r, err := st.RotateKeys(ctx, kr, 2, func(table string, rows int) {
					t.Errorf("progress reported %d rows of %s", rows, table)
				})
				if err != nil {
					t.Fatal(err)
				}
				if r.Rows != 0 || r.Values != 0 {
					t.Errorf("second rotation %+v", r)
				}
				again := rotateSealed(t, st)
				for table, rows := range after {
					for id, row := range rows {
						for col, v := range row {
							if again[table][id][col] != v {
								t.Errorf("%s.%s of row %d changed", table, col, id)
							}
						}
					}
				}
			})
			t.Run("a row from before the blind index is findable and holds no plaintext afterwards", func(t *testing.T) {
				// `scrm keys rotate` is how a database upgraded by the
				// pii_at_rest migration gets its plaintext encrypted; that
				// migration added phone_index as NULL and left phone
				// identities holding the number.
				var idx sql.NullString
				if err := st.DB.QueryRow("SELECT phone_index FROM customers WHERE id = ?", preIndexID).Scan(&idx); err != nil {
					t.Fatal(err)
				}
				if want := kr.PhoneIndex(preIndexPhone); idx.String != want {
					t.Errorf("phone_index of the pre-index row is %q (valid %v), want %q: it cannot be found by phone", idx.String, idx.Valid, want)
				}
				var ext string
				if err := st.DB.QueryRow("SELECT external_id FROM customer_identities WHERE id = ?", ident.ID).Scan(&ext); err != nil {
					t.Fatal(err)
				}
				if ext != "pi:"+kr.PhoneIndex(preIndexPhone) {
					t.Errorf("the phone identity still holds %q, want its blind index", ext)
				}
				for table, data := range rotateDump(t, st) {
					if strings.Contains(data, preIndexPhone) {
						t.Errorf("table %s holds the phone %s in plaintext after rotation", table, preIndexPhone)
					}
				}
			})
		})
	}
}
