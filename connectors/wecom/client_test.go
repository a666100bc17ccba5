package wecom_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/internal/testenv"
)

// Redis database of these tests (see internal/testenv for the others).
const redisDB = 7

const (
	corpID        = "wwclienttest"
	agentID       = 1000002
	appSecret     = "app-secret-0123456789"
	contactSecret = "contact-secret-0123456789"
	account       = "12"
)

// clock stands in for time in the transport: a wait is recorded, then
// the shared cool-downs it outlasts are over (their keys are dropped), so
// a call held back by a cool-down goes on at once.
type clock struct {
	rdb    redis.UniversalClient
	prefix string

	mu      sync.Mutex
	waits   []time.Duration
	onSleep func(d time.Duration)
}

func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	n, hook := len(c.waits), c.onSleep
	c.mu.Unlock()
	if n > 100 {
		return errors.New("test clock: too many waits, the client loops")
	}
	if hook != nil {
		hook(d)
	}
	keys, err := c.rdb.Keys(ctx, c.prefix+"cool:*").Result()
	if err != nil {
		return err
	}
	for _, k := range keys {
		if ttl, err := c.rdb.PTTL(ctx, k).Result(); err == nil && ttl <= d {
			c.rdb.Del(ctx, k)
		}
	}
	return nil
}

func (c *clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// env is a fake corp behind a real HTTP server and the Redis the clients
// share.
type env struct {
	t      *testing.T
	fake   *wecomfake.Server
	url    string
	rdb    redis.UniversalClient
	prefix string
	clock  *clock
}

func newEnv(t *testing.T, rdb redis.UniversalClient, sizes *wecomfake.Sizes) *env {
	t.Helper()
	fake := wecomfake.New(wecomfake.Options{CorpID: corpID, AgentID: agentID, Secret: appSecret, ContactSecret: contactSecret})
	if sizes != nil {
		wecomfake.Generate(fake, 7, *sizes)
	}
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	prefix := "test:" + t.Name() + ":"
	return &env{t: t, fake: fake, url: ts.URL, rdb: rdb, prefix: prefix, clock: &clock{rdb: rdb, prefix: prefix}}
}

// client returns a client with a transport and token cache of its own,
// sharing the env's Redis keys (as another replica would).
func (e *env) client(cfg func(*wecom.Config), opts func(*transport.Options)) *wecom.Client {
	o := transport.Options{Redis: e.rdb, Prefix: e.prefix, Sleep: e.clock.sleep,
		MaxWait: 2 * time.Minute, BreakerFailures: 100, BreakerOpenFor: time.Hour}
	if opts != nil {
		opts(&o)
	}
	c := wecom.Config{BaseURL: e.url, CorpID: corpID, AgentID: agentID, Secret: appSecret, Account: account,
		Transport: transport.New(o), Tokens: tokens.New(e.rdb, e.prefix+"token:")}
	if cfg != nil {
		cfg(&c)
	}
	return wecom.New(c)
}

// wantRefusal checks err is a WeCom refusal of kind k with errcode code.
func wantRefusal(t *testing.T, err error, k transport.Kind, code string) {
	t.Helper()
	var pe *transport.Error
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a %s refusal %s", err, k, code)
	}
	if pe.Kind != k || pe.Code != code || pe.Platform != "wecom" {
		t.Fatalf("err = %v (kind %s), want kind %s code %s", err, pe.Kind, k, code)
	}
}

func TestClient(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, redisDB).Client
			t.Run("directory", func(t *testing.T) { testDirectory(t, rdb) })
			t.Run("token shared", func(t *testing.T) { testTokenShared(t, rdb) })
			t.Run("token renewed", func(t *testing.T) { testTokenRenewed(t, rdb) })
			t.Run("frequency limit", func(t *testing.T) { testFrequencyLimit(t, rdb) })
			t.Run("busy", func(t *testing.T) { testBusy(t, rdb) })
			t.Run("credentials", func(t *testing.T) { testCredentials(t, rdb) })
			t.Run("contact", func(t *testing.T) { testContact(t, rdb) })
			t.Run("contacts by users", func(t *testing.T) { testContactsByUsers(t, rdb) })
			t.Run("tags", func(t *testing.T) { testTags(t, rdb) })
			t.Run("contact ways", func(t *testing.T) { testContactWays(t, rdb) })
			t.Run("messages", func(t *testing.T) { testMessages(t, rdb) })
			t.Run("transfer", func(t *testing.T) { testTransfer(t, rdb) })
			t.Run("sign-in", func(t *testing.T) { testSignIn(t, rdb) })
		})
	}
}

