package wecomsync_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/wecomsync"
)

// relationship is what the sync keeps of one staff member's relationship
// with one contact, in a form two runs can be compared by.
type relationship struct {
	Exists     bool
	Lost       bool
	LostBy     string
	EventAt    int64
	Remark     string
	AddedAt    int64
	IsFollower bool
}

// contactState is the stored state of one contact.
type contactState struct {
	Customers, Identities, FollowUps int
	ByStaff                          map[string]relationship
}

func (e *syncEnv) state(t *testing.T, ext string, users ...string) contactState {
	t.Helper()
	ids, err := e.client.Customer.Query().Where(customer.HasIdentitiesWith(
		customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal), customeridentity.AppID(testCorp),
		customeridentity.ExternalID(ext))).IDs(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := contactState{Customers: len(ids), ByStaff: map[string]relationship{}}
	st.Identities = e.client.CustomerIdentity.Query().Where(customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal),
		customeridentity.ExternalID(ext)).CountX(e.ctx)
	if len(ids) != 1 {
		return st
	}
	cid := ids[0]
	st.FollowUps = e.client.FollowUp.Query().Where(followup.CustomerID(cid)).CountX(e.ctx)
	for _, u := range users {
		var r relationship
		sid, err := e.client.Staff.Query().Where(staff.WecomUserID(u)).OnlyID(e.ctx)
		if err != nil {
			t.Fatalf("staff %s: %v", u, err)
		}
		fu, err := e.client.FollowUp.Query().Where(followup.CustomerID(cid), followup.StaffID(sid)).Only(e.ctx)
		if err == nil {
			r.Exists, r.Lost, r.EventAt, r.Remark = true, fu.LostAt != nil, fu.PlatformEventAt, fu.Remark
			if fu.LostBy != nil {
				r.LostBy = string(*fu.LostBy)
			}
			// When a lost relationship began is history the sync may
			// not learn when the loss arrives first: compared for live
			// ones only.
			if fu.AddedAt != nil && fu.LostAt == nil {
				r.AddedAt = fu.AddedAt.Unix()
			}
		}
		r.IsFollower = e.client.Customer.Query().Where(customer.ID(cid), customer.HasFollowersWith(staff.ID(sid))).ExistX(e.ctx)
		st.ByStaff[u] = r
	}
	return st
}

// history is the life of one contact as WeCom tells it: staff A adds the
// customer, the customer deletes A, adds A again, A edits the remark;
// staff B had added the customer before and removes them at the end.
// The fake holds the final truth (A follows with the remark; B not),
// which is what the API answers whenever a job re-reads the contact.
func history(fake *wecomfake.Server, ext string, base time.Time) []string {
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	fake.AddExternalContact(wecomfake.ExternalContact{ExternalUserID: ext, Name: "客户 " + ext, Type: 1, Gender: 1},
		wecomfake.Follow{UserID: "staffA", Remark: "VIP " + ext, CreateTime: at(30).Unix(), State: "shop-1"})
	return []string{
		fake.EventAddExternalContact("staffB", ext, "", "", at(5)),
		fake.EventAddExternalContact("staffA", ext, "shop-1", "", at(10)),
		fake.EventDelFollowUser("staffA", ext, at(20)),
		fake.EventAddExternalContact("staffA", ext, "shop-1", "", at(30)),
		fake.EventEditExternalContact("staffA", ext, at(40)),
		fake.EventDelExternalContact("staffB", ext, "", at(50)),
	}
}

// shuffleSeed is the seed of the shuffles; SCRM_SHUFFLE_SEED replays a
// failure's.
func shuffleSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SCRM_SHUFFLE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SCRM_SHUFFLE_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("shuffle seed %d (SCRM_SHUFFLE_SEED=%d replays it)", seed, seed)
	return seed
}

// permutations returns every ordering of 0..n-1 (Heap's algorithm).
func permutations(n int) [][]int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	out := [][]int{append([]int(nil), p...)}
	c := make([]int, n)
	for i := 0; i < n; {
		if c[i] < i {
			if i%2 == 0 {
				p[0], p[i] = p[i], p[0]
			} else {
				p[c[i]], p[i] = p[i], p[c[i]]
			}
			out = append(out, append([]int(nil), p...))
			c[i]++
			i = 0
		} else {
			c[i] = 0
			i++
		}
	}
	return out
}

// TestShuffledEventsConverge applies one contact's callback events in
// shuffled orders (a random sample of the permutations), each order on a
// contact of its own, and requires the state
// the in-order delivery leaves: A live and a follower, B lost by staff
// and no follower, one customer, one identity, two follow-ups. Replaying
// every event again changes nothing.
func TestShuffledEventsConverge(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			e := newSyncEnv(t, backend, false)
			for _, u := range []string{"staffA", "staffB"} {
				e.fake.AddUser(wecomfake.User{UserID: u, Name: u, Status: wecomfake.UserActive, Departments: []int64{1}})
			}
			e.fake.AddDepartment(wecomfake.Department{ID: 1, Name: "总部"})
			if _, err := wecomsync.Org(e.ctx, e.client, e.api); err != nil {
				t.Fatal(err)
			}
			base := time.Now().Add(-time.Hour).Truncate(time.Second)
			apply := func(xml string) {
				t.Helper()
				ev, err := wecom.ParseEvent([]byte(xml))
				if err != nil {
					t.Fatal(err)
				}
				if err := wecomsync.ApplyEvent(e.ctx, e.client, e.api, wecomsync.Corp{ID: testCorp}, ev, base, time.Now, e.logger); err != nil {
					t.Fatalf("apply %s/%s: %v", ev.ChangeType, ev.UserID, err)
				}
			}

			events := history(e.fake, "wmINORDER", base)
			for _, x := range events {
				apply(x)
			}
			want := e.state(t, "wmINORDER", "staffA", "staffB")
			a, b := want.ByStaff["staffA"], want.ByStaff["staffB"]
			if want.Customers != 1 || want.Identities != 1 || want.FollowUps != 2 ||
				a.Lost || !a.IsFollower || a.Remark != "VIP wmINORDER" ||
				!b.Lost || b.LostBy != string(followup.LostByStaff) || b.IsFollower {
				t.Fatalf("in order: %+v", want)
			}

			// A random sample of the 720 orderings (SCRM_SHUFFLE_ALL=1 for
			// every one), fewer on MariaDB, whose statements are slower.
			orders := permutations(len(events))
			rng := rand.New(rand.NewPCG(shuffleSeed(t), 5))
			rng.Shuffle(len(orders), func(i, j int) { orders[i], orders[j] = orders[j], orders[i] })
			if os.Getenv("SCRM_SHUFFLE_ALL") == "" {
				orders = orders[:min(len(orders), map[bool]int{true: 120, false: 60}[backend == testenv.SQLite])]
			}
			for n, order := range orders {
				ext := fmt.Sprintf("wmSHUF%04d", n)
				events := history(e.fake, ext, base)
				for pass, what := range []string{"delivered", "delivered again"} {
					for _, i := range order {
						apply(events[i])
					}
					got := e.state(t, ext, "staffA", "staffB")
					ga := got.ByStaff["staffA"]
					ga.Remark = strings.Replace(ga.Remark, ext, "wmINORDER", 1) // the remark names the contact
					got.ByStaff["staffA"] = ga
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("events %s (pass %d) in order %v:\n got %+v\nwant %+v", what, pass+1, order, got, want)
					}
				}
			}
		})
	}
}
