package wecomfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults, after the WeCom documents named in PLATFORMS.md.
const (
	// DefaultTokenTTL is expires_in of gettoken (7200 s).
	DefaultTokenTTL = 7200 * time.Second
	// DefaultRateLimitPerMinute is the documented per corp, per API limit.
	DefaultRateLimitPerMinute = 10000
	// DefaultCallbackRetryPause is the pause between callback attempts.
	DefaultCallbackRetryPause = time.Second
	// CallbackAttempts is how many times WeCom tries a callback in all.
	CallbackAttempts = 3
	// CallbackTimeout is how long WeCom waits for a callback answer.
	CallbackTimeout = 5 * time.Second

	// OAuthCodeTTL is how long an auth/getuserinfo code lives.
	OAuthCodeTTL = 5 * time.Minute
	// WelcomeCodeTTL is how long send_welcome_msg accepts a welcome code.
	WelcomeCodeTTL = 20 * time.Second
	// AppMessagesPerMemberMinute and AppMessagesPerMemberHour bound the
	// app messages one member receives; above them messages are dropped
	// silently.
	AppMessagesPerMemberMinute = 30
	AppMessagesPerMemberHour   = 1000
	// MsgTemplatesPerCustomerMonth is how many mass messages one customer
	// receives per calendar month (Asia/Shanghai).
	MsgTemplatesPerCustomerMonth = 4

	maxListIDLimit      = 10000
	maxBatchUsers       = 100
	maxBatchLimit       = 100
	defaultBatchLimit   = 50
	maxStateLen         = 30
	maxAttachments      = 9
	maxTransferContacts = 100
	maxBody             = 4 << 20
)

// shanghai is Asia/Shanghai without needing tzdata: China has no DST.
var shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

// Error codes the fake answers, with WeCom's meaning.
const (
	ErrSystemBusy          = -1
	ErrInvalidSecret       = 40001
	ErrInvalidMsgType      = 40008
	ErrInvalidCorpID       = 40013
	ErrInvalidToken        = 40014
	ErrInvalidCode         = 40029
	ErrInvalidAgentID      = 40056
	ErrInvalidParameter    = 40058
	ErrInvalidTagID        = 40068
	ErrInvalidTagName      = 40071
	ErrInvalidExternalID   = 40096
	ErrHandoverNotResigned = 40097
	ErrMissingToken        = 41001
	ErrInvalidWelcomeCode  = 41051
	ErrTokenExpired        = 42001
	ErrRequireGET          = 43001
	ErrRequirePOST         = 43002
	ErrEmptyContent        = 44004
	ErrFrequencyLimit      = 45009
	ErrDataFormat          = 47001
	ErrAPIForbidden        = 48002
	ErrUserNotFound        = 60111
	ErrInvalidParty        = 60123
	ErrAllInvalid          = 81013
	ErrNotExternalContact  = 84061
	ErrTagNotOwned         = 301002
)

var errmsgs = map[int]string{
	0:                      "ok",
	ErrSystemBusy:          "system is busy",
	ErrInvalidSecret:       "invalid credential",
	ErrInvalidMsgType:      "invalid message type",
	ErrInvalidCorpID:       "invalid corpid",
	ErrInvalidToken:        "invalid access_token",
	ErrInvalidCode:         "invalid code",
	ErrInvalidAgentID:      "invalid agentid",
	ErrInvalidParameter:    "invalid parameter",
	ErrInvalidTagID:        "invalid tagid",
	ErrInvalidTagName:      "invalid tag name",
	ErrInvalidExternalID:   "invalid external userid",
	ErrHandoverNotResigned: "handover user has not resigned",
	ErrMissingToken:        "access_token missing",
	ErrInvalidWelcomeCode:  "invalid welcome_code",
	ErrTokenExpired:        "access_token expired",
	ErrRequireGET:          "require GET method",
	ErrRequirePOST:         "require POST method",
	ErrEmptyContent:        "empty content",
	ErrFrequencyLimit:      "api freq out of limit",
	ErrDataFormat:          "data format error",
	ErrAPIForbidden:        "api forbidden",
	ErrUserNotFound:        "invalid userid",
	ErrInvalidParty:        "invalid party id",
	ErrAllInvalid:          "user & party & tag all invalid",
	ErrNotExternalContact:  "not external contact",
	ErrTagNotOwned:         "no privilege to modify tag created by other application",
}