func testDirectory(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 8, Users: 60, ContactsPerUser: 1})
	c := e.client(nil, nil)

	depts, err := c.Departments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []wecom.Department
	for _, d := range e.fake.Departments() {
		want = append(want, wecom.Department{ID: d.ID, Name: d.Name, ParentID: d.ParentID, Order: d.Order, Leaders: d.Leaders})
	}
	normalize := func(ds []wecom.Department) {
		for i := range ds {
			if len(ds[i].Leaders) == 0 {
				ds[i].Leaders = nil
			}
		}
	}
	normalize(depts)
	normalize(want)
	if fmt.Sprint(depts) != fmt.Sprint(want) || len(depts) != 8 {
		t.Fatalf("departments\n got %v\nwant %v", depts, want)
	}

	users := e.fake.Users()
	listed := 0
	for _, d := range depts {
		got, err := c.DepartmentUsers(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		var want []wecom.User
		for _, u := range users {
			if u.Status != wecomfake.UserResigned && slices.Contains(u.Departments, d.ID) {
				want = append(want, wecom.User{UserID: u.UserID, Name: u.Name, Departments: u.Departments})
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("department %d users\n got %v\nwant %v", d.ID, got, want)
		}
		listed += len(got)
	}
	if listed < 50 {
		t.Fatalf("only %d members listed over all departments", listed)
	}

	var active []string
	for _, u := range users {
		if u.Status == wecomfake.UserActive {
			active = append(active, u.UserID)
		}
	}
	u := users[slices.IndexFunc(users, func(u wecomfake.User) bool { return u.Status == wecomfake.UserActive })]
	got, err := c.User(ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != u.UserID || got.Name != u.Name || got.Mobile != u.Mobile || got.Status != 1 || fmt.Sprint(got.Departments) != fmt.Sprint(u.Departments) {
		t.Fatalf("user %+v, want %+v", got, u)
	}
	_, err = c.User(ctx, "nobody")
	wantRefusal(t, err, transport.KindNotFound, "60111")
	if !transport.IsKind(err, transport.KindNotFound) {
		t.Fatal("IsKind(KindNotFound) false")
	}

	follow, err := c.FollowUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(follow, active) {
		t.Fatalf("follow users %v, want %v", follow, active)
	}
	ids, err := c.ExternalContactIDs(ctx, active[0])
	if err != nil || len(ids) == 0 {
		t.Fatalf("external contact ids %v, %v", ids, err)
	}
	if e.fake.TokensIssued() != 1 {
		t.Fatalf("%d tokens issued, want 1", e.fake.TokensIssued())
	}
}

func testTokenShared(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 5, ContactsPerUser: 1})
	a, b := e.client(nil, nil), e.client(nil, nil)
	for _, c := range []*wecom.Client{a, b, a, b} {
		if _, err := c.Departments(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, g := e.fake.TokensIssued(), e.fake.Calls("gettoken"); n != 1 || g != 1 {
		t.Fatalf("%d tokens issued in %d gettoken calls, want 1 in 1", n, g)
	}

	// CheckCredentials asks WeCom, not the cache.
	if err := a.CheckCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	if g := e.fake.Calls("gettoken"); g != 2 {
		t.Fatalf("gettoken called %d times after CheckCredentials, want 2", g)
	}

	// With a customer-contact secret, externalcontact calls use its own
	// token, shared in the same way; the others keep the app's.
	cs := func(c *wecom.Config) { c.ContactSecret = contactSecret }
	x, y := e.client(cs, nil), e.client(cs, nil)
	for _, c := range []*wecom.Client{x, y} {
		if _, err := c.FollowUsers(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Departments(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.fake.TokensIssued(); n != 2 {
		t.Fatalf("%d tokens issued, want 2 (one per secret)", n)
	}
	if err := x.CheckCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	wrong := e.client(func(c *wecom.Config) { c.ContactSecret = "wrong" }, nil)
	if err := wrong.CheckCredentials(ctx); !transport.IsKind(err, transport.KindAuth) {
		t.Fatalf("wrong contact secret: %v, want KindAuth", err)
	}
}

func testTokenRenewed(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 5, ContactsPerUser: 1})
	a, b := e.client(nil, nil), e.client(nil, nil)
	if _, err := a.Departments(ctx); err != nil {
		t.Fatal(err)
	}
	e.fake.ExpireTokens()
	if _, err := a.Departments(ctx); err != nil {
		t.Fatal(err)
	}
	if n, g, d := e.fake.TokensIssued(), e.fake.Calls("gettoken"), e.fake.Calls("department/list"); n != 2 || g != 2 || d != 3 {
		t.Fatalf("tokens %d, gettoken %d, department/list %d; want 2, 2, 3", n, g, d)
	}
	// The other replica uses the renewed token without asking again.
	if _, err := b.Departments(ctx); err != nil {
		t.Fatal(err)
	}
	if g, d := e.fake.Calls("gettoken"), e.fake.Calls("department/list"); g != 2 || d != 4 {
		t.Fatalf("gettoken %d, department/list %d; want 2, 4", g, d)
	}
	// A token refused again right after renewal is not renewed twice.
	e.fake.FailNext("department/list", 40014, 2)
	_, err := a.Departments(ctx)
	wantRefusal(t, err, transport.KindTokenInvalid, "40014")
	if g := e.fake.Calls("gettoken"); g != 3 {
		t.Fatalf("gettoken %d, want 3", g)
	}
}

func testFrequencyLimit(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 5, ContactsPerUser: 1})
	a := e.client(nil, nil)
	// Another replica that will not wait a minute.
	b := e.client(nil, func(o *transport.Options) {
		o.MaxWait = time.Second
		o.Sleep = func(context.Context, time.Duration) error { return errors.New("b must not wait") }
	})
	if _, err := a.Departments(ctx); err != nil { // token fetched
		t.Fatal(err)
	}
	var seenByB error
	e.clock.onSleep = func(time.Duration) {
		if seenByB == nil {
			_, seenByB = b.Departments(ctx)
			if seenByB == nil {
				seenByB = errors.New("b called through the cool-down")
			}
		}
	}
	e.fake.FailNext("department/list", 45009, 1)
	before := e.fake.Calls("department/list")
	depts, err := a.Departments(ctx)
	if err != nil || len(depts) != 3 {
		t.Fatalf("departments after 45009: %v, %v", depts, err)
	}
	waits := e.clock.Waits()
	if len(waits) != 1 || waits[0] < 50*time.Second || waits[0] > 60*time.Second {
		t.Fatalf("waits %v, want one of about a minute", waits)
	}
	if got := e.fake.Calls("department/list") - before; got != 2 {
		t.Fatalf("%d calls reached WeCom, want 2 (the refused one and the retry)", got)
	}
	if !transport.IsKind(seenByB, transport.KindRateLimited) {
		t.Fatalf("the other replica during the cool-down: %v, want KindRateLimited", seenByB)
	}

	// 45033 asks for a short pause only.
	e.clock.onSleep = nil
	e.fake.FailNext("department/list", 45033, 1)
	if _, err := a.Departments(ctx); err != nil {
		t.Fatal(err)
	}
	if w := e.clock.Waits(); len(w) != 2 || w[1] > time.Second {
		t.Fatalf("waits %v, want a second one of at most 1s", w)
	}
}

func testBusy(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 5, ContactsPerUser: 1})
	c := e.client(nil, nil)
	if _, err := c.Departments(ctx); err != nil {
		t.Fatal(err)
	}
	e.fake.FailNext("department/list", -1, 2)
	if _, err := c.Departments(ctx); err != nil {
		t.Fatal(err)
	}
	if d, w := e.fake.Calls("department/list"), len(e.clock.Waits()); d != 4 || w != 2 {
		t.Fatalf("department/list %d, waits %d; want 4, 2", d, w)
	}
	e.fake.FailNext("department/list", -1, 10)
	_, err := c.Departments(ctx)
	wantRefusal(t, err, transport.KindBusy, "-1")
	if d := e.fake.Calls("department/list"); d != 8 {
		t.Fatalf("department/list %d, want 8 (1 + 3 retries)", d)
	}
	e.fake.FailNext("department/list", 0, 0)

	// Other errcodes are refusals of their kind, not retried.
	for code, kind := range map[int]transport.Kind{60020: transport.KindAuth, 48002: transport.KindAuth,
		60011: transport.KindNotFound, 84061: transport.KindNotFound, 301002: transport.KindPermanent} {
		before := e.fake.Calls("department/list")
		e.fake.FailNext("department/list", code, 1)
		_, err := c.Departments(ctx)
		wantRefusal(t, err, kind, fmt.Sprint(code))
		if got := e.fake.Calls("department/list") - before; got != 1 {
			t.Fatalf("errcode %d: %d calls, want 1", code, got)
		}
	}
}

