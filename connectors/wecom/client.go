// Package wecom is the WeCom (企业微信) connector: a small typed client
// of the server API (Client, https://qyapi.weixin.qq.com/cgi-bin/) and the
// callback events (ParseEvent); the callback cryptography is in msgcrypt
// and the wire details in shared/PLATFORMS.md. (events.go carries an older
// package comment that this one supersedes.)
//
// The client is ours rather than github.com/xen0n/go-workwx or
// github.com/silenceper/wechat/v2 because:
//
//   - Access tokens must be shared by every replica and worker (one
//     token per corp and secret, kept in Redis by connectors/tokens) and
//     dropped and renewed when WeCom answers 40014 or 42001. go-workwx
//     keeps its tokens per process; silenceper does not evict a token on
//     those answers.
//   - externalcontact/batch/get_by_user must follow next_cursor and read
//     external_profile as the object it is; silenceper drops next_cursor
//     and types external_profile as a string.
//   - Every call goes through connectors/transport: per-account,
//     per-endpoint budgets shared in Redis, shared cool-downs on 45009,
//     busy retries, a breaker per account, metrics. Neither library lets
//     a call be run under such a layer.
//   - Callbacks are checked in msgcrypt, receive id included (go-workwx
//     skips that check after decrypting).
package wecom

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
)

// DefaultBaseURL is WeCom's server API host.
const DefaultBaseURL = "https://qyapi.weixin.qq.com"

// Config describes one WeCom account (a corp and its self-built app).
type Config struct {
	// BaseURL defaults to DefaultBaseURL; requests go to
	// BaseURL+"/cgi-bin/...". A trailing "/cgi-bin/" is accepted too.
	BaseURL string
	CorpID  string
	AgentID int64
	// Secret is the self-built app's secret.
	Secret string
	// ContactSecret is optional: the secret of the app authorised for
	// customer contact; externalcontact/* calls use its token when set.
	ContactSecret string
	// Account is our id for the account (limits, breaker, metrics, token
	// key), e.g. "12".
	Account string
	// Transport runs every call; Tokens caches the access tokens. Both
	// are required.
	Transport *transport.Client
	Tokens    *tokens.Cache
	// HTTP sends the requests; transport.HTTPClient when nil.
	HTTP *http.Client
}

// Client calls one account's WeCom server API. It is safe for concurrent
// use.
type Client struct {
	cfg     Config
	base    string // up to and including "/cgi-bin/"
	app     secret
	contact secret
}

// secret is one app secret and the key of its token in the cache.
type secret struct {
	value, key string
}

