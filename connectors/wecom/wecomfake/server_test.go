package wecomfake

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	e := newEnv(t)
	tokenQ := func(corp, secret string) url.Values { return url.Values{"corpid": {corp}, "corpsecret": {secret}} }

	t.Run("the same token comes back while it is valid", func(t *testing.T) {
		a := e.token()
		e.clock.Add(time.Hour)
		var out struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int    `json:"expires_in"`
		}
		e.do("GET", "gettoken", tokenQ(testCorp, testSecret), nil, &out)
		if out.AccessToken != a || out.ExpiresIn != 3600 {
			t.Fatalf("got %q expires_in %d, want the same token with 3600 s left", out.AccessToken, out.ExpiresIn)
		}
		if n := e.s.TokensIssued(); n != 1 {
			t.Fatalf("TokensIssued %d, want 1", n)
		}
	})
	t.Run("wrong secret or corp is refused", func(t *testing.T) {
		_, code := e.do("GET", "gettoken", tokenQ(testCorp, "nope"), nil, nil)
		want(t, "wrong secret", code, ErrInvalidSecret)
		_, code = e.do("GET", "gettoken", tokenQ("other", testSecret), nil, nil)
		want(t, "wrong corp", code, ErrInvalidCorpID)
	})
	t.Run("the contact secret gets a token of its own", func(t *testing.T) {
		var out struct {
			AccessToken string `json:"access_token"`
		}
		_, code := e.do("GET", "gettoken", tokenQ(testCorp, "contact-secret"), nil, &out)
		want(t, "contact secret", code, 0)
		if out.AccessToken == e.tok || out.AccessToken == "" {
			t.Fatal("contact secret shares the app token")
		}
	})
	t.Run("missing, unknown and expired tokens", func(t *testing.T) {
		_, code := e.do("GET", "department/list", nil, nil, nil)
		want(t, "missing", code, ErrMissingToken)
		_, code = e.do("GET", "department/list", url.Values{"access_token": {"bogus"}}, nil, nil)
		want(t, "unknown", code, ErrInvalidToken)
		want(t, "valid", e.get("department/list", nil, nil), 0)
		old := e.tok
		e.clock.Add(time.Hour)
		want(t, "past TTL", e.get("department/list", nil, nil), ErrTokenExpired)
		if e.token() == old {
			t.Fatal("gettoken returned the expired token")
		}
		want(t, "fresh", e.get("department/list", nil, nil), 0)
	})
	t.Run("ExpireTokens revokes every token", func(t *testing.T) {
		before := e.s.TokensIssued()
		old := e.tok
		e.s.ExpireTokens()
		want(t, "revoked", e.get("department/list", nil, nil), ErrTokenExpired)
		if e.token() == old {
			t.Fatal("gettoken returned the revoked token")
		}
		want(t, "fresh", e.get("department/list", nil, nil), 0)
		if e.s.TokensIssued() != before+1 {
			t.Fatalf("TokensIssued %d, want %d", e.s.TokensIssued(), before+1)
		}
	})
}

func TestProtocolErrors(t *testing.T) {
	e := newEnv(t)
	e.token()
	status, code := e.do("GET", "no/such/api", url.Values{"access_token": {e.tok}}, nil, nil)
	if status != http.StatusNotFound || code != ErrAPIForbidden {
		t.Fatalf("unknown path: HTTP %d errcode %d", status, code)
	}
	want(t, "malformed JSON", e.post("user/list_id", "{not json", nil), ErrDataFormat)
	want(t, "GET on a POST API", e.get("user/list_id", nil, nil), ErrRequirePOST)
	want(t, "POST on a GET API", e.post("user/get", "{}", nil), ErrRequireGET)
	want(t, "unknown user", e.get("user/get", url.Values{"userid": {"ghost"}}, nil), ErrUserNotFound)
}

