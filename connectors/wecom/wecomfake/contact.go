package wecomfake

import (
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

func (s *Server) followUserList(r *request) (obj, *apiErr) {
	out := []string{}
	for _, id := range s.userIDs() {
		if s.users[id].Status == UserActive {
			out = append(out, id)
		}
	}
	return obj{"follow_user": out}, nil
}

func (s *Server) externalList(r *request) (obj, *apiErr) {
	uid := r.get("userid")
	if s.users[uid] == nil {
		return nil, fail(ErrUserNotFound, "")
	}
	out := []string{}
	for _, f := range s.byUser[uid] {
		out = append(out, f.ext)
	}
	return obj{"external_userid": out}, nil
}

func contactJSON(c *ExternalContact, withProfile bool) obj {
	o := obj{
		"external_userid": c.ExternalUserID,
		"name":            c.Name,
		"type":            c.Type,
		"gender":          c.Gender,
		"avatar":          "",
	}
	if c.Type == 1 && c.UnionID != "" {
		o["unionid"] = c.UnionID
	}
	if withProfile {
		o["external_profile"] = obj{"external_attr": []obj{}}
	}
	return o
}

// tagIndex maps tag ids to their group and tag.
func (s *Server) tagIndex() map[string][2]string {
	idx := map[string][2]string{}
	for _, g := range s.groups {
		for _, t := range g.tags {
			idx[t.id] = [2]string{g.name, t.name}
		}
	}
	return idx
}

func (s *Server) externalGet(r *request) (obj, *apiErr) {
	c := s.contacts[r.get("external_userid")]
	if c == nil {
		return nil, fail(ErrInvalidExternalID, "")
	}
	if len(c.follows) == 0 {
		return nil, fail(ErrNotExternalContact, "")
	}
	idx := s.tagIndex()
	follows := make([]obj, 0, len(c.follows))
	for _, f := range c.follows {
		tags := []obj{}
		for _, id := range f.TagIDs {
			if names, ok := idx[id]; ok {
				tags = append(tags, obj{"group_name": names[0], "tag_name": names[1], "type": 1, "tag_id": id})
			}
		}
		follows = append(follows, obj{
			"userid":         f.UserID,
			"remark":         f.Remark,
			"description":    f.Description,
			"createtime":     f.CreateTime,
			"tags":           tags,
			"remark_mobiles": []string{},
			"add_way":        f.AddWay,
			"state":          f.State,
			"oper_userid":    f.OperUserID,
		})
	}
	return obj{"external_contact": contactJSON(&c.ExternalContact, false), "follow_user": follows, "next_cursor": ""}, nil
}

// batch/get_by_user pages over the listed members' follows, member by
// member in the order asked, each member's oldest first. The cursor
// names the last follow returned by its sequence number, so follows added
// or removed between pages cause neither duplicates nor gaps among the
// others.
func (s *Server) batchGetByUser(r *request) (obj, *apiErr) {
	var in struct {
		UserIDList []string `json:"userid_list"`
		Cursor     string   `json:"cursor"`
		Limit      int      `json:"limit"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	var users []string
	for _, u := range in.UserIDList {
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	if len(users) == 0 || len(users) > maxBatchUsers {
		return nil, fail(ErrInvalidParameter, "userid_list must hold 1 to 100 userids")
	}
	if in.Limit < 0 || in.Limit > maxBatchLimit {
		return nil, fail(ErrInvalidParameter, "limit must be 1 to 100")
	}
	if in.Limit == 0 {
		in.Limit = defaultBatchLimit
	}
	ui, after := 0, int64(0)
	if in.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.Cursor)
		a, b, ok := strings.Cut(string(raw), "\x00")
		i, err1 := strconv.Atoi(a)
		seq, err2 := strconv.ParseInt(b, 10, 64)
		if err != nil || !ok || err1 != nil || err2 != nil || i < 0 || i >= len(users) {
			return nil, fail(ErrInvalidParameter, "invalid cursor")
		}
		ui, after = i, seq
	}
	idx := s.tagIndex()
	out := make([]obj, 0, in.Limit)
	lastU, lastSeq := -1, int64(0)
	more := false
	for ; ui < len(users); ui, after = ui+1, 0 {
		fs := s.byUser[users[ui]]
		j := sort.Search(len(fs), func(k int) bool { return fs[k].seq > after })
		for ; j < len(fs); j++ {
			if len(out) == in.Limit {
				more = true
				break
			}
			f := fs[j]
			c := s.contacts[f.ext]
			tagIDs := []string{}
			for _, id := range f.TagIDs {
				if _, ok := idx[id]; ok {
					tagIDs = append(tagIDs, id)
				}
			}
			out = append(out, obj{
				"external_contact": contactJSON(&c.ExternalContact, true),
				"follow_info": obj{
					"userid":         f.UserID,
					"remark":         f.Remark,
					"description":    f.Description,
					"createtime":     f.CreateTime,
					"tag_id":         tagIDs,
					"remark_mobiles": []string{},
					"add_way":        f.AddWay,
					"state":          f.State,
					"oper_userid":    f.OperUserID,
				},
			})
			lastU, lastSeq = ui, f.seq
		}
		if more {
			break
		}
	}
	next := ""
	if more {
		next = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d\x00%d", lastU, lastSeq))
	}
	return obj{"external_contact_list": out, "next_cursor": next}, nil
}

// Tags.

func (s *Server) findTag(id string) (*tagGroup, *tag) {
	for _, g := range s.groups {
		for _, t := range g.tags {
			if t.id == id {
				return g, t
			}
		}
	}
	return nil, nil
}

func (s *Server) findGroup(id string) *tagGroup {
	for _, g := range s.groups {
		if g.id == id {
			return g
		}
	}
	return nil
}

func tagJSON(t *tag) obj {
	return obj{"id": t.id, "name": t.name, "create_time": t.created, "order": t.order, "deleted": false}
}

func groupJSON(g *tagGroup, tags []*tag) obj {
	ts := make([]obj, 0, len(tags))
	for _, t := range tags {
		ts = append(ts, tagJSON(t))
	}
	return obj{"group_id": g.id, "group_name": g.name, "create_time": g.created, "order": g.order, "deleted": false, "tag": ts}
}

func (s *Server) corpTagList(r *request) (obj, *apiErr) {
	var in struct {
		TagID   []string `json:"tag_id"`
		GroupID []string `json:"group_id"`
	}
	if len(strings.TrimSpace(string(r.body))) > 0 {
		if e := r.decode(&in); e != nil {
			return nil, e
		}
	}
	out := []obj{}
	for _, g := range s.groups {
		switch {
		case len(in.GroupID) > 0:
			if slices.Contains(in.GroupID, g.id) {
				out = append(out, groupJSON(g, g.tags))
			}
		case len(in.TagID) > 0:
			var tags []*tag
			for _, t := range g.tags {
				if slices.Contains(in.TagID, t.id) {
					tags = append(tags, t)
				}
			}
			if len(tags) > 0 {
				out = append(out, groupJSON(g, tags))
			}
		default:
			out = append(out, groupJSON(g, g.tags))
		}
	}
	return obj{"tag_group": out}, nil
}

func (s *Server) newID(prefix string) string {
	s.ids++
	return fmt.Sprintf("%s%014d", prefix, s.ids)
}

const maxTagName = 30

func validTagName(name string) bool {
	return strings.TrimSpace(name) != "" && utf8.RuneCountInString(name) <= maxTagName
}

func (s *Server) addCorpTag(r *request) (obj, *apiErr) {
	var in struct {
		GroupID   string `json:"group_id"`
		GroupName string `json:"group_name"`
		Order     int64  `json:"order"`
		Tag       []struct {
			Name  string `json:"name"`
			Order int64  `json:"order"`
		} `json:"tag"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if len(in.Tag) == 0 {
		return nil, fail(ErrInvalidParameter, "tag is required")
	}
	var g *tagGroup
	switch {
	case in.GroupID != "":
		if g = s.findGroup(in.GroupID); g == nil {
			return nil, fail(ErrInvalidTagID, "group_id")
		}
	case in.GroupName != "":
		if !validTagName(in.GroupName) {
			return nil, fail(ErrInvalidTagName, "group_name")
		}
		for _, old := range s.groups {
			if old.name == in.GroupName {
				g = old
			}
		}
	default:
		return nil, fail(ErrInvalidParameter, "group_id or group_name is required")
	}
	seen := map[string]bool{}
	if g != nil {
		for _, t := range g.tags {
			seen[t.name] = true
		}
	}
	for _, t := range in.Tag {
		if !validTagName(t.Name) || seen[t.Name] {
			return nil, fail(ErrInvalidTagName, "tag name empty, too long or already in the group")
		}
		seen[t.Name] = true
	}
	now := r.now.Unix()
	if g == nil {
		g = &tagGroup{id: s.newID("etAPIgrp"), name: in.GroupName, order: in.Order, created: now, byAPI: true}
		s.groups = append(s.groups, g)
	}
	var added []*tag
	for _, t := range in.Tag {
		nt := &tag{id: s.newID("etAPItag"), name: t.Name, order: t.Order, created: now, byAPI: true}
		g.tags = append(g.tags, nt)
		added = append(added, nt)
	}
	return obj{"tag_group": groupJSON(g, added)}, nil
}

func (s *Server) editCorpTag(r *request) (obj, *apiErr) {
	var in struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Order *int64 `json:"order"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.Name != "" && !validTagName(in.Name) {
		return nil, fail(ErrInvalidTagName, "")
	}
	if g := s.findGroup(in.ID); g != nil {
		if !g.byAPI {
			return nil, fail(ErrTagNotOwned, "")
		}
		if in.Name != "" {
			g.name = in.Name
		}
		if in.Order != nil {
			g.order = *in.Order
		}
		return obj{}, nil
	}
	g, t := s.findTag(in.ID)
	if t == nil {
		return nil, fail(ErrInvalidTagID, "")
	}
	if !t.byAPI {
		return nil, fail(ErrTagNotOwned, "")
	}
	if in.Name != "" && in.Name != t.name {
		for _, o := range g.tags {
			if o.name == in.Name {
				return nil, fail(ErrInvalidTagName, "already in the group")
			}
		}
		t.name = in.Name
	}
	if in.Order != nil {
		t.order = *in.Order
	}
	return obj{}, nil
}

// del_corp_tag checks every id before deleting any. Deleting a group's
// last tag deletes the group, as WeCom does; deleted tags leave the
// customers who had them.
func (s *Server) delCorpTag(r *request) (obj, *apiErr) {
	var in struct {
		TagID   []string `json:"tag_id"`
		GroupID []string `json:"group_id"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if len(in.TagID) == 0 && len(in.GroupID) == 0 {
		return nil, fail(ErrInvalidParameter, "tag_id or group_id is required")
	}
	gone := map[string]bool{}
	for _, id := range in.GroupID {
		g := s.findGroup(id)
		if g == nil {
			return nil, fail(ErrInvalidTagID, id)
		}
		if !g.byAPI || slices.ContainsFunc(g.tags, func(t *tag) bool { return !t.byAPI }) {
			return nil, fail(ErrTagNotOwned, id)
		}
		for _, t := range g.tags {
			gone[t.id] = true
		}
	}
	for _, id := range in.TagID {
		_, t := s.findTag(id)
		if t == nil {
			return nil, fail(ErrInvalidTagID, id)
		}
		if !t.byAPI {
			return nil, fail(ErrTagNotOwned, id)
		}
		gone[id] = true
	}
	s.groups = slices.DeleteFunc(s.groups, func(g *tagGroup) bool {
		if slices.Contains(in.GroupID, g.id) {
			return true
		}
		before := len(g.tags)
		g.tags = slices.DeleteFunc(g.tags, func(t *tag) bool { return gone[t.id] })
		return before > 0 && len(g.tags) == 0
	})
	for _, c := range s.contacts {
		for _, f := range c.follows {
			if slices.ContainsFunc(f.TagIDs, func(id string) bool { return gone[id] }) {
				f.TagIDs = slices.DeleteFunc(slices.Clone(f.TagIDs), func(id string) bool { return gone[id] })
			}
		}
	}
	return obj{}, nil
}

func (s *Server) markTag(r *request) (obj, *apiErr) {
	var in struct {
		UserID         string   `json:"userid"`
		ExternalUserID string   `json:"external_userid"`
		AddTag         []string `json:"add_tag"`
		RemoveTag      []string `json:"remove_tag"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if len(in.AddTag) == 0 && len(in.RemoveTag) == 0 {
		return nil, fail(ErrInvalidParameter, "add_tag or remove_tag is required")
	}
	c := s.contacts[in.ExternalUserID]
	if c == nil {
		return nil, fail(ErrInvalidExternalID, "")
	}
	f := c.follow(in.UserID)
	if f == nil {
		if s.users[in.UserID] == nil {
			return nil, fail(ErrUserNotFound, "")
		}
		return nil, fail(ErrNotExternalContact, "")
	}
	for _, id := range append(slices.Clone(in.AddTag), in.RemoveTag...) {
		if _, t := s.findTag(id); t == nil {
			return nil, fail(ErrInvalidTagID, id)
		}
	}
	tags := slices.Clone(f.TagIDs)
	for _, id := range in.AddTag {
		if !slices.Contains(tags, id) {
			tags = append(tags, id)
		}
	}
	tags = slices.DeleteFunc(tags, func(id string) bool { return slices.Contains(in.RemoveTag, id) })
	f.TagIDs = tags
	s.markTags = append(s.markTags, MarkTag{
		UserID: in.UserID, ExternalUserID: in.ExternalUserID,
		AddTag: slices.Clone(in.AddTag), RemoveTag: slices.Clone(in.RemoveTag), At: r.now,
	})
	return obj{}, nil
}

// Contact ways.

const (
	defaultTempExpiry = 7 * 24 * 3600
	maxTempExpiry     = 14 * 24 * 3600
	maxWayMembers     = 100
)

// qrCodeBase is where the fake's QR codes "are": a reserved domain, as
// nothing serves them.
const qrCodeBase = "https://wecomfake.invalid/qrcode/"

func (s *Server) checkWayMembers(typ int, users []string, parties []int64) *apiErr {
	if typ == 1 && (len(users) != 1 || len(parties) != 0) {
		return fail(ErrInvalidParameter, "type 1 takes exactly one user")
	}
	if len(users)+len(parties) == 0 || len(users) > maxWayMembers || len(parties) > maxWayMembers {
		return fail(ErrInvalidParameter, "user or party is required (at most 100 each)")
	}
	for _, u := range users {
		if us := s.users[u]; us == nil || !listed(us) {
			return fail(ErrUserNotFound, u)
		}
	}
	for _, p := range parties {
		if s.depts[p] == nil {
			return fail(ErrInvalidParty, strconv.FormatInt(p, 10))
		}
	}
	return nil
}

func checkState(state string) *apiErr {
	if utf8.RuneCountInString(state) > maxStateLen {
		return fail(ErrInvalidParameter, "state longer than 30 characters")
	}
	return nil
}

func (s *Server) addContactWay(r *request) (obj, *apiErr) {
	var in struct {
		Type       int      `json:"type"`
		Scene      int      `json:"scene"`
		Style      int      `json:"style"`
		Remark     string   `json:"remark"`
		SkipVerify *bool    `json:"skip_verify"`
		State      string   `json:"state"`
		User       []string `json:"user"`
		Party      []int64  `json:"party"`
		IsTemp     bool     `json:"is_temp"`
		ExpiresIn  int64    `json:"expires_in"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.Type != 1 && in.Type != 2 {
		return nil, fail(ErrInvalidParameter, "type must be 1 or 2")
	}
	if in.Scene != 1 && in.Scene != 2 {
		return nil, fail(ErrInvalidParameter, "scene must be 1 or 2")
	}
	if e := checkState(in.State); e != nil {
		return nil, e
	}
	if e := s.checkWayMembers(in.Type, in.User, in.Party); e != nil {
		return nil, e
	}
	if in.IsTemp {
		if in.ExpiresIn == 0 {
			in.ExpiresIn = defaultTempExpiry
		}
		if in.ExpiresIn < 0 || in.ExpiresIn > maxTempExpiry {
			return nil, fail(ErrInvalidParameter, "expires_in at most 14 days")
		}
	}
	w := &ContactWay{
		ConfigID: randomHex(16), Type: in.Type, Scene: in.Scene, Style: in.Style,
		Remark: in.Remark, SkipVerify: in.SkipVerify == nil || *in.SkipVerify, State: in.State,
		Users: slices.Clone(in.User), Parties: slices.Clone(in.Party),
		IsTemp: in.IsTemp, ExpiresIn: in.ExpiresIn, CreatedAt: r.now,
	}
	if w.Scene == 2 {
		w.QRCode = qrCodeBase + w.ConfigID
	}
	s.ways[w.ConfigID] = w
	s.wayOrder = append(s.wayOrder, w.ConfigID)
	res := obj{"config_id": w.ConfigID}
	if w.QRCode != "" {
		res["qr_code"] = w.QRCode
	}
	return res, nil
}

func (s *Server) updateContactWay(r *request) (obj, *apiErr) {
	var in struct {
		ConfigID   string    `json:"config_id"`
		Remark     *string   `json:"remark"`
		SkipVerify *bool     `json:"skip_verify"`
		Style      *int      `json:"style"`
		State      *string   `json:"state"`
		User       *[]string `json:"user"`
		Party      *[]int64  `json:"party"`
		ExpiresIn  *int64    `json:"expires_in"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	w := s.ways[in.ConfigID]
	if w == nil {
		return nil, fail(ErrInvalidParameter, "invalid config_id")
	}
	if in.State != nil {
		if e := checkState(*in.State); e != nil {
			return nil, e
		}
	}
	users, parties := w.Users, w.Parties
	if in.User != nil {
		users = *in.User
	}
	if in.Party != nil {
		parties = *in.Party
	}
	if e := s.checkWayMembers(w.Type, users, parties); e != nil {
		return nil, e
	}
	if in.ExpiresIn != nil && w.IsTemp && (*in.ExpiresIn <= 0 || *in.ExpiresIn > maxTempExpiry) {
		return nil, fail(ErrInvalidParameter, "expires_in at most 14 days")
	}
	w.Users, w.Parties = slices.Clone(users), slices.Clone(parties)
	if in.Remark != nil {
		w.Remark = *in.Remark
	}
	if in.SkipVerify != nil {
		w.SkipVerify = *in.SkipVerify
	}
	if in.Style != nil {
		w.Style = *in.Style
	}
	if in.State != nil {
		w.State = *in.State
	}
	if in.ExpiresIn != nil && w.IsTemp {
		w.ExpiresIn = *in.ExpiresIn
	}
	return obj{}, nil
}

func (s *Server) delContactWay(r *request) (obj, *apiErr) {
	var in struct {
		ConfigID string `json:"config_id"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if s.ways[in.ConfigID] == nil {
		return nil, fail(ErrInvalidParameter, "invalid config_id")
	}
	delete(s.ways, in.ConfigID)
	s.wayOrder = slices.DeleteFunc(s.wayOrder, func(id string) bool { return id == in.ConfigID })
	return obj{}, nil
}

func (s *Server) getContactWay(r *request) (obj, *apiErr) {
	var in struct {
		ConfigID string `json:"config_id"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	w := s.ways[in.ConfigID]
	if w == nil {
		return nil, fail(ErrInvalidParameter, "invalid config_id")
	}
	cw := obj{
		"config_id": w.ConfigID, "type": w.Type, "scene": w.Scene, "style": w.Style,
		"remark": w.Remark, "skip_verify": w.SkipVerify, "state": w.State,
		"user": nonNil(w.Users), "party": nonNil(w.Parties), "is_temp": w.IsTemp,
	}
	if w.QRCode != "" {
		cw["qr_code"] = w.QRCode
	}
	if w.IsTemp {
		cw["expires_in"] = w.ExpiresIn
	}
	return obj{"contact_way": cw}, nil
}

// Transfers.

func (s *Server) transferCustomer(r *request) (obj, *apiErr) { return s.transfer(r, false) }

func (s *Server) resignedTransferCustomer(r *request) (obj, *apiErr) { return s.transfer(r, true) }

// transfer moves the follows at once: WeCom waits 24 hours for the
// customer to refuse an on-the-job transfer; the fake does not (send
// EventTransferFail to play a refusal).
func (s *Server) transfer(r *request, resigned bool) (obj, *apiErr) {
	var in struct {
		Handover string   `json:"handover_userid"`
		Takeover string   `json:"takeover_userid"`
		External []string `json:"external_userid"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.Handover == "" || in.Takeover == "" || in.Handover == in.Takeover {
		return nil, fail(ErrInvalidParameter, "handover_userid and takeover_userid are required and differ")
	}
	if len(in.External) == 0 || len(in.External) > maxTransferContacts {
		return nil, fail(ErrInvalidParameter, "external_userid must hold 1 to 100 ids")
	}
	if t := s.users[in.Takeover]; t == nil || t.Status != UserActive {
		return nil, fail(ErrUserNotFound, "takeover_userid")
	}
	h := s.users[in.Handover]
	switch {
	case resigned && h != nil && h.Status != UserResigned:
		return nil, fail(ErrHandoverNotResigned, "")
	case !resigned && (h == nil || !listed(h)):
		return nil, fail(ErrUserNotFound, "handover_userid")
	}
	out := make([]obj, 0, len(in.External))
	for _, ext := range in.External {
		code := 0
		c := s.contacts[ext]
		switch {
		case c == nil:
			code = ErrInvalidExternalID
		case c.follow(in.Handover) == nil:
			code = ErrNotExternalContact
		default:
			old := c.follow(in.Handover).Follow
			s.removeFollow(ext, in.Handover)
			if c.follow(in.Takeover) == nil {
				nf := old
				nf.UserID, nf.OperUserID, nf.CreateTime = in.Takeover, in.Takeover, r.now.Unix()
				s.addExternalContact(c.ExternalContact, nf)
			}
		}
		s.transfers = append(s.transfers, Transfer{
			Resigned: resigned, HandoverUserID: in.Handover, TakeoverUserID: in.Takeover,
			ExternalUserID: ext, ErrCode: code, At: r.now,
		})
		out = append(out, obj{"external_userid": ext, "errcode": code})
	}
	return obj{"customer": out}, nil
}