// New returns a client for cfg. It panics without cfg.Transport or
// cfg.Tokens.
func New(cfg Config) *Client {
	if cfg.Transport == nil || cfg.Tokens == nil {
		panic("wecom.New: Config.Transport and Config.Tokens are required")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = transport.HTTPClient
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	base = strings.TrimSuffix(base, "/cgi-bin") + "/cgi-bin/"
	c := &Client{cfg: cfg, base: base, app: secret{cfg.Secret, tokenKey(cfg.CorpID, cfg.Secret)}}
	c.contact = c.app
	if cfg.ContactSecret != "" {
		c.contact = secret{cfg.ContactSecret, tokenKey(cfg.CorpID, cfg.ContactSecret)}
	}
	return c
}

// tokenKey names a secret's token in the cache without revealing the
// secret: a new secret gets a key (and a token) of its own.
func tokenKey(corpID, secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "wecom:" + corpID + ":" + hex.EncodeToString(sum[:8])
}

// CheckCredentials validates the corp id and the secrets by fetching
// tokens from WeCom, not from the cache. A wrong corp id or secret is an
// error of kind transport.KindAuth.
func (c *Client) CheckCredentials(ctx context.Context) error {
	if _, _, err := c.fetchToken(c.app.value)(ctx); err != nil {
		return err
	}
	if c.contact != c.app {
		if _, _, err := c.fetchToken(c.contact.value)(ctx); err != nil {
			return fmt.Errorf("the customer-contact secret: %w", err)
		}
	}
	return nil
}

// fetchToken asks gettoken for s's token.
func (c *Client) fetchToken(s string) tokens.Fetch {
	return func(ctx context.Context) (string, time.Duration, error) {
		var out struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		q := url.Values{"corpid": {c.cfg.CorpID}, "corpsecret": {s}}
		err := c.cfg.Transport.Do(ctx, transport.Call{
			Account:  c.cfg.Account,
			Endpoint: apiGetToken.Endpoint,
			Send:     func(ctx context.Context) error { return c.roundTrip(ctx, apiGetToken, q, nil, &out) },
		})
		if err != nil {
			return "", 0, err
		}
		if out.AccessToken == "" || out.ExpiresIn <= 0 {
			return "", 0, errors.New("wecom gettoken: no access_token or expires_in in the answer")
		}
		return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
	}
}

func (c *Client) token(ctx context.Context, s secret) (string, error) {
	tok, err := c.cfg.Tokens.Get(ctx, s.key, c.fetchToken(s.value))
	if err != nil {
		return "", fmt.Errorf("wecom: get an access token: %w", err)
	}
	return tok, nil
}

// call runs one API call through the transport: q goes in the query (the
// access token is added), in is sent as the JSON body of a POST, and the
// answer is read into out.
func (c *Client) call(ctx context.Context, a *api, q url.Values, in, out any) error {
	s := c.app
	if a.contact {
		s = c.contact
	}
	tok, err := c.token(ctx, s)
	if err != nil {
		return err
	}
	var body []byte
	if a.method == http.MethodPost {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // message texts go as written
		if err := enc.Encode(in); err != nil {
			return fmt.Errorf("wecom %s: encode the request: %w", a.Name, err)
		}
		body = buf.Bytes()
	}
	return c.cfg.Transport.Do(ctx, transport.Call{
		Account:  c.cfg.Account,
		Endpoint: a.Endpoint,
		Send: func(ctx context.Context) error {
			qq := url.Values{}
			for k, v := range q {
				qq[k] = v
			}
			qq.Set("access_token", tok)
			return c.roundTrip(ctx, a, qq, body, out)
		},
		RenewToken: func(ctx context.Context) error {
			if err := c.cfg.Tokens.Invalidate(ctx, s.key, tok); err != nil {
				return err
			}
			fresh, err := c.token(ctx, s)
			if err != nil {
				return err
			}
			tok = fresh
			return nil
		},
	})
}

// roundTrip sends one request and reads the answer: a WeCom refusal is a
// *transport.Error; HTTP failures and answers that are not WeCom's JSON
// are plain errors (the transport retries those).
func (c *Client) roundTrip(ctx context.Context, a *api, q url.Values, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	target := c.base + a.Name
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, a.method, target, rd)
	if err != nil {
		return fmt.Errorf("wecom %s: %w", a.Name, redact(err, c.base+a.Name))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		// The URL carries the access token or the secret: keep it out of
		// errors and logs.
		return fmt.Errorf("wecom %s: %w", a.Name, redact(err, c.base+a.Name))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("wecom %s: read the answer: %w", a.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wecom %s: HTTP %s", a.Name, resp.Status)
	}
	if len(raw) > maxAnswerBytes {
		return fmt.Errorf("wecom %s: answer larger than %d bytes", a.Name, maxAnswerBytes)
	}
	var head struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("wecom %s: the answer is not JSON: %w", a.Name, err)
	}
	if head.ErrCode == nil {
		return fmt.Errorf("wecom %s: the answer has no errcode", a.Name)
	}
	if *head.ErrCode != 0 {
		return apiError(a.Name, *head.ErrCode, head.ErrMsg)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("wecom %s: read the answer: %w", a.Name, err)
		}
	}
	return nil
}

// redact replaces the URL (with its query) in an HTTP client error.
func redact(err error, bare string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: bare, Err: ue.Err}
	}
	return err
}

func badArg(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidArgument}, args...)...)
}

// Department is a node of the corp's org tree; the root has ID 1 and
// ParentID 0.
type Department struct {
	ID       int64
	Name     string
	ParentID int64
	Order    int64
	Leaders  []string // user ids
}

