package customerauth_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	_ "github.com/scrm-dev/scrm/authz" // registers the default policies new tenants get
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wechat/wechatfake"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/customerauth"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

const (
	appID  = "wx0123456789abcdef"
	secret = "mini-secret-0123456789"
)

func TestLogin(t *testing.T) {
	ctx := context.Background()
	sys := viewer.System(ctx)
	st := testenv.OpenStore(t, testenv.SQLite)
	fake := wechatfake.New(wechatfake.Options{Apps: []wechatfake.App{{AppID: appID, Secret: secret}}})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	iss, err := auth.NewIssuer(strings.Repeat("k", 32), "scrm")
	if err != nil {
		t.Fatal(err)
	}
	svc := customerauth.New(customerauth.Options{Client: st.Client, Issuer: iss, TTL: time.Hour,
		Platforms: &connectoraccounts.Clients{Transport: transport.New(transport.Options{}), WechatBaseURL: srv.URL}})
	tenant := func(slug string) int {
		return st.Client.Tenant.Create().SetName(slug).SetSlug(slug).SaveX(sys).ID
	}
	add := func(tenantID int, status connectoraccount.Status) int {
		return st.Client.ConnectorAccount.Create().SetTenantID(tenantID).SetPlatform(connectoraccount.PlatformWechatMiniprogram).
			SetName("小程序").SetExternalID(appID).SetAppKey(appID).SetCredentials(`{"secret":"` + secret + `"}`).
			SetCallbackKey("k" + strings.Repeat("0", 8) + time.Now().Format("150405.000000")).SetStatus(status).SaveX(sys).ID
	}
	one := tenant("one")
	acc := add(one, connectoraccount.StatusActive)

	t.Run("a first visit creates the customer in the app's tenant with a customer token", func(t *testing.T) {
		l, err := svc.Login(ctx, appID, fake.MintCode(appID, "o-1"))
		if err != nil {
			t.Fatal(err)
		}
		v, exp, err := iss.Verify(l.Token)
		if err != nil || !l.Created || l.TenantID != one || v.TenantID != one || v.CustomerID != l.CustomerID || v.StaffID != 0 ||
			time.Until(exp) > time.Hour {
			t.Fatalf("login %+v, viewer %+v, %v", l, v, err)
		}
	})

	t.Run("a paused mini-program refuses sign-ins", func(t *testing.T) {
		st.Client.ConnectorAccount.UpdateOneID(acc).SetStatus(connectoraccount.StatusPaused).ExecX(sys)
		defer st.Client.ConnectorAccount.UpdateOneID(acc).SetStatus(connectoraccount.StatusActive).ExecX(sys)
		_, err := svc.Login(ctx, appID, fake.MintCode(appID, "o-1"))
		if e, ok := apperr.As(err); !ok || e.Code != apperr.CodeForbidden {
			t.Fatalf("want FORBIDDEN, got %v", err)
		}
	})

	t.Run("an appId two tenants registered is refused, not guessed", func(t *testing.T) {
		add(tenant("two"), connectoraccount.StatusActive)
		_, err := svc.Login(ctx, appID, fake.MintCode(appID, "o-1"))
		if e, ok := apperr.As(err); !ok || e.Code != apperr.CodeConflict || e.Field != "appId" {
			t.Fatalf("want CONFLICT on appId, got %v", err)
		}
	})
}
