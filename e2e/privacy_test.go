package e2e_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/formsubmission"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/ticketcomment"
	"github.com/scrm-dev/scrm/internal/pii"
	"github.com/scrm-dev/scrm/internal/privacy"
	"github.com/scrm-dev/scrm/internal/testenv"
)

// privSealed lists the columns ent/schema seals (ValueScanner(sealed)),
// written out here rather than taken from store.SealedColumns so that a
// column dropped from that list cannot weaken these tests.
var privSealed = []struct {
	table   string
	columns []string
}{
	{"customers", []string{"phone", "email", "birthday", "address", "id_number"}},
	{"staff", []string{"mobile", "email"}},
}

// privMaskedPhone is how a masked mainland mobile looks.
var privMaskedPhone = regexp.MustCompile(`^1\d{2}\*{4}\d{4}$`)

// privTables lists the database's tables.
func privTables(t *testing.T, e *env) []string {
	t.Helper()
	q := "SHOW TABLES"
	if e.st.Dialect == dialect.SQLite {
		q = "SELECT name FROM sqlite_master WHERE type='table'"
	}
	rows, err := e.st.DB.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(tables)
	return tables
}

// privRender renders one raw column value as the text the database holds.
func privRender(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(v)
	case string:
		return v
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// privQueryText runs query and returns every row, every column rendered
// as raw text, columns separated by \x1f and rows by \n.
func privQueryText(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var b strings.Builder
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('\x1f')
			}
			b.WriteString(privRender(v))
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// privDump returns the raw content of every table of the database.
func privDump(t *testing.T, e *env) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range privTables(t, e) {
		out[table] = privQueryText(t, e.st.DB, "SELECT * FROM `"+table+"`")
	}
	return out
}

// privFindIn reports, for each value found in the dump, the tables that
// hold it.
func privFindIn(dump map[string]string, values ...string) map[string][]string {
	found := map[string][]string{}
	tables := make([]string, 0, len(dump))
	for table := range dump {
		tables = append(tables, table)
	}
	sort.Strings(tables)
	for _, v := range values {
		if v == "" {
			continue
		}
		for _, table := range tables {
			if strings.Contains(dump[table], v) {
				found[v] = append(found[v], table)
			}
		}
	}
	return found
}

func privStaffID(t *testing.T, e *env, tenantID int, login string) int {
	t.Helper()
	id, err := e.st.Client.Staff.Query().Where(staff.TenantID(tenantID), staff.Login(login)).OnlyID(sys())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// privInScopeOf returns the ids of the customers a staff member confined
// to their own customers sees: those they own or follow.
func privInScopeOf(t *testing.T, e *env, staffID int) map[int]bool {
	t.Helper()
	ids := e.st.Client.Customer.Query().
		Where(customer.Or(customer.OwnerID(staffID), customer.HasFollowersWith(staff.ID(staffID)))).
		IDsX(sys())
	out := map[int]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// privPhoneCounts counts the customers of a tenant per phone.
func privPhoneCounts(customers []*ent.Customer) map[string]int {
	n := map[string]int{}
	for _, c := range customers {
		if c.Phone != "" {
			n[c.Phone]++
		}
	}
	return n
}

// privWalk calls f for every key and value of a decoded JSON document.
func privWalk(v any, path string, f func(path, key string, val any)) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f(path, k, v[k])
			privWalk(v[k], path+"."+k, f)
		}
	case []any:
		for i, x := range v {
			f(path, fmt.Sprintf("[%d]", i), x)
			privWalk(x, fmt.Sprintf("%s[%d]", path, i), f)
		}
	}
}

// TestNoPlaintextPersonalDataAtRest dumps every table of the seeded
// database and looks for every phone, address, email and ID number the
// product holds: none may be stored in the clear.
func TestNoPlaintextPersonalDataAtRest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		type secret struct{ what, value string }
		var secrets []secret
		phones := 0
		for _, c := range e.st.Client.Customer.Query().Order(customer.ByID()).AllX(sys()) {
			if c.Phone != "" {
				phones++
				secrets = append(secrets, secret{fmt.Sprintf("customer %d phone", c.ID), c.Phone})
			}
			for _, f := range []struct{ name, v string }{{"address", c.Address}, {"email", c.Email}, {"id_number", c.IDNumber}} {
				if f.v != "" {
					secrets = append(secrets, secret{fmt.Sprintf("customer %d %s", c.ID, f.name), f.v})
				}
			}
		}
		staffMobiles := 0
		for _, s := range e.st.Client.Staff.Query().Order(staff.ByID()).AllX(sys()) {
			if s.Mobile != "" {
				staffMobiles++
				secrets = append(secrets, secret{fmt.Sprintf("staff %d mobile", s.ID), s.Mobile})
			}
			if s.Email != "" {
				secrets = append(secrets, secret{fmt.Sprintf("staff %d email", s.ID), s.Email})
			}
		}
		if phones < 100 || staffMobiles < 12 {
			t.Fatalf("only %d customer phones and %d staff mobiles to look for; the test would prove little", phones, staffMobiles)
		}

		dump := privDump(t, e)
		if len(dump) < 10 || dump["customers"] == "" || dump["staff"] == "" {
			t.Fatalf("dump has tables %v", slices.Sorted(maps.Keys(dump)))
		}
		leaks := 0
		for _, s := range secrets {
			for table, data := range dump {
				if strings.Contains(data, s.value) {
					leaks++
					if leaks <= 20 {
						t.Errorf("table %s holds %s in plaintext: %q", table, s.what, s.value)
					}
				}
			}
		}
		if leaks > 20 {
			t.Errorf("... %d plaintext occurrences in all", leaks)
		}
		t.Logf("checked %d values (%d customer phones, %d staff mobiles) against %d tables", len(secrets), phones, staffMobiles, len(dump))

		t.Run("sealed columns hold envelopes", func(t *testing.T) {
			kr, err := pii.Current()
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range privSealed {
				rows, err := e.st.DB.QueryContext(context.Background(),
					fmt.Sprintf("SELECT id, %s FROM %s", strings.Join(sc.columns, ", "), sc.table))
				if err != nil {
					t.Fatal(err)
				}
				nonEmpty := 0
				for rows.Next() {
					var id int
					vals := make([]sql.NullString, len(sc.columns))
					dest := []any{&id}
					for i := range vals {
						dest = append(dest, &vals[i])
					}
					if err := rows.Scan(dest...); err != nil {
						t.Fatal(err)
					}
					for i, v := range vals {
						if !v.Valid || v.String == "" {
							continue
						}
						nonEmpty++
						if !strings.HasPrefix(v.String, "pii1:") || !pii.IsEnvelope(v.String) {
							t.Errorf("%s.%s of row %d is not an envelope: %q", sc.table, sc.columns[i], id, v.String)
						} else if _, err := kr.Decrypt(v.String); err != nil {
							t.Errorf("%s.%s of row %d does not decrypt: %v", sc.table, sc.columns[i], id, err)
						}
					}
				}
				rows.Close()
				if nonEmpty == 0 {
					t.Errorf("%s: no sealed values at all", sc.table)
				}
			}
		})

		t.Run("phones are indexed and phone identities hold the blind index", func(t *testing.T) {
			kr, _ := pii.Current()
			for _, c := range e.st.Client.Customer.Query().AllX(sys()) {
				if c.Phone != "" && c.PhoneIndex != kr.PhoneIndex(c.Phone) {
					t.Errorf("customer %d: phone_index %q, want the phone's blind index", c.ID, c.PhoneIndex)
				}
			}
			ids := e.st.Client.CustomerIdentity.Query().Where(customeridentity.PlatformEQ(customeridentity.PlatformPhone)).AllX(sys())
			if len(ids) < 100 {
				t.Errorf("only %d phone identities", len(ids))
			}
			for _, id := range ids {
				if !strings.HasPrefix(id.ExternalID, "pi:") || len(id.ExternalID) != 3+32 {
					t.Errorf("phone identity %d holds %q, not pi:<blind index>", id.ID, id.ExternalID)
				}
			}
		})
	})
}