// Departments returns every department visible to the app
// (department/list).
func (c *Client) Departments(ctx context.Context) ([]Department, error) {
	var out struct {
		Department []struct {
			ID       int64    `json:"id"`
			Name     string   `json:"name"`
			ParentID int64    `json:"parentid"`
			Order    int64    `json:"order"`
			Leaders  []string `json:"department_leader"`
		} `json:"department"`
	}
	if err := c.call(ctx, apiDepartmentList, nil, nil, &out); err != nil {
		return nil, err
	}
	ds := make([]Department, 0, len(out.Department))
	for _, d := range out.Department {
		ds = append(ds, Department{ID: d.ID, Name: d.Name, ParentID: d.ParentID, Order: d.Order, Leaders: d.Leaders})
	}
	return ds, nil
}

// User is a member as listed in a department.
type User struct {
	UserID, Name string
	Departments  []int64
}

// DepartmentUsers returns the members directly in a department, not in
// its subdepartments (user/simplelist, fetch_child=0).
func (c *Client) DepartmentUsers(ctx context.Context, departmentID int64) ([]User, error) {
	var out struct {
		UserList []struct {
			UserID     string  `json:"userid"`
			Name       string  `json:"name"`
			Department []int64 `json:"department"`
		} `json:"userlist"`
	}
	q := url.Values{"department_id": {strconv.FormatInt(departmentID, 10)}, "fetch_child": {"0"}}
	if err := c.call(ctx, apiUserSimpleList, q, nil, &out); err != nil {
		return nil, err
	}
	us := make([]User, 0, len(out.UserList))
	for _, u := range out.UserList {
		us = append(us, User{UserID: u.UserID, Name: u.Name, Departments: u.Department})
	}
	return us, nil
}

// UserDetail is a member's detail. Mobile and Email are empty unless the
// app may see them. Status: 1 active, 2 disabled, 4 not activated,
// 5 resigned.
type UserDetail struct {
	UserID, Name, Mobile, Email string
	Departments                 []int64
	Status                      int
}

// User returns a member (user/get); a member who is gone or not visible
// is an error of kind transport.KindNotFound.
func (c *Client) User(ctx context.Context, userID string) (*UserDetail, error) {
	var out struct {
		UserID     string  `json:"userid"`
		Name       string  `json:"name"`
		Mobile     string  `json:"mobile"`
		Email      string  `json:"email"`
		Department []int64 `json:"department"`
		Status     int     `json:"status"`
	}
	if err := c.call(ctx, apiUserGet, url.Values{"userid": {userID}}, nil, &out); err != nil {
		return nil, err
	}
	return &UserDetail{UserID: out.UserID, Name: out.Name, Mobile: out.Mobile, Email: out.Email,
		Departments: out.Department, Status: out.Status}, nil
}

// FollowUsers returns the members who may have customers
// (externalcontact/get_follow_user_list).
func (c *Client) FollowUsers(ctx context.Context) ([]string, error) {
	var out struct {
		FollowUser []string `json:"follow_user"`
	}
	if err := c.call(ctx, apiFollowUserList, nil, nil, &out); err != nil {
		return nil, err
	}
	return out.FollowUser, nil
}

// ExternalContactIDs returns the customers of a member
// (externalcontact/list).
func (c *Client) ExternalContactIDs(ctx context.Context, userID string) ([]string, error) {
	var out struct {
		ExternalUserID []string `json:"external_userid"`
	}
	if err := c.call(ctx, apiExternalList, url.Values{"userid": {userID}}, nil, &out); err != nil {
		return nil, err
	}
	return out.ExternalUserID, nil
}

// ExternalContact is a customer. Type is 1 for WeChat, 2 for WeCom users;
// Gender 0 unknown, 1 male, 2 female. UnionID is set for WeChat users when
// the corp has a bound official account or mini-program.
type ExternalContact struct {
	ExternalUserID, Name string
	Type, Gender         int
	UnionID              string
}

// FollowInfo is one member's relationship with a customer. TagIDs are the
// corp tags the member put on the customer.
type FollowInfo struct {
	UserID, Remark, Description string
	CreateTime                  int64 // Unix seconds
	TagIDs                      []string
	AddWay                      int
	State, OperUserID           string
	RemarkMobiles               []string
}

