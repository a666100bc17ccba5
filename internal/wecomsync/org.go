// Package wecomsync keeps the tenant's organisation and customer contacts
// in step with its WeCom corp: departments and staff (org sync), external
// contacts with their follow-up staff and corp tags (customer sync), and
// the callback events WeCom pushes between syncs.
//
// Ordering. Events about one contact may be applied by several workers in
// any order; the follow-up relationship is last-writer-wins on WeCom's
// event time (FollowUp.platform_event_at): an event older than the newest
// applied one for the same customer and staff member changes nothing.
// Details (name, remark, tags) are not taken from events at all but
// re-read from the API, so whichever job runs last stores the current
// truth. Staff and departments are upserted by their WeCom ids, which
// makes replays harmless.
package wecomsync

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/staff"
)

// API is the part of the WeCom client the syncs use (a *wecom.Client).
type API interface {
	Departments(ctx context.Context) ([]wecom.Department, error)
	DepartmentUsers(ctx context.Context, departmentID int64) ([]wecom.User, error)
	User(ctx context.Context, userID string) (*wecom.UserDetail, error)
	FollowUsers(ctx context.Context) ([]string, error)
	Contact(ctx context.Context, externalUserID string) (*wecom.Contact, error)
	ContactsByUsers(ctx context.Context, userIDs []string, cursor string, limit int) ([]wecom.Contact, string, error)
	CorpTags(ctx context.Context) ([]wecom.TagGroup, error)
	AddCorpTags(ctx context.Context, groupID, groupName string, names []string) (*wecom.TagGroup, error)
	SendWelcome(ctx context.Context, welcomeCode, text string) error
	MarkTags(ctx context.Context, userID, externalUserID string, add, remove []string) error
}

// OrgResult counts what an org sync changed.
type OrgResult struct {
	Departments, DepartmentsCreated                  int
	Staff, StaffCreated, StaffUpdated, StaffResigned int
}

// fetchers is how many department member lists are fetched at once;
// the transport layer keeps the rate under the corp's budget.
const fetchers = 8

// batch is the size of bulk inserts.
const batch = 500

// Org syncs departments (the tree) and staff. Staff no longer in any
// department are marked resigned, never deleted: their tickets and
// customers must still name them. ctx carries the tenant's viewer.
func Org(ctx context.Context, client *ent.Client, api API) (OrgResult, error) {
	var res OrgResult
	depts, err := api.Departments(ctx)
	if err != nil {
		return res, fmt.Errorf("list departments: %w", err)
	}
	res.Departments = len(depts)
	ids, created, err := upsertDepartments(ctx, client, depts)
	if err != nil {
		return res, err
	}
	res.DepartmentsCreated = created

	members, err := fetchMembers(ctx, api, depts)
	if err != nil {
		return res, err
	}
	res.Staff = len(members)
	return res, upsertStaff(ctx, client, members, ids, &res)
}

// upsertDepartments creates missing departments, updates changed ones and
// links parents; it returns our id of every WeCom department id.
func upsertDepartments(ctx context.Context, client *ent.Client, depts []wecom.Department) (map[int64]int, int, error) {
	existing, err := client.Department.Query().Where(department.WecomDeptIDNotNil()).All(ctx)
	if err != nil {
		return nil, 0, err
	}
	ids := make(map[int64]int, len(depts))
	byWecom := make(map[int64]*ent.Department, len(existing))
	for _, d := range existing {
		byWecom[*d.WecomDeptID] = d
		ids[*d.WecomDeptID] = d.ID
	}
	var creates []*ent.DepartmentCreate
	var createdFor []int64
	for _, d := range depts {
		if _, ok := byWecom[d.ID]; ok {
			continue
		}
		creates = append(creates, client.Department.Create().SetName(deptName(d)).SetWecomDeptID(d.ID).
			SetSortOrder(int(d.Order)).SetKind(kindOf(d)))
		createdFor = append(createdFor, d.ID)
	}
	for i := 0; i < len(creates); i += batch {
		saved, err := client.Department.CreateBulk(creates[i:min(i+batch, len(creates))]...).Save(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("create departments: %w", err)
		}
		for j, d := range saved {
			ids[createdFor[i+j]] = d.ID
		}
	}
	for _, d := range depts {
		var parent *int
		if p, ok := ids[d.ParentID]; ok && d.ParentID != 0 && d.ParentID != d.ID {
			parent = &p
		}
		cur := byWecom[d.ID]
		if cur != nil && cur.Name == deptName(d) && cur.SortOrder == int(d.Order) && samePtr(cur.ParentID, parent) {
			continue
		}
		if cur == nil && parent == nil {
			continue
		}
		u := client.Department.UpdateOneID(ids[d.ID]).SetName(deptName(d)).SetSortOrder(int(d.Order))
		if parent != nil {
			u.SetParentID(*parent)
		} else {
			u.ClearParentID()
		}
		if err := u.Exec(ctx); err != nil {
			return nil, 0, fmt.Errorf("update department %d: %w", d.ID, err)
		}
	}
	return ids, len(creates), nil
}

