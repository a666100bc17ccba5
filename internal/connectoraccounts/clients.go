package connectoraccounts

import (
	"fmt"
	"strconv"

	"github.com/scrm-dev/scrm/connectors/douyin"
	"github.com/scrm-dev/scrm/connectors/taobao"
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wechat"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
)

// Clients builds an account's platform client with the shared transport
// (limits, breakers, metrics) and token cache.
type Clients struct {
	Transport *transport.Client
	Tokens    *tokens.Cache
	// Base URLs; the platforms' own when empty.
	WecomBaseURL, TaobaoBaseURL, DouyinBaseURL, WechatBaseURL string
}

func accountKey(a *ent.ConnectorAccount) string { return strconv.Itoa(a.ID) }

// Wecom returns the WeCom client of a WeCom account.
func (c *Clients) Wecom(a *ent.ConnectorAccount) (*wecom.Client, error) {
	if a.Platform != connectoraccount.PlatformWecom {
		return nil, fmt.Errorf("account %d is not a WeCom account", a.ID)
	}
	s, err := SecretsOf(a)
	if err != nil {
		return nil, err
	}
	var agent int64
	if a.AgentID != nil {
		agent = *a.AgentID
	}
	return wecom.New(wecom.Config{BaseURL: c.WecomBaseURL, CorpID: a.ExternalID, AgentID: agent,
		Secret: s.Secret, ContactSecret: s.ContactSecret, Account: accountKey(a),
		Transport: c.Transport, Tokens: c.Tokens}), nil
}

// Taobao returns the TOP client of a Taobao or Tmall shop.
func (c *Clients) Taobao(a *ent.ConnectorAccount) (*taobao.Client, error) {
	if a.Platform != connectoraccount.PlatformTaobao && a.Platform != connectoraccount.PlatformTmall {
		return nil, fmt.Errorf("account %d is not a Taobao or Tmall shop", a.ID)
	}
	s, err := SecretsOf(a)
	if err != nil {
		return nil, err
	}
	return taobao.New(taobao.Config{BaseURL: c.TaobaoBaseURL, AppKey: a.AppKey, AppSecret: s.AppSecret,
		Session: s.SessionKey, ShopID: a.ExternalID, Platform: string(a.Platform), Transport: c.Transport}), nil
}

// Douyin returns the open API client of a Douyin shop.
func (c *Clients) Douyin(a *ent.ConnectorAccount) (*douyin.Client, error) {
	if a.Platform != connectoraccount.PlatformDouyin {
		return nil, fmt.Errorf("account %d is not a Douyin shop", a.ID)
	}
	s, err := SecretsOf(a)
	if err != nil {
		return nil, err
	}
	return douyin.New(douyin.Config{BaseURL: c.DouyinBaseURL, AppKey: a.AppKey, AppSecret: s.AppSecret,
		ShopID: a.ExternalID, Account: accountKey(a), Transport: c.Transport, Tokens: c.Tokens}), nil
}

// Wechat returns the sign-in client of a WeChat mini-program.
func (c *Clients) Wechat(a *ent.ConnectorAccount) (*wechat.Client, error) {
	if a.Platform != connectoraccount.PlatformWechatMiniprogram {
		return nil, fmt.Errorf("account %d is not a WeChat mini-program", a.ID)
	}
	s, err := SecretsOf(a)
	if err != nil {
		return nil, err
	}
	return wechat.New(wechat.Config{BaseURL: c.WechatBaseURL, AppID: a.ExternalID, Secret: s.Secret,
		Account: accountKey(a), Transport: c.Transport}), nil
}
