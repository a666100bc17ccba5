package taobao

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/connectors"
	"github.com/scrm-dev/scrm/connectors/taobao/taobaofake"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/internal/testenv"
)

// Redis database of these tests (see internal/testenv for the others).
const redisDB = 6

const (
	appKey    = "12345678"
	appSecret = "s3cr3t-app-secret"
	session   = "6100a-session"
)

// sleeps records the waits the transport asks for and waits only a
// little of each, so a test never loops on a real clock for long. As
// the clock it pretends moved on, it shortens the transport's cool-downs
// in Redis by the wait (the in-process Redis does not expire keys by
// itself, and a real one should not make the test wait a real second).
type sleeps struct {
	rdb    redis.UniversalClient
	prefix string

	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	n := len(s.waits)
	s.mu.Unlock()
	if n > 5000 {
		return errors.New("test: too many waits")
	}
	keys, err := s.rdb.Keys(ctx, s.prefix+"cool:*").Result()
	if err != nil {
		return err
	}
	for _, k := range keys {
		left, err := s.rdb.PTTL(ctx, k).Result()
		if err != nil {
			return err
		}
		if left <= d {
			err = s.rdb.Del(ctx, k).Err()
		} else {
			err = s.rdb.PExpire(ctx, k, left-d).Err()
		}
		if err != nil {
			return err
		}
	}
	t := time.NewTimer(min(d, 20*time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (s *sleeps) longest() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m time.Duration
	for _, w := range s.waits {
		m = max(m, w)
	}
	return m
}

type env struct {
	fake   *taobaofake.Server
	client *Client
	sleeps *sleeps
	url    string
	tr     *transport.Client
}

func newEnv(t *testing.T, rdb redis.UniversalClient) *env {
	t.Helper()
	fake := taobaofake.New(taobaofake.Options{AppKey: appKey, AppSecret: appSecret})
	fake.AddSession(session)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	prefix := "test:" + t.Name() + ":"
	s := &sleeps{rdb: rdb, prefix: prefix}
	tr := transport.New(transport.Options{Redis: rdb, Prefix: prefix, Sleep: s.sleep,
		MaxWait: 3 * time.Second, BreakerFailures: 50, BreakerOpenFor: time.Minute})
	e := &env{fake: fake, sleeps: s, url: srv.URL + taobaofake.Path, tr: tr}
	e.client = New(Config{BaseURL: e.url, AppKey: appKey, AppSecret: appSecret, Session: session,
		ShopID: "shop-1", Platform: "TMALL", Transport: tr, HTTP: srv.Client()})
	return e
}

var day0 = time.Date(2025, 3, 1, 0, 0, 0, 0, taobaofake.CST)

func TestClient(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, redisDB).Client
			ctx := context.Background()
			from, to := day0, day0.Add(48*time.Hour)

			t.Run("changed trades visit every order", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(7, 500, from, to)
				seen := map[string]time.Time{}
				pages := 0
				err := e.client.ChangedTrades(ctx, from, to, 40, func(p []TradeChange) error {
					pages++
					if len(p) == 0 || len(p) > 40 {
						t.Errorf("page of %d trades", len(p))
					}
					for _, c := range p {
						seen[c.ID] = c.Modified
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				ids := e.fake.OrderIDs()
				if len(ids) != 500 {
					t.Fatalf("fake has %d orders", len(ids))
				}
				for _, id := range ids {
					m, ok := seen[id]
					if !ok {
						t.Fatalf("order %s not visited", id)
					}
					o, _ := e.fake.Order(id)
					if !m.Equal(o.Modified) {
						t.Fatalf("order %s: modified %s, want %s", id, m, o.Modified)
					}
				}
				if len(seen) != 500 {
					t.Fatalf("visited %d distinct orders, want 500", len(seen))
				}
				// Two windows of about 250 trades: 7 pages each.
				if pages < 14 || pages > 16 {
					t.Fatalf("%d pages, want 14..16", pages)
				}
			})

			t.Run("a change during the walk is not missed", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(8, 500, from, to)
				seen := map[string]bool{}
				touched := map[string]bool{}
				later := to.Add(30 * time.Minute)
				page := 0
				err := e.client.ChangedTrades(ctx, from, to, 25, func(p []TradeChange) error {
					page++
					for _, c := range p {
						seen[c.ID] = true
					}
					// In the middle of the second window, change trades of
					// the pages already read: they leave the window (their
					// modified time is now after it), which moves the
					// trades behind them by one place.
					if page == 15 || page == 16 {
						for _, c := range p[:5] {
							e.fake.Touch(c.ID, taobaofake.StatusWaitBuyerConfirm, later)
							touched[c.ID] = true
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range e.fake.OrderIDs() {
					if !seen[id] {
						t.Errorf("order %s missed (touched %v)", id, touched[id])
					}
				}
				// The changed trades turn up in the next range.
				next := map[string]bool{}
				if err := e.client.ChangedTrades(ctx, to, later, 25, func(p []TradeChange) error {
					for _, c := range p {
						next[c.ID] = true
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				for id := range touched {
					if !next[id] {
						t.Errorf("touched order %s not in the next range", id)
					}
				}
				if len(touched) != 10 {
					t.Fatalf("touched %d orders", len(touched))
				}
			})

			t.Run("a Touch inside the range is seen", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(9, 300, from, to)
				var target string
				for _, id := range e.fake.OrderIDs() {
					if o, _ := e.fake.Order(id); o.Modified.Before(from.Add(12 * time.Hour)) {
						target = id
						break
					}
				}
				e.fake.Touch(target, taobaofake.StatusFinished, to.Add(-time.Minute))
				var got *TradeChange
				if err := e.client.ChangedTrades(ctx, to.Add(-time.Hour), to, 40, func(p []TradeChange) error {
					for _, c := range p {
						if c.ID == target {
							got = &c
						}
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if got == nil || !got.Modified.Equal(to.Add(-time.Minute)) {
					t.Fatalf("touched trade: %+v", got)
				}
			})

			t.Run("trades map exactly", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(11, 500, from, to)
				checked := 0
				statuses := map[connectors.OrderStatus]int{}
				returns := 0
				for i, id := range e.fake.OrderIDs() {
					want, _ := e.fake.Order(id)
					interesting := want.RefundStatus != taobaofake.RefundNone ||
						want.Status == taobaofake.StatusClosedByTaobao || want.Status == taobaofake.StatusClosed
					if i%10 != 0 && !interesting {
						continue
					}
					got, err := e.client.Trade(ctx, id)
					if err != nil {
						t.Fatalf("Trade %s: %v", id, err)
					}
					checkTrade(t, got, want)
					checked++
					statuses[got.Status]++
					if got.ReturnRequested {
						returns++
					}
				}
				for _, s := range []connectors.OrderStatus{connectors.OrderCreated, connectors.OrderPaid, connectors.OrderShipped,
					connectors.OrderCompleted, connectors.OrderRefunding, connectors.OrderRefunded, connectors.OrderCancelled} {
					if statuses[s] == 0 {
						t.Errorf("no %s trade among %d checked: %v", s, checked, statuses)
					}
				}
				if returns == 0 {
					t.Error("no trade with a return request")
				}
			})

			t.Run("hand-made trades", func(t *testing.T) {
				e := newEnv(t, rdb)
				base := taobaofake.Order{BuyerID: "AAHbuyer", BuyerNick: "tb***1", BuyerMobile: "138****0000",
					Created: from, Modified: from.Add(time.Hour),
					Items: []taobaofake.Item{{SkuID: "sku1", Title: "a", Qty: 3, PriceFen: 333}, {SkuID: "sku2", Title: "b", Qty: 1, PriceFen: 1}}}
				cases := []struct {
					id, status, refund string
					paid               bool
					want               connectors.OrderStatus
					ret                bool
				}{
					{"T-unpaid-close", taobaofake.StatusClosed, "", false, connectors.OrderCancelled, false},
					{"T-refunded", taobaofake.StatusClosed, taobaofake.RefundSuccess, true, connectors.OrderRefunded, true},
					{"T-return", taobaofake.StatusWaitBuyerConfirm, taobaofake.RefundWaitBuyerReturn, true, connectors.OrderRefunding, true},
					{"T-refused", taobaofake.StatusWaitSellerSend, taobaofake.RefundSellerRefuseBuyer, true, connectors.OrderRefunding, true},
					{"T-refund-closed", taobaofake.StatusFinished, taobaofake.RefundClosed, true, connectors.OrderCompleted, true},
					{"T-no-create-pay", taobaofake.StatusNoCreatePay, "", false, connectors.OrderCreated, false},
				}
				for _, c := range cases {
					o := base
					o.ID, o.Status, o.RefundStatus = c.id, c.status, c.refund
					o.TotalFen, o.PostFeeFen, o.DiscountFen = 1000, 1, 9
					o.PaidFen = 992
					if c.paid {
						o.PaidAt = from.Add(time.Minute)
					}
					e.fake.AddOrder(o)
					got, err := e.client.Trade(ctx, c.id)
					if err != nil {
						t.Fatalf("%s: %v", c.id, err)
					}
					if got.Status != c.want || got.ReturnRequested != c.ret {
						t.Errorf("%s: status %s return %v, want %s %v", c.id, got.Status, got.ReturnRequested, c.want, c.ret)
					}
					if got.BuyerPhone != "" {
						t.Errorf("%s: masked phone kept: %q", c.id, got.BuyerPhone)
					}
					if got.TotalFen != 1000 || got.ShippingFen != 1 || got.DiscountFen != 9 || got.PaidFen != 992 {
						t.Errorf("%s: money %+v", c.id, got)
					}
					if got.Items[1].UnitPriceFen != 1 || got.Items[0].AmountFen != 999 {
						t.Errorf("%s: items %+v", c.id, got.Items)
					}
					if c.want == connectors.OrderRefunded && got.RefundedFen != 992 {
						t.Errorf("%s: refunded %d", c.id, got.RefundedFen)
					}
				}
			})

			t.Run("refusals", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(12, 5, from, to)
				id := e.fake.OrderIDs()[0]

				if _, err := e.client.Trade(ctx, "3100000000000000001"); !transport.IsKind(err, transport.KindNotFound) {
					t.Errorf("unknown trade: %v, want not found", err)
				}

				before := e.fake.Calls(MethodFullinfoGet)
				e.fake.FailNext(MethodFullinfoGet, taobaofake.FaultRateLimited, 1)
				if _, err := e.client.Trade(ctx, id); err != nil {
					t.Fatalf("after a rate limit: %v", err)
				}
				if n := e.fake.Calls(MethodFullinfoGet) - before; n != 2 {
					t.Errorf("%d calls after a rate limit, want 2", n)
				}
				if w := e.sleeps.longest(); w < 500*time.Millisecond || w > time.Second {
					t.Errorf("longest wait %s, want the 1s ban", w)
				}

				before = e.fake.Calls(MethodFullinfoGet)
				e.fake.FailNext(MethodFullinfoGet, taobaofake.FaultSystemBusy, 2)
				if _, err := e.client.Trade(ctx, id); err != nil {
					t.Fatalf("after busy: %v", err)
				}
				if n := e.fake.Calls(MethodFullinfoGet) - before; n != 3 {
					t.Errorf("%d calls after 2 busy answers, want 3", n)
				}

				before = e.fake.Calls(MethodFullinfoGet)
				e.fake.FailNext(MethodFullinfoGet, taobaofake.FaultInvalidToken, 1)
				if _, err := e.client.Trade(ctx, id); !transport.IsKind(err, transport.KindAuth) {
					t.Errorf("invalid session: %v, want auth", err)
				}
				if n := e.fake.Calls(MethodFullinfoGet) - before; n != 1 {
					t.Errorf("%d calls for an invalid session, want 1 (not renewable)", n)
				}

				if err := e.client.CheckCredentials(ctx); err != nil {
					t.Errorf("good credentials: %v", err)
				}
				for name, cfg := range map[string]Config{
					"secret":  {AppKey: appKey, AppSecret: "wrong", Session: session},
					"app key": {AppKey: "87654321", AppSecret: appSecret, Session: session},
					"session": {AppKey: appKey, AppSecret: appSecret, Session: "stale"},
				} {
					cfg.BaseURL, cfg.Transport = e.url, e.tr
					cfg.Account = "bad-" + name
					if err := New(cfg).CheckCredentials(ctx); !transport.IsKind(err, transport.KindAuth) {
						t.Errorf("bad %s: %v, want auth", name, err)
					}
				}
				for _, m := range []string{SignMD5, SignHMAC} {
					c := New(Config{BaseURL: e.url, AppKey: appKey, AppSecret: appSecret, Session: session, SignMethod: m, Transport: e.tr})
					if err := c.CheckCredentials(ctx); err != nil {
						t.Errorf("sign method %s: %v", m, err)
					}
				}
			})
		})
	}
}

// checkTrade compares a mapped trade with the fake's order.
func checkTrade(t *testing.T, got *connectors.Order, want taobaofake.Order) {
	t.Helper()
	if got.ID != want.ID || got.Platform != "TMALL" || got.ShopID != "shop-1" {
		t.Fatalf("trade %s: id/platform/shop %q %q %q", want.ID, got.ID, got.Platform, got.ShopID)
	}
	if got.TotalFen != want.TotalFen || got.PaidFen != want.PaidFen || got.ShippingFen != want.PostFeeFen || got.DiscountFen != want.DiscountFen {
		t.Fatalf("trade %s: money %d/%d/%d/%d, want %d/%d/%d/%d", want.ID, got.TotalFen, got.PaidFen, got.ShippingFen, got.DiscountFen,
			want.TotalFen, want.PaidFen, want.PostFeeFen, want.DiscountFen)
	}
	if got.BuyerID != want.BuyerID || got.BuyerNick != want.BuyerNick || got.BuyerPhone != want.BuyerMobile {
		t.Fatalf("trade %s: buyer %q %q %q", want.ID, got.BuyerID, got.BuyerNick, got.BuyerPhone)
	}
	if !got.PlacedAt.Equal(want.Created.Truncate(time.Second)) || !got.UpdatedAt.Equal(want.Modified) {
		t.Fatalf("trade %s: times %s %s", want.ID, got.PlacedAt, got.UpdatedAt)
	}
	if (got.PaidAt == nil) != want.PaidAt.IsZero() || got.PaidAt != nil && !got.PaidAt.Equal(want.PaidAt.Truncate(time.Second)) {
		t.Fatalf("trade %s: paid at %v, want %s", want.ID, got.PaidAt, want.PaidAt)
	}
	if len(got.Items) != len(want.Items) {
		t.Fatalf("trade %s: %d items", want.ID, len(got.Items))
	}
	var sum int64
	for i, it := range want.Items {
		g := got.Items[i]
		if g.SKU != it.SkuID || g.Name != it.Title || g.Quantity != it.Qty || g.UnitPriceFen != it.PriceFen || g.AmountFen != it.PriceFen*int64(it.Qty) {
			t.Fatalf("trade %s item %d: %+v, want %+v", want.ID, i, g, it)
		}
		sum += g.AmountFen
	}
	if sum != got.TotalFen {
		t.Fatalf("trade %s: items %d, total %d", want.ID, sum, got.TotalFen)
	}
	var status connectors.OrderStatus
	ret := want.RefundStatus != taobaofake.RefundNone && want.RefundStatus != ""
	switch want.Status {
	case taobaofake.StatusWaitBuyerPay, taobaofake.StatusNoCreatePay:
		status = connectors.OrderCreated
	case taobaofake.StatusWaitSellerSend:
		status = connectors.OrderPaid
		if want.RefundStatus == taobaofake.RefundWaitSellerAgree {
			status = connectors.OrderRefunding
		}
	case taobaofake.StatusWaitBuyerConfirm:
		status = connectors.OrderShipped
	case taobaofake.StatusFinished:
		status = connectors.OrderCompleted
	case taobaofake.StatusClosed:
		status = connectors.OrderRefunded
	case taobaofake.StatusClosedByTaobao:
		status = connectors.OrderCancelled
	}
	if got.Status != status || got.ReturnRequested != ret {
		t.Fatalf("trade %s (%s, refund %s): %s return %v, want %s %v", want.ID, want.Status, want.RefundStatus,
			got.Status, got.ReturnRequested, status, ret)
	}
	if status == connectors.OrderRefunded && got.RefundedFen != want.PaidFen || status != connectors.OrderRefunded && got.RefundedFen != 0 {
		t.Fatalf("trade %s: refunded %d", want.ID, got.RefundedFen)
	}
}

func TestYuanToFen(t *testing.T) {
	for s, want := range map[string]int64{"": 0, "0.00": 0, "12.30": 1230, "12.3": 1230, "5": 500, "0.01": 1,
		"-0.5": -50, "99999999.99": 9999999999, "1000.05": 100005} {
		if got, err := YuanToFen(s); err != nil || got != want {
			t.Errorf("YuanToFen(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"1.234", "abc", ".5", "1.", "1,00", "--1", "1e3", " 1.00"} {
		if _, err := YuanToFen(s); err == nil {
			t.Errorf("YuanToFen(%q): no error", s)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		code, sub, subMsg string
		kind              transport.Kind
		after             time.Duration
	}{
		{"7", "accesscontrol.limited-by-app-access-count", "This ban will last for 12 more seconds", transport.KindRateLimited, 12 * time.Second},
		{"7", "accesscontrol.limited-by-api-access-count", "", transport.KindRateLimited, time.Second},
		{"25", "", "", transport.KindAuth, 0},
		{"27", "invalid-sessionkey", "", transport.KindAuth, 0},
		{"28", "", "", transport.KindAuth, 0},
		{"29", "", "", transport.KindAuth, 0},
		{"15", "isp.top-remote-connection-timeout", "", transport.KindBusy, 0},
		{"15", "isv.trade-not-exist", "", transport.KindNotFound, 0},
		{"15", "isv.invalid-parameter:end_modified", "", transport.KindPermanent, 0},
		{"40", "isv.missing-parameter:tid", "", transport.KindPermanent, 0},
		{"11", "", "", transport.KindPermanent, 0},
	}
	for _, c := range cases {
		var pe *transport.Error
		if !errors.As(classify("m", c.code, "msg", c.sub, c.subMsg), &pe) || pe.Kind != c.kind || pe.RetryAfter != c.after {
			t.Errorf("%s %s: %+v, want %s after %s", c.code, c.sub, pe, c.kind, c.after)
		}
	}
}