// Contact is a customer and the members who follow it.
type Contact struct {
	ExternalContact
	Follows []FollowInfo
}

// wireContact is external_contact in externalcontact/get and
// batch/get_by_user. external_profile (an object) is not read.
type wireContact struct {
	ExternalUserID string `json:"external_userid"`
	Name           string `json:"name"`
	Type           int    `json:"type"`
	Gender         int    `json:"gender"`
	UnionID        string `json:"unionid"`
}

func (w *wireContact) contact() ExternalContact {
	return ExternalContact{ExternalUserID: w.ExternalUserID, Name: w.Name, Type: w.Type, Gender: w.Gender, UnionID: w.UnionID}
}

// wireFollow is follow_user[] of externalcontact/get (tags as objects) and
// follow_info of batch/get_by_user (tag_id[]).
type wireFollow struct {
	UserID      string `json:"userid"`
	Remark      string `json:"remark"`
	Description string `json:"description"`
	CreateTime  int64  `json:"createtime"`
	Tags        []struct {
		TagID string `json:"tag_id"`
	} `json:"tags"`
	TagID         []string `json:"tag_id"`
	RemarkMobiles []string `json:"remark_mobiles"`
	AddWay        int      `json:"add_way"`
	State         string   `json:"state"`
	OperUserID    string   `json:"oper_userid"`
}

func (w *wireFollow) info() FollowInfo {
	f := FollowInfo{UserID: w.UserID, Remark: w.Remark, Description: w.Description, CreateTime: w.CreateTime,
		AddWay: w.AddWay, State: w.State, OperUserID: w.OperUserID, RemarkMobiles: w.RemarkMobiles, TagIDs: w.TagID}
	for _, t := range w.Tags {
		// Personal tags (type 2) have no id: they are the member's own.
		if t.TagID != "" {
			f.TagIDs = append(f.TagIDs, t.TagID)
		}
	}
	return f
}

// Contact returns a customer with every member following it
// (externalcontact/get, all next_cursor pages). A customer that is gone
// or no longer followed is an error of kind transport.KindNotFound.
func (c *Client) Contact(ctx context.Context, externalUserID string) (*Contact, error) {
	var res *Contact
	cursor := ""
	seen := map[string]bool{}
	for range maxContactPages {
		var out struct {
			ExternalContact wireContact  `json:"external_contact"`
			FollowUser      []wireFollow `json:"follow_user"`
			NextCursor      string       `json:"next_cursor"`
		}
		q := url.Values{"external_userid": {externalUserID}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if err := c.call(ctx, apiExternalGet, q, nil, &out); err != nil {
			return nil, err
		}
		if res == nil {
			res = &Contact{ExternalContact: out.ExternalContact.contact()}
		}
		for i := range out.FollowUser {
			res.Follows = append(res.Follows, out.FollowUser[i].info())
		}
		if out.NextCursor == "" {
			return res, nil
		}
		if seen[out.NextCursor] {
			return nil, fmt.Errorf("wecom %s: next_cursor %q came back: the pages loop", apiExternalGet.Name, out.NextCursor)
		}
		seen[out.NextCursor] = true
		cursor = out.NextCursor
	}
	return nil, fmt.Errorf("wecom %s: more than %d pages of follows", apiExternalGet.Name, maxContactPages)
}

// ContactsByUsers returns one page of the customers of up to 100 members
// (externalcontact/batch/get_by_user): one Contact per relationship, each
// with the one FollowInfo of that member. Start with cursor "" and pass
// next back until it is "". limit is 1 to 100; 0 leaves WeCom's default.
func (c *Client) ContactsByUsers(ctx context.Context, userIDs []string, cursor string, limit int) (contacts []Contact, next string, err error) {
	if len(userIDs) == 0 || len(userIDs) > maxBatchUsers {
		return nil, "", badArg("batch/get_by_user takes 1 to %d members, not %d", maxBatchUsers, len(userIDs))
	}
	if limit < 0 || limit > maxBatchLimit {
		return nil, "", badArg("batch/get_by_user limit %d is not within 1 to %d", limit, maxBatchLimit)
	}
	in := struct {
		UserIDList []string `json:"userid_list"`
		Cursor     string   `json:"cursor,omitempty"`
		Limit      int      `json:"limit,omitempty"`
	}{userIDs, cursor, limit}
	var out struct {
		ExternalContactList []struct {
			ExternalContact wireContact `json:"external_contact"`
			FollowInfo      wireFollow  `json:"follow_info"`
		} `json:"external_contact_list"`
		NextCursor string `json:"next_cursor"`
	}
	if err := c.call(ctx, apiBatchGetByUser, nil, in, &out); err != nil {
		return nil, "", err
	}
	contacts = make([]Contact, 0, len(out.ExternalContactList))
	for i := range out.ExternalContactList {
		e := &out.ExternalContactList[i]
		contacts = append(contacts, Contact{ExternalContact: e.ExternalContact.contact(), Follows: []FollowInfo{e.FollowInfo.info()}})
	}
	return contacts, out.NextCursor, nil
}

// Tag is a corp customer tag.
type Tag struct {
	ID, Name string
	Order    int64
	Deleted  bool
}

// TagGroup is a group of corp customer tags.
type TagGroup struct {
	ID, Name string
	Order    int64
	Deleted  bool
	Tags     []Tag
}

type wireTagGroup struct {
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name"`
	Order     int64  `json:"order"`
	Deleted   bool   `json:"deleted"`
	Tag       []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Order   int64  `json:"order"`
		Deleted bool   `json:"deleted"`
	} `json:"tag"`
}