// Options configure a fake corp.
type Options struct {
	CorpID  string
	AgentID int64
	// Secret is the app secret gettoken accepts; ContactSecret, when not
	// empty, is accepted as well (the customer-contact app's secret).
	Secret        string
	ContactSecret string

	// CallbackToken and EncodingAESKey sign and encrypt callbacks.
	CallbackToken, EncodingAESKey string

	// Now is the fake's clock; default time.Now.
	Now func() time.Time
	// TokenTTL is how long an access token lives; default 7200 s.
	TokenTTL time.Duration
	// RateLimitPerMinute is the calls allowed per corp, per API path and
	// calendar minute; above it calls answer 45009. Default 10000.
	RateLimitPerMinute int
	// CallbackRetryPause is the pause between callback attempts; default 1 s.
	CallbackRetryPause time.Duration
	// HTTPClient sends callbacks; default a client with a 5 s timeout.
	HTTPClient *http.Client
}

// Server is a fake WeCom server API for one corp. It is an http.Handler.
type Server struct {
	o      Options
	client *http.Client

	mu sync.Mutex

	// Directory.
	depts       map[int64]*Department
	users       map[string]*User
	sortedUsers []string // cache of user ids in order; nil when stale

	// Customers.
	contacts map[string]*contact
	byUser   map[string][]*followRec // each member's follows, oldest first
	seq      int64
	groups   []*tagGroup

	// Tokens and codes.
	tokens  map[string]*token
	current map[string]string // secret -> its live token
	issued  int
	oauth   map[string]*code
	welcome map[string]*code

	// Observation and fault injection.
	calls  map[string]int
	faults map[string]*fault
	rate   map[string]*window

	appMsgs     []AppMessage
	delivered   map[string][]time.Time // member -> app messages in the last hour
	welcomeMsgs []WelcomeMessage
	templates   []MsgTemplate
	monthly     map[string]int // external userid + "|" + month -> mass messages
	markTags    []MarkTag
	ways        map[string]*ContactWay
	wayOrder    []string
	transfers   []Transfer
	ids         int64
}

type token struct {
	secret  string
	expires time.Time
	revoked bool
}

type code struct {
	userID, externalUserID string
	expires                time.Time
}

type fault struct {
	errcode, n int
}

type window struct {
	minute int64
	n      int
}

// New returns a fake corp with no data. Options left zero take their
// defaults.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = DefaultTokenTTL
	}
	if o.RateLimitPerMinute <= 0 {
		o.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if o.CallbackRetryPause <= 0 {
		o.CallbackRetryPause = DefaultCallbackRetryPause
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: CallbackTimeout}
	}
	return &Server{
		o:         o,
		client:    client,
		depts:     map[int64]*Department{},
		users:     map[string]*User{},
		contacts:  map[string]*contact{},
		byUser:    map[string][]*followRec{},
		tokens:    map[string]*token{},
		current:   map[string]string{},
		oauth:     map[string]*code{},
		welcome:   map[string]*code{},
		calls:     map[string]int{},
		faults:    map[string]*fault{},
		rate:      map[string]*window{},
		delivered: map[string][]time.Time{},
		monthly:   map[string]int{},
		ways:      map[string]*ContactWay{},
	}
}

func (s *Server) now() time.Time { return s.o.Now() }

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// apiErr is an errcode answer.
type apiErr struct {
	code int
	hint string
}

func fail(code int, hint string) *apiErr { return &apiErr{code: code, hint: hint} }

func errmsg(code int, hint string) string {
	m, ok := errmsgs[code]
	if !ok {
		m = "error"
	}
	if hint != "" {
		m += ", hint: [" + hint + "]"
	}
	return m
}

// obj is a JSON answer; errcode and errmsg are added when written.
type obj = map[string]any

// request is what a handler sees; handlers run with s.mu held.
type request struct {
	q    map[string][]string
	body []byte
	now  time.Time
}

func (r *request) get(k string) string {
	if v := r.q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// decode reads the JSON body into v; malformed bodies answer 47001.
func (r *request) decode(v any) *apiErr {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fail(ErrDataFormat, "malformed JSON body")
	}
	return nil
}

