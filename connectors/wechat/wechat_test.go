package wechat_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wechat"
	"github.com/scrm-dev/scrm/connectors/wechat/wechatfake"
)

const (
	appID     = "wx0123456789abcdef"
	appSecret = "mini-program-secret-0123456789"
	boundApp  = "wxfedcba9876543210"
	boundKey  = "bound-app-secret-0123456789"
)

// fakeClock is the fake's clock, moved by the tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	fake  *wechatfake.Server
	clock *fakeClock
	url   string
	tr    *transport.Client
	waits int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{clock: &fakeClock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}}
	e.fake = wechatfake.New(wechatfake.Options{Now: e.clock.Now, Apps: []wechatfake.App{
		{AppID: appID, Secret: appSecret},
		{AppID: boundApp, Secret: boundKey, OpenPlatform: true},
	}})
	srv := httptest.NewServer(e.fake)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	var mu sync.Mutex
	e.tr = transport.New(transport.Options{Sleep: func(context.Context, time.Duration) error {
		mu.Lock()
		e.waits++
		mu.Unlock()
		return nil
	}})
	return e
}

func (e *env) client(app, secret string) *wechat.Client {
	return wechat.New(wechat.Config{BaseURL: e.url, AppID: app, Secret: secret, Account: app, Transport: e.tr})
}