func testCredentials(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 5, ContactsPerUser: 1})
	if err := e.client(nil, nil).CheckCredentials(ctx); err != nil {
		t.Fatal(err)
	}
	bad := e.client(func(c *wecom.Config) { c.Secret = "wrong-secret" }, nil)
	err := bad.CheckCredentials(ctx)
	wantRefusal(t, err, transport.KindAuth, "40001")
	_, err = bad.Departments(ctx)
	wantRefusal(t, err, transport.KindAuth, "40001")
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("the error shows the secret: %v", err)
	}
	_, err = e.client(func(c *wecom.Config) { c.CorpID = "wwother" }, nil).Departments(ctx)
	wantRefusal(t, err, transport.KindAuth, "40013")
	if d := e.fake.Calls("department/list"); d != 0 {
		t.Fatalf("department/list called %d times without a token", d)
	}

	// A server that is down: network errors, retried, without the secret
	// or token in the message.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	err = e.client(func(c *wecom.Config) { c.BaseURL = down.URL }, nil).CheckCredentials(ctx)
	var pe *transport.Error
	if err == nil || errors.As(err, &pe) || strings.Contains(err.Error(), appSecret) || strings.Contains(err.Error(), "corpsecret") {
		t.Fatalf("server down: %v", err)
	}
}