func (w *wireTagGroup) group() TagGroup {
	g := TagGroup{ID: w.GroupID, Name: w.GroupName, Order: w.Order, Deleted: w.Deleted}
	for _, t := range w.Tag {
		g.Tags = append(g.Tags, Tag{ID: t.ID, Name: t.Name, Order: t.Order, Deleted: t.Deleted})
	}
	return g
}

// CorpTags returns every corp customer tag group with its tags
// (externalcontact/get_corp_tag_list).
func (c *Client) CorpTags(ctx context.Context) ([]TagGroup, error) {
	var out struct {
		TagGroup []wireTagGroup `json:"tag_group"`
	}
	if err := c.call(ctx, apiCorpTagList, nil, struct{}{}, &out); err != nil {
		return nil, err
	}
	gs := make([]TagGroup, 0, len(out.TagGroup))
	for i := range out.TagGroup {
		gs = append(gs, out.TagGroup[i].group())
	}
	return gs, nil
}

// AddCorpTags adds tags to the group groupID, or, when groupID is empty,
// to the group named groupName (created when there is none). It returns
// the group with the tags added (externalcontact/add_corp_tag).
func (c *Client) AddCorpTags(ctx context.Context, groupID, groupName string, names []string) (*TagGroup, error) {
	if len(names) == 0 {
		return nil, badArg("add_corp_tag needs at least one tag name")
	}
	type tagIn struct {
		Name string `json:"name"`
	}
	in := struct {
		GroupID   string  `json:"group_id,omitempty"`
		GroupName string  `json:"group_name,omitempty"`
		Tag       []tagIn `json:"tag"`
	}{GroupID: groupID}
	if groupID == "" {
		in.GroupName = groupName
	}
	for _, n := range names {
		in.Tag = append(in.Tag, tagIn{n})
	}
	var out struct {
		TagGroup wireTagGroup `json:"tag_group"`
	}
	if err := c.call(ctx, apiAddCorpTag, nil, in, &out); err != nil {
		return nil, err
	}
	g := out.TagGroup.group()
	return &g, nil
}

// MarkTags adds and removes corp tags on a member's customer
// (externalcontact/mark_tag). With nothing to add or remove it does
// nothing.
func (c *Client) MarkTags(ctx context.Context, userID, externalUserID string, add, remove []string) error {
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	in := struct {
		UserID         string   `json:"userid"`
		ExternalUserID string   `json:"external_userid"`
		AddTag         []string `json:"add_tag,omitempty"`
		RemoveTag      []string `json:"remove_tag,omitempty"`
	}{userID, externalUserID, add, remove}
	return c.call(ctx, apiMarkTag, nil, in, nil)
}

