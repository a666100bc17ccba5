package douyin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/scrm-dev/scrm/connectors"
	"github.com/scrm-dev/scrm/connectors/tokens"
	"github.com/scrm-dev/scrm/connectors/transport"
)

// DefaultBaseURL is the open API's host.
const DefaultBaseURL = "https://openapi-fxg.jinritemai.com"

// Methods called.
const (
	MethodTokenCreate = "token.create"
	MethodSearchList  = "order.searchList"
	MethodOrderDetail = "order.orderDetail"
)

// platform is the transport's platform label (metrics, keys).
const platform = "douyin"

// Our own budgets per account and method: modest figures, below the
// per-app, per-API limits the platform sets (which vary by API and app
// and are shown in the developer console); a 60000 answer still puts the
// method in a shared cool-down (connectors/transport).
var (
	tokenLimit  = redis_rate.PerMinute(10)
	searchLimit = redis_rate.PerSecond(10)
	detailLimit = redis_rate.PerSecond(25)
)

// timeLayout is the timestamp parameter's format, in UTC+8.
const timeLayout = "2006-01-02 15:04:05"

var cst = time.FixedZone("CST", 8*3600)

// maxPageSize is order.searchList's largest page.
const maxPageSize = 100

// Config configures a Client.
type Config struct {
	// BaseURL is the API host; DefaultBaseURL when empty.
	BaseURL string
	// AppKey and AppSecret are the (self-use) app's; ShopID the shop it
	// is authorised for.
	AppKey, AppSecret, ShopID string
	// Account names the account for the transport's budgets, cool-downs,
	// breaker and metrics; AppKey + ":" + ShopID when empty.
	Account string
	// Transport runs the calls; one without Redis (no shared budgets)
	// when nil.
	Transport *transport.Client
	// Tokens is the shared access-token cache (required); the key is
	// "douyin:" + AppKey + ":" + ShopID.
	Tokens *tokens.Cache
	// HTTP sends the requests; transport.HTTPClient when nil.
	HTTP *http.Client
	// Now is the clock for the timestamp parameter; time.Now when nil.
	Now func() time.Time
}

// Client calls the Douyin shop open API for one shop.
type Client struct {
	cfg Config
}

// New returns a client.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.Account == "" {
		cfg.Account = cfg.AppKey + ":" + cfg.ShopID
	}
	if cfg.Transport == nil {
		cfg.Transport = transport.New(transport.Options{})
	}
	if cfg.HTTP == nil {
		cfg.HTTP = transport.HTTPClient
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Client{cfg: cfg}
}

func (c *Client) tokenKey() string { return "douyin:" + c.cfg.AppKey + ":" + c.cfg.ShopID }

// OrderChange is one order found changed in a time range.
type OrderChange struct {
	ID        string
	UpdatedAt time.Time
}

// ChangedOrders calls fn with each page of the orders updated in
// [from, to] (order.searchList by update_time, both ends inclusive, to the
// second; order_by=update_time ascending, pages from 0). pageSize is
// 1..100 (100 when out of range).
//
// An order changed during the walk gets an update time after to and
// drops out of the range, which would move the orders behind it one place
// toward the pages already read, and one of them would be missed. So the
// walk seeks rather than counts: when a page is full it starts again from
// page 0 at the update time of the page's last order, so that changes
// behind it cannot move anything. Orders of that second are reported
// again: callers dedupe. Only when a whole page shares one second does
// the walk go on to the next page of that second.
func (c *Client) ChangedOrders(ctx context.Context, from, to time.Time, pageSize int, fn func([]OrderChange) error) error {
	if pageSize < 1 || pageSize > maxPageSize {
		pageSize = maxPageSize
	}
	start, end := from.Unix(), to.Unix()
	if end < start {
		return fmt.Errorf("douyin: ChangedOrders: to %s is before from %s", to, from)
	}
	page := 0
	for {
		var out struct {
			List []wireOrder `json:"shop_order_list"`
		}
		err := c.call(ctx, MethodSearchList, searchLimit, map[string]any{
			"update_time_start": start,
			"update_time_end":   end,
			"order_by":          "update_time",
			"order_asc":         true,
			"page":              page,
			"size":              pageSize,
		}, &out)
		if err != nil {
			return err
		}
		changes := make([]OrderChange, 0, len(out.List))
		for _, o := range out.List {
			if o.OrderID == "" {
				return fmt.Errorf("douyin: %s: an order without order_id", MethodSearchList)
			}
			changes = append(changes, OrderChange{ID: string(o.OrderID), UpdatedAt: time.Unix(int64(o.UpdateTime), 0)})
		}
		if len(changes) > 0 {
			if err := fn(changes); err != nil {
				return err
			}
		}
		if len(changes) < pageSize {
			return nil
		}
		if last := changes[len(changes)-1].UpdatedAt.Unix(); last > start {
			start, page = last, 0
		} else {
			page++
		}
	}
}