func TestFailNext(t *testing.T) {
	e := newEnv(t)
	e.s.AddDepartment(Department{ID: 1, Name: "HQ"})
	e.s.FailNext("user/simplelist", ErrSystemBusy, 2)
	q := func() url.Values { return url.Values{"department_id": {"1"}} }
	want(t, "first", e.get("user/simplelist", q(), nil), ErrSystemBusy)
	want(t, "other path unaffected", e.get("department/list", nil, nil), 0)
	want(t, "second", e.get("user/simplelist", q(), nil), ErrSystemBusy)
	want(t, "third", e.get("user/simplelist", q(), nil), 0)
	if n := e.s.Calls("user/simplelist"); n != 3 {
		t.Fatalf("Calls %d, want 3", n)
	}
	e.s.FailNext("gettoken", ErrSystemBusy, 1)
	_, code := e.do("GET", "gettoken", url.Values{"corpid": {testCorp}, "corpsecret": {testSecret}}, nil, nil)
	want(t, "gettoken fault", code, ErrSystemBusy)
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RateLimitPerMinute = 5 })
	e.s.AddDepartment(Department{ID: 1, Name: "HQ"})
	e.clock.Set(time.Date(2026, 3, 10, 9, 0, 10, 0, time.UTC))
	for i := range 5 {
		want(t, fmt.Sprintf("call %d", i+1), e.get("department/list", nil, nil), 0)
	}
	want(t, "sixth call", e.get("department/list", nil, nil), ErrFrequencyLimit)
	want(t, "another path", e.get("department/simplelist", nil, nil), 0)
	e.clock.Add(50 * time.Second) // the next calendar minute
	want(t, "next minute", e.get("department/list", nil, nil), 0)
}

func TestOrg(t *testing.T) {
	e := newEnv(t)
	e.s.AddDepartment(Department{ID: 1, Name: "总部", Order: 10})
	e.s.AddDepartment(Department{ID: 2, Name: "华东", ParentID: 1, Leaders: []string{"a"}})
	e.s.AddDepartment(Department{ID: 3, Name: "上海店", ParentID: 2})
	e.s.AddDepartment(Department{ID: 4, Name: "华南", ParentID: 1})
	e.s.AddUser(User{UserID: "a", Name: "甲", Departments: []int64{2}})
	e.s.AddUser(User{UserID: "b", Name: "乙", Departments: []int64{3, 4}})
	e.s.AddUser(User{UserID: "c", Name: "丙", Departments: []int64{3}, Status: UserResigned})

	var list struct {
		Department []struct {
			ID       int64    `json:"id"`
			ParentID int64    `json:"parentid"`
			Leaders  []string `json:"department_leader"`
		} `json:"department"`
	}
	want(t, "subtree", e.get("department/list", url.Values{"id": {"2"}}, &list), 0)
	if len(list.Department) != 2 || list.Department[0].ID != 2 || list.Department[1].ID != 3 || list.Department[0].Leaders[0] != "a" {
		t.Fatalf("department/list?id=2: %+v", list.Department)
	}
	want(t, "unknown department", e.get("department/list", url.Values{"id": {"99"}}, nil), ErrInvalidParty)

	var users struct {
		UserList []struct {
			UserID string `json:"userid"`
		} `json:"userlist"`
	}
	want(t, "simplelist", e.get("user/simplelist", url.Values{"department_id": {"2"}, "fetch_child": {"0"}}, &users), 0)
	if len(users.UserList) != 1 || users.UserList[0].UserID != "a" {
		t.Fatalf("simplelist without children: %+v", users.UserList)
	}
	want(t, "simplelist children", e.get("user/simplelist", url.Values{"department_id": {"2"}, "fetch_child": {"1"}}, &users), 0)
	if len(users.UserList) != 2 {
		t.Fatalf("simplelist with children (the resigned member left out): %+v", users.UserList)
	}
	want(t, "resigned user/get", e.get("user/get", url.Values{"userid": {"c"}}, nil), ErrUserNotFound)
	var u struct {
		UserID string  `json:"userid"`
		Dept   []int64 `json:"department"`
		Leader []int   `json:"is_leader_in_dept"`
	}
	want(t, "user/get", e.get("user/get", url.Values{"userid": {"a"}}, &u), 0)
	if u.UserID != "a" || u.Leader[0] != 1 {
		t.Fatalf("user/get: %+v", u)
	}
}