// pagedFollows splits externalcontact/get answers into pages of one
// follow, as WeCom does for customers with many followers.
func pagedFollows(fake http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cgi-bin/externalcontact/get" {
			fake.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		fake.ServeHTTP(rec, r)
		var ans map[string]json.RawMessage
		var follows []json.RawMessage
		if json.Unmarshal(rec.Body.Bytes(), &ans) != nil || json.Unmarshal(ans["follow_user"], &follows) != nil {
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return
		}
		page := 0
		_, _ = fmt.Sscan(r.URL.Query().Get("cursor"), &page)
		next := ""
		if page+1 < len(follows) {
			next = fmt.Sprint(page + 1)
		}
		ans["follow_user"], _ = json.Marshal(follows[page : page+1])
		ans["next_cursor"], _ = json.Marshal(next)
		_ = json.NewEncoder(w).Encode(ans)
	})
}

func testContact(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, nil)
	e.fake.AddDepartment(wecomfake.Department{ID: 1, Name: "HQ"})
	for _, u := range []string{"ann", "bob", "cai"} {
		e.fake.AddUser(wecomfake.User{UserID: u, Name: u})
	}
	e.fake.AddTagGroup(wecomfake.TagGroup{ID: "g1", Name: "level", Tags: []wecomfake.Tag{{ID: "t1", Name: "A"}, {ID: "t2", Name: "B"}}})
	ext := wecomfake.ExternalContact{ExternalUserID: "wmCUST1", Name: "王芳", Type: 1, Gender: 2, UnionID: "oUNION1"}
	follows := []wecomfake.Follow{
		{UserID: "ann", Remark: "VIP", Description: "likes tea", CreateTime: 1700000000, TagIDs: []string{"t1", "t2"}, AddWay: 1, State: "store_qr_1", OperUserID: "wmCUST1"},
		{UserID: "bob", CreateTime: 1700000100, AddWay: 3, OperUserID: "bob"},
		{UserID: "cai", CreateTime: 1700000200, TagIDs: []string{"t2"}, OperUserID: "cai"},
	}
	e.fake.AddExternalContact(ext, follows...)

	want := &wecom.Contact{ExternalContact: wecom.ExternalContact{ExternalUserID: "wmCUST1", Name: "王芳", Type: 1, Gender: 2, UnionID: "oUNION1"}}
	for _, f := range follows {
		want.Follows = append(want.Follows, wecom.FollowInfo{UserID: f.UserID, Remark: f.Remark, Description: f.Description,
			CreateTime: f.CreateTime, TagIDs: f.TagIDs, AddWay: f.AddWay, State: f.State, OperUserID: f.OperUserID})
	}
	norm := func(c *wecom.Contact) string {
		for i := range c.Follows {
			if len(c.Follows[i].TagIDs) == 0 {
				c.Follows[i].TagIDs = nil
			}
			if len(c.Follows[i].RemarkMobiles) == 0 {
				c.Follows[i].RemarkMobiles = nil
			}
		}
		return fmt.Sprintf("%+v", *c)
	}

	got, err := e.client(nil, nil).Contact(ctx, "wmCUST1")
	if err != nil {
		t.Fatal(err)
	}
	if norm(got) != norm(want) {
		t.Fatalf("contact\n got %s\nwant %s", norm(got), norm(want))
	}

	// The same customer, its follows over three pages.
	paged := httptest.NewServer(pagedFollows(e.fake))
	defer paged.Close()
	before := e.fake.Calls("externalcontact/get")
	got, err = e.client(func(c *wecom.Config) { c.BaseURL = paged.URL + "/cgi-bin/" }, nil).Contact(ctx, "wmCUST1")
	if err != nil {
		t.Fatal(err)
	}
	if norm(got) != norm(want) {
		t.Fatalf("paged contact\n got %s\nwant %s", norm(got), norm(want))
	}
	if n := e.fake.Calls("externalcontact/get") - before; n != 3 {
		t.Fatalf("%d pages asked, want 3", n)
	}

	_, err = e.client(nil, nil).Contact(ctx, "wmNOBODY")
	wantRefusal(t, err, transport.KindNotFound, "40096")
	e.fake.AddExternalContact(wecomfake.ExternalContact{ExternalUserID: "wmLONELY", Name: "x", Type: 1})
	_, err = e.client(nil, nil).Contact(ctx, "wmLONELY")
	wantRefusal(t, err, transport.KindNotFound, "84061")
}