// CheckCredentials proves the app key, secret and the shop's
// authorisation: it fetches (or reuses) the shop's access token and asks
// for one order updated in the last minute.
func (c *Client) CheckCredentials(ctx context.Context) error {
	now := c.cfg.Now()
	var out json.RawMessage
	return c.call(ctx, MethodSearchList, searchLimit, map[string]any{
		"update_time_start": now.Add(-time.Minute).Unix(),
		"update_time_end":   now.Unix(),
		"order_by":          "update_time",
		"page":              0,
		"size":              1,
	}, &out)
}

// id reads an id the API writes as a JSON string or number.
type id string

func (s *id) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = id(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("douyin: id %s: %w", b, err)
	}
	*s = id(n.String())
	return nil
}

// num reads an integer the API writes as a JSON number or string.
type num int64

func (n *num) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("douyin: number %s: %w", b, err)
	}
	*n = num(v)
	return nil
}

type wireOrder struct {
	OrderID         id     `json:"order_id"`
	ShopID          id     `json:"shop_id"`
	OrderStatus     num    `json:"order_status"`
	DoudianOpenID   string `json:"doudian_open_id"`
	UserNickName    string `json:"user_nick_name"`
	PostTel         string `json:"post_tel"`
	OrderAmount     num    `json:"order_amount"`
	PayAmount       num    `json:"pay_amount"`
	PostAmount      num    `json:"post_amount"`
	PromotionAmount num    `json:"promotion_amount"`
	CreateTime      num    `json:"create_time"`
	UpdateTime      num    `json:"update_time"`
	PayTime         num    `json:"pay_time"`
	ShipTime        num    `json:"ship_time"`
	FinishTime      num    `json:"finish_time"`
	SkuOrderList    []struct {
		SkuID        id     `json:"sku_id"`
		ProductName  string `json:"product_name"`
		ItemNum      num    `json:"item_num"`
		GoodsPrice   num    `json:"goods_price"`
		OriginAmount num    `json:"origin_amount"`
		PayAmount    *num   `json:"pay_amount"`
		AfterSale    struct {
			AfterSaleStatus num `json:"after_sale_status"`
			RefundStatus    num `json:"refund_status"`
		} `json:"after_sale_info"`
	} `json:"sku_order_list"`
}

// Douyin order_status values (order.orderDetail; 101 and 105 are the
// platform's partial-shipment and paid codes for some order types).
const (
	statusUnpaid      = 1
	statusPaid        = 2
	statusShipped     = 3
	statusCancelled   = 4
	statusCompleted   = 5
	statusPartShipped = 101
	statusPaid105     = 105
)

// SKU refund_status values (after_sale_info; as the fake documents them,
// unverified against the platform's tables).
const (
	refundNone      = 0
	refundToRefund  = 1
	refundRefunding = 2
	refundSuccess   = 3
)

// Order returns one shop order (order.orderDetail) in neutral form.
//
// Statuses: order_status 1 is CREATED, 2 and 105 PAID, 3 and 101 SHIPPED,
// 5 COMPLETED, 4 CANCELLED, or REFUNDED when a SKU order's refund
// succeeded (the platform cancels an order it refunded in full). An
// unknown status reads as PAID when the order has a pay time, else
// CREATED. A SKU order with a refund_status or after_sale_status other
// than 0 sets ReturnRequested; an open one (refund_status 1 "to refund"
// or 2 "refunding") makes an order that is not cancelled REFUNDING.
// RefundedFen is the pay_amount of a REFUNDED order, else the
// pay_amount (or origin_amount) of the SKU orders refunded.
//
// Money is in fen already. BuyerPhone is post_tel only when the API gives
// it plain: by default it sends mask_post_tel and an encrypted
// encrypt_post_tel, which are not kept.
func (c *Client) Order(ctx context.Context, orderID string) (*connectors.Order, error) {
	var out struct {
		Detail *wireOrder `json:"shop_order_detail"`
	}
	if err := c.call(ctx, MethodOrderDetail, detailLimit, map[string]any{"shop_order_id": orderID}, &out); err != nil {
		return nil, err
	}
	if out.Detail == nil {
		return nil, fmt.Errorf("douyin: %s %s: the answer has no shop_order_detail", MethodOrderDetail, orderID)
	}
	return c.order(out.Detail), nil
}

func unixPtr(n num) *time.Time {
	if n <= 0 {
		return nil
	}
	t := time.Unix(int64(n), 0)
	return &t
}

