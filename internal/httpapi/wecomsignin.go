package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// SignIn configures staff sign-in through WeCom OAuth2 (in the WeCom app
// and by QR code in a browser). The WeCom code is exchanged for the
// member's userid (through the connector, so the token is shared and the
// call limited), which is mapped to an active staff member of the
// account's tenant and answered with the product's own token.
type SignIn struct {
	Clients  *connectoraccounts.Clients
	Issuer   *auth.Issuer
	TokenTTL time.Duration
	// Redis keeps each sign-in's state (its redirect) for ten minutes, so
	// any replica can finish what another started.
	Redis redis.UniversalClient
	// PublicURL is where WeCom sends the browser back.
	PublicURL string
	// AllowedRedirects are the origins a sign-in may return to (the
	// SPA's); the public URL's origin always may.
	AllowedRedirects []string
	// Failed records refused sign-ins (the audit trail).
	Failed SignInFailed
}

// WeCom's sign-in pages (browser redirects, not API calls).
const (
	wecomInAppAuthorize = "https://open.weixin.qq.com/connect/oauth2/authorize"
	wecomQRLogin        = "https://login.work.weixin.qq.com/wwlogin/sso/login"
	signInStateTTL      = 10 * time.Minute
)

func (p *Platforms) mountSignIn(mux *http.ServeMux) {
	mux.HandleFunc("GET /auth/wecom/{account}/start", p.signInStart)
	mux.HandleFunc("GET /auth/wecom/{account}/callback", p.signInCallback)
	mux.HandleFunc("POST /auth/wecom/{account}/token", p.signInToken)
}

// signInError answers a sign-in failure as JSON.
func signInError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": message})
}

// redirectAllowed reports whether a sign-in may send the browser to u.
func (s *SignIn) redirectAllowed(u string) bool {
	target, err := url.Parse(u)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return false
	}
	origin := target.Scheme + "://" + target.Host
	if pub, err := url.Parse(s.PublicURL); err == nil && strings.EqualFold(origin, pub.Scheme+"://"+pub.Host) {
		return true
	}
	for _, a := range s.AllowedRedirects {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// signInStart sends the browser to WeCom: ?redirect_uri= is where the
// token goes afterwards (in the fragment), ?mode=web shows WeCom's QR
// login, otherwise the in-app authorisation page.
func (p *Platforms) signInStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := p.SignIn
	a, _, ok := p.accountOf(ctx, r, connectoraccount.PlatformWecom)
	if s == nil || !ok {
		signInError(w, http.StatusNotFound, "not_found", "no such WeCom account")
		return
	}
	back := r.URL.Query().Get("redirect_uri")
	if !s.redirectAllowed(back) {
		signInError(w, http.StatusBadRequest, "bad_redirect_uri", "redirect_uri must be an allowed origin of this product")
		return
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	state := base64.RawURLEncoding.EncodeToString(b)
	if err := s.Redis.Set(ctx, "scrm:signin:"+state, back, signInStateTTL).Err(); err != nil {
		p.Logger.ErrorContext(ctx, "store sign-in state", "error", err)
		signInError(w, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	callback := strings.TrimRight(s.PublicURL, "/") + "/auth/wecom/" + a.CallbackKey + "/callback"
	agent := ""
	if a.AgentID != nil {
		agent = strconv.FormatInt(*a.AgentID, 10)
	}
	q := url.Values{"appid": {a.ExternalID}, "redirect_uri": {callback}, "state": {state}, "agentid": {agent}}
	target := wecomQRLogin + "?" + q.Encode() + "&login_type=CorpApp"
	if r.URL.Query().Get("mode") != "web" {
		q.Set("response_type", "code")
		q.Set("scope", "snsapi_base")
		target = wecomInAppAuthorize + "?" + q.Encode() + "#wechat_redirect"
	}
	http.Redirect(w, r, target, http.StatusFound)
}

// signInCallback finishes a browser sign-in: the state names where to go,
// the code who signed in.
func (p *Platforms) signInCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := p.SignIn
	a, _, ok := p.accountOf(ctx, r, connectoraccount.PlatformWecom)
	if s == nil || !ok {
		signInError(w, http.StatusNotFound, "not_found", "no such WeCom account")
		return
	}
	state := r.URL.Query().Get("state")
	back, err := s.Redis.GetDel(ctx, "scrm:signin:"+state).Result()
	if state == "" || errors.Is(err, redis.Nil) {
		signInError(w, http.StatusBadRequest, "bad_state", "the sign-in expired or was already used; start again")
		return
	}
	if err != nil {
		signInError(w, http.StatusServiceUnavailable, "unavailable", "try again")
		return
	}
	token, expires, status, code := p.exchange(ctx, r, a, r.URL.Query().Get("code"))
	if token == "" {
		signInError(w, status, code, signInMessages[code])
		return
	}
	frag := url.Values{"token": {token}, "expires_at": {expires.UTC().Format(time.RFC3339)}}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, back+"#"+frag.Encode(), http.StatusFound)
}

// signInToken exchanges a code the caller got itself (a page inside the
// WeCom app) for a token: POST {"code": "..."}.
func (p *Platforms) signInToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, _, ok := p.accountOf(ctx, r, connectoraccount.PlatformWecom)
	if p.SignIn == nil || !ok {
		signInError(w, http.StatusNotFound, "not_found", "no such WeCom account")
		return
	}
	var body struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&body); err != nil || body.Code == "" {
		signInError(w, http.StatusBadRequest, "bad_request", `send {"code": "<the WeCom code>"}`)
		return
	}
	token, expires, status, code := p.exchange(ctx, r, a, body.Code)
	if token == "" {
		signInError(w, status, code, signInMessages[code])
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": token, "expiresAt": expires.UTC().Format(time.RFC3339)})
}

