package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/internal/config"
	"github.com/scrm-dev/scrm/internal/demoplatforms"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// fakePlatforms serves the demo WeCom corp, shops and mini-program sign-in
// (internal/demoplatforms)
// on addr for tenant slug: its corp has the tenant's seeded staff plus
// generated ones, and its shops keep changing orders, pushed to the
// server's Douyin push URL.
func fakePlatforms(ctx context.Context, cfg *config.Config, addr, slug string, every time.Duration) error {
	logger := cfg.Logger()
	st, err := readyStore(ctx, cfg)
	if err != nil {
		return err
	}
	tid, err := st.Client.Tenant.Query().Where(tenant.Slug(slug)).OnlyID(viewer.System(ctx))
	if err != nil {
		st.Close()
		return fmt.Errorf("tenant %q (run `scrm seed --demo` first): %w", slug, err)
	}
	fakes := demoplatforms.New(slug, demoplatforms.DefaultSizes)
	members, err := demoplatforms.MembersOf(viewer.ForTenant(ctx, tid), st.Client)
	st.Close()
	if err != nil {
		return err
	}
	for _, m := range members {
		fakes.Wecom.AddUser(m)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: fakes, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	push := cfg.PublicURL + "/connectors/douyin/" + demoplatforms.CallbackKey(slug, connectoraccount.PlatformDouyin) + "/push"
	go fakes.Live(ctx, every, push, logger)
	base := "http://" + ln.Addr().String()
	logger.Info("fake platforms serving", "tenant", slug, "addr", ln.Addr().String(),
		"SCRM_WECOM_BASE_URL", base, "SCRM_TAOBAO_BASE_URL", base+"/router/rest", "SCRM_DOUYIN_BASE_URL", base,
		"SCRM_WECHAT_BASE_URL", base, "mini_program_code", base+demoplatforms.WxLoginPath+"?openid=o-demo-visitor")
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