// TestCustomersByPhone finds customers by any spelling of their phone
// through the blind index, within the caller's data scope and tenant.
func TestCustomersByPhone(t *testing.T) {
	const q = `query($p: String!) { customersByPhone(phone: $p) { id phone } }`
	type found struct{ ID, Phone string }
	lookup := func(t *testing.T, e *env, tok, phone string) []found {
		t.Helper()
		r := e.post(t, tok, q, map[string]any{"p": phone}).ok(t)
		var got struct{ CustomersByPhone []found }
		r.decode(t, &got)
		return got.CustomersByPhone
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		demo := e.tenantID(t, "demo")
		acme := e.tenantID(t, "acme")
		agent1 := privStaffID(t, e, demo, "agent1")
		demoCustomers := e.st.Client.Customer.Query().Where(customer.TenantID(demo)).Order(customer.ByID()).AllX(sys())
		acmeCustomers := e.st.Client.Customer.Query().Where(customer.TenantID(acme)).Order(customer.ByID()).AllX(sys())
		demoPhones, acmePhones := privPhoneCounts(demoCustomers), privPhoneCounts(acmeCustomers)
		scope := privInScopeOf(t, e, agent1)
		var mine, other, foreign *ent.Customer
		for _, c := range demoCustomers {
			if c.Phone == "" || demoPhones[c.Phone] != 1 || acmePhones[c.Phone] != 0 {
				continue
			}
			switch {
			case mine == nil && c.OwnerID != nil && *c.OwnerID == agent1:
				mine = c
			case other == nil && !scope[c.ID]:
				other = c
			}
		}
		for _, c := range acmeCustomers {
			if foreign == nil && c.Phone != "" && acmePhones[c.Phone] == 1 && demoPhones[c.Phone] == 0 {
				foreign = c
			}
		}
		if mine == nil || other == nil || foreign == nil {
			t.Fatalf("seed lacks the customers this test needs: %v %v %v", mine, other, foreign)
		}
		agentTok := e.token(t, "demo", "agent1")
		adminTok := e.token(t, "demo", "admin")
		p := mine.Phone
		fullWidth := strings.Map(func(r rune) rune {
			if '0' <= r && r <= '9' {
				return r - '0' + '０'
			}
			return r
		}, p)
		variants := []string{
			p,
			"+86 " + p[:3] + "-" + p[3:7] + "-" + p[7:],
			"+86" + p,
			"0086 " + p[:3] + " " + p[3:7] + " " + p[7:],
			"0086" + p,
			"86" + p,
			" " + p[:3] + "." + p[3:7] + "." + p[7:] + " ",
			fullWidth,
		}
		masked := p[:3] + "****" + p[7:]
		for _, v := range variants {
			t.Run(fmt.Sprintf("agent1 finds their customer by %q, masked", v), func(t *testing.T) {
				got := lookup(t, e, agentTok, v)
				if len(got) != 1 || got[0].ID != gid.Encode(mine.ID) {
					t.Fatalf("got %+v, want customer %s", got, gid.Encode(mine.ID))
				}
				if !privMaskedPhone.MatchString(got[0].Phone) || got[0].Phone != masked {
					t.Errorf("agent1 sees phone %q, want %q", got[0].Phone, masked)
				}
			})
		}
		t.Run("admin sees the phone in full", func(t *testing.T) {
			for _, v := range []string{p, "+86 " + p[:3] + "-" + p[3:7] + "-" + p[7:]} {
				got := lookup(t, e, adminTok, v)
				if len(got) != 1 || got[0].ID != gid.Encode(mine.ID) || got[0].Phone != p {
					t.Errorf("%q: got %+v, want %s with phone %s", v, got, gid.Encode(mine.ID), p)
				}
			}
		})
		t.Run("an unknown number finds nothing", func(t *testing.T) {
			for _, v := range []string{"13000000001", "+86 130-0000-0001", "12345"} {
				if got := lookup(t, e, adminTok, v); len(got) != 0 {
					t.Errorf("%q: got %+v", v, got)
				}
			}
		})
		t.Run("text that is no phone number is BAD_USER_INPUT on phone", func(t *testing.T) {
			for _, v := range []string{"abc", "", "138-1234-567x"} {
				r := e.post(t, agentTok, q, map[string]any{"p": v})
				if err := r.only(t); err.code() != "BAD_USER_INPUT" || err.field() != "phone" {
					t.Errorf("%q: got %+v", v, err)
				}
			}
		})
		t.Run("a customer outside agent1's data scope is not found by agent1", func(t *testing.T) {
			if got := lookup(t, e, agentTok, other.Phone); len(got) != 0 {
				t.Errorf("agent1 found %+v (customer %d is neither owned nor followed by agent1)", got, other.ID)
			}
			got := lookup(t, e, adminTok, other.Phone)
			if len(got) != 1 || got[0].ID != gid.Encode(other.ID) || got[0].Phone != other.Phone {
				t.Errorf("admin got %+v, want customer %d", got, other.ID)
			}
		})
		t.Run("another tenant's customer is never found", func(t *testing.T) {
			if got := lookup(t, e, adminTok, foreign.Phone); len(got) != 0 {
				t.Errorf("demo admin found acme's customer: %+v", got)
			}
			got := lookup(t, e, e.token(t, "acme", "admin"), foreign.Phone)
			if len(got) != 1 || got[0].ID != gid.Encode(foreign.ID) {
				t.Errorf("acme admin got %+v, want customer %d", got, foreign.ID)
			}
		})
	})
}