func testContactsByUsers(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 6, Users: 150, ContactsPerUser: 3})
	c := e.client(func(c *wecom.Config) { c.ContactSecret = contactSecret }, nil)
	var users []string
	for _, u := range e.fake.Users() {
		users = append(users, u.UserID)
	}
	if len(users) != 150 {
		t.Fatalf("%d users", len(users))
	}
	want := map[string]bool{}
	for _, u := range users {
		ids, err := c.ExternalContactIDs(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			want[u+"/"+id] = true
		}
	}
	if len(want) < 400 {
		t.Fatalf("only %d relationships generated", len(want))
	}

	got := map[string]bool{}
	pages := 0
	var sample *wecom.Contact
	for _, batch := range [][]string{users[:100], users[100:]} {
		cursor := ""
		for {
			contacts, next, err := c.ContactsByUsers(ctx, batch, cursor, 37)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(contacts) > 37 {
				t.Fatalf("%d contacts in a page of 37", len(contacts))
			}
			for i := range contacts {
				ct := &contacts[i]
				if len(ct.Follows) != 1 {
					t.Fatalf("contact %s with %d follows", ct.ExternalUserID, len(ct.Follows))
				}
				key := ct.Follows[0].UserID + "/" + ct.ExternalUserID
				if got[key] {
					t.Fatalf("%s returned twice", key)
				}
				got[key] = true
				if sample == nil && len(ct.Follows[0].TagIDs) > 0 {
					sample = ct
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d relationships paged, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("%s missing", k)
		}
	}
	if pages < len(want)/37 {
		t.Fatalf("%d pages for %d relationships", pages, len(want))
	}
	if sample == nil {
		t.Fatal("no tagged follow")
	}
	fs := e.fake.Follows(sample.ExternalUserID)
	f := fs[slices.IndexFunc(fs, func(f wecomfake.Follow) bool { return f.UserID == sample.Follows[0].UserID })]
	g := sample.Follows[0]
	if g.CreateTime != f.CreateTime || !slices.Equal(g.TagIDs, f.TagIDs) || g.AddWay != f.AddWay || g.State != f.State || g.OperUserID != f.OperUserID {
		t.Fatalf("follow %+v, want %+v", g, f)
	}
	if sample.Name == "" || sample.Type != 1 {
		t.Fatalf("contact %+v", sample.ExternalContact)
	}

	if _, _, err := c.ContactsByUsers(ctx, users[:101], "", 10); !errors.Is(err, wecom.ErrInvalidArgument) {
		t.Fatalf("101 users: %v", err)
	}
	if _, _, err := c.ContactsByUsers(ctx, users[:1], "", 101); !errors.Is(err, wecom.ErrInvalidArgument) {
		t.Fatalf("limit 101: %v", err)
	}
}

func testTags(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 10, ContactsPerUser: 2})
	c := e.client(nil, nil)
	groups, err := c.CorpTags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var want []wecom.TagGroup
	for _, g := range e.fake.TagGroups() {
		tg := wecom.TagGroup{ID: g.ID, Name: g.Name, Order: g.Order}
		for _, tt := range g.Tags {
			tg.Tags = append(tg.Tags, wecom.Tag{ID: tt.ID, Name: tt.Name, Order: tt.Order})
		}
		want = append(want, tg)
	}
	if fmt.Sprint(groups) != fmt.Sprint(want) {
		t.Fatalf("tags\n got %v\nwant %v", groups, want)
	}

	g, err := c.AddCorpTags(ctx, "", "活动", []string{"双十一", "618"})
	if err != nil {
		t.Fatal(err)
	}
	if g.ID == "" || g.Name != "活动" || len(g.Tags) != 2 || g.Tags[0].Name != "双十一" || g.Tags[1].ID == "" {
		t.Fatalf("added %+v", g)
	}
	more, err := c.AddCorpTags(ctx, g.ID, "", []string{"年货节"})
	if err != nil || more.ID != g.ID || len(more.Tags) != 1 {
		t.Fatalf("added to the group: %+v, %v", more, err)
	}
	if groups, _ = c.CorpTags(ctx); len(groups) != 4 || len(groups[3].Tags) != 3 {
		t.Fatalf("tags after adding: %v", groups)
	}

	user := e.fake.Users()[0].UserID
	ids, err := c.ExternalContactIDs(ctx, user)
	if err != nil || len(ids) == 0 {
		t.Fatalf("contacts of %s: %v %v", user, ids, err)
	}
	ext := ids[0]
	before := e.fake.Follows(ext)[0].TagIDs
	if err := c.MarkTags(ctx, user, ext, []string{g.Tags[0].ID, g.Tags[1].ID}, before); err != nil {
		t.Fatal(err)
	}
	marks := e.fake.MarkTags()
	if len(marks) != 1 || marks[0].UserID != user || marks[0].ExternalUserID != ext || len(marks[0].AddTag) != 2 {
		t.Fatalf("mark_tag calls %+v", marks)
	}
	ct, err := c.Contact(ctx, ext)
	if err != nil {
		t.Fatal(err)
	}
	if tags := ct.Follows[slices.IndexFunc(ct.Follows, func(f wecom.FollowInfo) bool { return f.UserID == user })].TagIDs; !slices.Equal(tags, []string{g.Tags[0].ID, g.Tags[1].ID}) {
		t.Fatalf("tags after marking %v", tags)
	}
	if err := c.MarkTags(ctx, user, ext, nil, nil); err != nil || len(e.fake.MarkTags()) != 1 {
		t.Fatalf("nothing to mark: %v, %d calls", err, len(e.fake.MarkTags()))
	}
	err = c.MarkTags(ctx, user, ext, []string{"etNOSUCHTAG"}, nil)
	wantRefusal(t, err, transport.KindNotFound, "40068")
}

