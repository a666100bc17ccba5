package taobao

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/scrm-dev/scrm/connectors"
	"github.com/scrm-dev/scrm/connectors/transport"
)

// DefaultBaseURL is TOP's router.
const DefaultBaseURL = "https://gw.api.taobao.com/router/rest"

// Methods called.
const (
	MethodIncrementGet = "taobao.trades.sold.increment.get"
	MethodFullinfoGet  = "taobao.trade.fullinfo.get"
)

// platform is the transport's platform label (metrics, keys).
const platform = "taobao"

// Our own budgets per account and method. TOP's limits are set per app
// (and per API) by the platform and vary with the app's level and
// approvals; these are modest figures well inside what an ordinary
// approved app gets, so one busy shop does not spend the app's budget.
// A code 7 answer still puts the method in a shared cool-down
// (connectors/transport) for as long as TOP asks.
var (
	incrementLimit = redis_rate.PerSecond(10)
	fullinfoLimit  = redis_rate.PerSecond(25)
)

// timeLayout is TOP's time format, always in UTC+8.
const timeLayout = "2006-01-02 15:04:05"

// cst is UTC+8, the zone of every TOP time.
var cst = time.FixedZone("CST", 8*3600)

// maxWindow is the longest start_modified..end_modified span TOP allows.
const maxWindow = 24 * time.Hour

// Config configures a Client.
type Config struct {
	// BaseURL is the router; DefaultBaseURL when empty.
	BaseURL string
	// AppKey, AppSecret: the app's; Session: the seller's authorisation
	// (sessionkey). ShopID is stored on the orders returned.
	AppKey, AppSecret, Session, ShopID string
	// Platform is "TAOBAO" (the default) or "TMALL", stored on the orders.
	Platform string
	// Account names the account for the transport's budgets, cool-downs,
	// breaker and metrics. TOP counts calls per app, so it defaults to the
	// app key: every shop of one app then shares the app's budget.
	Account string
	// SignMethod is hmac-sha256 when empty.
	SignMethod string
	// Transport runs the calls; one without Redis (no shared budgets)
	// when nil.
	Transport *transport.Client
	// HTTP sends the requests; transport.HTTPClient when nil.
	HTTP *http.Client
	// Now is the clock for the timestamp parameter; time.Now when nil.
	Now func() time.Time
}

// Client calls TOP for one seller.
type Client struct {
	cfg Config
}