var signInMessages = map[string]string{
	"invalid_code": "the WeCom code is invalid, expired or used",
	"not_staff":    "this WeCom member is not an active staff member here",
	"unavailable":  "WeCom could not be asked; try again",
}

// exchange turns a WeCom code into our token; on failure it returns the
// HTTP status and error code to answer.
func (p *Platforms) exchange(ctx context.Context, r *http.Request, a *ent.ConnectorAccount, code string) (string, time.Time, int, string) {
	s := p.SignIn
	fail := func(status int, errCode, reason string) (string, time.Time, int, string) {
		if s.Failed != nil {
			s.Failed(ctx, a.TenantID, clientIP(r), reason)
		}
		return "", time.Time{}, status, errCode
	}
	if code == "" {
		return fail(http.StatusBadRequest, "invalid_code", "wecom sign-in without a code")
	}
	wc, err := s.Clients.Wecom(a)
	if err != nil {
		p.Logger.ErrorContext(ctx, "wecom sign-in client", "account", a.ID, "error", err)
		return "", time.Time{}, http.StatusServiceUnavailable, "unavailable"
	}
	userID, err := wc.UserIDByCode(ctx, code)
	switch {
	case transport.IsKind(err, transport.KindNotFound), transport.IsKind(err, transport.KindPermanent):
		return fail(http.StatusUnauthorized, "invalid_code", "wecom code refused: "+err.Error())
	case err != nil:
		p.Logger.ErrorContext(ctx, "wecom sign-in exchange", "account", a.ID, "error", err)
		return "", time.Time{}, http.StatusServiceUnavailable, "unavailable"
	}
	tctx := viewer.ForTenant(ctx, a.TenantID)
	st, err := p.Client.Staff.Query().Where(staff.WecomUserID(userID), staff.StatusEQ(staff.StatusActive)).Only(tctx)
	if err != nil {
		if !ent.IsNotFound(err) {
			p.Logger.ErrorContext(ctx, "wecom sign-in staff lookup", "error", err)
			return "", time.Time{}, http.StatusServiceUnavailable, "unavailable"
		}
		return fail(http.StatusForbidden, "not_staff", "wecom member "+userID+" is not active staff")
	}
	slug, err := p.Client.Tenant.Query().Where(tenant.ID(a.TenantID)).Select(tenant.FieldSlug).String(viewer.System(ctx))
	if err != nil {
		return "", time.Time{}, http.StatusServiceUnavailable, "unavailable"
	}
	ttl := s.TokenTTL
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	token, err := s.Issuer.Issue(auth.Staff{TenantID: a.TenantID, TenantSlug: slug, StaffID: st.ID, Roles: st.Roles}, ttl)
	if err != nil {
		return "", time.Time{}, http.StatusServiceUnavailable, "unavailable"
	}
	return token, time.Now().Add(ttl), 0, ""
}