func testContactWays(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 10, ContactsPerUser: 1})
	c := e.client(nil, nil)
	user := e.fake.Users()[0].UserID
	w := wecom.ContactWay{Type: 1, Scene: 2, State: "store_qr_7", Users: []string{user}, SkipVerify: true, Remark: "门店"}
	id, qr, err := c.AddContactWay(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	ways := e.fake.ContactWays()
	if id == "" || qr == "" || len(ways) != 1 || ways[0].ConfigID != id || ways[0].QRCode != qr || ways[0].State != "store_qr_7" ||
		!ways[0].SkipVerify || ways[0].Remark != "门店" || !slices.Equal(ways[0].Users, []string{user}) || ways[0].Type != 1 || ways[0].Scene != 2 {
		t.Fatalf("contact ways %+v (id %s, qr %s)", ways, id, qr)
	}

	w.ConfigID, w.State, w.SkipVerify = id, "store_qr_8", false
	if err := c.UpdateContactWay(ctx, w); err != nil {
		t.Fatal(err)
	}
	if ways := e.fake.ContactWays(); ways[0].State != "store_qr_8" || ways[0].SkipVerify {
		t.Fatalf("after update %+v", ways[0])
	}

	long := w
	long.State = strings.Repeat("门", 31)
	calls := e.fake.Calls("externalcontact/add_contact_way")
	if _, _, err := c.AddContactWay(ctx, long); !errors.Is(err, wecom.ErrInvalidArgument) {
		t.Fatalf("state of 31 characters: %v", err)
	}
	if err := c.UpdateContactWay(ctx, long); !errors.Is(err, wecom.ErrInvalidArgument) {
		t.Fatalf("update to a state of 31 characters: %v", err)
	}
	if e.fake.Calls("externalcontact/add_contact_way") != calls {
		t.Fatal("a contact way with a state too long was sent")
	}
	if _, _, err := c.AddContactWay(ctx, wecom.ContactWay{Type: 1, Scene: 2, Users: []string{"nobody"}}); !transport.IsKind(err, transport.KindNotFound) {
		t.Fatalf("unknown member: %v", err)
	}

	if err := c.DeleteContactWay(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ways := e.fake.ContactWays(); len(ways) != 0 {
		t.Fatalf("after delete %+v", ways)
	}
	wantRefusal(t, c.DeleteContactWay(ctx, id), transport.KindPermanent, "40058")
}

func testMessages(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 10, ContactsPerUser: 2})
	c := e.client(func(c *wecom.Config) { c.ContactSecret = contactSecret }, nil)
	follow, err := c.FollowUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	user := follow[0]
	ids, err := c.ExternalContactIDs(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	ext := ids[0]

	code := e.fake.IssueWelcomeCode(user, ext)
	if err := c.SendWelcome(ctx, code, "欢迎光临 <b>&</b>"); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, c.SendWelcome(ctx, code, "again"), transport.KindPermanent, "41051")
	if ws := e.fake.WelcomeMessages(); len(ws) != 1 || ws[0].Text != "欢迎光临 <b>&</b>" || ws[0].ExternalUserID != ext {
		t.Fatalf("welcome messages %+v", ws)
	}

	invalid, err := c.SendAppMessage(ctx, []string{user, "nobody", follow[1]}, "new customer")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(invalid, []string{"nobody"}) {
		t.Fatalf("invalid %v", invalid)
	}
	if ms := e.fake.AppMessages(); len(ms) != 1 || ms[0].Content != "new customer" || ms[0].AgentID != agentID || !slices.Equal(ms[0].ToUsers, []string{user, follow[1]}) {
		t.Fatalf("app messages %+v", ms)
	}
	if invalid, err := c.SendAppMessage(ctx, []string{user}, "again"); err != nil || invalid != nil {
		t.Fatalf("all valid: %v, %v", invalid, err)
	}
	_, err = c.SendAppMessage(ctx, []string{"nobody", "noone"}, "lost")
	wantRefusal(t, err, transport.KindNotFound, "81013")

	for i := range 4 {
		msgID, failed, err := c.AddMsgTemplate(ctx, user, []string{ext}, fmt.Sprintf("offer %d", i))
		if err != nil || msgID == "" || len(failed) != 0 {
			t.Fatalf("mass message %d: %q %v %v", i+1, msgID, failed, err)
		}
	}
	msgID, failed, err := c.AddMsgTemplate(ctx, user, []string{ext, ids[1]}, "fifth")
	if err != nil || msgID == "" || !slices.Equal(failed, []string{ext}) {
		t.Fatalf("fifth mass message: %q %v %v", msgID, failed, err)
	}
	if ts := e.fake.MsgTemplates(); len(ts) != 5 || ts[4].Text != "fifth" || ts[4].Sender != user || !slices.Equal(ts[4].ExternalUserIDs, ids[1:2]) {
		t.Fatalf("templates %+v", ts)
	}
}