// ContactWay is a "contact me" configuration: Type 1 for a single member,
// 2 for several; Scene 1 for a mini-program button, 2 for a QR code. State
// (at most 30 characters) comes back in the add_external_contact event.
type ContactWay struct {
	ConfigID   string
	Type       int
	Scene      int
	State      string
	Users      []string
	Parties    []int64
	SkipVerify bool
	Remark     string
}

func (w *ContactWay) check() error {
	if n := utf8.RuneCountInString(w.State); n > maxStateLen {
		return badArg("contact way state has %d characters, at most %d", n, maxStateLen)
	}
	if len(w.Users) > maxWayMembers || len(w.Parties) > maxWayMembers {
		return badArg("a contact way takes at most %d members and %d departments", maxWayMembers, maxWayMembers)
	}
	return nil
}

type wireWay struct {
	ConfigID   string   `json:"config_id,omitempty"`
	Type       int      `json:"type,omitempty"`
	Scene      int      `json:"scene,omitempty"`
	Remark     string   `json:"remark"`
	SkipVerify bool     `json:"skip_verify"`
	State      string   `json:"state"`
	User       []string `json:"user,omitempty"`
	Party      []int64  `json:"party,omitempty"`
}

// AddContactWay creates a contact way (externalcontact/add_contact_way);
// qrCode is set for Scene 2. w.ConfigID is ignored.
func (c *Client) AddContactWay(ctx context.Context, w ContactWay) (configID, qrCode string, err error) {
	if err := w.check(); err != nil {
		return "", "", err
	}
	in := wireWay{Type: w.Type, Scene: w.Scene, Remark: w.Remark, SkipVerify: w.SkipVerify, State: w.State, User: w.Users, Party: w.Parties}
	var out struct {
		ConfigID string `json:"config_id"`
		QRCode   string `json:"qr_code"`
	}
	if err := c.call(ctx, apiAddContactWay, nil, in, &out); err != nil {
		return "", "", err
	}
	return out.ConfigID, out.QRCode, nil
}

// UpdateContactWay replaces the remark, skip_verify, state, members and
// departments of the contact way w.ConfigID
// (externalcontact/update_contact_way); its type and scene cannot change.
func (c *Client) UpdateContactWay(ctx context.Context, w ContactWay) error {
	if w.ConfigID == "" {
		return badArg("update_contact_way needs a config id")
	}
	if err := w.check(); err != nil {
		return err
	}
	in := wireWay{ConfigID: w.ConfigID, Remark: w.Remark, SkipVerify: w.SkipVerify, State: w.State, User: w.Users, Party: w.Parties}
	return c.call(ctx, apiUpdateContactWay, nil, in, nil)
}

// DeleteContactWay deletes a contact way (externalcontact/del_contact_way).
func (c *Client) DeleteContactWay(ctx context.Context, configID string) error {
	in := struct {
		ConfigID string `json:"config_id"`
	}{configID}
	return c.call(ctx, apiDelContactWay, nil, in, nil)
}

type textBody struct {
	Content string `json:"content"`
}

// SendWelcome sends the welcome text for a customer just added, with the
// WelcomeCode of its add_external_contact event
// (externalcontact/send_welcome_msg). WeCom accepts a code once, within
// 20 seconds of the event (errcode 41051 otherwise).
func (c *Client) SendWelcome(ctx context.Context, welcomeCode, text string) error {
	in := struct {
		WelcomeCode string   `json:"welcome_code"`
		Text        textBody `json:"text"`
	}{welcomeCode, textBody{text}}
	return c.call(ctx, apiSendWelcome, nil, in, nil)
}

