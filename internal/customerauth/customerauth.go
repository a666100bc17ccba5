// Package customerauth signs mini-program customers in: it exchanges a
// wx.login code for the user's WeChat identity (through connectors/wechat),
// finds or creates the customer that identity belongs to in the tenant
// whose mini-program it is, and issues a customer token (internal/auth).
// It decides who the customer is; what a customer may then do is authz's
// and the data layer's business.
package customerauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/connectors/wechat"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/auth"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// DefaultTTL is the lifetime of customer tokens when Options.TTL is zero.
const DefaultTTL = 24 * time.Hour

// Options configure the Service.
type Options struct {
	Client *ent.Client
	// Platforms builds the mini-programs' WeChat clients.
	Platforms *connectoraccounts.Clients
	// Issuer signs the customer tokens.
	Issuer *auth.Issuer
	// TTL is the customer tokens' lifetime; DefaultTTL when zero.
	TTL    time.Duration
	Logger *slog.Logger
	// Now stamps failures on the connector account; time.Now when nil.
	Now func() time.Time
}

// Service signs customers in.
type Service struct{ opts Options }

// New returns a Service.
func New(opts Options) *Service {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{opts: opts}
}

// Login is a signed-in customer.
type Login struct {
	Token      string
	ExpiresAt  time.Time
	TenantID   int
	CustomerID int
	// Created: this sign-in made the customer.
	Created bool
}

// Login signs in the WeChat user whose wx.login code of mini-program
// appID is code. The mini-program names the tenant (its connector
// account); the user's openid, else their unionid, names the customer,
// who is created on a first visit.
//
// Errors are apperr errors for what the caller can act on: appId or code
// (BAD_USER_INPUT), too many sign-ins (RATE_LIMITED), a user WeChat
// blocks or a paused mini-program (FORBIDDEN), WeChat busy or the app
// misconfigured (UNAVAILABLE).
func (s *Service) Login(ctx context.Context, appID, code string) (*Login, error) {
	appID = strings.TrimSpace(appID)
	if appID == "" {
		return nil, apperr.Invalid("appId", "appId is required: the mini-program's AppID")
	}
	if strings.TrimSpace(code) == "" {
		return nil, apperr.Invalid("code", "code is required: the code wx.login gave the mini-program")
	}
	acc, err := s.account(ctx, appID)
	if err != nil {
		return nil, err
	}
	wx, err := s.opts.Platforms.Wechat(acc)
	if err != nil {
		return nil, err
	}
	sess, err := wx.Exchange(ctx, code)
	if err != nil {
		return nil, s.refusal(ctx, acc, err)
	}
	tctx := viewer.ForTenant(ctx, acc.TenantID)
	var id int
	var created bool
	for attempt := 0; ; attempt++ {
		err = s.inTx(tctx, func(ctx context.Context, c *ent.Client) error {
			id, created, err = resolve(ctx, c, appID, sess)
			return err
		})
		// Two first sign-ins of one user at once: the loser's identity
		// clashes with the winner's; in a transaction of our own, one
		// more try finds it.
		if ent.IsConstraintError(err) && attempt == 0 && ent.TxFromContext(ctx) == nil {
			continue
		}
		break
	}
	if ent.IsConstraintError(err) {
		return nil, apperr.Conflict("code", "this user is signing in elsewhere at the same moment; try again")
	}
	if err != nil {
		return nil, fmt.Errorf("customerauth: resolve the customer of app %s: %w", appID, err)
	}
	tok, exp, err := s.opts.Issuer.IssueCustomer(acc.TenantID, id, s.opts.TTL)
	if err != nil {
		return nil, err
	}
	return &Login{Token: tok, ExpiresAt: exp, TenantID: acc.TenantID, CustomerID: id, Created: created}, nil
}

// account finds the mini-program's connector account across tenants. An
// AppID registered by two tenants is refused rather than guessed: a
// customer must never land in the wrong tenant.
func (s *Service) account(ctx context.Context, appID string) (*ent.ConnectorAccount, error) {
	accs, err := s.opts.Client.ConnectorAccount.Query().
		Where(connectoraccount.PlatformEQ(connectoraccount.PlatformWechatMiniprogram), connectoraccount.ExternalID(appID)).
		All(viewer.System(ctx))
	if err != nil {
		return nil, fmt.Errorf("customerauth: find the mini-program %s: %w", appID, err)
	}
	switch {
	case len(accs) == 0:
		return nil, apperr.Invalid("appId", "no mini-program with this appId is registered")
	case len(accs) > 1:
		tenants := make([]int, len(accs))
		for i, a := range accs {
			tenants[i] = a.TenantID
		}
		s.opts.Logger.ErrorContext(ctx, "mini-program sign-in refused: the AppID is registered by several tenants",
			"app_id", appID, "tenants", tenants)
		return nil, apperr.Conflict("appId", "this appId is registered by more than one tenant; sign-in is refused until only one keeps it")
	case accs[0].Status == connectoraccount.StatusPaused:
		return nil, apperr.Forbidden("sign-in through this mini-program is paused by its administrators")
	}
	return accs[0], nil
}

