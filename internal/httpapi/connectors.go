package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/connectors/douyin"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/msgcrypt"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/requestid"
	"github.com/scrm-dev/scrm/internal/viewer"
	"github.com/scrm-dev/scrm/jobs"
)

// Platforms configures the endpoints platforms call: WeCom callbacks and
// Douyin pushes. Each checks the platform's signature (and, for WeCom,
// decrypts and checks the receive id) before reading anything, enqueues
// the work and answers at once; nothing is written to the database here.
type Platforms struct {
	Client   *ent.Client
	Enqueuer *asynq.Client
	Logger   *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// SignIn, when set, serves staff sign-in through WeCom under
	// /auth/wecom/.
	SignIn *SignIn
}

// maxCallbackBody bounds a callback's body; WeCom's and Douyin's are a
// few KiB.
const maxCallbackBody = 256 << 10

func (p *Platforms) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// mount adds the endpoints to mux.
func (p *Platforms) mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /connectors/wecom/{account}/callback", p.wecomVerify)
	mux.HandleFunc("POST /connectors/wecom/{account}/callback", p.wecomEvent)
	mux.HandleFunc("POST /connectors/douyin/{account}/push", p.douyinPush)
	p.mountSignIn(mux)
}

// accountOf finds the account of a callback URL; callback keys are
// unique across tenants.
func (p *Platforms) accountOf(ctx context.Context, r *http.Request, platform connectoraccount.Platform) (*ent.ConnectorAccount, connectoraccounts.Secrets, bool) {
	a, err := p.Client.ConnectorAccount.Query().
		Where(connectoraccount.CallbackKey(r.PathValue("account")), connectoraccount.PlatformEQ(platform)).
		Only(viewer.System(ctx))
	if err != nil {
		if !ent.IsNotFound(err) {
			p.Logger.ErrorContext(ctx, "callback account lookup failed", "error", err)
		}
		return nil, connectoraccounts.Secrets{}, false
	}
	s, err := connectoraccounts.SecretsOf(a)
	if err != nil {
		p.Logger.ErrorContext(ctx, "callback account secrets unreadable", "account", a.ID, "error", err)
		return nil, s, false
	}
	return a, s, true
}

func (p *Platforms) refuse(ctx context.Context, w http.ResponseWriter, status int, why string, attrs ...any) {
	p.Logger.WarnContext(ctx, "platform callback refused", append([]any{"reason", why, "status", status}, attrs...)...)
	http.Error(w, http.StatusText(status), status)
}

func (p *Platforms) wecomCrypter(ctx context.Context, w http.ResponseWriter, r *http.Request) (*ent.ConnectorAccount, *msgcrypt.Crypter, bool) {
	a, s, ok := p.accountOf(ctx, r, connectoraccount.PlatformWecom)
	if !ok {
		p.refuse(ctx, w, http.StatusNotFound, "no such account")
		return nil, nil, false
	}
	c, err := msgcrypt.New(s.CallbackToken, s.EncodingAESKey, a.ExternalID)
	if err != nil {
		p.refuse(ctx, w, http.StatusServiceUnavailable, "account's callback settings unusable", "account", a.ID, "error", err)
		return nil, nil, false
	}
	return a, c, true
}

// wecomVerify answers WeCom's URL verification: the decrypted echostr.
func (p *Platforms) wecomVerify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, c, ok := p.wecomCrypter(ctx, w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	plain, err := c.VerifyURL(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), q.Get("echostr"))
	if err != nil {
		p.refuse(ctx, w, http.StatusForbidden, "URL verification failed", "account", a.ID, "error", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(plain)
}

// wecomEvent checks, decrypts and enqueues one event; WeCom's retries of
// it become the same task (the event's key is the task id).
func (p *Platforms) wecomEvent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	received := p.now()
	a, c, ok := p.wecomCrypter(ctx, w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBody))
	if err != nil {
		p.refuse(ctx, w, http.StatusRequestEntityTooLarge, "body too large", "account", a.ID)
		return
	}
	env, err := msgcrypt.ParseEnvelope(body)
	if err != nil {
		p.refuse(ctx, w, http.StatusBadRequest, "malformed envelope", "account", a.ID, "error", err)
		return
	}
	q := r.URL.Query()
	plain, err := c.Decrypt(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), env.Encrypt)
	if err != nil {
		status := http.StatusForbidden
		if errors.Is(err, msgcrypt.ErrMalformed) {
			status = http.StatusBadRequest
		}
		p.refuse(ctx, w, status, "callback not from WeCom for this account", "account", a.ID, "error", err)
		return
	}
	ev, err := wecom.ParseEvent(plain)
	if err != nil {
		p.refuse(ctx, w, http.StatusBadRequest, "malformed event", "account", a.ID, "error", err)
		return
	}
	task, opts, err := jobs.NewWecomEvent(jobs.WecomEvent{TenantID: a.TenantID, AccountID: a.ID, XML: string(plain), ReceivedAt: received}, ev.Key)
	if err == nil {
		_, err = p.Enqueuer.EnqueueContext(ctx, task, opts...)
	}
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		// WeCom retries on anything but 200: let it.
		p.Logger.ErrorContext(ctx, "could not enqueue a WeCom event", "account", a.ID, "error", err, "request_id", requestid.FromContext(ctx))
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "success")
}

// douyinPush checks a push's signature and enqueues a fetch per order
// change; the fetch and the scheduled pull store the same rows.
func (p *Platforms) douyinPush(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, s, ok := p.accountOf(ctx, r, connectoraccount.PlatformDouyin)
	if !ok {
		p.refuse(ctx, w, http.StatusNotFound, "no such account")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBody))
	if err != nil {
		p.refuse(ctx, w, http.StatusRequestEntityTooLarge, "body too large", "account", a.ID)
		return
	}
	msgs, err := douyin.ParsePush(r.Header, body, a.AppKey, s.AppSecret)
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, douyin.ErrPushSignature) {
			status = http.StatusUnauthorized
		}
		p.refuse(ctx, w, status, "push refused", "account", a.ID, "error", err)
		return
	}
	for _, m := range msgs {
		if douyin.IsVerification(m) || m.OrderID == "" {
			continue
		}
		task, opts, err := jobs.NewShopOrder(jobs.ShopOrder{TenantID: a.TenantID, AccountID: a.ID, OrderID: m.OrderID,
			UpdatedAt: m.UpdatedAt.Unix(), Source: "push"})
		if err == nil {
			_, err = p.Enqueuer.EnqueueContext(ctx, task, opts...)
		}
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			p.Logger.ErrorContext(ctx, "could not enqueue a Douyin push", "account", a.ID, "error", err, "request_id", requestid.FromContext(ctx))
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, douyin.PushAnswer)
}
