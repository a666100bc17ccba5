package wecomsync_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/followup"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/wecomsync"
)

const batchPath = "externalcontact/batch/get_by_user"

// pageHook wraps the client and runs before(n) ahead of the nth page of
// contacts (from 1); an error from it is what that call answers.
type pageHook struct {
	wecomsync.API
	mu     sync.Mutex
	n      int
	before func(n int) error
}

func (h *pageHook) ContactsByUsers(ctx context.Context, userIDs []string, cursor string, limit int) ([]wecom.Contact, string, error) {
	h.mu.Lock()
	h.n++
	n := h.n
	h.mu.Unlock()
	if h.before != nil {
		if err := h.before(n); err != nil {
			return nil, "", err
		}
	}
	return h.API.ContactsByUsers(ctx, userIDs, cursor, limit)
}

// corpContents is what the fake corp holds, read through calls the
// customer sync does not make (externalcontact/list per member).
func (e *syncEnv) corpContents(t *testing.T) (contacts, follows int) {
	t.Helper()
	users, err := e.api.FollowUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, u := range users {
		ids, err := e.api.ExternalContactIDs(context.Background(), u)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			seen[id] = true
		}
		follows += len(ids)
	}
	return len(seen), follows
}

// stored counts the contacts and follow-ups in the database.
func (e *syncEnv) stored(t *testing.T) (identities, followUps, customers int) {
	t.Helper()
	identities = e.client.CustomerIdentity.Query().Where(customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal),
		customeridentity.AppID(testCorp)).CountX(e.ctx)
	return identities, e.client.FollowUp.Query().CountX(e.ctx), e.client.Customer.Query().CountX(e.ctx)
}

// account adds the corp's connector account: the sync's cursor lives on
// it, saved as the job does (connectoraccounts.Record, stream
// "customers").
func (e *syncEnv) account(t *testing.T) (*ent.ConnectorAccount, func(string) error) {
	t.Helper()
	s := func(v string) *string { return &v }
	agent := 1
	acc, err := connectoraccounts.Create(e.ctx, e.client, connectoraccounts.CreateInput{Platform: connectoraccount.PlatformWecom,
		Name: "corp", CorpID: s(testCorp), AgentID: &agent, Secret: s(testSecret), CallbackToken: s("SyncTestToken"),
		EncodingAESKey: s("U3luY1Rlc3RFbmNvZGluZ0tleUZvclNDUk1UZXN0cyE")})
	if err != nil {
		t.Fatal(err)
	}
	save := func(position string) error {
		return connectoraccounts.Record(e.ctx, e.client, acc.ID, time.Now(),
			connectoraccounts.Outcome{Stream: "customers", Cursor: position, Progress: true})
	}
	return acc, save
}

func (e *syncEnv) cursor(t *testing.T, id int) string {
	t.Helper()
	a, err := e.client.ConnectorAccount.Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Cursors["customers"]
}

// TestCustomerSyncResumesAfterACrash stops a customer sync as page 3 of
// contacts is asked for (the worker killed: its context cancelled; or
// WeCom refusing the call), then runs it again from the cursor saved on
// the account, as the job's retry does. The second run must not fetch
// the first two pages again, and the database must end with exactly the
// corp's contacts and follows; a full re-sync from scratch afterwards
// adds nothing.
func TestCustomerSyncResumesAfterACrash(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		for _, how := range []string{"killed", "refused"} {
			t.Run(backend+"/"+how, func(t *testing.T) {
				e := newSyncEnv(t, backend, true)
				// 130 members (two chunks of 100), two customers each:
				// several pages of 100 contacts.
				wecomfake.Generate(e.fake, 3, wecomfake.Sizes{Departments: 5, Users: 130, ContactsPerUser: 2})
				if _, err := wecomsync.Org(e.ctx, e.client, e.api); err != nil {
					t.Fatal(err)
				}
				acc, save := e.account(t)
				wantContacts, wantFollows := e.corpContents(t)

				ctx, kill := context.WithCancel(e.ctx)
				defer kill()
				hook := &pageHook{API: e.api, before: func(n int) error {
					if n != 3 {
						return nil
					}
					if how == "killed" {
						kill()
						return ctx.Err()
					}
					e.fake.FailNext(batchPath, 40058, 1) // a refusal the transport does not retry
					return nil
				}}
				_, err := wecomsync.Customers(ctx, e.client, hook, wecomsync.Corp{ID: testCorp}, e.cursor(t, acc.ID), save)
				if err == nil {
					t.Fatal("the interrupted sync reported success")
				}
				if how == "killed" && !errors.Is(err, context.Canceled) {
					t.Fatalf("killed sync: %v", err)
				}
				resume := e.cursor(t, acc.ID)
				if resume == "" {
					t.Fatal("no cursor saved after two pages")
				}
				ids, fus, _ := e.stored(t)
				if ids == 0 || ids >= wantContacts || fus >= wantFollows {
					t.Fatalf("after two pages: %d identities, %d follow-ups (of %d, %d)", ids, fus, wantContacts, wantFollows)
				}

				before := e.fake.Calls(batchPath)
				res, err := wecomsync.Customers(e.ctx, e.client, e.api, wecomsync.Corp{ID: testCorp}, resume, save)
				if err != nil {
					t.Fatal(err)
				}
				resumed := e.fake.Calls(batchPath) - before
				if c := e.cursor(t, acc.ID); c != "" {
					t.Fatalf("cursor %q left after a complete run", c)
				}
				ids, fus, customers := e.stored(t)
				if ids != wantContacts || fus != wantFollows || customers != wantContacts {
					t.Fatalf("after resuming: %d identities, %d follow-ups, %d customers; the corp has %d contacts, %d follows",
						ids, fus, customers, wantContacts, wantFollows)
				}

				// A run from scratch walks every page: the resumed run
				// fetched all but the two done before the crash.
				before = e.fake.Calls(batchPath)
				full, err := wecomsync.Customers(e.ctx, e.client, e.api, wecomsync.Corp{ID: testCorp}, "", save)
				if err != nil {
					t.Fatal(err)
				}
				pages := e.fake.Calls(batchPath) - before
				if pages < 4 || resumed != pages-2 {
					t.Fatalf("resumed run fetched %d pages, a full run %d: want all but the first 2", resumed, pages)
				}
				if res.FollowUps >= full.FollowUps || full.FollowUps != wantFollows || full.CustomersCreated != 0 {
					t.Fatalf("resumed run %+v, full run %+v (the corp has %d follows)", res, full, wantFollows)
				}
				if ids2, fus2, customers2 := e.stored(t); ids2 != ids || fus2 != fus || customers2 != customers {
					t.Fatalf("a full re-sync changed the counts: %d/%d/%d → %d/%d/%d", ids, fus, customers, ids2, fus2, customers2)
				}
			})
		}
	}
}