// refusal turns a failed code exchange into what the caller is told.
func (s *Service) refusal(ctx context.Context, acc *ent.ConnectorAccount, err error) error {
	switch {
	case errors.Is(err, wechat.ErrInvalidCode):
		return apperr.Invalid("code", "the code is invalid or has expired; call wx.login for a new one")
	case errors.Is(err, wechat.ErrCodeUsed):
		return apperr.Invalid("code", "the code has already been used; call wx.login for a new one")
	case errors.Is(err, wechat.ErrRateLimited):
		return &apperr.Error{Code: apperr.CodeRateLimited, Message: "too many sign-ins for this WeChat user; try again in a minute"}
	case errors.Is(err, wechat.ErrRiskyUser):
		return apperr.Forbidden("WeChat does not allow this user to sign in (high-risk account)")
	case errors.Is(err, wechat.ErrBusy), errors.Is(err, transport.ErrCircuitOpen):
		return &apperr.Error{Code: apperr.CodeUnavailable, Message: "WeChat is busy; try again shortly"}
	case errors.Is(err, wechat.ErrCredentials):
		// The admins see it on the account (connectorAccounts.lastError).
		s.opts.Logger.ErrorContext(ctx, "mini-program sign-in: WeChat refuses the account's credentials",
			"account", acc.ID, "tenant", acc.TenantID, "err", err)
		if ent.TxFromContext(ctx) == nil {
			rerr := connectoraccounts.Record(viewer.ForTenant(ctx, acc.TenantID), s.opts.Client, acc.ID, s.opts.Now(),
				connectoraccounts.Outcome{Err: err, Failing: true})
			if rerr != nil {
				s.opts.Logger.WarnContext(ctx, "record the mini-program's failure", "account", acc.ID, "err", rerr)
			}
		}
		return &apperr.Error{Code: apperr.CodeUnavailable, Message: "sign-in through this mini-program is misconfigured; try again later"}
	}
	return fmt.Errorf("customerauth: exchange the code of app %s: %w", acc.ExternalID, err)
}

// inTx runs fn in the caller's transaction or in a new one.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, c *ent.Client) error) error {
	if tx := ent.TxFromContext(ctx); tx != nil {
		return fn(ctx, tx.Client())
	}
	tx, err := s.opts.Client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := fn(ent.NewTxContext(ctx, tx), tx.Client()); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// resolve finds the customer of a WeChat session in the tenant (ctx), or
// creates them: the app's openid first, then the unionid (which links a
// mini-program user to the same person met in WeCom or a shop), else a
// new customer. Every identity learnt is recorded.
func resolve(ctx context.Context, c *ent.Client, appID string, sess wechat.Session) (id int, created bool, err error) {
	openID, err := c.CustomerIdentity.Query().Where(
		customeridentity.PlatformEQ(customeridentity.PlatformWechatOpenid),
		customeridentity.AppID(appID), customeridentity.ExternalID(sess.OpenID)).
		Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return 0, false, err
	}
	var union *ent.CustomerIdentity
	if sess.UnionID != "" {
		union, err = c.CustomerIdentity.Query().Where(
			customeridentity.PlatformEQ(customeridentity.PlatformWechatUnionid),
			customeridentity.AppID(""), customeridentity.ExternalID(sess.UnionID)).
			Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return 0, false, err
		}
	}
	switch {
	case openID != nil:
		if id, err = current(ctx, c, openID.CustomerID); err != nil {
			return 0, false, err
		}
		if sess.UnionID != "" && union == nil { // WeChat has told us more since
			err = addIdentity(ctx, c, id, customeridentity.PlatformWechatUnionid, "", sess.UnionID)
		}
		return id, false, err
	case union != nil:
		if id, err = current(ctx, c, union.CustomerID); err != nil {
			return 0, false, err
		}
		return id, false, addIdentity(ctx, c, id, customeridentity.PlatformWechatOpenid, appID, sess.OpenID)
	}
	cu, err := c.Customer.Create().SetSourceChannel(customer.SourceChannelMiniProgram).Save(ctx)
	if err != nil {
		return 0, false, err
	}
	if err := addIdentity(ctx, c, cu.ID, customeridentity.PlatformWechatOpenid, appID, sess.OpenID); err != nil {
		return 0, false, err
	}
	if sess.UnionID != "" {
		if err := addIdentity(ctx, c, cu.ID, customeridentity.PlatformWechatUnionid, "", sess.UnionID); err != nil {
			return 0, false, err
		}
	}
	return cu.ID, true, nil
}

func addIdentity(ctx context.Context, c *ent.Client, customerID int, p customeridentity.Platform, appID, externalID string) error {
	return c.CustomerIdentity.Create().SetCustomerID(customerID).SetPlatform(p).SetAppID(appID).
		SetExternalID(externalID).Exec(ctx)
}

// maxMerges bounds how far current follows merged records.
const maxMerges = 8

// current follows a customer's merges to the record that lives on. An
// erased customer has no identities left (internal/privacy deletes them),
// so meeting one here means the data is inconsistent.
func current(ctx context.Context, c *ent.Client, id int) (int, error) {
	for range maxMerges {
		cu, err := c.Customer.Query().Where(customer.ID(id)).
			Select(customer.FieldMergedIntoID, customer.FieldErasedAt).Only(ctx)
		if err != nil {
			return 0, fmt.Errorf("customer %d: %w", id, err)
		}
		if cu.ErasedAt != nil {
			return 0, fmt.Errorf("customer %d is erased but still has a WeChat identity", id)
		}
		if cu.MergedIntoID == nil {
			return id, nil
		}
		id = *cu.MergedIntoID
	}
	return 0, fmt.Errorf("customer %d: more than %d merges deep", id, maxMerges)
}