func TestUserListIDPagination(t *testing.T) {
	e := newEnv(t)
	wantPairs := map[string]bool{}
	for i := range 250 {
		u := User{UserID: fmt.Sprintf("user%03d", i), Departments: []int64{int64(1 + i%5)}}
		if i%7 == 0 {
			u.Departments = append(u.Departments, 9)
		}
		if i%31 == 0 {
			u.Status = UserResigned
		}
		e.s.AddUser(u)
		if u.Status != UserResigned {
			for _, d := range u.Departments {
				wantPairs[fmt.Sprintf("%s/%d", u.UserID, d)] = true
			}
		}
	}
	got := map[string]bool{}
	cursor, pages := "", 0
	for {
		var out struct {
			NextCursor string `json:"next_cursor"`
			DeptUser   []struct {
				UserID     string `json:"userid"`
				Department int64  `json:"department"`
			} `json:"dept_user"`
		}
		want(t, "list_id", e.post("user/list_id", map[string]any{"cursor": cursor, "limit": 7}, &out), 0)
		pages++
		if len(out.DeptUser) > 7 {
			t.Fatalf("page of %d over limit 7", len(out.DeptUser))
		}
		for _, p := range out.DeptUser {
			k := fmt.Sprintf("%s/%d", p.UserID, p.Department)
			if got[k] {
				t.Fatalf("duplicate %s on page %d", k, pages)
			}
			got[k] = true
		}
		if out.NextCursor == "" {
			break
		}
		cursor = out.NextCursor
	}
	if len(got) != len(wantPairs) {
		t.Fatalf("got %d pairs, want %d", len(got), len(wantPairs))
	}
	for k := range wantPairs {
		if !got[k] {
			t.Fatalf("missing %s", k)
		}
	}
	if wantPages := (len(wantPairs) + 6) / 7; pages != wantPages {
		t.Fatalf("%d pages, want %d", pages, wantPages)
	}
	want(t, "limit over 10000", e.post("user/list_id", map[string]any{"limit": 10001}, nil), ErrInvalidParameter)
	want(t, "bad cursor", e.post("user/list_id", map[string]any{"cursor": "!!", "limit": 10}, nil), ErrInvalidParameter)
}

func TestBatchGetByUserPagination(t *testing.T) {
	e := newEnv(t)
	e.s.AddTagGroup(TagGroup{ID: "g1", Name: "等级", Tags: []Tag{{ID: "t1", Name: "A"}}})
	counts := map[string]int{"alice": 37, "bob": 0, "carol": 55}
	wantSet := map[string]bool{}
	for _, u := range []string{"alice", "bob", "carol"} {
		e.s.AddUser(User{UserID: u})
		for i := range counts[u] {
			ext := fmt.Sprintf("wm%s%03d", u, i)
			e.s.AddExternalContact(ExternalContact{ExternalUserID: ext, Name: ext, Type: 1},
				Follow{UserID: u, TagIDs: []string{"t1", "gone"}, CreateTime: 1700000000})
			wantSet[u+"/"+ext] = true
		}
	}
	// A customer both follow shows once per member.
	e.s.AddExternalContact(ExternalContact{ExternalUserID: "wmshared", Type: 2}, Follow{UserID: "alice"}, Follow{UserID: "carol"})
	wantSet["alice/wmshared"], wantSet["carol/wmshared"] = true, true

	got := map[string]bool{}
	cursor, pages := "", 0
	for {
		var out struct {
			List []struct {
				Contact struct {
					ExternalUserID string         `json:"external_userid"`
					Profile        map[string]any `json:"external_profile"`
				} `json:"external_contact"`
				Follow struct {
					UserID string   `json:"userid"`
					TagID  []string `json:"tag_id"`
				} `json:"follow_info"`
			} `json:"external_contact_list"`
			NextCursor string `json:"next_cursor"`
		}
		body := map[string]any{"userid_list": []string{"alice", "bob", "carol"}, "cursor": cursor, "limit": 10}
		want(t, "batch", e.post("externalcontact/batch/get_by_user", body, &out), 0)
		pages++
		for _, c := range out.List {
			k := c.Follow.UserID + "/" + c.Contact.ExternalUserID
			if got[k] {
				t.Fatalf("duplicate %s on page %d", k, pages)
			}
			got[k] = true
			if c.Contact.Profile == nil {
				t.Fatal("external_profile is not an object")
			}
			if c.Contact.ExternalUserID != "wmshared" && !slices.Equal(c.Follow.TagID, []string{"t1"}) {
				t.Fatalf("tag_id %v, want [t1] (unknown tags left out)", c.Follow.TagID)
			}
		}
		if out.NextCursor == "" {
			break
		}
		cursor = out.NextCursor
	}
	if len(got) != len(wantSet) {
		t.Fatalf("got %d follows, want %d", len(got), len(wantSet))
	}
	for k := range wantSet {
		if !got[k] {
			t.Fatalf("missing %s", k)
		}
	}
	if pages != (len(wantSet)+9)/10 {
		t.Fatalf("%d pages for %d follows", pages, len(wantSet))
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprint("u", i)
	}
	want(t, "101 users", e.post("externalcontact/batch/get_by_user", map[string]any{"userid_list": many}, nil), ErrInvalidParameter)
	want(t, "limit 101", e.post("externalcontact/batch/get_by_user", map[string]any{"userid_list": []string{"alice"}, "limit": 101}, nil), ErrInvalidParameter)
}

