package wecomfake

import (
	"encoding/json"
	"slices"
	"sort"
	"time"
)

// Department is a node of the corp's org tree. The root has ID 1 and
// ParentID 0.
type Department struct {
	ID       int64
	Name     string
	ParentID int64
	Order    int64
	Leaders  []string // user ids (department_leader)
}

// User statuses.
const (
	UserActive       = 1
	UserDisabled     = 2
	UserNotActivated = 4
	UserResigned     = 5
)

// User is a member of the corp.
type User struct {
	UserID, Name, Mobile string
	Departments          []int64 // the first is the main department; empty means [1]
	Status               int     // 1 active, 2 disabled, 4 not activated, 5 resigned
}

// ExternalContact is a customer. Type is 1 for WeChat, 2 for WeCom.
// Gender is 0 unknown, 1 male, 2 female.
type ExternalContact struct {
	ExternalUserID, Name string
	Type                 int
	Gender               int
	UnionID              string
}

// Follow is one member's relationship with a customer.
type Follow struct {
	UserID, Remark, Description string
	CreateTime                  int64 // Unix seconds
	TagIDs                      []string
	AddWay                      int
	State                       string
	OperUserID                  string
}

// TagGroup is a group of corp customer tags.
type TagGroup struct {
	ID, Name string
	Order    int64
	Tags     []Tag
}

// Tag is a corp customer tag.
type Tag struct {
	ID, Name string
	Order    int64
}

// AppMessage is an app message message/send accepted and delivered.
// ToUsers are the recipients it reached (unknown ids and members over
// their per-member limit are left out).
type AppMessage struct {
	MsgID   string
	MsgType string
	AgentID int64
	ToUsers []string
	// Content is the text or markdown content, or the textcard description.
	Content string
	// Title and URL are the textcard's.
	Title, URL string
	Body       json.RawMessage // the request as sent
	At         time.Time
}

// WelcomeMessage is what send_welcome_msg accepted.
type WelcomeMessage struct {
	WelcomeCode, UserID, ExternalUserID string
	Text                                string
	Attachments                         []json.RawMessage
	At                                  time.Time
}

// MsgTemplate is a mass message task add_msg_template accepted.
// ExternalUserIDs are the customers it will reach; FailList the rest.
type MsgTemplate struct {
	MsgID           string
	ChatType        string
	Sender          string
	ExternalUserIDs []string
	FailList        []string
	Text            string
	Attachments     []json.RawMessage
	At              time.Time
}

// MarkTag is a mark_tag call that was applied.
type MarkTag struct {
	UserID, ExternalUserID string
	AddTag, RemoveTag      []string
	At                     time.Time
}

// ContactWay is a "contact me" configuration (add_contact_way).
type ContactWay struct {
	ConfigID   string
	Type       int // 1 single, 2 multi
	Scene      int // 1 mini-program, 2 QR code
	Style      int
	Remark     string
	SkipVerify bool
	State      string
	Users      []string
	Parties    []int64
	IsTemp     bool
	ExpiresIn  int64
	QRCode     string
	CreatedAt  time.Time
}

// Transfer is one customer of a transfer_customer (or resigned/...) call.
type Transfer struct {
	Resigned                       bool
	HandoverUserID, TakeoverUserID string
	ExternalUserID                 string
	ErrCode                        int
	At                             time.Time
}

type contact struct {
	ExternalContact
	follows []*followRec // in the order added
}

type followRec struct {
	Follow
	ext string
	seq int64
}

type tagGroup struct {
	id, name string
	order    int64
	created  int64
	byAPI    bool
	tags     []*tag
}

type tag struct {
	id, name string
	order    int64
	created  int64
	byAPI    bool
}

// AddDepartment adds a department, or replaces the one with its ID.
func (s *Server) AddDepartment(d Department) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addDepartment(d)
}

func (s *Server) addDepartment(d Department) {
	d.Leaders = slices.Clone(d.Leaders)
	s.depts[d.ID] = &d
}

// RemoveDepartment removes a department and its id from its members'
// departments. Its subdepartments stay, orphaned: keep the tree
// consistent yourself, as WeCom refuses to delete a department that has
// members or children.
func (s *Server) RemoveDepartment(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.depts, id)
	for _, u := range s.users {
		if i := slices.Index(u.Departments, id); i >= 0 {
			u.Departments = slices.Delete(slices.Clone(u.Departments), i, i+1)
		}
	}
}

// AddUser adds a member, or replaces the one with its UserID. A user with
// no department is put in department 1; Status 0 means active.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUser(u)
}

func (s *Server) addUser(u User) {
	u.Departments = slices.Clone(u.Departments)
	if len(u.Departments) == 0 {
		u.Departments = []int64{1}
	}
	if u.Status == 0 {
		u.Status = UserActive
	}
	if _, ok := s.users[u.UserID]; !ok {
		s.sortedUsers = nil
	}
	s.users[u.UserID] = &u
}

// RemoveUser deletes a member. Their customers' follows stay (WeCom keeps
// them for resigned/transfer_customer).
func (s *Server) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; ok {
		delete(s.users, id)
		s.sortedUsers = nil
	}
}