const privExportQ = `mutation($id: ID!) { exportCustomerData(customerID: $id) }`

// privExport exports a customer and returns the document and the raw body.
func privExport(t *testing.T, e *env, tok string, customerID int) (map[string]any, string) {
	t.Helper()
	r := e.post(t, tok, privExportQ, map[string]any{"id": gid.Encode(customerID)}).ok(t)
	var got struct{ ExportCustomerData map[string]any }
	r.decode(t, &got)
	if got.ExportCustomerData == nil {
		t.Fatalf("no document: %s", r.Body)
	}
	return got.ExportCustomerData, string(r.Body)
}

type privAuditEntry struct {
	Action, Operation, ObjectType string
	ObjectIds                     []string
	ActorID                       *string
}

// privAudit returns the tenant's audit entries of one action, newest first.
func privAudit(t *testing.T, e *env, adminTok, action string) []privAuditEntry {
	t.Helper()
	r := e.post(t, adminTok, `query($a: AuditLogAction!) { auditLog(first: 50, where: {action: $a}, orderBy: {field: CREATED_AT, direction: DESC}) {
		edges { node { action operation objectType objectIds actorID } } } }`, map[string]any{"a": action}).ok(t)
	var got struct {
		AuditLog struct {
			Edges []struct{ Node privAuditEntry }
		}
	}
	r.decode(t, &got)
	out := make([]privAuditEntry, 0, len(got.AuditLog.Edges))
	for _, ed := range got.AuditLog.Edges {
		out = append(out, ed.Node)
	}
	return out
}

// privAuditFor returns the entries about one customer, by actor.
func privAuditFor(entries []privAuditEntry, customerID, actorID int) []privAuditEntry {
	var out []privAuditEntry
	for _, en := range entries {
		if slices.Contains(en.ObjectIds, gid.Encode(customerID)) && (actorID == 0 || en.ActorID != nil && *en.ActorID == gid.Encode(actorID)) {
			out = append(out, en)
		}
	}
	return out
}