func TestExternalContactGet(t *testing.T) {
	e := newEnv(t)
	e.s.AddUser(User{UserID: "alice"})
	e.s.AddExternalContact(ExternalContact{ExternalUserID: "wm1", Name: "客", Type: 1, UnionID: "u1"}, Follow{UserID: "alice", Remark: "vip"})
	var out struct {
		Contact struct {
			UnionID string `json:"unionid"`
		} `json:"external_contact"`
		Follow []struct {
			UserID, Remark string
		} `json:"follow_user"`
	}
	want(t, "get", e.get("externalcontact/get", url.Values{"external_userid": {"wm1"}}, &out), 0)
	if out.Contact.UnionID != "u1" || len(out.Follow) != 1 || out.Follow[0].Remark != "vip" {
		t.Fatalf("get: %+v", out)
	}
	var ids struct {
		IDs []string `json:"external_userid"`
	}
	want(t, "list", e.get("externalcontact/list", url.Values{"userid": {"alice"}}, &ids), 0)
	if !slices.Equal(ids.IDs, []string{"wm1"}) {
		t.Fatalf("list: %v", ids.IDs)
	}
	e.s.RemoveFollow("wm1", "alice")
	want(t, "no follow", e.get("externalcontact/get", url.Values{"external_userid": {"wm1"}}, nil), ErrNotExternalContact)
	want(t, "unknown", e.get("externalcontact/get", url.Values{"external_userid": {"wm2"}}, nil), ErrInvalidExternalID)
}

func TestMarkTag(t *testing.T) {
	e := newEnv(t)
	e.s.AddUser(User{UserID: "alice"})
	e.s.AddTagGroup(TagGroup{ID: "g1", Name: "等级", Tags: []Tag{{ID: "tA", Name: "A"}, {ID: "tB", Name: "B"}}})
	e.s.AddExternalContact(ExternalContact{ExternalUserID: "wm1", Type: 1}, Follow{UserID: "alice", TagIDs: []string{"tA"}})

	body := map[string]any{"userid": "alice", "external_userid": "wm1", "add_tag": []string{"tB"}, "remove_tag": []string{"tA"}}
	want(t, "mark_tag", e.post("externalcontact/mark_tag", body, nil), 0)
	var out struct {
		Follow []struct {
			Tags []struct {
				TagID     string `json:"tag_id"`
				GroupName string `json:"group_name"`
			} `json:"tags"`
		} `json:"follow_user"`
	}
	want(t, "get", e.get("externalcontact/get", url.Values{"external_userid": {"wm1"}}, &out), 0)
	if tags := out.Follow[0].Tags; len(tags) != 1 || tags[0].TagID != "tB" || tags[0].GroupName != "等级" {
		t.Fatalf("tags after mark_tag: %+v", tags)
	}
	if m := e.s.MarkTags(); len(m) != 1 || m[0].AddTag[0] != "tB" {
		t.Fatalf("MarkTags: %+v", m)
	}
	body["add_tag"] = []string{"nope"}
	want(t, "unknown tag", e.post("externalcontact/mark_tag", body, nil), ErrInvalidTagID)
	body["userid"] = "bob"
	want(t, "unknown member", e.post("externalcontact/mark_tag", body, nil), ErrUserNotFound)
}

