package douyin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/connectors"
	"github.com/scrm-dev/scrm/connectors/douyin/douyinfake"
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
	"github.com/scrm-dev/scrm/internal/testenv"
)

// Redis database of these tests (see internal/testenv for the others;
// connectors/taobao uses 6, and OpenRedis flushes the database, so the
// two packages, run in parallel, do not share one).
const redisDB = 5

const (
	appKey    = "7012345678901234567"
	appSecret = "dy-app-secret"
	shopID    = "4463798"
)

// sleeps records the waits the transport asks for and waits only a
// little of each. As the clock it pretends moved on, it shortens the
// transport's cool-downs in Redis by the wait (the in-process Redis does
// not expire keys by itself).
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
	fake   *douyinfake.Server
	client *Client
	sleeps *sleeps
	base   string
	tr     *transport.Client
	tokens *tokens.Cache
	http   *http.Client
}

func newEnv(t *testing.T, rdb redis.UniversalClient) *env {
	t.Helper()
	fake := douyinfake.New(douyinfake.Options{AppKey: appKey, AppSecret: appSecret, StrictParamJSON: true,
		PushRetryPause: time.Millisecond})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	prefix := "test:" + t.Name() + ":"
	s := &sleeps{rdb: rdb, prefix: prefix}
	tr := transport.New(transport.Options{Redis: rdb, Prefix: prefix, Sleep: s.sleep,
		MaxWait: 3 * time.Second, BreakerFailures: 50, BreakerOpenFor: time.Minute})
	e := &env{fake: fake, sleeps: s, base: srv.URL, tr: tr, tokens: tokens.New(rdb, prefix+"token:"), http: srv.Client()}
	e.client = New(Config{BaseURL: srv.URL, AppKey: appKey, AppSecret: appSecret, ShopID: shopID,
		Transport: tr, Tokens: e.tokens, HTTP: srv.Client()})
	return e
}

var day0 = time.Date(2025, 3, 1, 0, 0, 0, 0, douyinfake.CST)

