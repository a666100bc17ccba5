package wecomfake

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
)

func TestPagesSurviveChanges(t *testing.T) {
	e := newEnv(t)
	for i := range 30 {
		e.s.AddUser(User{UserID: fmt.Sprintf("m%02d", i)})
		e.s.AddExternalContact(ExternalContact{ExternalUserID: fmt.Sprintf("wm%02d", i)}, Follow{UserID: "m00"})
	}
	t.Run("user/list_id", func(t *testing.T) {
		var page struct {
			NextCursor string `json:"next_cursor"`
			DeptUser   []struct {
				UserID string `json:"userid"`
			} `json:"dept_user"`
		}
		want(t, "page 1", e.post("user/list_id", map[string]any{"limit": 10}, &page), 0)
		if page.DeptUser[9].UserID != "m09" {
			t.Fatalf("page 1 ends with %s", page.DeptUser[9].UserID)
		}
		e.s.RemoveUser("m09") // the cursor's own user
		e.s.RemoveUser("m15")
		want(t, "page 2", e.post("user/list_id", map[string]any{"limit": 100, "cursor": page.NextCursor}, &page), 0)
		var got []string
		for _, p := range page.DeptUser {
			got = append(got, p.UserID)
		}
		if len(got) != 19 || got[0] != "m10" || slices.Contains(got, "m15") || page.NextCursor != "" {
			t.Fatalf("page 2: %v, next %q", got, page.NextCursor)
		}
	})
	t.Run("batch/get_by_user", func(t *testing.T) {
		type page struct {
			NextCursor string `json:"next_cursor"`
			List       []struct {
				Contact struct {
					ID string `json:"external_userid"`
				} `json:"external_contact"`
			} `json:"external_contact_list"`
		}
		var p page
		want(t, "page 1", e.post("externalcontact/batch/get_by_user", map[string]any{"userid_list": []string{"m00"}, "limit": 10}, &p), 0)
		e.s.RemoveFollow("wm09", "m00")
		e.s.RemoveFollow("wm03", "m00")
		e.s.AddExternalContact(ExternalContact{ExternalUserID: "wmnew"}, Follow{UserID: "m00"})
		want(t, "page 2", e.post("externalcontact/batch/get_by_user", map[string]any{"userid_list": []string{"m00"}, "limit": 100, "cursor": p.NextCursor}, &p), 0)
		if len(p.List) != 21 || p.List[0].Contact.ID != "wm10" || p.List[20].Contact.ID != "wmnew" {
			t.Fatalf("page 2: %+v", p.List)
		}
	})
}

func TestDirectoryChanges(t *testing.T) {
	e := newEnv(t)
	e.s.AddDepartment(Department{ID: 1, Name: "HQ"})
	e.s.AddDepartment(Department{ID: 2, Name: "店", ParentID: 1})
	e.s.AddUser(User{UserID: "a", Departments: []int64{1, 2}})
	e.s.AddUser(User{UserID: "b", Status: UserDisabled})
	var follow struct {
		Users []string `json:"follow_user"`
	}
	want(t, "follow users", e.get("externalcontact/get_follow_user_list", nil, &follow), 0)
	if !slices.Equal(follow.Users, []string{"a"}) {
		t.Fatalf("follow_user %v, want the active member only", follow.Users)
	}
	e.s.RemoveDepartment(2)
	var u struct {
		Dept []int64 `json:"department"`
	}
	want(t, "user/get", e.get("user/get", url.Values{"userid": {"a"}}, &u), 0)
	if !slices.Equal(u.Dept, []int64{1}) {
		t.Fatalf("departments after RemoveDepartment: %v", u.Dept)
	}
	want(t, "simplelist removed", e.get("user/simplelist", url.Values{"department_id": {"2"}}, nil), ErrInvalidParty)
	e.s.RemoveUser("a")
	want(t, "removed user", e.get("user/get", url.Values{"userid": {"a"}}, nil), ErrUserNotFound)
}

func TestMessageToParty(t *testing.T) {
	e := newEnv(t)
	e.s.AddDepartment(Department{ID: 1, Name: "HQ"})
	e.s.AddDepartment(Department{ID: 2, Name: "店", ParentID: 1})
	e.s.AddUser(User{UserID: "a", Departments: []int64{2}})
	e.s.AddUser(User{UserID: "b", Departments: []int64{2}, Status: UserNotActivated})
	var out struct {
		InvalidParty string `json:"invalidparty"`
		InvalidTag   string `json:"invalidtag"`
	}
	body := map[string]any{"toparty": "2|99", "totag": "5", "msgtype": "markdown", "agentid": 1000002, "markdown": map[string]any{"content": "**hi**"}}
	want(t, "send", e.post("message/send", body, &out), 0)
	if out.InvalidParty != "99" || out.InvalidTag != "5" {
		t.Fatalf("answer %+v", out)
	}
	if m := e.s.AppMessages(); len(m) != 1 || !slices.Equal(m[0].ToUsers, []string{"a"}) || m[0].Content != "**hi**" {
		t.Fatalf("AppMessages %+v", m)
	}
}

func TestCorpTagListFilters(t *testing.T) {
	e := newEnv(t)
	e.s.AddTagGroup(TagGroup{ID: "g1", Name: "一", Tags: []Tag{{ID: "t1", Name: "A"}, {ID: "t2", Name: "B"}}})
	e.s.AddTagGroup(TagGroup{ID: "g2", Name: "二", Tags: []Tag{{ID: "t3", Name: "C"}}})
	var out struct {
		Groups []struct {
			ID   string `json:"group_id"`
			Tags []struct {
				ID string `json:"id"`
			} `json:"tag"`
		} `json:"tag_group"`
	}
	want(t, "by tag", e.post("externalcontact/get_corp_tag_list", map[string]any{"tag_id": []string{"t2"}}, &out), 0)
	if len(out.Groups) != 1 || out.Groups[0].ID != "g1" || len(out.Groups[0].Tags) != 1 || out.Groups[0].Tags[0].ID != "t2" {
		t.Fatalf("by tag: %+v", out.Groups)
	}
	want(t, "by group", e.post("externalcontact/get_corp_tag_list", map[string]any{"group_id": []string{"g2"}}, &out), 0)
	if len(out.Groups) != 1 || out.Groups[0].ID != "g2" {
		t.Fatalf("by group: %+v", out.Groups)
	}
}