func TestCorpTags(t *testing.T) {
	e := newEnv(t)
	e.s.AddTagGroup(TagGroup{ID: "g1", Name: "控制台", Tags: []Tag{{ID: "t1", Name: "A"}}})
	want(t, "del console tag", e.post("externalcontact/del_corp_tag", map[string]any{"tag_id": []string{"t1"}}, nil), ErrTagNotOwned)
	want(t, "edit console tag", e.post("externalcontact/edit_corp_tag", map[string]any{"id": "t1", "name": "B"}, nil), ErrTagNotOwned)

	var added struct {
		Group struct {
			ID   string `json:"group_id"`
			Tags []struct {
				ID string `json:"id"`
			} `json:"tag"`
		} `json:"tag_group"`
	}
	want(t, "add", e.post("externalcontact/add_corp_tag", map[string]any{"group_name": "接口", "tag": []map[string]any{{"name": "X"}, {"name": "Y"}}}, &added), 0)
	if len(added.Group.Tags) != 2 {
		t.Fatalf("add_corp_tag: %+v", added)
	}
	want(t, "duplicate name", e.post("externalcontact/add_corp_tag", map[string]any{"group_id": added.Group.ID, "tag": []map[string]any{{"name": "X"}}}, nil), ErrInvalidTagName)
	want(t, "edit", e.post("externalcontact/edit_corp_tag", map[string]any{"id": added.Group.Tags[0].ID, "name": "Z"}, nil), 0)
	want(t, "del", e.post("externalcontact/del_corp_tag", map[string]any{"tag_id": []string{added.Group.Tags[0].ID}}, nil), 0)
	want(t, "del unknown", e.post("externalcontact/del_corp_tag", map[string]any{"tag_id": []string{"zzz"}}, nil), ErrInvalidTagID)

	var list struct {
		Groups []struct {
			Name string `json:"group_name"`
			Tags []struct {
				Name string `json:"name"`
			} `json:"tag"`
		} `json:"tag_group"`
	}
	want(t, "list", e.post("externalcontact/get_corp_tag_list", map[string]any{}, &list), 0)
	if len(list.Groups) != 2 || len(list.Groups[1].Tags) != 1 || list.Groups[1].Tags[0].Name != "Y" {
		t.Fatalf("tag list: %+v", list.Groups)
	}
	want(t, "del last tag", e.post("externalcontact/del_corp_tag", map[string]any{"group_id": []string{added.Group.ID}}, nil), 0)
	want(t, "list", e.post("externalcontact/get_corp_tag_list", "", &list), 0)
	if len(list.Groups) != 1 {
		t.Fatalf("group not deleted: %+v", list.Groups)
	}
}

func TestContactWay(t *testing.T) {
	e := newEnv(t)
	e.s.AddUser(User{UserID: "alice"})
	body := map[string]any{"type": 1, "scene": 2, "state": strings.Repeat("s", 31), "user": []string{"alice"}}
	want(t, "state of 31", e.post("externalcontact/add_contact_way", body, nil), ErrInvalidParameter)
	body["state"] = strings.Repeat("店", 30)
	var added struct {
		ConfigID string `json:"config_id"`
		QRCode   string `json:"qr_code"`
	}
	want(t, "add", e.post("externalcontact/add_contact_way", body, &added), 0)
	if added.ConfigID == "" || !strings.HasPrefix(added.QRCode, "https://") {
		t.Fatalf("add_contact_way: %+v", added)
	}
	want(t, "update", e.post("externalcontact/update_contact_way", map[string]any{"config_id": added.ConfigID, "remark": "门店"}, nil), 0)
	var got struct {
		Way struct {
			Remark string   `json:"remark"`
			User   []string `json:"user"`
		} `json:"contact_way"`
	}
	want(t, "get", e.post("externalcontact/get_contact_way", map[string]any{"config_id": added.ConfigID}, &got), 0)
	if got.Way.Remark != "门店" || got.Way.User[0] != "alice" {
		t.Fatalf("get_contact_way: %+v", got)
	}
	if w := e.s.ContactWays(); len(w) != 1 || w[0].State != body["state"] {
		t.Fatalf("ContactWays: %+v", w)
	}
	want(t, "del", e.post("externalcontact/del_contact_way", map[string]any{"config_id": added.ConfigID}, nil), 0)
	want(t, "get deleted", e.post("externalcontact/get_contact_way", map[string]any{"config_id": added.ConfigID}, nil), ErrInvalidParameter)
}

func TestWelcomeCode(t *testing.T) {
	e := newEnv(t)
	msg := func(c string) map[string]any {
		return map[string]any{"welcome_code": c, "text": map[string]any{"content": "欢迎"}}
	}
	late := e.s.IssueWelcomeCode("alice", "wm1")
	e.clock.Add(21 * time.Second)
	want(t, "after 21 s", e.post("externalcontact/send_welcome_msg", msg(late), nil), ErrInvalidWelcomeCode)

	onTime := e.s.IssueWelcomeCode("alice", "wm1")
	e.clock.Add(20 * time.Second)
	want(t, "at 20 s", e.post("externalcontact/send_welcome_msg", msg(onTime), nil), 0)
	want(t, "twice", e.post("externalcontact/send_welcome_msg", msg(onTime), nil), ErrInvalidWelcomeCode)
	want(t, "unknown", e.post("externalcontact/send_welcome_msg", msg("nope"), nil), ErrInvalidWelcomeCode)
	if w := e.s.WelcomeMessages(); len(w) != 1 || w[0].Text != "欢迎" || w[0].ExternalUserID != "wm1" {
		t.Fatalf("WelcomeMessages: %+v", w)
	}
}

