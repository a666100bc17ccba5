package wecomfake

import (
	"encoding/base64"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// subtree returns the ids of department id and all below it, or nil when
// id is unknown.
func (s *Server) subtree(id int64) map[int64]bool {
	if s.depts[id] == nil {
		return nil
	}
	children := map[int64][]int64{}
	for _, d := range s.depts {
		children[d.ParentID] = append(children[d.ParentID], d.ID)
	}
	set := map[int64]bool{id: true}
	queue := []int64{id}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, c := range children[cur] {
			if !set[c] {
				set[c] = true
				queue = append(queue, c)
			}
		}
	}
	return set
}

// deptsFor answers department/list and simplelist: all departments when
// id is empty, else the subtree under it.
func (s *Server) deptsFor(r *request) ([]*Department, *apiErr) {
	all := s.sortedDepts()
	raw := r.get("id")
	if raw == "" {
		return all, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, fail(ErrInvalidParty, "id")
	}
	set := s.subtree(id)
	if set == nil {
		return nil, fail(ErrInvalidParty, "")
	}
	return slices.DeleteFunc(all, func(d *Department) bool { return !set[d.ID] }), nil
}

func (s *Server) departmentList(r *request) (obj, *apiErr) {
	ds, e := s.deptsFor(r)
	if e != nil {
		return nil, e
	}
	out := make([]obj, 0, len(ds))
	for _, d := range ds {
		out = append(out, obj{
			"id":                d.ID,
			"name":              d.Name,
			"parentid":          d.ParentID,
			"order":             d.Order,
			"department_leader": nonNil(d.Leaders),
		})
	}
	return obj{"department": out}, nil
}

func (s *Server) departmentSimpleList(r *request) (obj, *apiErr) {
	ds, e := s.deptsFor(r)
	if e != nil {
		return nil, e
	}
	out := make([]obj, 0, len(ds))
	for _, d := range ds {
		out = append(out, obj{"id": d.ID, "parentid": d.ParentID, "order": d.Order})
	}
	return obj{"department_id": out}, nil
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// listed reports whether a member shows in lists: resigned members do not.
func listed(u *User) bool { return u.Status != UserResigned }

// user/list_id pages over (member, department) pairs, one per department
// a member is in, in member id order. The cursor names the last pair
// returned, so members added or removed between pages cause neither
// duplicates nor gaps among the others.
func (s *Server) userListID(r *request) (obj, *apiErr) {
	var in struct {
		Cursor string `json:"cursor"`
		Limit  int    `json:"limit"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.Limit < 0 || in.Limit > maxListIDLimit {
		return nil, fail(ErrInvalidParameter, "limit must be 1 to 10000")
	}
	if in.Limit == 0 {
		in.Limit = maxListIDLimit
	}
	ids := s.userIDs()
	pos, dept := 0, 0
	if in.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.Cursor)
		last, lastDept, ok := strings.Cut(string(raw), "\x00")
		d, perr := strconv.ParseInt(lastDept, 10, 64)
		if err != nil || !ok || perr != nil {
			return nil, fail(ErrInvalidParameter, "invalid cursor")
		}
		pos = sort.SearchStrings(ids, last)
		if pos < len(ids) && ids[pos] == last {
			if i := slices.Index(s.users[last].Departments, d); i >= 0 {
				dept = i + 1
			}
		}
	}
	out := make([]obj, 0, min(in.Limit, 1024))
	var lastID string
	var lastDept int64
	for ; pos < len(ids) && len(out) < in.Limit; pos, dept = pos+1, 0 {
		u := s.users[ids[pos]]
		if !listed(u) {
			continue
		}
		for ; dept < len(u.Departments) && len(out) < in.Limit; dept++ {
			out = append(out, obj{"userid": u.UserID, "department": u.Departments[dept]})
			lastID, lastDept = u.UserID, u.Departments[dept]
		}
		if dept < len(u.Departments) {
			break
		}
	}
	next := ""
	if len(out) > 0 && s.moreUsersAfter(ids, lastID, lastDept) {
		next = base64.RawURLEncoding.EncodeToString([]byte(lastID + "\x00" + strconv.FormatInt(lastDept, 10)))
	}
	return obj{"dept_user": out, "next_cursor": next}, nil
}

// moreUsersAfter reports whether any pair follows (id, dept).
func (s *Server) moreUsersAfter(ids []string, id string, dept int64) bool {
	pos := sort.SearchStrings(ids, id)
	if u := s.users[id]; u != nil {
		if i := slices.Index(u.Departments, dept); i >= 0 && i+1 < len(u.Departments) {
			return true
		}
	}
	for pos++; pos < len(ids); pos++ {
		if u := s.users[ids[pos]]; listed(u) && len(u.Departments) > 0 {
			return true
		}
	}
	return false
}

func (s *Server) userSimpleList(r *request) (obj, *apiErr) {
	id, err := strconv.ParseInt(r.get("department_id"), 10, 64)
	if err != nil || s.depts[id] == nil {
		return nil, fail(ErrInvalidParty, "department_id")
	}
	set := map[int64]bool{id: true}
	if r.get("fetch_child") == "1" {
		set = s.subtree(id)
	}
	out := []obj{}
	for _, uid := range s.userIDs() {
		u := s.users[uid]
		if !listed(u) || !slices.ContainsFunc(u.Departments, func(d int64) bool { return set[d] }) {
			continue
		}
		out = append(out, obj{"userid": u.UserID, "name": u.Name, "department": u.Departments})
	}
	return obj{"userlist": out}, nil
}

func (s *Server) userGet(r *request) (obj, *apiErr) {
	u := s.users[r.get("userid")]
	if u == nil || !listed(u) {
		return nil, fail(ErrUserNotFound, "")
	}
	var main int64
	if len(u.Departments) > 0 {
		main = u.Departments[0]
	}
	leader := make([]int, len(u.Departments))
	order := make([]int, len(u.Departments))
	for i, d := range u.Departments {
		if dep := s.depts[d]; dep != nil && slices.Contains(dep.Leaders, u.UserID) {
			leader[i] = 1
		}
	}
	return obj{
		"userid":            u.UserID,
		"name":              u.Name,
		"mobile":            u.Mobile,
		"department":        u.Departments,
		"order":             order,
		"is_leader_in_dept": leader,
		"main_department":   main,
		"status":            u.Status,
		"position":          "",
		"gender":            "0",
		"email":             "",
	}, nil
}