func TestExchange(t *testing.T) {
	ctx := context.Background()

	t.Run("a code of an app without an open platform gives the openid alone", func(t *testing.T) {
		e := newEnv(t)
		e.fake.AddUser(appID, "o-alice", "u-alice") // ignored: the app is not bound
		s, err := e.client(appID, appSecret).Exchange(ctx, e.fake.MintCode(appID, "o-alice"))
		if err != nil {
			t.Fatal(err)
		}
		if s.OpenID != "o-alice" || s.UnionID != "" || s.SessionKey == "" {
			t.Fatalf("session %+v", s)
		}
	})

	t.Run("a code of a bound app gives the unionid too", func(t *testing.T) {
		e := newEnv(t)
		e.fake.AddUser(boundApp, "o-bob", "u-bob")
		s, err := e.client(boundApp, boundKey).Exchange(ctx, e.fake.MintCode(boundApp, "o-bob"))
		if err != nil {
			t.Fatal(err)
		}
		if s.OpenID != "o-bob" || s.UnionID != "u-bob" {
			t.Fatalf("session %+v", s)
		}
	})

	t.Run("the session key never shows in fmt or slog", func(t *testing.T) {
		e := newEnv(t)
		s, err := e.client(appID, appSecret).Exchange(ctx, e.fake.MintCode(appID, "o-carol"))
		if err != nil {
			t.Fatal(err)
		}
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Info("signed in", "session", s)
		for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v", s, s), logged.String()} {
			if strings.Contains(out, s.SessionKey) {
				t.Fatalf("session key shown: %s", out)
			}
		}
	})

	t.Run("a code is single use", func(t *testing.T) {
		e := newEnv(t)
		c := e.client(appID, appSecret)
		code := e.fake.MintCode(appID, "o-dan")
		if _, err := c.Exchange(ctx, code); err != nil {
			t.Fatal(err)
		}
		_, err := c.Exchange(ctx, code)
		wantErr(t, err, wechat.ErrCodeUsed, "40163")
	})

	t.Run("a code expires after five minutes", func(t *testing.T) {
		e := newEnv(t)
		c := e.client(appID, appSecret)
		fresh := e.fake.MintCode(appID, "o-erin")
		e.clock.Add(4*time.Minute + 59*time.Second)
		if _, err := c.Exchange(ctx, fresh); err != nil {
			t.Fatalf("a code 4m59s old: %v", err)
		}
		old := e.fake.MintCode(appID, "o-erin")
		e.clock.Add(5 * time.Minute)
		_, err := c.Exchange(ctx, old)
		wantErr(t, err, wechat.ErrInvalidCode, "40029")
	})

	t.Run("unknown, empty and other apps' codes are invalid", func(t *testing.T) {
		e := newEnv(t)
		c := e.client(appID, appSecret)
		_, err := c.Exchange(ctx, "not-a-code")
		wantErr(t, err, wechat.ErrInvalidCode, "40029")
		_, err = c.Exchange(ctx, e.fake.MintCode(boundApp, "o-frank"))
		wantErr(t, err, wechat.ErrInvalidCode, "40029")
		if _, err := c.Exchange(ctx, ""); !errors.Is(err, wechat.ErrInvalidCode) {
			t.Fatalf("empty code: %v", err)
		}
	})

	t.Run("a wrong secret or app id is a credentials error and spends no code", func(t *testing.T) {
		e := newEnv(t)
		code := e.fake.MintCode(appID, "o-gina")
		_, err := e.client(appID, "wrong-secret").Exchange(ctx, code)
		wantErr(t, err, wechat.ErrCredentials, "40125")
		if !transport.IsKind(err, transport.KindAuth) {
			t.Fatalf("want kind auth: %v", err)
		}
		_, err = e.client("wx0000000000000000", appSecret).Exchange(ctx, code)
		wantErr(t, err, wechat.ErrCredentials, "40013")
		if strings.Contains(err.Error(), "wrong-secret") || strings.Contains(err.Error(), appSecret) {
			t.Fatalf("the secret leaks into the error: %v", err)
		}
		if _, err := e.client(appID, appSecret).Exchange(ctx, code); err != nil {
			t.Fatalf("the code after refused attempts: %v", err)
		}
	})

	t.Run("WeChat's refusals are typed", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			errcode int
			want    error
		}{
			{"frequency limit", wechatfake.CodeRateLimited, wechat.ErrRateLimited},
			{"high-risk user", wechatfake.CodeRiskyUser, wechat.ErrRiskyUser},
			{"invalid code", wechatfake.CodeInvalidCode, wechat.ErrInvalidCode},
			{"code used", wechatfake.CodeCodeUsed, wechat.ErrCodeUsed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t)
				code := e.fake.MintCode(appID, "o-hank")
				e.fake.FailNext(tc.errcode)
				_, err := e.client(appID, appSecret).Exchange(ctx, code)
				wantErr(t, err, tc.want, fmt.Sprint(tc.errcode))
				if e.fake.Calls() != 1 || e.waits != 0 {
					t.Fatalf("%d calls and %d waits: a refusal is not retried", e.fake.Calls(), e.waits)
				}
			})
		}
	})

	t.Run("a blocked user is refused as high-risk", func(t *testing.T) {
		e := newEnv(t)
		e.fake.BlockUser(appID, "o-ivy")
		_, err := e.client(appID, appSecret).Exchange(ctx, e.fake.MintCode(appID, "o-ivy"))
		wantErr(t, err, wechat.ErrRiskyUser, "40226")
	})

	t.Run("system busy is retried, and reported when it persists", func(t *testing.T) {
		e := newEnv(t)
		code := e.fake.MintCode(appID, "o-jack")
		e.fake.FailNext(wechatfake.CodeBusy, wechatfake.CodeBusy)
		s, err := e.client(appID, appSecret).Exchange(ctx, code)
		if err != nil || s.OpenID != "o-jack" {
			t.Fatalf("after two busy answers: %+v %v", s, err)
		}
		e.fake.FailNext(wechatfake.CodeBusy, wechatfake.CodeBusy, wechatfake.CodeBusy, wechatfake.CodeBusy)
		_, err = e.client(appID, appSecret).Exchange(ctx, e.fake.MintCode(appID, "o-jack"))
		wantErr(t, err, wechat.ErrBusy, "-1")
	})
}

func wantErr(t *testing.T, err, sentinel error, errcode string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("want %v, got %v", sentinel, err)
	}
	var pe *transport.Error
	if !errors.As(err, &pe) || pe.Code != errcode {
		t.Fatalf("want errcode %s in %v", errcode, err)
	}
}
