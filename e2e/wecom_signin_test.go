package e2e_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/demoplatforms"
	"github.com/scrm-dev/scrm/internal/httpapi"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// TestWecomSignIn signs staff in through WeCom OAuth2 against the fake:
// the browser flow (start → WeCom → callback → the SPA with a token) and
// the in-app code exchange.
func TestWecomSignIn(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			e := fresh(t, backend)
			r := startPlatforms(t, e, demoplatforms.Sizes{Departments: 3, Staff: 10, Orders: 2})
			members, err := demoplatforms.MembersOf(viewer.ForTenant(context.Background(), r.tenant), e.st.Client)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range members {
				r.fakes.Wecom.AddUser(m)
			}
			const console = "https://console.example.com"
			e.platforms.SignIn = &httpapi.SignIn{Clients: r.clients, Issuer: e.iss, Redis: e.rdb.Client,
				PublicURL: r.api.URL, AllowedRedirects: []string{console}, Failed: audit.SignInFailures(e.st.Client, slog.Default())}
			t.Cleanup(func() { e.platforms.SignIn = nil })
			key := demoplatforms.CallbackKey("demo", connectoraccount.PlatformWecom)
			base := r.api.URL + "/auth/wecom/" + key
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			get := func(u string) *http.Response {
				t.Helper()
				resp, err := noFollow.Get(u)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp
			}

			// Start: off to WeCom's in-app authorisation with our callback.
			resp := get(base + "/start?redirect_uri=" + url.QueryEscape(console+"/after"))
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc.Host != "open.weixin.qq.com" {
				t.Fatalf("start: %d %s", resp.StatusCode, loc)
			}
			q := loc.Query()
			if q.Get("appid") != demoplatforms.CorpID("demo") || q.Get("redirect_uri") != base+"/callback" || q.Get("scope") != "snsapi_base" || q.Get("state") == "" {
				t.Fatalf("authorize URL %s", loc)
			}
			web := get(base + "/start?mode=web&redirect_uri=" + url.QueryEscape(console+"/after"))
			if l := web.Header.Get("Location"); !strings.HasPrefix(l, "https://login.work.weixin.qq.com/") {
				t.Fatalf("QR login goes to %s", l)
			}
			if bad := get(base + "/start?redirect_uri=" + url.QueryEscape("https://evil.example/x")); bad.StatusCode != http.StatusBadRequest {
				t.Fatalf("foreign redirect allowed: %d", bad.StatusCode)
			}

			// Callback: the code of agent1 comes back with the state.
			code := r.fakes.Wecom.IssueOAuthCode(seed.Agent1)
			cb := get(base + "/callback?code=" + code + "&state=" + q.Get("state"))
			back, _ := url.Parse(cb.Header.Get("Location"))
			if cb.StatusCode != http.StatusFound || !strings.HasPrefix(back.String(), console+"/after#") {
				t.Fatalf("callback: %d %s", cb.StatusCode, back)
			}
			frag, _ := url.ParseQuery(back.Fragment)
			var me struct{ Me struct{ Login string } }
			e.post(t, frag.Get("token"), `{ me { login } }`, nil).ok(t).decode(t, &me)
			if me.Me.Login != seed.Agent1 {
				t.Fatalf("signed in as %q", me.Me.Login)
			}
			if again := get(base + "/callback?code=" + r.fakes.Wecom.IssueOAuthCode(seed.Agent1) + "&state=" + q.Get("state")); again.StatusCode != http.StatusBadRequest {
				t.Fatalf("state used twice: %d", again.StatusCode)
			}

			// In-app exchange; a code works once; non-staff are refused.
			exchange := func(code string) (int, map[string]string) {
				resp, err := http.Post(base+"/token", "application/json", strings.NewReader(`{"code":"`+code+`"}`))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var out map[string]string
				_ = json.NewDecoder(resp.Body).Decode(&out)
				return resp.StatusCode, out
			}
			code = r.fakes.Wecom.IssueOAuthCode(seed.Sup1)
			if status, out := exchange(code); status != http.StatusOK || out["token"] == "" {
				t.Fatalf("exchange: %d %v", status, out)
			}
			if status, out := exchange(code); status != http.StatusUnauthorized || out["error"] != "invalid_code" {
				t.Fatalf("code reused: %d %v", status, out)
			}
			outsider := wecomfake.User{UserID: "not-synced-yet", Name: "新同事", Departments: []int64{1}}
			r.fakes.Wecom.AddUser(outsider)
			if status, out := exchange(r.fakes.Wecom.IssueOAuthCode(outsider.UserID)); status != http.StatusForbidden || out["error"] != "not_staff" {
				t.Fatalf("outsider: %d %v", status, out)
			}
		})
	}
}