func (c *Client) order(w *wireOrder) *connectors.Order {
	o := &connectors.Order{
		Platform:    "DOUYIN",
		ShopID:      string(w.ShopID),
		ID:          string(w.OrderID),
		BuyerID:     w.DoudianOpenID,
		BuyerNick:   w.UserNickName,
		TotalFen:    int64(w.OrderAmount),
		DiscountFen: int64(w.PromotionAmount),
		ShippingFen: int64(w.PostAmount),
		PaidFen:     int64(w.PayAmount),
		PlacedAt:    time.Unix(int64(w.CreateTime), 0),
		UpdatedAt:   time.Unix(int64(w.UpdateTime), 0),
		PaidAt:      unixPtr(w.PayTime),
		ShippedAt:   unixPtr(w.ShipTime),
		CompletedAt: unixPtr(w.FinishTime),
	}
	if o.ShopID == "" {
		o.ShopID = c.cfg.ShopID
	}
	if plainMobile(w.PostTel) {
		o.BuyerPhone = w.PostTel
	}
	openRefund, refundDone := false, false
	var refunded int64
	for _, s := range w.SkuOrderList {
		it := connectors.OrderItem{SKU: string(s.SkuID), Name: s.ProductName, Quantity: int(s.ItemNum),
			UnitPriceFen: int64(s.GoodsPrice), AmountFen: int64(s.OriginAmount)}
		if it.UnitPriceFen == 0 && it.Quantity > 0 {
			it.UnitPriceFen = it.AmountFen / int64(it.Quantity)
		}
		o.Items = append(o.Items, it)
		if s.AfterSale.RefundStatus != refundNone || s.AfterSale.AfterSaleStatus != 0 {
			o.ReturnRequested = true
		}
		switch s.AfterSale.RefundStatus {
		case refundToRefund, refundRefunding:
			openRefund = true
		case refundSuccess:
			refundDone = true
			if s.PayAmount != nil {
				refunded += int64(*s.PayAmount)
			} else {
				refunded += int64(s.OriginAmount)
			}
		}
	}
	switch w.OrderStatus {
	case statusUnpaid:
		o.Status = connectors.OrderCreated
	case statusPaid, statusPaid105:
		o.Status = connectors.OrderPaid
	case statusShipped, statusPartShipped:
		o.Status = connectors.OrderShipped
	case statusCompleted:
		o.Status = connectors.OrderCompleted
	case statusCancelled:
		o.Status = connectors.OrderCancelled
		if refundDone {
			o.Status = connectors.OrderRefunded
		}
	default:
		o.Status = connectors.OrderCreated
		if o.PaidAt != nil {
			o.Status = connectors.OrderPaid
		}
	}
	if openRefund && o.Status != connectors.OrderCancelled && o.Status != connectors.OrderRefunded {
		o.Status = connectors.OrderRefunding
	}
	o.RefundedFen = refunded
	if o.Status == connectors.OrderRefunded {
		o.RefundedFen = o.PaidFen
	}
	return o
}

// plainMobile reports whether s is an unmasked mainland mobile number.
func plainMobile(s string) bool {
	if len(s) != 11 || s[0] != '1' {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// errNoTokens is returned when the config has no token cache.
var errNoTokens = errors.New("douyin: Config.Tokens is required")

// token returns the shop's access token from the shared cache, fetching
// one with token.create (grant_type authorization_self, for self-use
// apps) when there is none.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.cfg.Tokens == nil {
		return "", errNoTokens
	}
	return c.cfg.Tokens.Get(ctx, c.tokenKey(), func(ctx context.Context) (string, time.Duration, error) {
		var out struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   num    `json:"expires_in"`
		}
		err := c.cfg.Transport.Do(ctx, transport.Call{
			Account:  c.cfg.Account,
			Endpoint: transport.Endpoint{Platform: platform, Name: MethodTokenCreate, Limit: tokenLimit},
			Send: func(ctx context.Context) error {
				return c.send(ctx, MethodTokenCreate, "", map[string]any{
					"grant_type": "authorization_self",
					"shop_id":    c.cfg.ShopID,
				}, &out)
			},
		})
		if err != nil {
			return "", 0, err
		}
		return out.AccessToken, time.Duration(out.ExpiresIn) * time.Second, nil
	})
}