func TestMsgTemplateMonthlyLimit(t *testing.T) {
	e := newEnv(t)
	e.s.AddUser(User{UserID: "alice"})
	e.s.AddExternalContact(ExternalContact{ExternalUserID: "wm1"}, Follow{UserID: "alice"})
	e.s.AddExternalContact(ExternalContact{ExternalUserID: "wm2"}, Follow{UserID: "bob"})
	send := func() []string {
		t.Helper()
		var out struct {
			FailList []string `json:"fail_list"`
			MsgID    string   `json:"msgid"`
		}
		body := map[string]any{"chat_type": "single", "external_userid": []string{"wm1", "wm2", "wm9"}, "sender": "alice", "text": map[string]any{"content": "新品"}}
		want(t, "add_msg_template", e.post("externalcontact/add_msg_template", body, &out), 0)
		if out.MsgID == "" {
			t.Fatal("no msgid")
		}
		return out.FailList
	}
	// 23:30 on 31 January in Shanghai is still January there.
	e.clock.Set(time.Date(2026, 1, 31, 15, 30, 0, 0, time.UTC))
	for i := range 4 {
		if fl := send(); !slices.Equal(fl, []string{"wm2", "wm9"}) {
			t.Fatalf("send %d: fail_list %v, want the unfollowed and unknown customers only", i+1, fl)
		}
	}
	if fl := send(); !slices.Contains(fl, "wm1") {
		t.Fatalf("fifth in the month: fail_list %v lacks wm1", fl)
	}
	// 00:30 on 1 February in Shanghai: a new month, though still January in UTC.
	e.clock.Set(time.Date(2026, 1, 31, 16, 30, 0, 0, time.UTC))
	if fl := send(); slices.Contains(fl, "wm1") {
		t.Fatalf("new Shanghai month: fail_list %v", fl)
	}
	tpls := e.s.MsgTemplates()
	if len(tpls) != 6 || !slices.Equal(tpls[5].ExternalUserIDs, []string{"wm1"}) {
		t.Fatalf("MsgTemplates: %+v", tpls)
	}
	want(t, "group chat", e.post("externalcontact/add_msg_template", map[string]any{"chat_type": "group", "external_userid": []string{"wm1"}, "text": map[string]any{"content": "x"}}, nil), ErrInvalidParameter)
}

func TestMessageSend(t *testing.T) {
	e := newEnv(t)
	e.s.AddUser(User{UserID: "alice"})
	e.s.AddUser(User{UserID: "bob"})
	text := func(to string) map[string]any {
		return map[string]any{"touser": to, "msgtype": "text", "agentid": 1000002, "text": map[string]any{"content": "hi"}}
	}
	var out struct {
		InvalidUser string `json:"invaliduser"`
		MsgID       string `json:"msgid"`
	}
	want(t, "send", e.post("message/send", text("alice|ghost"), &out), 0)
	if out.InvalidUser != "ghost" || out.MsgID == "" {
		t.Fatalf("message/send: %+v", out)
	}
	want(t, "all invalid", e.post("message/send", text("ghost|nobody"), nil), ErrAllInvalid)
	bad := text("alice")
	bad["agentid"] = 1
	want(t, "wrong agent", e.post("message/send", bad, nil), ErrInvalidAgentID)
	bad = text("alice")
	bad["msgtype"] = "video"
	want(t, "unsupported type", e.post("message/send", bad, nil), ErrInvalidMsgType)
	card := map[string]any{"touser": "bob", "msgtype": "textcard", "agentid": 1000002,
		"textcard": map[string]any{"title": "工单", "description": "新工单", "url": "https://example.com/t/1"}}
	want(t, "textcard", e.post("message/send", card, nil), 0)

	// alice has had 1 message this minute: 29 more reach her, 5 are dropped silently.
	for i := range 34 {
		want(t, fmt.Sprintf("burst %d", i), e.post("message/send", text("alice"), nil), 0)
	}
	count := func(uid string) int {
		n := 0
		for _, m := range e.s.AppMessages() {
			if slices.Contains(m.ToUsers, uid) {
				n++
			}
		}
		return n
	}
	if n := count("alice"); n != 30 {
		t.Fatalf("alice received %d, want 30 (per-member minute limit)", n)
	}
	e.clock.Add(time.Minute)
	want(t, "next minute", e.post("message/send", text("alice|bob"), nil), 0)
	if n := count("alice"); n != 31 {
		t.Fatalf("alice received %d after a minute, want 31", n)
	}
}

