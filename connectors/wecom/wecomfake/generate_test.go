package wecomfake

import (
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestGenerate(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	Generate(e.s, 42, Sizes{Departments: 600, Users: 30000, ContactsPerUser: 1})
	took := time.Since(start)
	if took > 10*time.Second {
		t.Fatalf("Generate took %v", took)
	}
	t.Logf("Generate 600 departments, 30000 users, 1 customer each: %v", took)

	depts := e.s.Departments()
	users := e.s.Users()
	if len(depts) != 600 || len(users) != 30000 {
		t.Fatalf("%d departments, %d users", len(depts), len(users))
	}
	byID := map[int64]Department{}
	for _, d := range depts {
		byID[d.ID] = d
	}
	if root := byID[1]; root.ParentID != 0 {
		t.Fatalf("root %+v", root)
	}
	levels := map[int]int{}
	for _, d := range depts {
		depth := 0
		for cur := d; cur.ID != 1; depth++ {
			p, ok := byID[cur.ParentID]
			if !ok || depth > 3 {
				t.Fatalf("department %d has no path to the root", d.ID)
			}
			cur = p
		}
		levels[depth]++
	}
	if levels[0] != 1 || levels[1] == 0 || levels[2] == 0 || levels[1]+levels[2] != 599 {
		t.Fatalf("tree levels %v, want HQ -> regions -> stores", levels)
	}
	mobile := regexp.MustCompile(`^1[3-9]\d{9}$`)
	mobiles := map[string]bool{}
	han := regexp.MustCompile(`^\p{Han}{2,3}$`)
	for _, u := range users {
		if len(u.Departments) == 0 {
			t.Fatalf("%s in no department", u.UserID)
		}
		for _, d := range u.Departments {
			if _, ok := byID[d]; !ok {
				t.Fatalf("%s in unknown department %d", u.UserID, d)
			}
		}
		if !mobile.MatchString(u.Mobile) || mobiles[u.Mobile] {
			t.Fatalf("%s: bad or duplicate mobile %q", u.UserID, u.Mobile)
		}
		mobiles[u.Mobile] = true
		if !han.MatchString(u.Name) {
			t.Fatalf("%s: name %q", u.UserID, u.Name)
		}
	}
	byUser := map[string]User{}
	for _, u := range users {
		byUser[u.UserID] = u
	}
	for _, d := range depts {
		for _, l := range d.Leaders {
			if u, ok := byUser[l]; !ok || !slices.Contains(u.Departments, d.ID) {
				t.Fatalf("leader %s of %d is not a member there", l, d.ID)
			}
		}
	}
	if len(e.s.TagGroups()) < 3 {
		t.Fatal("no tag groups")
	}

	t.Run("deterministic for a seed", func(t *testing.T) {
		other := New(Options{CorpID: testCorp, Now: e.clock.Now})
		Generate(other, 42, Sizes{Departments: 600, Users: 30000, ContactsPerUser: 1})
		if !slices.EqualFunc(users, other.Users(), func(a, b User) bool {
			return a.UserID == b.UserID && a.Name == b.Name && a.Mobile == b.Mobile && a.Status == b.Status && slices.Equal(a.Departments, b.Departments)
		}) {
			t.Fatal("same seed, different users")
		}
		third := New(Options{CorpID: testCorp, Now: e.clock.Now})
		Generate(third, 43, Sizes{Departments: 10, Users: 100})
		if third.Users()[0].Name == users[0].Name && third.Users()[1].Name == users[1].Name && third.Users()[2].Name == users[2].Name {
			t.Fatal("another seed, same names")
		}
	})

	t.Run("served consistently", func(t *testing.T) {
		active := 0
		for _, u := range users {
			if u.Status != UserResigned {
				active += len(u.Departments)
			}
		}
		n, cursor := 0, ""
		for {
			var out struct {
				NextCursor string `json:"next_cursor"`
				DeptUser   []struct {
					UserID string `json:"userid"`
				} `json:"dept_user"`
			}
			want(t, "list_id", e.post("user/list_id", map[string]any{"cursor": cursor}, &out), 0)
			n += len(out.DeptUser)
			if cursor = out.NextCursor; cursor == "" {
				break
			}
		}
		if n != active {
			t.Fatalf("list_id returned %d pairs, want %d", n, active)
		}
		var list struct {
			Department []struct{} `json:"department"`
		}
		want(t, "department/list", e.get("department/list", nil, &list), 0)
		if len(list.Department) != 600 {
			t.Fatalf("department/list: %d", len(list.Department))
		}
	})
}

func TestGenerateSmall(t *testing.T) {
	for _, sz := range []Sizes{{}, {Departments: 1, Users: 3}, {Departments: 2, Users: 5, ContactsPerUser: 2}} {
		s := New(Options{CorpID: testCorp})
		Generate(s, 1, sz)
		for _, u := range s.Users() {
			for _, d := range u.Departments {
				if !slices.ContainsFunc(s.Departments(), func(x Department) bool { return x.ID == d }) {
					t.Fatalf("%+v: %s in unknown department %d", sz, u.UserID, d)
				}
			}
		}
	}
}