func TestClient(t *testing.T) {
	for _, backend := range testenv.RedisBackends() {
		t.Run(backend, func(t *testing.T) {
			rdb := testenv.OpenRedis(t, backend, redisDB).Client
			ctx := context.Background()
			from, to := day0, day0.Add(48*time.Hour)

			t.Run("changed orders visit every order", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(7, 500, from, to)
				seen := map[string]time.Time{}
				var last time.Time
				err := e.client.ChangedOrders(ctx, from, to, 50, func(p []OrderChange) error {
					for _, c := range p {
						if c.UpdatedAt.Before(last) {
							t.Errorf("order %s updated %s after one of %s", c.ID, c.UpdatedAt, last)
						}
						last = c.UpdatedAt
						seen[c.ID] = c.UpdatedAt
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				ids := e.fake.OrderIDs()
				for _, id := range ids {
					o, _ := e.fake.Order(id)
					if u, ok := seen[id]; !ok || !u.Equal(o.Modified) {
						t.Fatalf("order %s: seen %v at %s, want %s", id, ok, u, o.Modified)
					}
				}
				if len(ids) != 500 || len(seen) != 500 {
					t.Fatalf("%d orders, %d seen", len(ids), len(seen))
				}
				if n := e.fake.Calls(douyinfake.MethodTokenCreate); n != 1 {
					t.Fatalf("%d token.create calls, want 1", n)
				}
			})

			t.Run("a change during the walk is not missed", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(8, 500, from, to)
				seen, touched := map[string]bool{}, map[string]bool{}
				later := to.Add(30 * time.Minute)
				page := 0
				err := e.client.ChangedOrders(ctx, from, to, 25, func(p []OrderChange) error {
					page++
					for _, c := range p {
						seen[c.ID] = true
					}
					// Orders already read leave the range: counting pages,
					// the orders behind them would move onto pages read.
					if page == 3 || page == 7 {
						for _, c := range p[:5] {
							e.fake.Touch(c.ID, douyinfake.StatusShipped, later)
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
						t.Errorf("order %s missed", id)
					}
				}
				next := map[string]bool{}
				if err := e.client.ChangedOrders(ctx, to, later, 25, func(p []OrderChange) error {
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
			})

			t.Run("many orders in one second", func(t *testing.T) {
				e := newEnv(t, rdb)
				at := from.Add(time.Hour)
				for i := range 35 {
					e.fake.AddOrder(douyinfake.Order{ID: strconv.Itoa(1000 + i), Status: douyinfake.StatusUnpaid, Created: at, Modified: at})
				}
				e.fake.AddOrder(douyinfake.Order{ID: "2000", Status: douyinfake.StatusUnpaid, Created: at, Modified: at.Add(time.Second)})
				seen := map[string]bool{}
				if err := e.client.ChangedOrders(ctx, from, to, 10, func(p []OrderChange) error {
					for _, c := range p {
						seen[c.ID] = true
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if len(seen) != 36 {
					t.Fatalf("saw %d orders, want 36", len(seen))
				}
			})

			t.Run("orders map exactly", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(11, 500, from, to)
				statuses := map[connectors.OrderStatus]int{}
				returns := 0
				for i, id := range e.fake.OrderIDs() {
					want, _ := e.fake.Order(id)
					if i%10 != 0 && want.RefundStatus == douyinfake.RefundNone && want.Status != douyinfake.StatusCancelled {
						continue
					}
					got, err := e.client.Order(ctx, id)
					if err != nil {
						t.Fatalf("Order %s: %v", id, err)
					}
					checkOrder(t, got, want)
					statuses[got.Status]++
					if got.ReturnRequested {
						returns++
					}
				}
				for _, s := range []connectors.OrderStatus{connectors.OrderCreated, connectors.OrderPaid, connectors.OrderShipped,
					connectors.OrderCompleted, connectors.OrderRefunding, connectors.OrderRefunded, connectors.OrderCancelled} {
					if statuses[s] == 0 {
						t.Errorf("no %s order: %v", s, statuses)
					}
				}
				if returns == 0 {
					t.Error("no order with a return request")
				}
				// A refund in progress on a shipped order.
				o, _ := e.fake.Order(e.fake.OrderIDs()[0])
				o.Status, o.RefundStatus, o.PaidAt = douyinfake.StatusShipped, douyinfake.RefundRefunding, o.Created
				e.fake.AddOrder(o)
				if got, err := e.client.Order(ctx, o.ID); err != nil || got.Status != connectors.OrderRefunding || !got.ReturnRequested {
					t.Fatalf("refunding shipped order: %+v, %v", got, err)
				}
			})

			t.Run("tokens renewed once when they expire mid-walk", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(12, 500, from, to)
				seen := map[string]bool{}
				pages := 0
				err := e.client.ChangedOrders(ctx, from, to, 50, func(p []OrderChange) error {
					pages++
					if pages == 3 {
						e.fake.ExpireTokens()
					}
					for _, c := range p {
						seen[c.ID] = true
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(seen) != 500 {
					t.Fatalf("saw %d orders", len(seen))
				}
				if n := e.fake.Calls(douyinfake.MethodTokenCreate); n != 2 {
					t.Fatalf("%d token.create calls, want 2 (one renewal)", n)
				}
				if n, want := e.fake.Calls(douyinfake.MethodSearchList), pages+1; n < want || n > want+1 {
					t.Fatalf("%d searchList calls for %d pages, want one refused call more", n, pages)
				}
				// Another client sharing the cache uses the renewed token.
				other := New(Config{BaseURL: e.base, AppKey: appKey, AppSecret: appSecret, ShopID: shopID,
					Transport: e.tr, Tokens: e.tokens, HTTP: e.http})
				if err := other.CheckCredentials(ctx); err != nil {
					t.Fatal(err)
				}
				if n := e.fake.Calls(douyinfake.MethodTokenCreate); n != 2 {
					t.Fatalf("%d token.create calls after another client, want 2", n)
				}
			})

			t.Run("refusals", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(13, 5, from, to)
				id := e.fake.OrderIDs()[0]

				if _, err := e.client.Order(ctx, "6920000000000000001"); !transport.IsKind(err, transport.KindNotFound) {
					t.Errorf("unknown order: %v, want not found", err)
				}

				before := e.fake.Calls(douyinfake.MethodOrderDetail)
				e.fake.FailNext(douyinfake.MethodOrderDetail, douyinfake.FaultRateLimited, 1)
				if _, err := e.client.Order(ctx, id); err != nil {
					t.Fatalf("after a rate limit: %v", err)
				}
				if n := e.fake.Calls(douyinfake.MethodOrderDetail) - before; n != 2 {
					t.Errorf("%d calls after a rate limit, want 2", n)
				}
				if w := e.sleeps.longest(); w < 500*time.Millisecond || w > time.Second {
					t.Errorf("longest wait %s, want about 1s", w)
				}

				before = e.fake.Calls(douyinfake.MethodOrderDetail)
				e.fake.FailNext(douyinfake.MethodOrderDetail, douyinfake.FaultSystemBusy, 2)
				if _, err := e.client.Order(ctx, id); err != nil {
					t.Fatalf("after busy: %v", err)
				}
				if n := e.fake.Calls(douyinfake.MethodOrderDetail) - before; n != 3 {
					t.Errorf("%d calls after 2 busy answers, want 3", n)
				}

				// A token refused twice in a row is renewed once, then reported.
				e.fake.FailNext(douyinfake.MethodOrderDetail, douyinfake.FaultInvalidToken, 2)
				if _, err := e.client.Order(ctx, id); !transport.IsKind(err, transport.KindTokenInvalid) {
					t.Errorf("token refused twice: %v", err)
				}

				if err := e.client.CheckCredentials(ctx); err != nil {
					t.Errorf("good credentials: %v", err)
				}
				for name, cfg := range map[string]Config{
					"secret":  {AppKey: appKey, AppSecret: "wrong", ShopID: shopID},
					"app key": {AppKey: "7000000000000000000", AppSecret: appSecret, ShopID: shopID},
					"shop":    {AppKey: appKey, AppSecret: appSecret, ShopID: "999"},
				} {
					cfg.BaseURL, cfg.Transport, cfg.HTTP = e.base, e.tr, e.http
					cfg.Tokens = tokens.New(rdb, "test:"+t.Name()+":"+name+":")
					if err := New(cfg).CheckCredentials(ctx); !transport.IsKind(err, transport.KindAuth) {
						t.Errorf("bad %s: %v, want auth", name, err)
					}
				}
				if err := New(Config{BaseURL: e.base, AppKey: appKey, AppSecret: appSecret, ShopID: shopID, Transport: e.tr}).CheckCredentials(ctx); err == nil {
					t.Error("no token cache: no error")
				}
			})

			t.Run("pushes", func(t *testing.T) {
				e := newEnv(t, rdb)
				e.fake.Generate(14, 20, from, to)
				ids := e.fake.OrderIDs()
				var mu sync.Mutex
				var got []PushMessage
				var refusals []error
				recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, _ := io.ReadAll(r.Body)
					msgs, err := ParsePush(r.Header, body, appKey, appSecret)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						refusals = append(refusals, err)
						http.Error(w, "bad push", http.StatusBadRequest)
						return
					}
					got = append(got, msgs...)
					_, _ = io.WriteString(w, PushAnswer)
				}))
				defer recv.Close()
				push := []douyinfake.PushMessage{e.fake.VerifyPing(), e.fake.PushFor(ids[3], douyinfake.TagTradePaid),
					e.fake.PushFor(ids[4], douyinfake.TagRefundCreated)}
				if n, err := e.fake.SendPush(ctx, recv.URL, push); err != nil || n != 1 {
					t.Fatalf("SendPush: %d attempts, %v (refusals %v)", n, err, refusals)
				}
				if len(got) != 3 || !IsVerification(got[0]) || IsVerification(got[1]) {
					t.Fatalf("got %+v", got)
				}
				for i, m := range got[1:] {
					o, _ := e.fake.Order(ids[3+i])
					if m.OrderID != o.ID || m.ShopID != shopID || !m.UpdatedAt.Equal(o.Modified) || m.MsgID != push[1+i].MsgID || m.Tag != push[1+i].Tag {
						t.Errorf("message %d: %+v", i, m)
					}
					if len(m.Raw) == 0 || m.Raw[0] != '{' {
						t.Errorf("message %d raw %s", i, m.Raw)
					}
				}

				body, err := douyinfake.PushBody(push[1:])
				if err != nil {
					t.Fatal(err)
				}
				header := func(sign string) http.Header {
					h := http.Header{}
					h.Set("app-id", appKey)
					h.Set("event-sign", sign)
					return h
				}
				if msgs, err := ParsePush(header(e.fake.EventSign(body)), body, appKey, appSecret); err != nil || len(msgs) != 2 {
					t.Fatalf("good push: %v %v", msgs, err)
				}
				tampered := bytes.Replace(body, []byte(ids[3]), []byte(ids[5]), 1)
				if bytes.Equal(tampered, body) {
					t.Fatal("nothing tampered")
				}
				bad := map[string]struct {
					h    http.Header
					body []byte
				}{
					"tampered body": {header(e.fake.EventSign(body)), tampered},
					"wrong sign":    {header(PushSignature(appKey, "other secret", body)), body},
					"no sign":       {header(""), body},
					"malformed":     {header(e.fake.EventSign([]byte(`[{"tag":"101",`))), []byte(`[{"tag":"101",`)},
					"not an array":  {header(e.fake.EventSign([]byte(`{"tag":"101"}`))), []byte(`{"tag":"101"}`)},
					"bad data":      {header(e.fake.EventSign([]byte(`[{"tag":"101","msg_id":"1","data":"{oops"}]`))), []byte(`[{"tag":"101","msg_id":"1","data":"{oops"}]`)},
					"no msg_id":     {header(e.fake.EventSign([]byte(`[{"tag":"101","data":"{}"}]`))), []byte(`[{"tag":"101","data":"{}"}]`)},
				}
				wrongApp := header(e.fake.EventSign(body))
				wrongApp.Set("app-id", "someone-else")
				bad["wrong app-id"] = struct {
					h    http.Header
					body []byte
				}{wrongApp, body}
				for name, b := range bad {
					if msgs, err := ParsePush(b.h, b.body, appKey, appSecret); err == nil || msgs != nil {
						t.Errorf("%s: %v, %v; want an error and nothing", name, msgs, err)
					}
				}
				// A tampered push sent over HTTP is refused by the receiver.
				mu.Lock()
				refusals = nil
				mu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, recv.URL, bytes.NewReader(tampered))
				req.Header = header(e.fake.EventSign(body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || len(refusals) != 1 || !errors.Is(refusals[0], ErrPushSignature) {
					t.Fatalf("tampered push over HTTP: %d %v", resp.StatusCode, refusals)
				}
			})
		})
	}
}

// checkOrder compares a mapped order with the fake's.
func checkOrder(t *testing.T, got *connectors.Order, want douyinfake.Order) {
	t.Helper()
	if got.ID != want.ID || got.Platform != "DOUYIN" || got.ShopID != shopID {
		t.Fatalf("order %s: id/platform/shop %q %q %q", want.ID, got.ID, got.Platform, got.ShopID)
	}
	if got.TotalFen != want.TotalFen || got.PaidFen != want.PaidFen || got.ShippingFen != want.PostFeeFen || got.DiscountFen != want.DiscountFen {
		t.Fatalf("order %s: money %+v, want %+v", want.ID, got, want)
	}
	if got.BuyerID != want.BuyerID || got.BuyerNick != want.BuyerNick || got.BuyerPhone != "" {
		t.Fatalf("order %s: buyer %q %q %q", want.ID, got.BuyerID, got.BuyerNick, got.BuyerPhone)
	}
	if !got.PlacedAt.Equal(want.Created) || !got.UpdatedAt.Equal(want.Modified) {
		t.Fatalf("order %s: times %s %s", want.ID, got.PlacedAt, got.UpdatedAt)
	}
	if (got.PaidAt == nil) != want.PaidAt.IsZero() || got.PaidAt != nil && !got.PaidAt.Equal(want.PaidAt) {
		t.Fatalf("order %s: paid at %v, want %s", want.ID, got.PaidAt, want.PaidAt)
	}
	if len(got.Items) != len(want.Items) {
		t.Fatalf("order %s: %d items", want.ID, len(got.Items))
	}
	for i, it := range want.Items {
		g := got.Items[i]
		if g.SKU != it.SkuID || g.Name != it.Title || g.Quantity != it.Qty || g.UnitPriceFen != it.PriceFen || g.AmountFen != it.PriceFen*int64(it.Qty) {
			t.Fatalf("order %s item %d: %+v, want %+v", want.ID, i, g, it)
		}
	}
	var status connectors.OrderStatus
	switch want.Status {
	case douyinfake.StatusUnpaid:
		status = connectors.OrderCreated
	case douyinfake.StatusPaid:
		status = connectors.OrderPaid
	case douyinfake.StatusShipped:
		status = connectors.OrderShipped
	case douyinfake.StatusCompleted:
		status = connectors.OrderCompleted
	case douyinfake.StatusCancelled:
		status = connectors.OrderCancelled
		if want.RefundStatus == douyinfake.RefundSuccess {
			status = connectors.OrderRefunded
		}
	}
	if want.RefundStatus == douyinfake.RefundToRefund || want.RefundStatus == douyinfake.RefundRefunding {
		if status != connectors.OrderCancelled {
			status = connectors.OrderRefunding
		}
	}
	ret := want.RefundStatus != douyinfake.RefundNone && want.RefundStatus != ""
	if got.Status != status || got.ReturnRequested != ret {
		t.Fatalf("order %s (%s, refund %s): %s return %v, want %s %v", want.ID, want.Status, want.RefundStatus,
			got.Status, got.ReturnRequested, status, ret)
	}
	if status == connectors.OrderRefunded && got.RefundedFen != want.PaidFen || status != connectors.OrderRefunded && got.RefundedFen != 0 {
		t.Fatalf("order %s: refunded %d", want.ID, got.RefundedFen)
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		code     int
		sub, msg string
		kind     transport.Kind
	}{
		{40003, "isv.access-token-expired", "", transport.KindTokenInvalid},
		{40003, "isv.access-token-no-existed", "", transport.KindTokenInvalid},
		{60000, "isv.api-flow-limited", "", transport.KindRateLimited},
		{20000, "isp.service-error", "", transport.KindBusy},
		{50002, "", "系统繁忙", transport.KindBusy},
		{40003, "isv.signature-invalid", "", transport.KindAuth},
		{40003, "isv.app-id-invalid", "", transport.KindAuth},
		{50001, "dop.token-generate-failed:no-authorization", "", transport.KindAuth},
		{50002, "isv.business-failed", "订单不存在: 1", transport.KindNotFound},
		{40004, "isv.parameter-invalid:size", "", transport.KindPermanent},
		{70000, "isp.api-service-off", "", transport.KindPermanent},
	}
	for _, c := range cases {
		var pe *transport.Error
		if !errors.As(classify("m", c.code, "msg", c.sub, c.msg, ""), &pe) || pe.Kind != c.kind {
			t.Errorf("%d %s: %+v, want %s", c.code, c.sub, pe, c.kind)
		}
		if c.kind == transport.KindRateLimited && pe.RetryAfter != time.Second {
			t.Errorf("rate limit retry after %s", pe.RetryAfter)
		}
	}
}
