// Package wechatfake is an in-memory WeChat mini-program login service for
// tests and the demo: an http.Handler answering GET /sns/jscode2session the
// way api.weixin.qq.com does, and MintCode, which stands in for wx.login
// on a phone (a code for a user of an app).
//
// It is written against the wire protocol only and imports nothing from
// this repository, so a client's tests against it check the client
// against the protocol, not against itself.
//
// # Protocol
//
// GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code
// answers HTTP 200, Content-Type text/plain, with JSON:
// {"openid", "session_key", "unionid"?} on success, {"errcode", "errmsg"}
// otherwise. Checks run in this order: appid present (41002) and known
// (40013); secret present (41004) and the app's (40125); grant_type
// (40002); js_code present (41008); an injected fault (FailNext); the code
// known to the app and not expired (40029; codes live CodeTTL, default 5
// minutes, on Options.Now); not used before (40163); the user not blocked
// (40226). A successful exchange spends the code; a refused one does not.
// unionid is answered only for apps bound to an open platform account
// (App.OpenPlatform) and users given one (AddUser).
//
// # Simplified
//
//   - Session keys are random per exchange; nothing checks them.
//   - 45011 (per-user frequency) and -1 (busy) come only from FailNext.
package wechatfake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Path is where the fake answers.
const Path = "/sns/jscode2session"

// Errcodes the fake answers.
const (
	CodeBusy          = -1
	CodeInvalidAppID  = 40013
	CodeInvalidCode   = 40029
	CodeInvalidGrant  = 40002
	CodeInvalidSecret = 40125
	CodeCodeUsed      = 40163
	CodeRiskyUser     = 40226
	CodeMissingAppID  = 41002
	CodeMissingSecret = 41004
	CodeMissingCode   = 41008
	CodeRateLimited   = 45011
)

// DefaultCodeTTL is how long a wx.login code lives.
const DefaultCodeTTL = 5 * time.Minute

var messages = map[int]string{
	CodeBusy:          "system error",
	CodeInvalidAppID:  "invalid appid",
	CodeInvalidCode:   "invalid code",
	CodeInvalidGrant:  "invalid grant_type",
	CodeInvalidSecret: "invalid appsecret",
	CodeCodeUsed:      "code been used",
	CodeRiskyUser:     "high risk user",
	CodeMissingAppID:  "missing appid",
	CodeMissingSecret: "missing secret",
	CodeMissingCode:   "missing code",
	CodeRateLimited:   "api minute-quota reach limit  mustslower  retry next minute",
}

// App is one mini-program.
type App struct {
	AppID, Secret string
	// OpenPlatform: the app is bound to an open platform account, so
	// users with a unionid get it in the answer.
	OpenPlatform bool
}

// Options configure the fake.
type Options struct {
	Apps []App
	// Now is the clock of code expiry; time.Now when nil.
	Now func() time.Time
	// CodeTTL is how long a code lives; DefaultCodeTTL when zero.
	CodeTTL time.Duration
}

type code struct {
	appID, openID string
	issued        time.Time
	used          bool
}

type userKey struct{ appID, openID string }

// Server is the fake. It is safe for concurrent use.
type Server struct {
	opts Options

	mu      sync.Mutex
	apps    map[string]App
	codes   map[string]*code
	unionOf map[userKey]string
	blocked map[userKey]bool
	faults  []int
	calls   int
}

// New returns a fake serving opts.Apps.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CodeTTL <= 0 {
		opts.CodeTTL = DefaultCodeTTL
	}
	s := &Server{opts: opts, apps: map[string]App{}, codes: map[string]*code{},
		unionOf: map[userKey]string{}, blocked: map[userKey]bool{}}
	for _, a := range opts.Apps {
		s.apps[a.AppID] = a
	}
	return s
}

// AddApp adds (or replaces) a mini-program.
func (s *Server) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[a.AppID] = a
}

// AddUser gives a user of an app a unionid (answered when the app is
// bound to an open platform account).
func (s *Server) AddUser(appID, openID, unionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unionOf[userKey{appID, openID}] = unionID
}

// BlockUser makes WeChat treat the user as high-risk (40226).
func (s *Server) BlockUser(appID, openID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[userKey{appID, openID}] = true
}

// MintCode is wx.login: a fresh single-use code for the user of the app.
func (s *Server) MintCode(appID, openID string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	c := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[c] = &code{appID: appID, openID: openID, issued: s.opts.Now()}
	return c
}

// FailNext makes the next len(errcodes) exchanges that get past the
// credential checks answer these errcodes, in order (e.g. CodeBusy,
// CodeRateLimited); the codes they carry are not spent.
func (s *Server) FailNext(errcodes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, errcodes...)
}

// Calls counts the requests served.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// ServeHTTP answers jscode2session.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	s.calls++
	answer, errcode := s.exchange(q.Get("appid"), q.Get("secret"), q.Get("grant_type"), q.Get("js_code"))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	if errcode != 0 {
		answer = map[string]any{"errcode": errcode, "errmsg": messages[errcode] + ", rid: " + rid()}
	}
	_ = json.NewEncoder(w).Encode(answer)
}

// exchange decides one call; s.mu is held.
func (s *Server) exchange(appID, secret, grant, js string) (map[string]any, int) {
	switch {
	case appID == "":
		return nil, CodeMissingAppID
	case s.apps[appID].AppID == "":
		return nil, CodeInvalidAppID
	case secret == "":
		return nil, CodeMissingSecret
	case secret != s.apps[appID].Secret:
		return nil, CodeInvalidSecret
	case grant != "authorization_code":
		return nil, CodeInvalidGrant
	case js == "":
		return nil, CodeMissingCode
	}
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		return nil, f
	}
	c := s.codes[js]
	if c == nil || c.appID != appID || !s.opts.Now().Before(c.issued.Add(s.opts.CodeTTL)) {
		return nil, CodeInvalidCode
	}
	if c.used {
		return nil, CodeCodeUsed
	}
	user := userKey{appID, c.openID}
	if s.blocked[user] {
		return nil, CodeRiskyUser
	}
	c.used = true
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	out := map[string]any{"openid": c.openID, "session_key": base64.StdEncoding.EncodeToString(key)}
	if u := s.unionOf[user]; u != "" && s.apps[appID].OpenPlatform {
		out["unionid"] = u
	}
	return out, 0
}

func rid() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