type route struct {
	post    bool
	noToken bool
	h       func(s *Server, r *request) (obj, *apiErr)
}

var routes map[string]route

func init() {
	get := func(h func(*Server, *request) (obj, *apiErr)) route { return route{h: h} }
	post := func(h func(*Server, *request) (obj, *apiErr)) route { return route{post: true, h: h} }
	routes = map[string]route{
		"gettoken":                                   {noToken: true, h: (*Server).getToken},
		"department/list":                            get((*Server).departmentList),
		"department/simplelist":                      get((*Server).departmentSimpleList),
		"user/list_id":                               post((*Server).userListID),
		"user/simplelist":                            get((*Server).userSimpleList),
		"user/get":                                   get((*Server).userGet),
		"externalcontact/get_follow_user_list":       get((*Server).followUserList),
		"externalcontact/list":                       get((*Server).externalList),
		"externalcontact/get":                        get((*Server).externalGet),
		"externalcontact/batch/get_by_user":          post((*Server).batchGetByUser),
		"externalcontact/get_corp_tag_list":          post((*Server).corpTagList),
		"externalcontact/add_corp_tag":               post((*Server).addCorpTag),
		"externalcontact/edit_corp_tag":              post((*Server).editCorpTag),
		"externalcontact/del_corp_tag":               post((*Server).delCorpTag),
		"externalcontact/mark_tag":                   post((*Server).markTag),
		"externalcontact/add_contact_way":            post((*Server).addContactWay),
		"externalcontact/update_contact_way":         post((*Server).updateContactWay),
		"externalcontact/del_contact_way":            post((*Server).delContactWay),
		"externalcontact/get_contact_way":            post((*Server).getContactWay),
		"externalcontact/send_welcome_msg":           post((*Server).sendWelcomeMsg),
		"message/send":                               post((*Server).messageSend),
		"externalcontact/add_msg_template":           post((*Server).addMsgTemplate),
		"externalcontact/transfer_customer":          post((*Server).transferCustomer),
		"externalcontact/resigned/transfer_customer": post((*Server).resignedTransferCustomer),
		"auth/getuserinfo":                           get((*Server).authGetUserInfo),
	}
}

// basePath is where the API lives, as on qyapi.weixin.qq.com.
const basePath = "/cgi-bin/"

// ServeHTTP answers /cgi-bin/... as WeCom does: HTTP 200 with errcode and
// errmsg in every JSON answer. An unknown path answers HTTP 404 with
// errcode 48002.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	apiPath, ok := strings.CutPrefix(r.URL.Path, basePath)
	rt, known := routes[apiPath]
	if !ok || !known {
		write(w, http.StatusNotFound, nil, fail(ErrAPIForbidden, "unknown API "+r.URL.Path+" (not implemented by wecomfake)"))
		return
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			write(w, http.StatusOK, nil, fail(ErrDataFormat, "body unreadable or too large"))
			return
		}
	}
	// The answer is encoded under the lock: it may share slices with the
	// stored data.
	s.mu.Lock()
	res, e := s.serve(apiPath, rt, r, body)
	status, b := encode(http.StatusOK, res, e)
	s.mu.Unlock()
	send(w, status, b)
}

// serve runs the checks every call goes through, in WeCom's order as far
// as it shows: method, token, frequency, then the call.
func (s *Server) serve(apiPath string, rt route, r *http.Request, body []byte) (obj, *apiErr) {
	now := s.now()
	s.calls[apiPath]++
	if rt.post && r.Method != http.MethodPost {
		return nil, fail(ErrRequirePOST, "")
	}
	if !rt.post && r.Method != http.MethodGet {
		return nil, fail(ErrRequireGET, "")
	}
	q := r.URL.Query()
	if !rt.noToken {
		if e := s.checkToken(q.Get("access_token"), now); e != nil {
			return nil, e
		}
	}
	minute := now.Unix() / 60
	wnd := s.rate[apiPath]
	if wnd == nil || wnd.minute != minute {
		wnd = &window{minute: minute}
		s.rate[apiPath] = wnd
	}
	wnd.n++
	if wnd.n > s.o.RateLimitPerMinute {
		return nil, fail(ErrFrequencyLimit, "per corp per API minute limit")
	}
	if f := s.faults[apiPath]; f != nil {
		f.n--
		if f.n <= 0 {
			delete(s.faults, apiPath)
		}
		return nil, fail(f.errcode, "injected by wecomfake")
	}
	return rt.h(s, &request{q: q, body: body, now: now})
}