func testTransfer(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 10, ContactsPerUser: 2})
	c := e.client(nil, nil)
	follow, err := c.FollowUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	from, to := follow[0], follow[1]
	ids, err := c.ExternalContactIDs(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.TransferCustomers(ctx, false, from, to, []string{ids[0], "wmNOBODY"})
	if err != nil {
		t.Fatal(err)
	}
	want := []wecom.TransferResult{{ExternalUserID: ids[0]}, {ExternalUserID: "wmNOBODY", ErrCode: 40096}}
	if !slices.Equal(res, want) {
		t.Fatalf("results %v, want %v", res, want)
	}
	if tr := e.fake.Transfers(); len(tr) != 2 || tr[0].Resigned || tr[0].TakeoverUserID != to {
		t.Fatalf("transfers %+v", tr)
	}
	_, err = c.TransferCustomers(ctx, true, from, to, ids[1:2])
	wantRefusal(t, err, transport.KindPermanent, "40097")
	if _, err := c.TransferCustomers(ctx, false, from, to, nil); !errors.Is(err, wecom.ErrInvalidArgument) {
		t.Fatalf("no customers: %v", err)
	}

	// A member who left: resigned/transfer_customer.
	u := e.fake.Users()[slices.Index(follow, to)]
	u.Status = wecomfake.UserResigned
	e.fake.AddUser(u)
	mine, err := c.ExternalContactIDs(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.TransferCustomers(ctx, true, to, follow[2], mine)
	if err != nil || len(res) != len(mine) {
		t.Fatalf("resigned transfer: %v %v", res, err)
	}
	for _, r := range res {
		if r.ErrCode != 0 {
			t.Fatalf("resigned transfer: %v", res)
		}
	}
	if tr := e.fake.Transfers(); !tr[len(tr)-1].Resigned {
		t.Fatalf("transfers %+v", tr)
	}
}

func testSignIn(t *testing.T, rdb redis.UniversalClient) {
	ctx := context.Background()
	e := newEnv(t, rdb, &wecomfake.Sizes{Departments: 3, Users: 5, ContactsPerUser: 1})
	c := e.client(nil, nil)
	user := e.fake.Users()[0].UserID
	code := e.fake.IssueOAuthCode(user)
	got, err := c.UserIDByCode(ctx, code)
	if err != nil || got != user {
		t.Fatalf("user %q, %v; want %q", got, err, user)
	}
	_, err = c.UserIDByCode(ctx, code)
	wantRefusal(t, err, transport.KindPermanent, "40029")
	_, err = c.UserIDByCode(ctx, e.fake.IssueOAuthCode(""))
	if !transport.IsKind(err, transport.KindNotFound) {
		t.Fatalf("non-member: %v, want KindNotFound", err)
	}
}
