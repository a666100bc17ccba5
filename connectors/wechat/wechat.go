// Package wechat is the WeChat mini-program connector: the server side of
// wx.login (GET /sns/jscode2session on https://api.weixin.qq.com), which
// turns the code a mini-program got from wx.login into the user's openid,
// unionid (only when the app is bound to an open platform account) and
// session key. It knows the platform, not customers: internal/customerauth
// decides who the user is.
//
// The session key encrypts the user's data inside the mini-program; this
// product never needs it. It is returned because WeChat sends it, and it
// must never be logged or stored: Session keeps it out of fmt and slog.
package wechat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scrm-dev/scrm/connectors/transport"
)

// DefaultBaseURL is WeChat's server API host.
const DefaultBaseURL = "https://api.weixin.qq.com"

// Platform is the platform name in transport endpoints, errors and metrics.
const Platform = "wechat"

// jscode2session has no published per-app quota (its limit is per user,
// answered with 45011), so we set no budget of our own.
var apiCode2Session = transport.Endpoint{Platform: Platform, Name: "sns/jscode2session"}

// The errcodes of jscode2session (the mini-program server API document
// "auth.code2Session" and the global return codes page).
const (
	codeBusy          = -1
	codeInvalidCode   = 40029
	codeCodeUsed      = 40163
	codeRateLimited   = 45011
	codeRiskyUser     = 40226
	codeInvalidSecret = 40125
	codeInvalidAppID  = 40013
	codeBadSecretOld  = 40001 // "invalid credential": an older answer to a wrong secret
	codeMissingAppID  = 41002
	codeMissingSecret = 41004
	codeMissingCode   = 41008
)

// The refusals callers tell apart; errors of Exchange wrap one of them
// (and the platform's *transport.Error with its errcode and errmsg).
var (
	// ErrInvalidCode: the code is unknown, malformed or expired (codes
	// live five minutes), or belongs to another app.
	ErrInvalidCode = errors.New("wechat: the login code is invalid or has expired")
	// ErrCodeUsed: the code was exchanged before; codes are single use.
	ErrCodeUsed = errors.New("wechat: the login code has already been used")
	// ErrRateLimited: this user signs in too often; try again in a minute.
	ErrRateLimited = errors.New("wechat: too many sign-ins for this user; try again in a minute")
	// ErrRiskyUser: WeChat blocks the user as high-risk.
	ErrRiskyUser = errors.New("wechat: WeChat refuses this user (high-risk account)")
	// ErrBusy: WeChat was busy, still after retries.
	ErrBusy = errors.New("wechat: WeChat is busy; try again")
	// ErrCredentials: the app id or secret configured for the app is
	// wrong; an admin must fix the connector account.
	ErrCredentials = errors.New("wechat: the mini-program's app id or secret is wrong")
)

// Config describes one mini-program.
type Config struct {
	// BaseURL defaults to DefaultBaseURL.
	BaseURL string
	AppID   string
	Secret  string
	// Account is our id for the account (breaker, metrics), e.g. "12".
	Account string
	// Transport runs every call; required.
	Transport *transport.Client
	// HTTP sends the requests; transport.HTTPClient when nil.
	HTTP *http.Client
}

// Client calls one mini-program's server API. It is safe for concurrent
// use.
type Client struct {
	cfg  Config
	base string
}

