// Package demoplatforms runs the fake WeCom, Taobao, Douyin and WeChat
// mini-program sign-in servers (connectors/*/...fake) with generated data
// on one address, so that
// `make run` shows platform sync on a laptop with no internet: a demo
// corp with departments, staff and customers, and shops that keep
// producing orders and pushing them. It also names the credentials the
// demo seed gives tenant demo's connector accounts, which these fakes
// accept.
package demoplatforms

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/connectors/douyin/douyinfake"
	"github.com/scrm-dev/scrm/connectors/taobao/taobaofake"
	"github.com/scrm-dev/scrm/connectors/wechat/wechatfake"
	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
)

// Demo credentials (for the fakes only).
const (
	wecomAgentID      = 1000002
	wecomSecret       = "demo-wecom-app-secret"
	wecomToken        = "DemoCallbackToken"
	wecomAESKey       = "RGVtb0VuY29kaW5nQUVTS2V5Rm9yU0NSTURlbW8xMjM"
	taobaoAppKey      = "12345678"
	taobaoAppSecret   = "demo-taobao-app-secret"
	taobaoSession     = "demo-taobao-session"
	douyinAppKey      = "7000000000000000001"
	douyinAppSecret   = "demo-douyin-app-secret"
	miniProgramSecret = "demo-mini-program-secret"
	demoWelcome       = "欢迎光临！回复“会员”领取新人礼包。"
	taobaoShopID      = "tb-demo"
	douyinShopID      = "4463798"
	demoCorpIDPattern = "ww%scorp"
)

// MiniProgramAppID is the AppID of a tenant's demo mini-program: "wx" and
// 16 hex digits, different per tenant (an AppID names one tenant).
func MiniProgramAppID(slug string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(slug))
	return fmt.Sprintf("wx%016x", h.Sum64())
}

// MiniProgramSecret is the AppSecret of every demo mini-program.
const MiniProgramSecret = miniProgramSecret

// CorpID is the demo WeCom corp id of a tenant.
func CorpID(slug string) string { return fmt.Sprintf(demoCorpIDPattern, slug) }

// CallbackKey is the callback key the seed gives a tenant's demo account
// of a platform, so the fakes know where to send callbacks and pushes.
func CallbackKey(slug string, p connectoraccount.Platform) string {
	return slug + "-" + strings.ToLower(string(p))
}

func ptr[T any](v T) *T { return &v }

// Accounts are a tenant's demo connector accounts.
func Accounts(slug string) []connectoraccounts.CreateInput {
	return []connectoraccounts.CreateInput{
		{Platform: connectoraccount.PlatformWecom, Name: "企业微信 · " + slug, CorpID: ptr(CorpID(slug)),
			AgentID: ptr(wecomAgentID), Secret: ptr(wecomSecret), CallbackToken: ptr(wecomToken),
			EncodingAESKey: ptr(wecomAESKey), WelcomeMessage: ptr(demoWelcome)},
		{Platform: connectoraccount.PlatformTaobao, Name: "天猫旗舰店", ShopID: ptr(taobaoShopID),
			AppKey: ptr(taobaoAppKey), AppSecret: ptr(taobaoAppSecret), SessionKey: ptr(taobaoSession)},
		{Platform: connectoraccount.PlatformDouyin, Name: "抖音小店", ShopID: ptr(douyinShopID),
			AppKey: ptr(douyinAppKey), AppSecret: ptr(douyinAppSecret)},
		{Platform: connectoraccount.PlatformWechatMiniprogram, Name: "会员小程序", AppKey: ptr(MiniProgramAppID(slug)),
			Secret: ptr(miniProgramSecret)},
	}
}

// Servers are the fakes behind one handler: WeCom under /cgi-bin/,
// Taobao at /router/rest, WeChat at /sns/jscode2session, Douyin for
// everything else.
type Servers struct {
	Wecom  *wecomfake.Server
	Taobao *taobaofake.Server
	Douyin *douyinfake.Server
	// Wechat signs in users of the tenant's demo mini-program (mint codes
	// with Wechat.MintCode(MiniProgramAppID(slug), openid)).
	Wechat    *wechatfake.Server
	miniAppID string
}

// Sizes of the generated demo data.
type Sizes struct {
	Departments, Staff, ContactsPerStaff, Orders int
}

// DefaultSizes are small enough to sync in seconds on a laptop.
var DefaultSizes = Sizes{Departments: 24, Staff: 240, ContactsPerStaff: 4, Orders: 400}