func TestTransfer(t *testing.T) {
	e := newEnv(t)
	e.s.AddUser(User{UserID: "alice"})
	e.s.AddUser(User{UserID: "bob"})
	e.s.AddUser(User{UserID: "gone", Status: UserResigned})
	e.s.AddExternalContact(ExternalContact{ExternalUserID: "wm1"}, Follow{UserID: "alice", Remark: "老客", TagIDs: []string{"t"}})
	e.s.AddExternalContact(ExternalContact{ExternalUserID: "wm2"}, Follow{UserID: "gone"})

	var out struct {
		Customer []struct {
			ExternalUserID string `json:"external_userid"`
			ErrCode        int    `json:"errcode"`
		} `json:"customer"`
	}
	body := map[string]any{"handover_userid": "alice", "takeover_userid": "bob", "external_userid": []string{"wm1", "wm2", "wm9"}}
	want(t, "transfer", e.post("externalcontact/transfer_customer", body, &out), 0)
	codes := []int{out.Customer[0].ErrCode, out.Customer[1].ErrCode, out.Customer[2].ErrCode}
	if !slices.Equal(codes, []int{0, ErrNotExternalContact, ErrInvalidExternalID}) {
		t.Fatalf("per-customer codes %v", codes)
	}
	if f := e.s.Follows("wm1"); len(f) != 1 || f[0].UserID != "bob" || f[0].Remark != "老客" {
		t.Fatalf("follows after transfer: %+v", f)
	}
	want(t, "resigned transfer of an active member", e.post("externalcontact/resigned/transfer_customer", body, nil), ErrHandoverNotResigned)
	body["handover_userid"] = "gone"
	body["external_userid"] = []string{"wm2"}
	want(t, "resigned transfer", e.post("externalcontact/resigned/transfer_customer", body, &out), 0)
	if out.Customer[0].ErrCode != 0 || e.s.Follows("wm2")[0].UserID != "bob" {
		t.Fatalf("resigned transfer: %+v", out)
	}
	if tr := e.s.Transfers(); len(tr) != 4 || !tr[3].Resigned {
		t.Fatalf("Transfers: %+v", tr)
	}
}

func TestOAuth(t *testing.T) {
	e := newEnv(t)
	code := e.s.IssueOAuthCode("alice")
	var out struct {
		UserID string `json:"userid"`
	}
	want(t, "code", e.get("auth/getuserinfo", url.Values{"code": {code}}, &out), 0)
	if out.UserID != "alice" {
		t.Fatalf("userid %q", out.UserID)
	}
	want(t, "reused", e.get("auth/getuserinfo", url.Values{"code": {code}}, nil), ErrInvalidCode)
	code = e.s.IssueOAuthCode("alice")
	e.clock.Add(5*time.Minute + time.Second)
	e.token()
	want(t, "expired", e.get("auth/getuserinfo", url.Values{"code": {code}}, nil), ErrInvalidCode)
}

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	Generate(e.s, 1, Sizes{Departments: 20, Users: 200, ContactsPerUser: 2})
	e.token()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				if g%2 == 0 {
					e.s.AddUser(User{UserID: fmt.Sprintf("new%d_%d", g, i), Departments: []int64{1}})
					e.s.AddExternalContact(ExternalContact{ExternalUserID: fmt.Sprintf("wmnew%d_%d", g, i)}, Follow{UserID: "u0000001"})
					continue
				}
				if code := e.post("user/list_id", map[string]any{"limit": 50}, nil); code != 0 {
					t.Errorf("list_id: %d", code)
				}
				if code := e.post("externalcontact/batch/get_by_user", map[string]any{"userid_list": []string{"u0000001"}, "limit": 5}, nil); code != 0 {
					t.Errorf("batch: %d", code)
				}
			}
		})
	}
	wg.Wait()
}