// SendAppMessage sends a text app message to members (message/send with
// the client's agent id) and returns the recipients WeCom found invalid.
// When none is valid, the error is of kind transport.KindNotFound (81013).
// WeCom drops messages silently beyond 30 a minute and 1,000 an hour per
// member: pace them.
func (c *Client) SendAppMessage(ctx context.Context, toUsers []string, text string) (invalid []string, err error) {
	if len(toUsers) == 0 || len(toUsers) > maxAppMsgUsers {
		return nil, badArg("message/send takes 1 to %d members, not %d", maxAppMsgUsers, len(toUsers))
	}
	in := struct {
		ToUser  string   `json:"touser"`
		MsgType string   `json:"msgtype"`
		AgentID int64    `json:"agentid"`
		Text    textBody `json:"text"`
	}{strings.Join(toUsers, "|"), "text", c.cfg.AgentID, textBody{text}}
	var out struct {
		InvalidUser string `json:"invaliduser"`
	}
	if err := c.call(ctx, apiMessageSend, nil, in, &out); err != nil {
		return nil, err
	}
	if out.InvalidUser == "" {
		return nil, nil
	}
	return strings.Split(out.InvalidUser, "|"), nil
}

// AddMsgTemplate creates a mass text message from sender to customers
// (externalcontact/add_msg_template, chat_type single); the sender
// confirms it in the WeCom client. failed are the customers it will not
// reach (unknown, not the sender's, or sent four already this month).
func (c *Client) AddMsgTemplate(ctx context.Context, sender string, externalUserIDs []string, text string) (msgID string, failed []string, err error) {
	in := struct {
		ChatType       string   `json:"chat_type"`
		ExternalUserID []string `json:"external_userid"`
		Sender         string   `json:"sender,omitempty"`
		Text           textBody `json:"text"`
	}{"single", externalUserIDs, sender, textBody{text}}
	var out struct {
		FailList []string `json:"fail_list"`
		MsgID    string   `json:"msgid"`
	}
	if err := c.call(ctx, apiAddMsgTemplate, nil, in, &out); err != nil {
		return "", nil, err
	}
	return out.MsgID, out.FailList, nil
}

// TransferResult is one customer's outcome of a transfer: ErrCode 0 when
// accepted, else WeCom's errcode for it (e.g. 40096, 84061).
type TransferResult struct {
	ExternalUserID string
	ErrCode        int
}

// TransferCustomers hands up to 100 customers of handover over to
// takeover: externalcontact/transfer_customer for a member still in the
// corp, externalcontact/resigned/transfer_customer when resigned.
func (c *Client) TransferCustomers(ctx context.Context, resigned bool, handover, takeover string, externalUserIDs []string) ([]TransferResult, error) {
	if len(externalUserIDs) == 0 || len(externalUserIDs) > maxTransfer {
		return nil, badArg("a transfer takes 1 to %d customers, not %d", maxTransfer, len(externalUserIDs))
	}
	a := apiTransfer
	if resigned {
		a = apiResignedTransfer
	}
	in := struct {
		Handover string   `json:"handover_userid"`
		Takeover string   `json:"takeover_userid"`
		External []string `json:"external_userid"`
	}{handover, takeover, externalUserIDs}
	var out struct {
		Customer []struct {
			ExternalUserID string `json:"external_userid"`
			ErrCode        int    `json:"errcode"`
		} `json:"customer"`
	}
	if err := c.call(ctx, a, nil, in, &out); err != nil {
		return nil, err
	}
	rs := make([]TransferResult, 0, len(out.Customer))
	for _, r := range out.Customer {
		rs = append(rs, TransferResult{ExternalUserID: r.ExternalUserID, ErrCode: r.ErrCode})
	}
	return rs, nil
}

// UserIDByCode returns the member signing in with an OAuth2 or QR login
// code (auth/getuserinfo). A code of someone who is not a member is an
// error of kind transport.KindNotFound; a used or expired code one of
// kind transport.KindPermanent (errcode 40029).
func (c *Client) UserIDByCode(ctx context.Context, code string) (string, error) {
	var out struct {
		UserID string `json:"userid"` // "UserId" in older answers: JSON keys match regardless of case
	}
	if err := c.call(ctx, apiAuthGetUserInfo, url.Values{"code": {code}}, nil, &out); err != nil {
		return "", err
	}
	if out.UserID == "" {
		return "", &transport.Error{Platform: Platform, Endpoint: apiAuthGetUserInfo.Name, Code: "not_member",
			Message: "the code is not a member's", Kind: transport.KindNotFound}
	}
	return out.UserID, nil
}