// New builds the fakes for tenant slug with generated data.
func New(slug string, sz Sizes) *Servers {
	s := &Servers{
		Wecom: wecomfake.New(wecomfake.Options{CorpID: CorpID(slug), AgentID: wecomAgentID, Secret: wecomSecret,
			CallbackToken: wecomToken, EncodingAESKey: wecomAESKey, CallbackRetryPause: time.Second}),
		Taobao: taobaofake.New(taobaofake.Options{AppKey: taobaoAppKey, AppSecret: taobaoAppSecret}),
		Douyin: douyinfake.New(douyinfake.Options{AppKey: douyinAppKey, AppSecret: douyinAppSecret, ShopID: 4463798, ShopName: "抖音小店"}),
		Wechat: wechatfake.New(wechatfake.Options{Apps: []wechatfake.App{
			{AppID: MiniProgramAppID(slug), Secret: miniProgramSecret, OpenPlatform: true}}}),
		miniAppID: MiniProgramAppID(slug),
	}
	wecomfake.Generate(s.Wecom, 1, wecomfake.Sizes{Departments: sz.Departments, Users: sz.Staff, ContactsPerUser: sz.ContactsPerStaff})
	s.Taobao.AddSession(taobaoSession)
	now := time.Now()
	s.Taobao.Generate(2, sz.Orders/2, now.Add(-72*time.Hour), now)
	s.Douyin.Generate(3, sz.Orders/2, now.Add(-72*time.Hour), now)
	return s
}

// ServeHTTP routes to the fake the path belongs to.
func (s *Servers) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/cgi-bin/"):
		s.Wecom.ServeHTTP(w, r)
	case r.URL.Path == taobaofake.Path:
		s.Taobao.ServeHTTP(w, r)
	case r.URL.Path == wechatfake.Path:
		s.Wechat.ServeHTTP(w, r)
	case r.URL.Path == WxLoginPath:
		s.wxLogin(w, r)
	default:
		s.Douyin.ServeHTTP(w, r)
	}
}

// WxLoginPath stands in for wx.login in the demo: GET
// /demo/wx.login?openid=o-someone answers {"appId", "code"}, a fresh code
// of the tenant's demo mini-program to pass to loginWithMiniProgram.
const WxLoginPath = "/demo/wx.login"

func (s *Servers) wxLogin(w http.ResponseWriter, r *http.Request) {
	openID := r.URL.Query().Get("openid")
	if openID == "" {
		openID = "o-demo-visitor"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"appId": s.miniAppID, "code": s.Wechat.MintCode(s.miniAppID, openID)})
}

// Live keeps the shops busy until ctx ends: every interval an order
// changes on each shop, and the Douyin change is pushed to pushURL
// (when set) as Douyin would.
func (s *Servers) Live(ctx context.Context, interval time.Duration, pushURL string, logger *slog.Logger) {
	r := rand.New(rand.NewPCG(7, 11))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if ids := s.Taobao.OrderIDs(); len(ids) > 0 {
			s.Taobao.Touch(ids[r.IntN(len(ids))], taobaofake.StatusWaitBuyerConfirm, now)
		}
		ids := s.Douyin.OrderIDs()
		if len(ids) == 0 {
			continue
		}
		id := ids[r.IntN(len(ids))]
		s.Douyin.Touch(id, douyinfake.StatusShipped, now)
		if pushURL != "" {
			if _, err := s.Douyin.SendPush(ctx, pushURL, []douyinfake.PushMessage{s.Douyin.PushFor(id, douyinfake.TagTradeSellerShip)}); err != nil {
				logger.Debug("demo push not delivered", "error", err)
			}
		}
	}
}

// MembersOf lists the tenant's staff with WeCom ids as members of the
// fake corp, in their departments, so that an org sync against the fake
// keeps them (ctx carries the tenant's viewer).
func MembersOf(ctx context.Context, client *ent.Client) ([]wecomfake.User, error) {
	staff, err := client.Staff.Query().Where(staff.WecomUserIDNotNil(), staff.StatusEQ(staff.StatusActive)).
		WithDepartments().All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]wecomfake.User, 0, len(staff))
	for _, s := range staff {
		u := wecomfake.User{UserID: *s.WecomUserID, Name: s.Name, Status: wecomfake.UserActive}
		for _, d := range s.Edges.Departments {
			if d.WecomDeptID != nil {
				u.Departments = append(u.Departments, *d.WecomDeptID)
			}
		}
		out = append(out, u)
	}
	return out, nil
}