// call sends one API call with the shop's access token through the
// transport; a refused token is dropped from the cache (only that very
// token) and the transport retries once with a new one. Tokens are got
// outside Send, so that a token.create call never runs inside the
// account's breaker on behalf of another call.
func (c *Client) call(ctx context.Context, method string, limit redis_rate.Limit, params map[string]any, out any) error {
	tok, err := c.token(ctx)
	if err != nil {
		return err
	}
	return c.cfg.Transport.Do(ctx, transport.Call{
		Account:  c.cfg.Account,
		Endpoint: transport.Endpoint{Platform: platform, Name: method, Limit: limit},
		Send: func(ctx context.Context) error {
			return c.send(ctx, method, tok, params, out)
		},
		RenewToken: func(ctx context.Context) error {
			if err := c.cfg.Tokens.Invalidate(ctx, c.tokenKey(), tok); err != nil {
				return err
			}
			fresh, err := c.token(ctx)
			if err != nil {
				return err
			}
			tok = fresh
			return nil
		},
	})
}

func (c *Client) send(ctx context.Context, method, accessToken string, params map[string]any, out any) error {
	pj, err := ParamJSON(params)
	if err != nil {
		return err
	}
	ts := c.cfg.Now().In(cst).Format(timeLayout)
	sign, err := Sign(SignHMACSHA256, c.cfg.AppKey, c.cfg.AppSecret, method, pj, ts)
	if err != nil {
		return err
	}
	q := url.Values{}
	q.Set("app_key", c.cfg.AppKey)
	q.Set("method", method)
	if accessToken != "" {
		q.Set("access_token", accessToken)
	}
	q.Set("timestamp", ts)
	q.Set("v", "2")
	q.Set("sign_method", SignHMACSHA256)
	q.Set("sign", sign)
	u := c.cfg.BaseURL + "/" + strings.ReplaceAll(method, ".", "/") + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(pj))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json;charset=utf-8")
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		kind := transport.KindPermanent
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			kind = transport.KindBusy
		}
		return &transport.Error{Platform: platform, Endpoint: method, Code: "http_" + strconv.Itoa(resp.StatusCode),
			Message: http.StatusText(resp.StatusCode), Kind: kind}
	}
	var answer struct {
		Code    num             `json:"code"`
		Msg     string          `json:"msg"`
		SubCode string          `json:"sub_code"`
		SubMsg  string          `json:"sub_msg"`
		LogID   string          `json:"log_id"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("douyin: %s: unreadable answer: %w", method, err)
	}
	if answer.Code != 10000 {
		return classify(method, int(answer.Code), answer.Msg, answer.SubCode, answer.SubMsg, answer.LogID)
	}
	dec := json.NewDecoder(bytes.NewReader(answer.Data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("douyin: %s: unreadable data: %w", method, err)
	}
	return nil
}

// classify turns an answer's code into a transport.Error:
//
//   - sub_codes about the access token (isv.access-token-no-existed,
//     isv.access-token-expired, ...): KindTokenInvalid, so the transport
//     drops the cached token and retries once with a new one;
//   - 60000 or a flow-limit sub_code: KindRateLimited, for 1s (the
//     platform names no wait);
//   - 20000, isp.* sub_codes and "system busy" messages: KindBusy;
//   - bad sign, unknown app key, and token.create refusals
//     (dop.token-generate-failed:*: the shop's authorisation is gone):
//     KindAuth;
//   - order.orderDetail's 50002 "订单不存在" (no such order): KindNotFound;
//   - everything else: KindPermanent.
func classify(method string, code int, msg, subCode, subMsg, logID string) error {
	e := &transport.Error{Platform: platform, Endpoint: method, Code: strconv.Itoa(code), Message: msg, Kind: transport.KindPermanent}
	if subCode != "" {
		e.Code += "/" + subCode
	}
	if subMsg != "" {
		e.Message += ": " + subMsg
	}
	if logID != "" {
		e.Message += " (log_id " + logID + ")"
	}
	text := msg + " " + subMsg
	switch {
	case strings.Contains(subCode, "access-token") && subCode != "isv.access-token-missing":
		e.Kind = transport.KindTokenInvalid
	case code == 60000 || strings.Contains(subCode, "flow-limit") || strings.Contains(subCode, "rate-limit"):
		e.Kind, e.RetryAfter = transport.KindRateLimited, time.Second
	case code == 20000 || strings.HasPrefix(subCode, "isp.") && subCode != "isp.api-service-off" ||
		strings.Contains(text, "系统繁忙") || strings.Contains(strings.ToLower(text), "system busy"):
		e.Kind = transport.KindBusy
	case strings.HasPrefix(subCode, "isv.signature-") || strings.HasPrefix(subCode, "isv.app-id-") ||
		strings.HasPrefix(subCode, "dop.token-generate-failed"):
		e.Kind = transport.KindAuth
	case code == 50002 && strings.Contains(text, "不存在"):
		e.Kind = transport.KindNotFound
	}
	return e
}