// New returns a client for cfg. It panics without cfg.Transport.
func New(cfg Config) *Client {
	if cfg.Transport == nil {
		panic("wechat.New: Config.Transport is required")
	}
	if cfg.HTTP == nil {
		cfg.HTTP = transport.HTTPClient
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return &Client{cfg: cfg, base: base}
}

// Session is who a login code belongs to.
type Session struct {
	OpenID string
	// UnionID is set only when the mini-program is bound to an open
	// platform account; it is the same for the user across that
	// account's apps (and WeCom's external_contact.unionid).
	UnionID string
	// SessionKey is WeChat's key for the user's encrypted data. Never log
	// or store it.
	SessionKey string
}

// String leaves the session key out.
func (s Session) String() string { return fmt.Sprintf("{openid:%s unionid:%s}", s.OpenID, s.UnionID) }

// LogValue leaves the session key out.
func (s Session) LogValue() slog.Value {
	return slog.GroupValue(slog.String("openid", s.OpenID), slog.String("unionid", s.UnionID))
}

// maxAnswerBytes bounds what we read of an answer (they are ~200 bytes).
const maxAnswerBytes = 64 << 10

// Exchange trades a wx.login code for the user's session
// (jscode2session). Errors wrap ErrInvalidCode, ErrCodeUsed,
// ErrRateLimited, ErrRiskyUser, ErrBusy or ErrCredentials for the
// platform's refusals; anything else is a network or protocol failure.
func (c *Client) Exchange(ctx context.Context, code string) (Session, error) {
	if code == "" {
		return Session{}, ErrInvalidCode
	}
	var out struct {
		OpenID     string `json:"openid"`
		UnionID    string `json:"unionid"`
		SessionKey string `json:"session_key"`
	}
	q := url.Values{"appid": {c.cfg.AppID}, "secret": {c.cfg.Secret}, "js_code": {code}, "grant_type": {"authorization_code"}}
	err := c.cfg.Transport.Do(ctx, transport.Call{
		Account:  c.cfg.Account,
		Endpoint: apiCode2Session,
		Send:     func(ctx context.Context) error { return c.get(ctx, apiCode2Session.Name, q, &out) },
	})
	if err != nil {
		return Session{}, classify(err)
	}
	if out.OpenID == "" {
		return Session{}, fmt.Errorf("wechat %s: the answer has no openid", apiCode2Session.Name)
	}
	return Session{OpenID: out.OpenID, UnionID: out.UnionID, SessionKey: out.SessionKey}, nil
}

// get sends one GET and reads the answer: a refusal (errcode not 0) is a
// *transport.Error; HTTP failures and answers that are not WeChat's JSON
// are plain errors (the transport retries those).
func (c *Client) get(ctx context.Context, name string, q url.Values, out any) error {
	bare := c.base + "/" + name
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bare+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("wechat %s: %w", name, redact(err, bare))
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		// The URL carries the app secret: keep it out of errors and logs.
		return fmt.Errorf("wechat %s: %w", name, redact(err, bare))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("wechat %s: read the answer: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wechat %s: HTTP %s", name, resp.Status)
	}
	if len(raw) > maxAnswerBytes {
		return fmt.Errorf("wechat %s: answer larger than %d bytes", name, maxAnswerBytes)
	}
	// WeChat answers text/plain; the body is JSON whatever the header.
	var head struct {
		ErrCode int    `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return fmt.Errorf("wechat %s: the answer is not JSON: %w", name, err)
	}
	if head.ErrCode != 0 {
		return apiError(name, head.ErrCode, head.ErrMsg)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("wechat %s: read the answer: %w", name, err)
	}
	return nil
}

// apiError maps an errcode to the transport's refusal kinds. 45011 is a
// per-user limit, not the app's: it must not cool the whole app down, so
// it is a permanent refusal of this call rather than KindRateLimited.
func apiError(endpoint string, code int, msg string) *transport.Error {
	e := &transport.Error{Platform: Platform, Endpoint: endpoint, Code: strconv.Itoa(code), Message: msg, Kind: transport.KindPermanent}
	switch code {
	case codeBusy:
		e.Kind = transport.KindBusy
	case codeInvalidSecret, codeInvalidAppID, codeBadSecretOld, codeMissingAppID, codeMissingSecret:
		e.Kind = transport.KindAuth
	}
	return e
}

// classify wraps a platform refusal in the sentinel callers test for.
func classify(err error) error {
	var pe *transport.Error
	if !errors.As(err, &pe) || pe.Platform != Platform {
		return err
	}
	code, _ := strconv.Atoi(pe.Code)
	var sentinel error
	switch code {
	case codeInvalidCode, codeMissingCode:
		sentinel = ErrInvalidCode
	case codeCodeUsed:
		sentinel = ErrCodeUsed
	case codeRateLimited:
		sentinel = ErrRateLimited
	case codeRiskyUser:
		sentinel = ErrRiskyUser
	case codeBusy:
		sentinel = ErrBusy
	case codeInvalidSecret, codeInvalidAppID, codeBadSecretOld, codeMissingAppID, codeMissingSecret:
		sentinel = ErrCredentials
	default:
		return err
	}
	return fmt.Errorf("%w (%w)", sentinel, pe)
}

// redact replaces the URL (with its query) in an HTTP client error.
func redact(err error, bare string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: bare, Err: ue.Err}
	}
	return err
}