func write(w http.ResponseWriter, status int, res obj, e *apiErr) {
	s, b := encode(status, res, e)
	send(w, s, b)
}

func encode(status int, res obj, e *apiErr) (int, []byte) {
	if res == nil {
		res = obj{}
	}
	if e != nil {
		res = obj{"errcode": e.code, "errmsg": errmsg(e.code, e.hint)}
	} else {
		res["errcode"] = 0
		res["errmsg"] = "ok"
	}
	b, err := json.Marshal(res)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errcode":-1,"errmsg":"wecomfake: cannot encode the answer"}`)
	}
	return status, b
}

func send(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) checkToken(tok string, now time.Time) *apiErr {
	if tok == "" {
		return fail(ErrMissingToken, "")
	}
	t := s.tokens[tok]
	if t == nil {
		return fail(ErrInvalidToken, "")
	}
	if t.revoked || !now.Before(t.expires) {
		return fail(ErrTokenExpired, "")
	}
	return nil
}

func (s *Server) getToken(r *request) (obj, *apiErr) {
	if r.get("corpid") != s.o.CorpID || s.o.CorpID == "" {
		return nil, fail(ErrInvalidCorpID, "")
	}
	secret := r.get("corpsecret")
	if secret == "" || (secret != s.o.Secret && (s.o.ContactSecret == "" || secret != s.o.ContactSecret)) {
		return nil, fail(ErrInvalidSecret, "invalid corpsecret")
	}
	if cur, ok := s.current[secret]; ok {
		t := s.tokens[cur]
		if !t.revoked && r.now.Before(t.expires) {
			left := int64(math.Ceil(t.expires.Sub(r.now).Seconds()))
			return obj{"access_token": cur, "expires_in": left}, nil
		}
	}
	tok := randomHex(32)
	s.tokens[tok] = &token{secret: secret, expires: r.now.Add(s.o.TokenTTL)}
	s.current[secret] = tok
	s.issued++
	return obj{"access_token": tok, "expires_in": int64(s.o.TokenTTL / time.Second)}, nil
}

func (s *Server) authGetUserInfo(r *request) (obj, *apiErr) {
	c := s.oauth[r.get("code")]
	if c == nil || r.now.After(c.expires) {
		return nil, fail(ErrInvalidCode, "")
	}
	delete(s.oauth, r.get("code"))
	return obj{"userid": c.userID}, nil
}

// FailNext makes the next n calls to apiPath (as after /cgi-bin/, e.g.
// "user/simplelist") that pass the token and frequency checks answer
// errcode instead.
func (s *Server) FailNext(apiPath string, errcode int, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	apiPath = strings.TrimPrefix(apiPath, basePath)
	if n <= 0 {
		delete(s.faults, apiPath)
		return
	}
	s.faults[apiPath] = &fault{errcode: errcode, n: n}
}

// ExpireTokens makes every token issued so far answer 42001; the next
// gettoken issues a new one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// Calls is how many requests reached apiPath, failed ones included.
func (s *Server) Calls(apiPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[strings.TrimPrefix(apiPath, basePath)]
}

// TokensIssued is how many distinct access tokens gettoken has issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// IssueOAuthCode returns a sign-in code for userID, as the OAuth2 redirect
// would carry: auth/getuserinfo accepts it once, within 5 minutes.
func (s *Server) IssueOAuthCode(userID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := randomHex(16)
	s.oauth[c] = &code{userID: userID, expires: s.now().Add(OAuthCodeTTL)}
	return c
}

// IssueWelcomeCode returns a welcome code for a customer userID just
// added: send_welcome_msg accepts it once, within 20 s from Now.
func (s *Server) IssueWelcomeCode(userID, externalUserID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueWelcomeCode(userID, externalUserID)
}

func (s *Server) issueWelcomeCode(userID, externalUserID string) string {
	c := randomHex(16)
	s.welcome[c] = &code{userID: userID, externalUserID: externalUserID, expires: s.now().Add(WelcomeCodeTTL)}
	return c
}