// New returns a client.
func New(cfg Config) *Client {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.Platform == "" {
		cfg.Platform = "TAOBAO"
	}
	if cfg.Account == "" {
		cfg.Account = cfg.AppKey
	}
	if cfg.SignMethod == "" {
		cfg.SignMethod = SignHMACSHA256
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

// TradeChange is one trade found changed in a time range.
type TradeChange struct {
	ID       string
	Modified time.Time
}

// ChangedTrades calls fn with each page of the trades modified in
// [from, to] (taobao.trades.sold.increment.get; both ends inclusive, to
// the second). Ranges longer than TOP's one-day limit are walked in
// windows of a day; consecutive windows share their boundary second, so
// a trade may be reported twice: callers dedupe. pageSize is 1..100 (100
// when out of range).
//
// Within a window the pages are walked from the last to the first. TOP
// sorts by modified time descending, and a trade changed during the walk
// gets a modified time after the window's end (to is in the past), so it
// drops out of the window and every trade behind it moves one place
// toward the first page. Walking backwards, those moves carry trades into
// pages not yet read (seen twice, never skipped); walking forwards, a
// trade would slip from an unread page into one already read and be
// missed. The trade that changed is found by the next range that covers
// its new modified time. This holds when to is in the past (a sync
// should stop a little before now); a trade changed inside the window
// during the walk comes first and is read, but may push one other trade
// onto a page already read.
func (c *Client) ChangedTrades(ctx context.Context, from, to time.Time, pageSize int, fn func([]TradeChange) error) error {
	if pageSize < 1 || pageSize > 100 {
		pageSize = 100
	}
	from, to = from.Truncate(time.Second), to.Truncate(time.Second)
	if to.Before(from) {
		return fmt.Errorf("taobao: ChangedTrades: to %s is before from %s", to, from)
	}
	for start := from; ; {
		end := start.Add(maxWindow)
		if end.After(to) {
			end = to
		}
		if err := c.walkWindow(ctx, start, end, pageSize, fn); err != nil {
			return err
		}
		if !end.Before(to) {
			return nil
		}
		start = end
	}
}

func (c *Client) walkWindow(ctx context.Context, start, end time.Time, pageSize int, fn func([]TradeChange) error) error {
	first, total, err := c.incrementPage(ctx, start, end, 1, pageSize)
	if err != nil {
		return err
	}
	pages := (total + pageSize - 1) / pageSize
	if pages <= 1 {
		if len(first) == 0 {
			return nil
		}
		return fn(first)
	}
	// The first page read above only told us how many pages there are:
	// it is read again last, when the pages behind it have been.
	for page := pages; page >= 1; page-- {
		trades, _, err := c.incrementPage(ctx, start, end, page, pageSize)
		if err != nil {
			return err
		}
		if len(trades) == 0 {
			continue
		}
		if err := fn(trades); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) incrementPage(ctx context.Context, start, end time.Time, page, pageSize int) ([]TradeChange, int, error) {
	var out struct {
		TotalResults int `json:"total_results"`
		Trades       struct {
			Trade []struct {
				TID      json.Number `json:"tid"`
				TIDStr   string      `json:"tid_str"`
				Modified string      `json:"modified"`
			} `json:"trade"`
		} `json:"trades"`
	}
	err := c.call(ctx, MethodIncrementGet, incrementLimit, map[string]string{
		"fields":         "tid,tid_str,modified",
		"start_modified": start.In(cst).Format(timeLayout),
		"end_modified":   end.In(cst).Format(timeLayout),
		"page_no":        strconv.Itoa(page),
		"page_size":      strconv.Itoa(pageSize),
		// Without use_has_next TOP counts total_results, which the
		// backward walk needs.
		"use_has_next": "false",
	}, &out)
	if err != nil {
		return nil, 0, err
	}
	changes := make([]TradeChange, 0, len(out.Trades.Trade))
	for _, t := range out.Trades.Trade {
		id := tradeID(t.TIDStr, t.TID)
		m, err := parseTime(t.Modified)
		if err != nil || id == "" {
			return nil, 0, fmt.Errorf("taobao: %s: trade %q: bad tid or modified %q", MethodIncrementGet, id, t.Modified)
		}
		changes = append(changes, TradeChange{ID: id, Modified: m})
	}
	return changes, out.TotalResults, nil
}

// CheckCredentials proves the app key, secret and session with the
// cheapest call the connector needs anyway: the changed trades of the
// last minute, one per page.
func (c *Client) CheckCredentials(ctx context.Context) error {
	now := c.cfg.Now().Truncate(time.Second)
	_, _, err := c.incrementPage(ctx, now.Add(-time.Minute), now, 1, 1)
	return err
}

// fullinfoFields are the trade fields Trade asks for.
const fullinfoFields = "tid,tid_str,status,buyer_open_uid,buyer_nick,receiver_mobile," +
	"payment,total_fee,post_fee,discount_fee,created,modified,pay_time,consign_time,end_time,orders"

type wireTrade struct {
	TID            json.Number `json:"tid"`
	TIDStr         string      `json:"tid_str"`
	Status         string      `json:"status"`
	BuyerOpenUID   string      `json:"buyer_open_uid"`
	BuyerNick      string      `json:"buyer_nick"`
	ReceiverMobile string      `json:"receiver_mobile"`
	Payment        string      `json:"payment"`
	TotalFee       string      `json:"total_fee"`
	PostFee        string      `json:"post_fee"`
	DiscountFee    string      `json:"discount_fee"`
	Created        string      `json:"created"`
	Modified       string      `json:"modified"`
	PayTime        string      `json:"pay_time"`
	ConsignTime    string      `json:"consign_time"`
	EndTime        string      `json:"end_time"`
	Orders         struct {
		Order []struct {
			SkuID        string      `json:"sku_id"`
			NumIID       json.Number `json:"num_iid"`
			Title        string      `json:"title"`
			Num          int         `json:"num"`
			Price        string      `json:"price"`
			TotalFee     string      `json:"total_fee"`
			Payment      string      `json:"payment"`
			RefundFee    string      `json:"refund_fee"`
			RefundStatus string      `json:"refund_status"`
		} `json:"order"`
	} `json:"orders"`
}

// Trade returns one trade (taobao.trade.fullinfo.get) in neutral form.
//
// Statuses: TRADE_NO_CREATE_PAY, WAIT_BUYER_PAY, PAY_PENDING and
// WAIT_PRE_AUTH_CONFIRM are CREATED; WAIT_SELLER_SEND_GOODS is PAID;
// SELLER_CONSIGNED_PART, WAIT_BUYER_CONFIRM_GOODS and TRADE_BUYER_SIGNED
// are SHIPPED; TRADE_FINISHED is COMPLETED; TRADE_CLOSED is REFUNDED when
// the trade was paid or a sub-order's refund succeeded (TOP closes a paid
// trade only by refunding it in full), else CANCELLED;
// TRADE_CLOSED_BY_TAOBAO (closed before payment) is CANCELLED. An unknown
// status reads as PAID when the trade has a pay time, else CREATED.
//
// Refunds: a sub-order refund_status other than NO_REFUND sets
// ReturnRequested. An open one (WAIT_SELLER_AGREE,
// WAIT_BUYER_RETURN_GOODS, WAIT_SELLER_CONFIRM_GOODS,
// SELLER_REFUSE_BUYER) makes a trade that is not closed REFUNDING.
// RefundedFen is the payment of a REFUNDED trade, else the refund_fee (or
// payment) of the sub-orders whose refund succeeded.
//
// Money: TOP's yuan strings are read exactly into fen. BuyerPhone is
// receiver_mobile when it is a plain mainland mobile number (TOP masks it
// for most apps).
func (c *Client) Trade(ctx context.Context, id string) (*connectors.Order, error) {
	var out struct {
		Trade *wireTrade `json:"trade"`
	}
	if err := c.call(ctx, MethodFullinfoGet, fullinfoLimit, map[string]string{
		"fields": fullinfoFields,
		"tid":    id,
	}, &out); err != nil {
		return nil, err
	}
	if out.Trade == nil {
		return nil, fmt.Errorf("taobao: %s %s: the answer has no trade", MethodFullinfoGet, id)
	}
	o, err := c.order(out.Trade)
	if err != nil {
		return nil, fmt.Errorf("taobao: trade %s: %w", id, err)
	}
	return o, nil
}

func (c *Client) order(t *wireTrade) (*connectors.Order, error) {
	o := &connectors.Order{
		Platform:  c.cfg.Platform,
		ShopID:    c.cfg.ShopID,
		ID:        tradeID(t.TIDStr, t.TID),
		BuyerID:   t.BuyerOpenUID,
		BuyerNick: t.BuyerNick,
	}
	if plainMobile(t.ReceiverMobile) {
		o.BuyerPhone = t.ReceiverMobile
	}
	var err error
	money := []struct {
		s   string
		dst *int64
	}{{t.TotalFee, &o.TotalFen}, {t.DiscountFee, &o.DiscountFen}, {t.PostFee, &o.ShippingFen}, {t.Payment, &o.PaidFen}}
	for _, m := range money {
		if *m.dst, err = YuanToFen(m.s); err != nil {
			return nil, err
		}
	}
	if o.PlacedAt, err = parseTime(t.Created); err != nil {
		return nil, fmt.Errorf("created: %w", err)
	}
	if o.UpdatedAt, err = parseTime(t.Modified); err != nil {
		return nil, fmt.Errorf("modified: %w", err)
	}
	times := []struct {
		s   string
		dst **time.Time
	}{{t.PayTime, &o.PaidAt}, {t.ConsignTime, &o.ShippedAt}}
	if t.Status == "TRADE_FINISHED" {
		times = append(times, struct {
			s   string
			dst **time.Time
		}{t.EndTime, &o.CompletedAt})
	}
	for _, tm := range times {
		if tm.s == "" {
			continue
		}
		v, err := parseTime(tm.s)
		if err != nil {
			return nil, err
		}
		*tm.dst = &v
	}

	openRefund, refundDone := false, false
	var refundedFen int64
	for _, s := range t.Orders.Order {
		it := connectors.OrderItem{SKU: s.SkuID, Name: s.Title, Quantity: s.Num}
		if it.SKU == "" {
			it.SKU = s.NumIID.String()
		}
		if it.UnitPriceFen, err = YuanToFen(s.Price); err != nil {
			return nil, err
		}
		if it.AmountFen, err = YuanToFen(s.TotalFee); err != nil {
			return nil, err
		}
		o.Items = append(o.Items, it)
		switch s.RefundStatus {
		case "", "NO_REFUND":
		case "WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS", "SELLER_REFUSE_BUYER":
			o.ReturnRequested, openRefund = true, true
		case "SUCCESS":
			o.ReturnRequested, refundDone = true, true
			amount := s.RefundFee
			if amount == "" {
				amount = s.Payment
			}
			fen, err := YuanToFen(amount)
			if err != nil {
				return nil, err
			}
			refundedFen += fen
		default: // CLOSED and statuses we do not know: a request existed
			o.ReturnRequested = true
		}
	}

	switch t.Status {
	case "TRADE_NO_CREATE_PAY", "WAIT_BUYER_PAY", "PAY_PENDING", "WAIT_PRE_AUTH_CONFIRM":
		o.Status = connectors.OrderCreated
	case "WAIT_SELLER_SEND_GOODS":
		o.Status = connectors.OrderPaid
	case "SELLER_CONSIGNED_PART", "WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED":
		o.Status = connectors.OrderShipped
	case "TRADE_FINISHED":
		o.Status = connectors.OrderCompleted
	case "TRADE_CLOSED":
		if refundDone || o.PaidAt != nil {
			o.Status = connectors.OrderRefunded
		} else {
			o.Status = connectors.OrderCancelled
		}
	case "TRADE_CLOSED_BY_TAOBAO":
		o.Status = connectors.OrderCancelled
	default:
		o.Status = connectors.OrderCreated
		if o.PaidAt != nil {
			o.Status = connectors.OrderPaid
		}
	}
	if openRefund && o.Status != connectors.OrderRefunded && o.Status != connectors.OrderCancelled {
		o.Status = connectors.OrderRefunding
	}
	o.RefundedFen = refundedFen
	if o.Status == connectors.OrderRefunded {
		o.RefundedFen = o.PaidFen
	}
	return o, nil
}

// YuanToFen reads a TOP amount ("12.30", "5", "-0.5") into fen exactly,
// without floating point. "" is 0; more than two decimals is an error.
func YuanToFen(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	m := yuanPattern.FindStringSubmatch(s)
	if m == nil || len(m[2]) > 15 {
		return 0, fmt.Errorf("taobao: bad amount %q", s)
	}
	whole, _ := strconv.ParseInt(m[2], 10, 64)
	frac := m[3] + "00"[len(m[3]):]
	f, _ := strconv.ParseInt(frac, 10, 64)
	fen := whole*100 + f
	if m[1] == "-" {
		fen = -fen
	}
	return fen, nil
}

var yuanPattern = regexp.MustCompile(`^(-?)(\d+)(?:\.(\d{1,2}))?$`)

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// plainMobile reports whether s is an unmasked mainland mobile number.
func plainMobile(s string) bool {
	return len(s) == 11 && s[0] == '1' && digits(s)
}

func tradeID(s string, n json.Number) string {
	if s != "" {
		return s
	}
	return n.String()
}

func parseTime(s string) (time.Time, error) {
	return time.ParseInLocation(timeLayout, s, cst)
}

// call sends one TOP call through the transport and decodes the answer's
// <method>_response object into out.
func (c *Client) call(ctx context.Context, method string, limit redis_rate.Limit, params map[string]string, out any) error {
	return c.cfg.Transport.Do(ctx, transport.Call{
		Account:  c.cfg.Account,
		Endpoint: transport.Endpoint{Platform: platform, Name: method, Limit: limit},
		Send: func(ctx context.Context) error {
			return c.send(ctx, method, params, out)
		},
		// No RenewToken: a TOP session is the seller's authorisation and
		// cannot be renewed by us; an invalid session (27) is KindAuth and
		// the seller must authorise the app again.
	})
}

func (c *Client) send(ctx context.Context, method string, biz map[string]string, out any) error {
	params := make(map[string]string, len(biz)+8)
	for k, v := range biz {
		params[k] = v
	}
	params["method"] = method
	params["app_key"] = c.cfg.AppKey
	params["session"] = c.cfg.Session
	params["timestamp"] = c.cfg.Now().In(cst).Format(timeLayout)
	params["v"] = "2.0"
	params["sign_method"] = c.cfg.SignMethod
	params["format"] = "json"
	sign, err := Sign(c.cfg.SignMethod, c.cfg.AppSecret, params)
	if err != nil {
		return err
	}
	form := url.Values{}
	for k, v := range params {
		form.Set(k, v)
	}
	form.Set("sign", sign)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
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
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("taobao: %s: unreadable answer: %w", method, err)
	}
	if raw, ok := answer["error_response"]; ok {
		var e struct {
			Code    json.Number `json:"code"`
			Msg     string      `json:"msg"`
			SubCode string      `json:"sub_code"`
			SubMsg  string      `json:"sub_msg"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("taobao: %s: unreadable error: %w", method, err)
		}
		return classify(method, e.Code.String(), e.Msg, e.SubCode, e.SubMsg)
	}
	key := strings.ReplaceAll(strings.TrimPrefix(method, "taobao."), ".", "_") + "_response"
	raw, ok := answer[key]
	if !ok {
		return fmt.Errorf("taobao: %s: the answer has no %s", method, key)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("taobao: %s: unreadable answer: %w", method, err)
	}
	return nil
}

var firstNumber = regexp.MustCompile(`\d+`)

// classify turns a TOP error_response into a transport.Error:
//
//   - 7 (call limited): KindRateLimited, for the seconds sub_msg names
//     ("This ban will last for 12 more seconds"), 1s when it names none;
//   - 25 (bad signature), 28/29 (app key missing/unknown): KindAuth;
//   - 26/27 (session missing/invalid): KindAuth, since TOP sessions are
//     not renewable by us: the seller must authorise the app again;
//   - 10 (service unavailable) and any isp.* sub_code (code 15 among
//     them): KindBusy;
//   - sub_codes saying the trade does not exist: KindNotFound;
//   - everything else: KindPermanent.
func classify(method, code, msg, subCode, subMsg string) error {
	e := &transport.Error{Platform: platform, Endpoint: method, Code: code, Message: msg, Kind: transport.KindPermanent}
	if subCode != "" {
		e.Code += "/" + subCode
	}
	if subMsg != "" {
		e.Message += ": " + subMsg
	}
	switch {
	case code == "7":
		e.Kind, e.RetryAfter = transport.KindRateLimited, time.Second
		if n, err := strconv.Atoi(firstNumber.FindString(subMsg)); err == nil && n > 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		}
	case code == "25" || code == "26" || code == "27" || code == "28" || code == "29":
		e.Kind = transport.KindAuth
	case code == "10" || strings.HasPrefix(subCode, "isp."):
		e.Kind = transport.KindBusy
	case strings.Contains(subCode, "not-exist") || strings.Contains(subCode, "not_exist") || strings.Contains(subCode, "not-found"):
		e.Kind = transport.KindNotFound
	}
	return e
}