// TestSyncThroughExpiredTokensAndRateLimits expires every access token
// and answers 45009 (frequency limit) in the middle of an org sync and a
// customer sync: both finish with the corp's counts, having fetched a new
// token and held back for the minute WeCom asks.
func TestSyncThroughExpiredTokensAndRateLimits(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			e := newSyncEnv(t, backend, true)
			wecomfake.Generate(e.fake, 4, wecomfake.Sizes{Departments: 8, Users: 130, ContactsPerUser: 2})
			activeStaff := 0
			for _, u := range e.fake.Users() {
				if u.Status != wecomfake.UserResigned {
					activeStaff++
				}
			}

			// Org sync: the token expires after the department list, and
			// member lists are throttled twice on the way.
			tokens := e.fake.TokensIssued()
			org := &orgHook{API: e.api, fake: e.fake}
			res, err := wecomsync.Org(e.ctx, e.client, org)
			if err != nil {
				t.Fatal(err)
			}
			if n := e.client.Staff.Query().Where(staff.WecomUserIDNotNil()).CountX(e.ctx); res.Staff != activeStaff || n != activeStaff {
				t.Fatalf("org sync: %d staff reported, %d stored, the corp has %d", res.Staff, n, activeStaff)
			}
			if n := e.client.Department.Query().Where(department.WecomDeptIDNotNil()).CountX(e.ctx); n != len(e.fake.Departments()) {
				t.Fatalf("org sync: %d departments, the corp has %d", n, len(e.fake.Departments()))
			}
			if e.fake.TokensIssued() == tokens {
				t.Fatal("org sync: no new token was fetched after the expiry")
			}
			if !waitedFor(e.clock.Waits(), time.Minute) {
				t.Fatalf("org sync: did not hold back after 45009 (waits %v)", e.clock.Waits())
			}

			// Customer sync: tokens expire before page 2, page 3 is
			// throttled.
			acc, save := e.account(t)
			wantContacts, wantFollows := e.corpContents(t)
			tokens = e.fake.TokensIssued()
			waits := len(e.clock.Waits())
			hook := &pageHook{API: e.api, before: func(n int) error {
				switch n {
				case 2:
					e.fake.ExpireTokens()
				case 3:
					e.fake.FailNext(batchPath, wecomfake.ErrFrequencyLimit, 1)
				}
				return nil
			}}
			cres, err := wecomsync.Customers(e.ctx, e.client, hook, wecomsync.Corp{ID: testCorp}, "", save)
			if err != nil {
				t.Fatal(err)
			}
			ids, fus, customers := e.stored(t)
			if ids != wantContacts || fus != wantFollows || customers != wantContacts || cres.FollowUps != wantFollows {
				t.Fatalf("customer sync %+v: %d identities, %d follow-ups, %d customers; the corp has %d contacts, %d follows",
					cres, ids, fus, customers, wantContacts, wantFollows)
			}
			if hook.n < 3 {
				t.Fatalf("only %d pages: the faults were not all injected", hook.n)
			}
			if got := e.fake.TokensIssued() - tokens; got < 1 {
				t.Fatalf("customer sync fetched no new token after the expiry")
			}
			if !waitedFor(e.clock.Waits()[waits:], time.Minute) {
				t.Fatalf("customer sync: did not hold back after 45009 (waits %v)", e.clock.Waits()[waits:])
			}
			if c := e.cursor(t, acc.ID); c != "" {
				t.Fatalf("cursor %q left", c)
			}
			if n := e.client.FollowUp.Query().Where(followup.LostAtNotNil()).CountX(e.ctx); n != 0 {
				t.Fatalf("%d follow-ups lost", n)
			}
		})
	}
}

// orgHook expires the tokens once the departments are listed and throttles
// the second and fifth member list.
type orgHook struct {
	wecomsync.API
	fake *wecomfake.Server
	mu   sync.Mutex
	n    int
}

func (h *orgHook) Departments(ctx context.Context) ([]wecom.Department, error) {
	d, err := h.API.Departments(ctx)
	h.fake.ExpireTokens()
	return d, err
}

func (h *orgHook) DepartmentUsers(ctx context.Context, id int64) ([]wecom.User, error) {
	h.mu.Lock()
	h.n++
	if h.n == 2 || h.n == 5 {
		h.fake.FailNext("user/simplelist", wecomfake.ErrFrequencyLimit, 1)
	}
	h.mu.Unlock()
	return h.API.DepartmentUsers(ctx, id)
}

func waitedFor(waits []time.Duration, d time.Duration) bool {
	for _, w := range waits {
		if w >= d-time.Second {
			return true
		}
	}
	return false
}