// userIDs returns the member ids sorted; cached until the set changes.
func (s *Server) userIDs() []string {
	if s.sortedUsers == nil {
		ids := make([]string, 0, len(s.users))
		for id := range s.users {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		s.sortedUsers = ids
	}
	return s.sortedUsers
}

// AddExternalContact adds a customer (or updates the one with its id) and
// the members following it. A follow for a member who already follows the
// customer replaces that follow.
func (s *Server) AddExternalContact(c ExternalContact, follows ...Follow) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addExternalContact(c, follows...)
}

func (s *Server) addExternalContact(c ExternalContact, follows ...Follow) {
	rec := s.contacts[c.ExternalUserID]
	if rec == nil {
		rec = &contact{}
		s.contacts[c.ExternalUserID] = rec
	}
	rec.ExternalContact = c
	for _, f := range follows {
		f.TagIDs = slices.Clone(f.TagIDs)
		if fr := rec.follow(f.UserID); fr != nil {
			fr.Follow = f
			continue
		}
		s.seq++
		fr := &followRec{Follow: f, ext: c.ExternalUserID, seq: s.seq}
		rec.follows = append(rec.follows, fr)
		s.byUser[f.UserID] = append(s.byUser[f.UserID], fr)
	}
}

func (c *contact) follow(userID string) *followRec {
	for _, f := range c.follows {
		if f.UserID == userID {
			return f
		}
	}
	return nil
}

// RemoveFollow ends a member's relationship with a customer; the customer
// stays known (externalcontact/get then answers 84061 if no one follows).
func (s *Server) RemoveFollow(externalUserID, userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeFollow(externalUserID, userID)
}

func (s *Server) removeFollow(externalUserID, userID string) {
	if c := s.contacts[externalUserID]; c != nil {
		c.follows = slices.DeleteFunc(c.follows, func(f *followRec) bool { return f.UserID == userID })
	}
	list := slices.DeleteFunc(s.byUser[userID], func(f *followRec) bool { return f.ext == externalUserID })
	if len(list) == 0 {
		delete(s.byUser, userID)
	} else {
		s.byUser[userID] = list
	}
}

// AddTagGroup adds a tag group (or replaces the one with its ID) as if
// created in the admin console: the API may not edit or delete it (301002).
func (s *Server) AddTagGroup(g TagGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addTagGroup(g)
}

func (s *Server) addTagGroup(g TagGroup) {
	created := s.now().Unix()
	tg := &tagGroup{id: g.ID, name: g.Name, order: g.Order, created: created}
	for _, t := range g.Tags {
		tg.tags = append(tg.tags, &tag{id: t.ID, name: t.Name, order: t.Order, created: created})
	}
	for i, old := range s.groups {
		if old.id == g.ID {
			s.groups[i] = tg
			return
		}
	}
	s.groups = append(s.groups, tg)
}

// TagGroups returns the corp's tag groups as they are now.
func (s *Server) TagGroups() []TagGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TagGroup, 0, len(s.groups))
	for _, g := range s.groups {
		tg := TagGroup{ID: g.id, Name: g.name, Order: g.order}
		for _, t := range g.tags {
			tg.Tags = append(tg.Tags, Tag{ID: t.id, Name: t.name, Order: t.order})
		}
		out = append(out, tg)
	}
	return out
}

// Follows returns who follows a customer, as stored now.
func (s *Server) Follows(externalUserID string) []Follow {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[externalUserID]
	if c == nil {
		return nil
	}
	out := make([]Follow, 0, len(c.follows))
	for _, f := range c.follows {
		ff := f.Follow
		ff.TagIDs = slices.Clone(ff.TagIDs)
		out = append(out, ff)
	}
	return out
}

// Users returns every member, sorted by id.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := s.userIDs()
	out := make([]User, 0, len(ids))
	for _, id := range ids {
		u := *s.users[id]
		u.Departments = slices.Clone(u.Departments)
		out = append(out, u)
	}
	return out
}

// Departments returns every department, sorted by id.
func (s *Server) Departments() []Department {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Department, 0, len(s.depts))
	for _, d := range s.sortedDepts() {
		dd := *d
		dd.Leaders = slices.Clone(dd.Leaders)
		out = append(out, dd)
	}
	return out
}

func (s *Server) sortedDepts() []*Department {
	out := make([]*Department, 0, len(s.depts))
	for _, d := range s.depts {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *Department) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// AppMessages returns the app messages message/send accepted and
// delivered to at least one member.
func (s *Server) AppMessages() []AppMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.appMsgs)
}

// WelcomeMessages returns what send_welcome_msg accepted.
func (s *Server) WelcomeMessages() []WelcomeMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.welcomeMsgs)
}

// MsgTemplates returns the mass message tasks add_msg_template accepted.
func (s *Server) MsgTemplates() []MsgTemplate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.templates)
}

// MarkTags returns the mark_tag calls applied.
func (s *Server) MarkTags() []MarkTag {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.markTags)
}

// ContactWays returns the contact ways that exist now, oldest first.
func (s *Server) ContactWays() []ContactWay {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ContactWay, 0, len(s.wayOrder))
	for _, id := range s.wayOrder {
		w := *s.ways[id]
		w.Users = slices.Clone(w.Users)
		w.Parties = slices.Clone(w.Parties)
		out = append(out, w)
	}
	return out
}

// Transfers returns every customer transfer asked for, failed ones
// included (ErrCode not 0).
func (s *Server) Transfers() []Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.transfers)
}