// privExportable picks a demo customer with a phone, orders, tickets and
// identities, preferring one in sup1's scope (owned by agent1 or sup1)
// and with form submissions.
func privExportable(t *testing.T, e *env) *ent.Customer {
	t.Helper()
	demo := e.tenantID(t, "demo")
	agent1, sup1 := privStaffID(t, e, demo, "agent1"), privStaffID(t, e, demo, "sup1")
	cands := e.st.Client.Customer.Query().
		Where(customer.TenantID(demo), customer.HasOrders(), customer.HasTickets(),
			customer.HasIdentitiesWith(customeridentity.PlatformEQ(customeridentity.PlatformPhone))).
		Order(customer.ByID()).AllX(sys())
	var best *ent.Customer
	bestScore := -1
	for _, c := range cands {
		if c.Phone == "" {
			continue
		}
		score := 0
		if c.OwnerID != nil && (*c.OwnerID == agent1 || *c.OwnerID == sup1) {
			score += 2
		}
		if c.QueryFormSubmissions().ExistX(sys()) {
			score++
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	if best == nil {
		t.Fatal("no demo customer with a phone, orders, tickets and a phone identity")
	}
	return best
}

// TestExportCustomerData exports everything held about one customer.
func TestExportCustomerData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		demo := e.tenantID(t, "demo")
		adminID := privStaffID(t, e, demo, "admin")
		adminTok := e.token(t, "demo", "admin")
		c := privExportable(t, e)
		orders := e.st.Client.Order.Query().Where(order.CustomerID(c.ID)).WithItems().AllX(sys())
		tickets := e.st.Client.Ticket.Query().Where(ticket.CustomerID(c.ID)).AllX(sys())
		identities := e.st.Client.CustomerIdentity.Query().Where(customeridentity.CustomerID(c.ID)).AllX(sys())
		subs := e.st.Client.FormSubmission.Query().Where(formsubmission.CustomerID(c.ID)).AllX(sys())

		doc, body := privExport(t, e, adminTok, c.ID)
		cust, ok := doc["customer"].(map[string]any)
		if !ok {
			t.Fatalf("no customer object in %s", body)
		}
		t.Run("the document has the profile in full for admin, with global IDs", func(t *testing.T) {
			if cust["id"] != gid.Encode(c.ID) {
				t.Errorf("customer.id = %v, want %s", cust["id"], gid.Encode(c.ID))
			}
			if cust["phone"] != c.Phone {
				t.Errorf("customer.phone = %v, want %s", cust["phone"], c.Phone)
			}
			if cust["name"] != c.Name || cust["address"] != c.Address {
				t.Errorf("customer name/address = %v/%v, want %s/%s", cust["name"], cust["address"], c.Name, c.Address)
			}
			if c.OwnerID != nil && cust["ownerID"] != gid.Encode(*c.OwnerID) {
				t.Errorf("customer.ownerID = %v, want %s", cust["ownerID"], gid.Encode(*c.OwnerID))
			}
			if _, err := time.Parse(time.RFC3339, fmt.Sprint(doc["exportedAt"])); err != nil {
				t.Errorf("exportedAt %v: %v", doc["exportedAt"], err)
			}
		})
		t.Run("identities, orders with items, tickets and form submissions are included", func(t *testing.T) {
			ids := func(key string) []string {
				list, ok := cust[key].([]any)
				if !ok {
					t.Errorf("customer.%s is %T, want an array", key, cust[key])
					return nil
				}
				var out []string
				for _, x := range list {
					m, _ := x.(map[string]any)
					s, _ := m["id"].(string)
					out = append(out, s)
				}
				sort.Strings(out)
				return out
			}
			want := func(n int, id func(i int) int) []string {
				var out []string
				for i := range n {
					out = append(out, gid.Encode(id(i)))
				}
				sort.Strings(out)
				return out
			}
			for _, x := range []struct {
				key       string
				got, want []string
			}{
				{"identities", ids("identities"), want(len(identities), func(i int) int { return identities[i].ID })},
				{"orders", ids("orders"), want(len(orders), func(i int) int { return orders[i].ID })},
				{"tickets", ids("tickets"), want(len(tickets), func(i int) int { return tickets[i].ID })},
				{"formSubmissions", ids("formSubmissions"), want(len(subs), func(i int) int { return subs[i].ID })},
			} {
				if !slices.Equal(x.got, x.want) {
					t.Errorf("%s: ids %v, want %v", x.key, x.got, x.want)
				}
			}
			itemCount := map[string]int{}
			for _, o := range orders {
				itemCount[gid.Encode(o.ID)] = len(o.Edges.Items)
			}
			list, _ := cust["orders"].([]any)
			for _, x := range list {
				m, _ := x.(map[string]any)
				items, ok := m["items"].([]any)
				if !ok || len(items) != itemCount[fmt.Sprint(m["id"])] || len(items) == 0 {
					t.Errorf("order %v: items %v, want %d", m["id"], m["items"], itemCount[fmt.Sprint(m["id"])])
				}
				if m["customerID"] != gid.Encode(c.ID) {
					t.Errorf("order %v: customerID %v", m["id"], m["customerID"])
				}
			}
			tl, _ := cust["tickets"].([]any)
			for _, x := range tl {
				m, _ := x.(map[string]any)
				if _, ok := m["comments"].([]any); !ok {
					t.Errorf("ticket %v: comments %v, want an array", m["id"], m["comments"])
				}
			}
			if len(orders) == 0 || len(tickets) == 0 || len(identities) == 0 {
				t.Errorf("picked customer %d has %d orders, %d tickets, %d identities", c.ID, len(orders), len(tickets), len(identities))
			}
		})
		t.Run("no blind index, tenant id or raw database id leaks into the document", func(t *testing.T) {
			var doc2 any
			_ = json.Unmarshal([]byte(body), &doc2)
			privWalk(doc2, "", func(path, key string, val any) {
				if key == "phoneIndex" || key == "phone_index" || key == "tenantID" || key == "tenant_id" {
					t.Errorf("%s.%s is in the export", path, key)
				}
				if s, ok := val.(string); ok {
					if strings.HasPrefix(s, "pi:") || strings.HasPrefix(s, "pii1:") {
						t.Errorf("%s.%s = %q: an internal value is in the export", path, key, s)
					}
				}
				// References to our rows are global IDs; platform
				// identifiers (externalID, platformOrderID, shopID) are
				// strings of the platform's, exported as they are. A raw
				// database id would be a number.
				if (key == "id" || strings.HasSuffix(key, "ID")) && val != nil {
					if _, isNumber := val.(float64); isNumber {
						t.Errorf("%s.%s = %v is a raw database id", path, key, val)
					}
					if s, _ := val.(string); key == "id" {
						if _, err := gid.Decode(s); err != nil {
							t.Errorf("%s.%s = %v is not a global ID", path, key, val)
						}
					}
				}
			})
			if c.PhoneIndex != "" && strings.Contains(body, c.PhoneIndex) {
				t.Errorf("the export holds the phone's blind index %s", c.PhoneIndex)
			}
		})
		t.Run("platform identifiers and order numbers are exported as they are", func(t *testing.T) {
			// Only id fields that hold database ids become global IDs; a
			// string such as externalID or platformOrderID is data the
			// person has a right to see.
			byID := func(key string) map[string]map[string]any {
				out := map[string]map[string]any{}
				list, _ := cust[key].([]any)
				for _, x := range list {
					if m, ok := x.(map[string]any); ok {
						out[fmt.Sprint(m["id"])] = m
					}
				}
				return out
			}
			exported := byID("identities")
			for _, id := range identities {
				m := exported[gid.Encode(id.ID)]
				if m == nil {
					t.Errorf("identity %d missing", id.ID)
					continue
				}
				if m["platform"] != string(id.Platform) {
					t.Errorf("identity %d: platform %v, want %s", id.ID, m["platform"], id.Platform)
				}
				if m["appID"] != id.AppID {
					t.Errorf("identity %d (%s): appID %#v, want %q", id.ID, id.Platform, m["appID"], id.AppID)
				}
				if id.Platform == customeridentity.PlatformPhone {
					continue // its external id is the blind index, checked above
				}
				if m["externalID"] != id.ExternalID {
					t.Errorf("identity %d (%s): externalID %#v, want %q", id.ID, id.Platform, m["externalID"], id.ExternalID)
				}
			}
			exportedOrders := byID("orders")
			for _, o := range orders {
				m := exportedOrders[gid.Encode(o.ID)]
				if m == nil {
					t.Errorf("order %d missing", o.ID)
					continue
				}
				if m["platformOrderID"] != o.PlatformOrderID || m["shopID"] != o.ShopID {
					t.Errorf("order %d: platformOrderID %#v shopID %#v, want %q %q", o.ID, m["platformOrderID"], m["shopID"], o.PlatformOrderID, o.ShopID)
				}
			}
		})
		t.Run("the export is audited", func(t *testing.T) {
			got := privAuditFor(privAudit(t, e, adminTok, "EXPORT"), c.ID, adminID)
			if len(got) == 0 {
				t.Fatalf("no EXPORT entry for customer %d by admin", c.ID)
			}
			if got[0].Operation != "exportCustomerData" || got[0].ObjectType != "Customer" || got[0].Action != "EXPORT" {
				t.Errorf("entry %+v", got[0])
			}
		})
		t.Run("a supervisor may export a customer in their scope, in full", func(t *testing.T) {
			sup1 := privStaffID(t, e, demo, "sup1")
			agent1 := privStaffID(t, e, demo, "agent1")
			if c.OwnerID == nil || (*c.OwnerID != agent1 && *c.OwnerID != sup1) {
				t.Fatalf("customer %d is not in sup1's scope: the seed no longer gives this test a customer to export", c.ID)
			}
			doc, _ := privExport(t, e, e.token(t, "demo", "sup1"), c.ID)
			cust, _ := doc["customer"].(map[string]any)
			if cust["phone"] != c.Phone {
				t.Errorf("sup1 sees phone %v, want %s", cust["phone"], c.Phone)
			}
			if len(privAuditFor(privAudit(t, e, adminTok, "EXPORT"), c.ID, sup1)) == 0 {
				t.Errorf("no EXPORT entry by sup1")
			}
		})
		t.Run("agents and marketers may not export", func(t *testing.T) {
			for _, login := range []string{"agent1", "mkt1"} {
				r := e.post(t, e.token(t, "demo", login), privExportQ, map[string]any{"id": gid.Encode(c.ID)})
				if err := r.only(t); err.code() != "FORBIDDEN" {
					t.Errorf("%s: got %+v", login, err)
				}
				if strings.Contains(string(r.Body), c.Phone) {
					t.Errorf("%s: the refusal holds the phone: %s", login, r.Body)
				}
				if n := len(privAuditFor(privAudit(t, e, adminTok, "EXPORT"), c.ID, privStaffID(t, e, demo, login))); n != 0 {
					t.Errorf("%s: %d EXPORT entries for a refused export", login, n)
				}
			}
		})
	})

	t.Run("field decisions apply to exports", func(t *testing.T) {
		for _, b := range testenv.DatabaseBackends() {
			t.Run(b, func(t *testing.T) {
				e := fresh(t, b)
				demo := e.tenantID(t, "demo")
				agent1 := privStaffID(t, e, demo, "agent1")
				adminTok := e.token(t, "demo", "admin")
				agentTok := e.token(t, "demo", "agent1")
				deny := map[string]any{"role": "agent", "object": "Mutation.exportCustomerData", "act": "READ", "effect": "DENY"}
				r := e.post(t, adminTok, `mutation($r: PolicyRuleInput!) { revoke(rule: $r) { role object act effect } }`, map[string]any{"r": deny}).ok(t)
				var rev struct {
					Revoke []struct{ Role, Object, Act, Effect string }
				}
				r.decode(t, &rev)
				for _, l := range rev.Revoke {
					if l.Object == "Mutation.exportCustomerData" && l.Effect == "DENY" {
						t.Fatalf("the deny line is still there: %+v", rev.Revoke)
					}
				}
				var mine *ent.Customer
				for _, c := range e.st.Client.Customer.Query().Where(customer.TenantID(demo), customer.OwnerID(agent1), customer.HasOrders()).Order(customer.ByID()).AllX(sys()) {
					if c.Phone != "" && c.Address != "" {
						mine = c
						break
					}
				}
				if mine == nil {
					t.Fatal("agent1 owns no customer with a phone, an address and orders")
				}
				doc, body := privExport(t, e, agentTok, mine.ID)
				cust, _ := doc["customer"].(map[string]any)
				phone, _ := cust["phone"].(string)
				if !privMaskedPhone.MatchString(phone) {
					t.Errorf("agent1's export shows phone %q, want it masked", phone)
				}
				if strings.Contains(body, mine.Phone) {
					t.Errorf("agent1's export holds the full phone %s somewhere", mine.Phone)
				}
				if addr, _ := cust["address"].(string); addr == mine.Address || strings.Contains(body, mine.Address) {
					t.Errorf("agent1's export shows the address in full: %q", addr)
				}
				if _, ok := cust["orders"].([]any); !ok {
					t.Errorf("orders missing from agent1's export")
				}
				t.Run("scope still applies", func(t *testing.T) {
					scope := privInScopeOf(t, e, agent1)
					outside, err := e.st.Client.Customer.Query().Where(customer.TenantID(demo), customer.IDNotIn(privSortedIDs(scope)...)).First(sys())
					if err != nil {
						t.Fatal(err)
					}
					r := e.post(t, agentTok, privExportQ, map[string]any{"id": gid.Encode(outside.ID)})
					if len(r.Errors) != 1 || (r.Errors[0].code() != "NOT_FOUND" && r.Errors[0].code() != "FORBIDDEN") {
						t.Errorf("export of customer %d outside agent1's scope: %s", outside.ID, r.Body)
					}
				})
			})
		}
	})
}

