package wecomfake

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

type content struct {
	Content string `json:"content"`
}

// message/send delivers to the listed members that exist and are active.
// Each member takes at most 30 app messages a minute and 1000 an hour;
// beyond that the message is dropped for them without any error, as
// WeCom does: the call still answers ok with a msgid, and AppMessages
// lists the message only with the members it reached (not at all when it
// reached none).
func (s *Server) messageSend(r *request) (obj, *apiErr) {
	var in struct {
		ToUser   string   `json:"touser"`
		ToParty  string   `json:"toparty"`
		ToTag    string   `json:"totag"`
		MsgType  string   `json:"msgtype"`
		AgentID  int64    `json:"agentid"`
		Text     *content `json:"text"`
		Markdown *content `json:"markdown"`
		TextCard *struct {
			Title       string `json:"title"`
			Description string `json:"description"`
			URL         string `json:"url"`
			BtnTxt      string `json:"btntxt"`
		} `json:"textcard"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.AgentID != s.o.AgentID {
		return nil, fail(ErrInvalidAgentID, "")
	}
	msg := AppMessage{MsgType: in.MsgType, AgentID: in.AgentID, Body: json.RawMessage(slices.Clone(r.body)), At: r.now}
	switch in.MsgType {
	case "text":
		if in.Text == nil || in.Text.Content == "" {
			return nil, fail(ErrEmptyContent, "text.content")
		}
		msg.Content = in.Text.Content
	case "markdown":
		if in.Markdown == nil || in.Markdown.Content == "" {
			return nil, fail(ErrEmptyContent, "markdown.content")
		}
		msg.Content = in.Markdown.Content
	case "textcard":
		if in.TextCard == nil || in.TextCard.Title == "" || in.TextCard.Description == "" || in.TextCard.URL == "" {
			return nil, fail(ErrInvalidParameter, "textcard needs title, description and url")
		}
		msg.Title, msg.Content, msg.URL = in.TextCard.Title, in.TextCard.Description, in.TextCard.URL
	default:
		return nil, fail(ErrInvalidMsgType, "wecomfake supports text, textcard and markdown")
	}

	var to, invalidUser, invalidParty, invalidTag []string
	add := func(id string) {
		if !slices.Contains(to, id) {
			to = append(to, id)
		}
	}
	for _, id := range split(in.ToUser) {
		if id == "@all" {
			for _, uid := range s.userIDs() {
				if s.users[uid].Status == UserActive {
					add(uid)
				}
			}
			continue
		}
		if u := s.users[id]; u != nil && u.Status == UserActive {
			add(id)
		} else {
			invalidUser = append(invalidUser, id)
		}
	}
	for _, p := range split(in.ToParty) {
		var dept int64
		if d, ok := parseInt(p); ok && s.depts[d] != nil {
			dept = d
		} else {
			invalidParty = append(invalidParty, p)
			continue
		}
		for _, uid := range s.userIDs() {
			if u := s.users[uid]; u.Status == UserActive && slices.Contains(u.Departments, dept) {
				add(uid)
			}
		}
	}
	invalidTag = append(invalidTag, split(in.ToTag)...) // member tags are not modelled
	if len(to) == 0 {
		return nil, fail(ErrAllInvalid, "")
	}
	for _, uid := range to {
		if s.deliver(uid, r.now) {
			msg.ToUsers = append(msg.ToUsers, uid)
		}
	}
	msg.MsgID = "msg" + randomHex(12)
	if len(msg.ToUsers) > 0 {
		s.appMsgs = append(s.appMsgs, msg)
	}
	return obj{
		"invaliduser":    strings.Join(invalidUser, "|"),
		"invalidparty":   strings.Join(invalidParty, "|"),
		"invalidtag":     strings.Join(invalidTag, "|"),
		"unlicenseduser": "",
		"msgid":          msg.MsgID,
		"response_code":  "",
	}, nil
}

// deliver counts an app message to a member, or reports it dropped.
func (s *Server) deliver(uid string, now time.Time) bool {
	log := slices.DeleteFunc(s.delivered[uid], func(t time.Time) bool { return !t.After(now.Add(-time.Hour)) })
	inMinute := 0
	for _, t := range log {
		if t.After(now.Add(-time.Minute)) {
			inMinute++
		}
	}
	ok := inMinute < AppMessagesPerMemberMinute && len(log) < AppMessagesPerMemberHour
	if ok {
		log = append(log, now)
	}
	s.delivered[uid] = log
	return ok
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "|")
}

func parseInt(s string) (int64, bool) {
	var n int64
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// add_msg_template creates a mass message task for one sender's
// customers. A customer receives at most 4 a calendar month
// (Asia/Shanghai); the fake counts a customer when the task is created,
// not when the sender confirms it, and puts customers over the limit,
// unknown ones and ones the sender does not follow in fail_list.
func (s *Server) addMsgTemplate(r *request) (obj, *apiErr) {
	var in struct {
		ChatType       string            `json:"chat_type"`
		ExternalUserID []string          `json:"external_userid"`
		Sender         string            `json:"sender"`
		Text           content           `json:"text"`
		Attachments    []json.RawMessage `json:"attachments"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	if in.ChatType == "" {
		in.ChatType = "single"
	}
	if in.ChatType != "single" {
		return nil, fail(ErrInvalidParameter, "wecomfake supports chat_type single only")
	}
	if len(in.ExternalUserID) == 0 || len(in.ExternalUserID) > 10000 {
		return nil, fail(ErrInvalidParameter, "wecomfake needs external_userid (1 to 10000 ids)")
	}
	if in.Sender != "" {
		if u := s.users[in.Sender]; u == nil || !listed(u) {
			return nil, fail(ErrUserNotFound, "sender")
		}
	}
	if in.Text.Content == "" && len(in.Attachments) == 0 {
		return nil, fail(ErrEmptyContent, "text or attachments")
	}
	if len(in.Attachments) > maxAttachments {
		return nil, fail(ErrInvalidParameter, "at most 9 attachments")
	}
	month := r.now.In(shanghai).Format("2006-01")
	tpl := MsgTemplate{
		MsgID: "msg" + randomHex(12), ChatType: in.ChatType, Sender: in.Sender,
		Text: in.Text.Content, Attachments: in.Attachments, At: r.now,
	}
	seen := map[string]bool{}
	for _, ext := range in.ExternalUserID {
		if seen[ext] {
			continue
		}
		seen[ext] = true
		c := s.contacts[ext]
		key := ext + "|" + month
		switch {
		case c == nil, len(c.follows) == 0,
			in.Sender != "" && c.follow(in.Sender) == nil,
			s.monthly[key] >= MsgTemplatesPerCustomerMonth:
			tpl.FailList = append(tpl.FailList, ext)
		default:
			s.monthly[key]++
			tpl.ExternalUserIDs = append(tpl.ExternalUserIDs, ext)
		}
	}
	s.templates = append(s.templates, tpl)
	return obj{"fail_list": nonNil(tpl.FailList), "msgid": tpl.MsgID}, nil
}

// send_welcome_msg takes a welcome code once, within 20 s of its issue.
func (s *Server) sendWelcomeMsg(r *request) (obj, *apiErr) {
	var in struct {
		WelcomeCode string            `json:"welcome_code"`
		Text        content           `json:"text"`
		Attachments []json.RawMessage `json:"attachments"`
	}
	if e := r.decode(&in); e != nil {
		return nil, e
	}
	c := s.welcome[in.WelcomeCode]
	if c == nil || r.now.After(c.expires) {
		return nil, fail(ErrInvalidWelcomeCode, "")
	}
	if in.Text.Content == "" && len(in.Attachments) == 0 {
		return nil, fail(ErrEmptyContent, "text or attachments")
	}
	if len(in.Attachments) > maxAttachments {
		return nil, fail(ErrInvalidParameter, "at most 9 attachments")
	}
	delete(s.welcome, in.WelcomeCode)
	s.welcomeMsgs = append(s.welcomeMsgs, WelcomeMessage{
		WelcomeCode: in.WelcomeCode, UserID: c.userID, ExternalUserID: c.externalUserID,
		Text: in.Text.Content, Attachments: in.Attachments, At: r.now,
	})
	return obj{}, nil
}