func deptName(d wecom.Department) string {
	if d.Name == "" {
		return "部门 " + strconv.FormatInt(d.ID, 10)
	}
	return d.Name
}

// kindOf guesses a department's kind from its place in the tree: WeCom
// has no such notion; admins correct it.
func kindOf(d wecom.Department) department.Kind {
	if d.ParentID == 0 || d.ID == 1 {
		return department.KindHQ
	}
	return department.KindTeam
}

func samePtr(a, b *int) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// member is one staff member as WeCom lists them.
type member struct {
	name  string
	depts []int64
}

// fetchMembers reads every department's direct members, a few
// departments at a time.
func fetchMembers(ctx context.Context, api API, depts []wecom.Department) (map[string]*member, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan int64)
	var (
		mu      sync.Mutex
		members = map[string]*member{}
		first   error
		wg      sync.WaitGroup
	)
	for range fetchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				users, err := api.DepartmentUsers(ctx, id)
				mu.Lock()
				if err != nil {
					if first == nil {
						first = fmt.Errorf("members of department %d: %w", id, err)
						cancel()
					}
					mu.Unlock()
					continue
				}
				for _, u := range users {
					m := members[u.UserID]
					if m == nil {
						m = &member{name: u.Name}
						members[u.UserID] = m
					}
					m.depts = append(m.depts, id)
				}
				mu.Unlock()
			}
		}()
	}
	for _, d := range depts {
		select {
		case work <- d.ID:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	return members, first
}

// upsertStaff creates new staff (role agent: they serve customers),
// updates names and departments that changed, and marks resigned those
// WeCom no longer lists.
func upsertStaff(ctx context.Context, client *ent.Client, members map[string]*member, deptIDs map[int64]int, res *OrgResult) error {
	existing, err := client.Staff.Query().Where(staff.WecomUserIDNotNil()).WithDepartments().All(ctx)
	if err != nil {
		return err
	}
	byUser := make(map[string]*ent.Staff, len(existing))
	for _, s := range existing {
		byUser[*s.WecomUserID] = s
	}
	var creates []*ent.StaffCreate
	for userID, m := range members {
		cur := byUser[userID]
		want := ourDepts(m.depts, deptIDs)
		if cur == nil {
			creates = append(creates, client.Staff.Create().SetLogin(LoginOf(userID)).SetName(nameOr(m.name, userID)).
				SetWecomUserID(userID).SetRoles([]string{"agent"}).AddDepartmentIDs(want...))
			continue
		}
		have := make([]int, len(cur.Edges.Departments))
		for i, d := range cur.Edges.Departments {
			have[i] = d.ID
		}
		if cur.Name == nameOr(m.name, userID) && cur.Status == staff.StatusActive && sameSet(have, want) {
			continue
		}
		u := client.Staff.UpdateOne(cur).SetName(nameOr(m.name, userID)).SetStatus(staff.StatusActive)
		if !sameSet(have, want) {
			u.ClearDepartments().AddDepartmentIDs(want...)
		}
		if err := u.Exec(ctx); err != nil {
			return fmt.Errorf("update staff %s: %w", userID, err)
		}
		res.StaffUpdated++
	}
	for i := 0; i < len(creates); i += batch {
		if err := client.Staff.CreateBulk(creates[i:min(i+batch, len(creates))]...).Exec(ctx); err != nil {
			return fmt.Errorf("create staff: %w", err)
		}
	}
	res.StaffCreated = len(creates)
	var gone []int
	for userID, s := range byUser {
		if _, ok := members[userID]; !ok && s.Status == staff.StatusActive {
			gone = append(gone, s.ID)
		}
	}
	for i := 0; i < len(gone); i += batch {
		n, err := client.Staff.Update().Where(staff.IDIn(gone[i:min(i+batch, len(gone))]...)).
			SetStatus(staff.StatusResigned).Save(ctx)
		if err != nil {
			return fmt.Errorf("mark resigned staff: %w", err)
		}
		res.StaffResigned += n
	}
	return nil
}

// LoginOf is the login a staff member synced from WeCom gets.
func LoginOf(userID string) string { return "wecom." + loginSafe(userID) }

func loginSafe(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-' {
			out = append(out, c)
		} else {
			out = append(out, '_')
		}
	}
	if len(out) > 58 {
		out = out[:58]
	}
	return string(out)
}

func nameOr(name, userID string) string {
	if name == "" {
		return userID
	}
	if r := []rune(name); len(r) > 100 {
		return string(r[:100])
	}
	return name
}

func ourDepts(wecomIDs []int64, ids map[int64]int) []int {
	out := make([]int, 0, len(wecomIDs))
	for _, w := range wecomIDs {
		if id, ok := ids[w]; ok {
			out = append(out, id)
		}
	}
	return out
}

func sameSet(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[int]int, len(a))
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}