func privSortedIDs(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// privErasable picks a demo customer with identities, orders and tickets
// with comments, and makes sure it has every kind of personal data and a
// form submission that repeats its phone.
func privErasable(t *testing.T, e *env) *ent.Customer {
	t.Helper()
	demo := e.tenantID(t, "demo")
	cands := e.st.Client.Customer.Query().
		Where(customer.TenantID(demo), customer.HasOrders(), customer.HasIdentities(),
			customer.HasTicketsWith(ticket.HasComments())).
		Order(customer.ByID()).AllX(sys())
	var c *ent.Customer
	for _, x := range cands {
		if x.Phone != "" && x.Address != "" && x.QueryIdentities().Where(customeridentity.PlatformEQ(customeridentity.PlatformPhone)).ExistX(sys()) {
			c = x
			if x.QueryFormSubmissions().ExistX(sys()) {
				break
			}
		}
	}
	if c == nil {
		t.Fatal("no demo customer with a phone, identities, orders and commented tickets")
	}
	upd := c.Update()
	if c.Email == "" {
		upd.SetEmail(fmt.Sprintf("erase.me.%d@example.com", c.ID))
	}
	if c.IDNumber == "" {
		upd.SetIDNumber("11010519491231002X")
	}
	if c.Birthday == "" {
		upd.SetBirthday("1988-08-08")
	}
	c = upd.SaveX(sys())
	// The seed's after-sales survey asks for a phone; the ticket
	// workflow's own survey (installed first, so the first form) does not.
	survey := e.st.Client.Form.Query().Where(form.TenantID(demo), form.Name("售后服务满意度调查")).OnlyX(sys())
	e.st.Client.FormSubmission.Create().SetTenantID(demo).SetFormID(survey.ID).SetFormVersion(survey.Version).
		SetCustomerID(c.ID).SetData(map[string]any{"rating": "满意", "resolved": true, "phone": c.Phone, "comment": c.Address}).
		SetSubmittedAt(time.Now()).ExecX(sys())
	return c
}

// TestEraseCustomer erases one customer's personal data everywhere.
func TestEraseCustomer(t *testing.T) {
	const eraseQ = `mutation($id: ID!) { eraseCustomer(customerID: $id) { customerID erasedAt alreadyErased } }`
	type report struct {
		CustomerID    string
		ErasedAt      time.Time
		AlreadyErased bool
	}
	for _, b := range testenv.DatabaseBackends() {
		t.Run(b, func(t *testing.T) {
			e := fresh(t, b)
			demo := e.tenantID(t, "demo")
			adminTok := e.token(t, "demo", "admin")
			c := privErasable(t, e)
			kr, _ := pii.Current()
			rowQ := "SELECT * FROM customers WHERE id = ?"
			rawBefore := privQueryText(t, e.st.DB, rowQ, c.ID)
			var envelopes []string
			for _, f := range strings.Split(strings.TrimSuffix(rawBefore, "\n"), "\x1f") {
				if pii.IsEnvelope(f) {
					envelopes = append(envelopes, f)
				}
			}
			if len(envelopes) != 5 {
				t.Fatalf("customer %d row holds %d envelopes, want 5: %q", c.ID, len(envelopes), rawBefore)
			}
			identities := e.st.Client.CustomerIdentity.Query().Where(customeridentity.CustomerID(c.ID)).AllX(sys())
			orders := e.st.Client.Order.Query().Where(order.CustomerID(c.ID)).Order(order.ByID()).AllX(sys())
			tickets := e.st.Client.Ticket.Query().Where(ticket.CustomerID(c.ID)).Order(ticket.ByID()).AllX(sys())
			ticketIDs := make([]int, len(tickets))
			for i, tk := range tickets {
				ticketIDs[i] = tk.ID
			}
			comments := e.st.Client.TicketComment.Query().Where(ticketcomment.TicketIDIn(ticketIDs...)).Order(ticketcomment.ByID()).AllX(sys())
			if len(identities) == 0 || len(orders) == 0 || len(tickets) == 0 || len(comments) == 0 {
				t.Fatalf("customer %d: %d identities, %d orders, %d tickets, %d comments", c.ID, len(identities), len(orders), len(tickets), len(comments))
			}
			secrets := []string{c.Phone, c.Email, c.Address, c.IDNumber, kr.PhoneIndex(c.Phone)}
			secrets = append(secrets, envelopes...)
			for _, id := range identities {
				secrets = append(secrets, id.ExternalID)
			}
			// The dump sees what is there: before the erasure, the
			// identities and envelopes are found.
			found := privFindIn(privDump(t, e), secrets...)
			for _, s := range secrets[5:] {
				if len(found[s]) == 0 {
					t.Fatalf("before erasure the dump does not find %q: %v", s, found)
				}
			}

			t.Run("only admin may erase", func(t *testing.T) {
				for _, login := range []string{"agent1", "sup1", "mkt1", "auditor1"} {
					r := e.post(t, e.token(t, "demo", login), eraseQ, map[string]any{"id": gid.Encode(c.ID)})
					if err := r.only(t); err.code() != "FORBIDDEN" {
						t.Errorf("%s: got %+v", login, err)
					}
				}
				if got := privQueryText(t, e.st.DB, rowQ, c.ID); got != rawBefore {
					t.Errorf("a refused erase changed the row")
				}
			})

			r := e.post(t, adminTok, eraseQ, map[string]any{"id": gid.Encode(c.ID)}).ok(t)
			var first struct{ EraseCustomer report }
			r.decode(t, &first)
			if first.EraseCustomer.AlreadyErased || first.EraseCustomer.ErasedAt.IsZero() || first.EraseCustomer.CustomerID != gid.Encode(c.ID) {
				t.Fatalf("first erase: %s", r.Body)
			}

			t.Run("the profile keeps no personal data", func(t *testing.T) {
				got := e.st.Client.Customer.GetX(sys(), c.ID)
				if got.Name != privacy.ErasedName {
					t.Errorf("name %q", got.Name)
				}
				for name, v := range map[string]string{"phone": got.Phone, "email": got.Email, "address": got.Address,
					"idNumber": got.IDNumber, "birthday": got.Birthday, "province": got.Province, "city": got.City,
					"district": got.District, "phoneIndex": got.PhoneIndex} {
					if v != "" {
						t.Errorf("%s = %q after erasure", name, v)
					}
				}
				if len(got.CustomAttributes) != 0 || len(got.MarketingConsents) != 0 {
					t.Errorf("custom attributes %v, consents %v", got.CustomAttributes, got.MarketingConsents)
				}
				if got.ErasedAt == nil {
					t.Errorf("erased_at not set")
				}
				if n := got.QueryFollowers().CountX(sys()); n != 0 {
					t.Errorf("%d followers left", n)
				}
				var idx sql.NullString
				if err := e.st.DB.QueryRow("SELECT phone_index FROM customers WHERE id = ?", c.ID).Scan(&idx); err != nil {
					t.Fatal(err)
				}
				if idx.Valid {
					t.Errorf("phone_index is %q, want NULL", idx.String)
				}
			})
			t.Run("the old phone finds nobody", func(t *testing.T) {
				r := e.post(t, adminTok, `query($p: String!) { customersByPhone(phone: $p) { id } }`, map[string]any{"p": c.Phone}).ok(t)
				if strings.Contains(string(r.Body), gid.Encode(c.ID)) {
					t.Errorf("customersByPhone still finds the erased customer: %s", r.Body)
				}
			})
			t.Run("identities are gone", func(t *testing.T) {
				if n := e.st.Client.CustomerIdentity.Query().Where(customeridentity.CustomerID(c.ID)).CountX(sys()); n != 0 {
					t.Errorf("%d identities left", n)
				}
			})
			t.Run("ticket texts, comments and form answers are replaced", func(t *testing.T) {
				for _, old := range tickets {
					got := e.st.Client.Ticket.GetX(sys(), old.ID)
					if got.Title == old.Title || got.Description == old.Description || len(got.CustomFields) != 0 {
						t.Errorf("ticket %d: title %q, description %q, custom fields %v", got.ID, got.Title, got.Description, got.CustomFields)
					}
					if got.Number != old.Number || got.Status != old.Status {
						t.Errorf("ticket %d: number/status changed: %s/%s -> %s/%s", got.ID, old.Number, old.Status, got.Number, got.Status)
					}
				}
				for _, old := range comments {
					if got := e.st.Client.TicketComment.GetX(sys(), old.ID); got.Body == old.Body {
						t.Errorf("comment %d still reads %q", old.ID, got.Body)
					}
				}
				subs := e.st.Client.FormSubmission.Query().Where(formsubmission.CustomerID(c.ID)).AllX(sys())
				if len(subs) == 0 {
					t.Fatal("form submissions vanished")
				}
				for _, s := range subs {
					if len(s.Data) != 0 {
						t.Errorf("submission %d data %v", s.ID, s.Data)
					}
				}
			})
			t.Run("orders and totals stay", func(t *testing.T) {
				got := e.st.Client.Customer.GetX(sys(), c.ID)
				if got.TotalSpend != c.TotalSpend || got.OrderCount != c.OrderCount {
					t.Errorf("totals %d/%d -> %d/%d", c.TotalSpend, c.OrderCount, got.TotalSpend, got.OrderCount)
				}
				after := e.st.Client.Order.Query().Where(order.CustomerID(c.ID)).Order(order.ByID()).AllX(sys())
				if len(after) != len(orders) {
					t.Fatalf("%d orders -> %d", len(orders), len(after))
				}
				for i, o := range after {
					old := orders[i]
					if o.ID != old.ID || o.TotalAmount != old.TotalAmount || o.PaidAmount != old.PaidAmount ||
						o.RefundedAmount != old.RefundedAmount || o.Status != old.Status {
						t.Errorf("order %d changed: %+v -> %+v", old.ID, old, o)
					}
				}
			})
			t.Run("no trace of the personal data is left in any table", func(t *testing.T) {
				row := privQueryText(t, e.st.DB, rowQ, c.ID)
				if strings.Contains(row, "pii1:") || strings.Contains(row, c.Phone) {
					t.Errorf("customers row after erasure: %q", row)
				}
				for v, tables := range privFindIn(privDump(t, e), secrets...) {
					t.Errorf("%q is still in %v", v, tables)
				}
			})

			rawAfter := privQueryText(t, e.st.DB, rowQ, c.ID)
			t.Run("a second erase changes nothing", func(t *testing.T) {
				r := e.post(t, adminTok, eraseQ, map[string]any{"id": gid.Encode(c.ID)}).ok(t)
				var second struct{ EraseCustomer report }
				r.decode(t, &second)
				if !second.EraseCustomer.AlreadyErased {
					t.Errorf("second erase: %s", r.Body)
				}
				if d := second.EraseCustomer.ErasedAt.Sub(first.EraseCustomer.ErasedAt); d < -time.Second || d > time.Second {
					t.Errorf("erasedAt %v, first said %v", second.EraseCustomer.ErasedAt, first.EraseCustomer.ErasedAt)
				}
				if got := privQueryText(t, e.st.DB, rowQ, c.ID); got != rawAfter {
					t.Errorf("row changed:\n%q\n%q", rawAfter, got)
				}
			})
			t.Run("the erasure is audited once and the chain holds", func(t *testing.T) {
				adminID := privStaffID(t, e, demo, "admin")
				entries := privAuditFor(privAudit(t, e, adminTok, "ERASE"), c.ID, 0)
				if len(entries) != 1 || entries[0].ActorID == nil || *entries[0].ActorID != gid.Encode(adminID) ||
					entries[0].Operation != "eraseCustomer" || entries[0].ObjectType != "Customer" {
					t.Errorf("ERASE entries %+v", entries)
				}
				r := e.post(t, adminTok, `{ verifyAuditChain { ok checked brokenAtSeq reason } }`, nil).ok(t)
				var got struct {
					VerifyAuditChain struct {
						Ok      bool
						Checked int
						Reason  *string
					}
				}
				r.decode(t, &got)
				if !got.VerifyAuditChain.Ok || got.VerifyAuditChain.Checked == 0 {
					t.Errorf("verifyAuditChain: %s", r.Body)
				}
			})
			t.Run("the export of an erased customer holds nothing personal", func(t *testing.T) {
				doc, body := privExport(t, e, adminTok, c.ID)
				cust, _ := doc["customer"].(map[string]any)
				if ids, _ := cust["identities"].([]any); len(ids) != 0 {
					t.Errorf("identities %v", ids)
				}
				for _, s := range []string{c.Phone, c.Email, c.Address, c.IDNumber, c.Name} {
					if strings.Contains(body, s) {
						t.Errorf("export holds %q", s)
					}
				}
			})
		})
	}
}

// TestMarketingConsent records one answer per channel.
func TestMarketingConsent(t *testing.T) {
	const setQ = `mutation($id: ID!, $ch: ConsentChannel!, $g: Boolean!, $s: String!) {
		setMarketingConsent(customerID: $id, channel: $ch, granted: $g, source: $s) { id marketingConsents { channel granted at source } } }`
	type consent struct {
		Channel string
		Granted bool
		At      time.Time
		Source  string
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		tok := e.token(t, "demo", "agent1")
		r := e.post(t, tok, `mutation { createCustomer(input: {name: "同意测试"}) { id } }`, nil).ok(t)
		var created struct{ CreateCustomer struct{ ID string } }
		r.decode(t, &created)
		id := created.CreateCustomer.ID
		set := func(t *testing.T, ch string, granted bool, source string) []consent {
			t.Helper()
			r := e.post(t, tok, setQ, map[string]any{"id": id, "ch": ch, "g": granted, "s": source}).ok(t)
			var got struct {
				SetMarketingConsent struct {
					ID                string
					MarketingConsents []consent
				}
			}
			r.decode(t, &got)
			if got.SetMarketingConsent.ID != id {
				t.Errorf("returned customer %s, want %s", got.SetMarketingConsent.ID, id)
			}
			return got.SetMarketingConsent.MarketingConsents
		}
		recent := func(at time.Time) bool { return time.Since(at) < time.Minute && time.Until(at) < time.Minute }

		t.Run("a grant is recorded with its time and source", func(t *testing.T) {
			got := set(t, "WECOM", true, "门店登记")
			if len(got) != 1 || got[0].Channel != "WECOM" || !got[0].Granted || got[0].Source != "门店登记" || !recent(got[0].At) {
				t.Fatalf("consents %+v", got)
			}
			r := e.post(t, tok, `query($id: ID!) { node(id: $id) { ... on Customer { marketingConsents { channel granted at source } } } }`,
				map[string]any{"id": id}).ok(t)
			var read struct {
				Node struct{ MarketingConsents []consent }
			}
			r.decode(t, &read)
			if len(read.Node.MarketingConsents) != 1 || read.Node.MarketingConsents[0].Source != "门店登记" {
				t.Errorf("read back %+v", read.Node.MarketingConsents)
			}
		})
		t.Run("a later answer on the same channel replaces it", func(t *testing.T) {
			got := set(t, "WECOM", false, "客户来电撤回")
			if len(got) != 1 || got[0].Channel != "WECOM" || got[0].Granted || got[0].Source != "客户来电撤回" {
				t.Fatalf("consents %+v", got)
			}
		})
		t.Run("channels are kept apart", func(t *testing.T) {
			got := set(t, "SMS", true, "小程序表单")
			if len(got) != 2 {
				t.Fatalf("consents %+v", got)
			}
			by := map[string]consent{}
			for _, c := range got {
				by[c.Channel] = c
			}
			if by["WECOM"].Granted || !by["SMS"].Granted {
				t.Errorf("consents %+v", got)
			}
			got = set(t, "WECOM", true, "门店登记")
			if len(got) != 2 {
				t.Errorf("consents %+v", got)
			}
			cid, _ := gid.Decode(id)
			stored := e.st.Client.Customer.GetX(sys(), cid).MarketingConsents
			if len(stored) != 2 {
				t.Errorf("stored %+v", stored)
			}
		})
		t.Run("an answer without a source is BAD_USER_INPUT on source", func(t *testing.T) {
			for _, s := range []string{"", "   ", strings.Repeat("长", 101)} {
				r := e.post(t, tok, setQ, map[string]any{"id": id, "ch": "EMAIL", "g": true, "s": s})
				if err := r.only(t); err.code() != "BAD_USER_INPUT" || err.field() != "source" {
					t.Errorf("source %q: got %+v", s, err)
				}
			}
			cid, _ := gid.Decode(id)
			for _, c := range e.st.Client.Customer.GetX(sys(), cid).MarketingConsents {
				if c.Channel == "EMAIL" {
					t.Errorf("a refused answer was stored: %+v", c)
				}
			}
		})
		t.Run("a source of up to 100 characters is accepted, however many bytes they take", func(t *testing.T) {
			// The error message promises 1-100 characters; Chinese
			// characters take 3 bytes each in UTF-8.
			source := strings.Repeat("门店", 20) // 40 characters, 120 bytes
			r := e.post(t, tok, setQ, map[string]any{"id": id, "ch": "MINI_PROGRAM", "g": true, "s": source})
			if len(r.Errors) > 0 {
				t.Fatalf("a %d-character source was refused: %s", len([]rune(source)), r.Body)
			}
		})
		t.Run("a customer outside the caller's scope cannot be changed", func(t *testing.T) {
			demo := e.tenantID(t, "demo")
			scope := privInScopeOf(t, e, privStaffID(t, e, demo, "agent1"))
			outside := e.st.Client.Customer.Query().Where(customer.TenantID(demo), customer.IDNotIn(privSortedIDs(scope)...)).FirstX(sys())
			r := e.post(t, tok, setQ, map[string]any{"id": gid.Encode(outside.ID), "ch": "SMS", "g": true, "s": "门店登记"})
			if len(r.Errors) != 1 || r.Errors[0].code() != "NOT_FOUND" {
				t.Errorf("got %s", r.Body)
			}
			if len(e.st.Client.Customer.GetX(sys(), outside.ID).MarketingConsents) != 0 {
				t.Errorf("customer %d got a consent from agent1", outside.ID)
			}
		})
	})
}
