// Package taobaofake is an in-memory Taobao/Tmall open platform (TOP)
// router for tests and the demo: an http.Handler answering
// POST /router/rest the way gw.api.taobao.com does (PLATFORMS.md, Taobao
// section), with a shop's orders it can generate and change.
//
// It is written against the wire protocol only and imports nothing from
// this repository, so a client's tests against it check the client
// against the protocol, not against itself.
//
// # Protocol
//
// Requests are form-encoded (POST body, or query string; both are merged
// as TOP does). Common parameters: method, app_key, session, timestamp
// ("2006-01-02 15:04:05" in UTC+8, at most Options.TimestampSkew, default
// 10 minutes, from Options.Now), v=2.0, sign_method (md5, hmac or
// hmac-sha256), format=json, sign. The sign is checked with this
// package's own implementation of the rule: every parameter but sign with
// a non-empty value, sorted by key in byte order, key then value
// concatenated; md5: MD5(secret+s+secret), hmac: HMAC-MD5(secret, s),
// hmac-sha256: HMAC-SHA256(secret, s); upper-case hex (the check ignores
// the case of the hex digits). Answers are HTTP 200 with JSON, errors as
// {"error_response":{"code","msg","sub_code","sub_msg","request_id"}}.
//
// Checks run in this order, each with TOP's public error code: app_key
// missing (28) or unknown (29); method missing (21) — from here on the
// call counts in Calls; timestamp missing (30) or off (31); v missing
// (32) or not 2.0 (34); format not json (23); sign missing (24), unknown
// sign_method or wrong sign (25); unknown method (22); session missing
// (26); an injected fault (FailNext); session unknown (27); the per-minute
// rate limit (7); then the method's own parameters.
//
// # Methods
//
//   - taobao.trades.sold.increment.get: start_modified and end_modified
//     (UTC+8, both inclusive, end not before start, span at most
//     Options.MaxWindow, default one day), page_no from 1, page_size
//     1..100 (default 40), fields (required; names the summary fields to
//     return), use_has_next. Trades whose modified time is in the window,
//     sorted by modified time descending (then tid descending). The answer
//     carries total_results and has_next whatever use_has_next says.
//   - taobao.trade.fullinfo.get: tid and fields (required). The trade with
//     its sub-orders under orders.order.
//
// Business-parameter errors are code 40 (missing, sub_code
// isv.missing-parameter:NAME) or code 15 with an isv.* sub_code (invalid
// value, window too long, unknown trade): not retryable. FaultSystemBusy
// is code 15 with an isp.* sub_code: retryable.
//
// # Simplified
//
//   - One seller: every valid session (AddSession) sees every order; no
//     session expiry other than FaultInvalidToken.
//   - fields filters the top-level keys of a trade; any field beginning
//     with "orders" returns the sub-orders whole. Unknown field names are
//     ignored rather than rejected.
//   - Amounts: Order.TotalFen is total_fee (goods total), PaidFen is
//     payment, PostFeeFen post_fee, DiscountFen discount_fee, all written
//     as yuan strings with two decimals. Order.RefundStatus applies to
//     every sub-order.
//   - tid is a JSON number only when the order ID is a decimal integer
//     that fits an int64 (generated ones are 19 digits, beyond a
//     float64's exact range, as real tids are); tid_str is always there.
//   - No 3-month history limit, no XML, no file uploads, no
//     simplify=true, no request_id semantics (a counter).
//   - The rate limit is a fixed window per calendar minute of
//     Options.Now, per method (one app per server).
package taobaofake

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Path is where the router listens, as on gw.api.taobao.com.
const Path = "/router/rest"

// Method names served.
const (
	MethodIncrementGet = "taobao.trades.sold.increment.get"
	MethodFullinfoGet  = "taobao.trade.fullinfo.get"
)

// TimeLayout is TOP's time format, always in UTC+8.
const TimeLayout = "2006-01-02 15:04:05"

// CST is UTC+8, the zone of every TOP time (a fixed zone, so no tzdata is
// needed).
var CST = time.FixedZone("CST", 8*3600)

// Sign methods (the sign_method parameter).
const (
	SignMD5        = "md5"
	SignHMAC       = "hmac"
	SignHMACSHA256 = "hmac-sha256"
)

// TOP platform error codes (open.taobao.com, "API错误码" / platform
// error codes). Codes and messages as TOP writes them.
const (
	CodeAppCallLimited   = 7  // App Call Limited
	CodeRemoteError      = 15 // Remote service error (sub_code isp.* or isv.*)
	CodeMissingMethod    = 21 // Missing Method
	CodeInvalidMethod    = 22 // Invalid Method
	CodeInvalidFormat    = 23 // Invalid Format
	CodeMissingSignature = 24 // Missing Signature
	CodeInvalidSignature = 25 // Invalid Signature
	CodeMissingSession   = 26 // Missing Session
	CodeInvalidSession   = 27 // Invalid Session
	CodeMissingAppKey    = 28 // Missing App Key
	CodeInvalidAppKey    = 29 // Invalid App Key
	CodeMissingTimestamp = 30 // Missing Timestamp
	CodeInvalidTimestamp = 31 // Invalid Timestamp
	CodeMissingVersion   = 32 // Missing Version
	CodeUnsupportedVer   = 34 // Unsupported Version
	CodeMissingArguments = 40 // Missing Required Arguments
)

// Sub-codes the fake uses.
const (
	SubLimitedByApp     = "accesscontrol.limited-by-app-access-count"
	SubInvalidSession   = "invalid-sessionkey"
	SubRemoteTimeout    = "isp.top-remote-connection-timeout" // retryable
	SubInvalidParameter = "isv.invalid-parameter"
	SubMissingParameter = "isv.missing-parameter"
	SubTradeNotExist    = "isv.trade-not-exist"
)

// Trade statuses (Order.Status).
const (
	StatusNoCreatePay      = "TRADE_NO_CREATE_PAY"
	StatusWaitBuyerPay     = "WAIT_BUYER_PAY"
	StatusWaitSellerSend   = "WAIT_SELLER_SEND_GOODS"
	StatusWaitBuyerConfirm = "WAIT_BUYER_CONFIRM_GOODS"
	StatusFinished         = "TRADE_FINISHED"
	StatusClosed           = "TRADE_CLOSED"
	StatusClosedByTaobao   = "TRADE_CLOSED_BY_TAOBAO"
)

// Sub-order refund statuses (Order.RefundStatus; "" reads as RefundNone).
const (
	RefundNone              = "NO_REFUND"
	RefundWaitSellerAgree   = "WAIT_SELLER_AGREE"
	RefundWaitBuyerReturn   = "WAIT_BUYER_RETURN_GOODS"
	RefundWaitSellerConfirm = "WAIT_SELLER_CONFIRM_GOODS"
	RefundSellerRefuseBuyer = "SELLER_REFUSE_BUYER"
	RefundClosed            = "CLOSED"
	RefundSuccess           = "SUCCESS"
)

const (
	defaultPageSize          = 40
	maxPageSize              = 100
	defaultTimestampSkew     = 10 * time.Minute
	defaultMaxWindow         = 24 * time.Hour
	banMessageFormat         = "This ban will last for %d more seconds"
	systemBusySubMessage     = "remote service timeout, please retry"
	invalidSessionSubMessage = "SessionKey非法"
)

// FaultKind is a failure FailNext injects.
type FaultKind int

// Faults.
const (
	// FaultRateLimited answers code 7, sub_code
	// accesscontrol.limited-by-app-access-count, a one-second ban.
	FaultRateLimited FaultKind = iota + 1
	// FaultInvalidToken answers code 27 Invalid session.
	FaultInvalidToken
	// FaultSystemBusy answers code 15 with an isp.* sub_code (retryable).
	FaultSystemBusy
)

// Options configure a Server.
type Options struct {
	AppKey, AppSecret string
	// Now is the platform's clock; time.Now when nil.
	Now func() time.Time
	// RateLimitPerMinute caps calls per method per calendar minute; 0 is
	// unlimited.
	RateLimitPerMinute int
	// TimestampSkew is how far timestamp may be from Now; 10 minutes
	// when 0.
	TimestampSkew time.Duration
	// MaxWindow is the longest start_modified..end_modified span; one
	// day when 0.
	MaxWindow time.Duration
}

// Server is the fake router. Safe for concurrent use.
type Server struct {
	o Options

	mu       sync.Mutex
	sessions map[string]bool
	orders   map[string]*Order
	calls    map[string]int
	faults   map[string][]FaultKind
	window   map[string]rateWindow
	requests int
}

type rateWindow struct {
	start time.Time
	n     int
}

// New returns a Server with no orders and no sessions.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TimestampSkew == 0 {
		o.TimestampSkew = defaultTimestampSkew
	}
	if o.MaxWindow == 0 {
		o.MaxWindow = defaultMaxWindow
	}
	return &Server{
		o:        o,
		sessions: map[string]bool{},
		orders:   map[string]*Order{},
		calls:    map[string]int{},
		faults:   map[string][]FaultKind{},
		window:   map[string]rateWindow{},
	}
}

// AddSession makes session a valid session key.
func (s *Server) AddSession(session string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[session] = true
}

// FailNext makes the next n calls of method that get past signature
// checking fail with kind.
func (s *Server) FailNext(method string, kind FaultKind, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[method] = append(s.faults[method], kind)
	}
}

// Calls is how many requests named method (whatever their outcome, from
// the point the method parameter was read).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// topError is an error_response.
type topError struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code,omitempty"`
	SubMsg  string `json:"sub_msg,omitempty"`
}

func errorf(code int, msg, subCode, format string, args ...any) *topError {
	return &topError{Code: code, Msg: msg, SubCode: subCode, SubMsg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers TOP calls on Path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	params := make(map[string]string, len(r.Form))
	for k, vs := range r.Form {
		if len(vs) > 0 {
			params[k] = vs[0]
		}
	}
	s.mu.Lock()
	s.requests++
	requestID := fmt.Sprintf("fake%08d", s.requests)
	body, terr := s.handle(params)
	s.mu.Unlock()

	var out any
	if terr != nil {
		out = map[string]any{"error_response": struct {
			*topError
			RequestID string `json:"request_id"`
		}{terr, requestID}}
	} else {
		body["request_id"] = requestID
		out = map[string]any{responseKey(params["method"]): body}
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
}

// responseKey is the answer's top-level key: the method without its
// "taobao." prefix, dots as underscores, then "_response".
func responseKey(method string) string {
	return strings.ReplaceAll(strings.TrimPrefix(method, "taobao."), ".", "_") + "_response"
}

// handle runs one call; s.mu is held.
func (s *Server) handle(p map[string]string) (map[string]any, *topError) {
	switch {
	case p["app_key"] == "":
		return nil, errorf(CodeMissingAppKey, "Missing App Key", "", "app_key is required")
	case p["app_key"] != s.o.AppKey:
		return nil, errorf(CodeInvalidAppKey, "Invalid App Key", "", "unknown app_key")
	case p["method"] == "":
		return nil, errorf(CodeMissingMethod, "Missing Method", "", "method is required")
	}
	method := p["method"]
	s.calls[method]++
	now := s.o.Now()

	if p["timestamp"] == "" {
		return nil, errorf(CodeMissingTimestamp, "Missing Timestamp", "", "timestamp is required")
	}
	ts, err := time.ParseInLocation(TimeLayout, p["timestamp"], CST)
	if err != nil || absDuration(now.Sub(ts)) > s.o.TimestampSkew {
		return nil, errorf(CodeInvalidTimestamp, "Invalid Timestamp", "", "timestamp %q is not within %s of %s", p["timestamp"], s.o.TimestampSkew, now.In(CST).Format(TimeLayout))
	}
	switch {
	case p["v"] == "":
		return nil, errorf(CodeMissingVersion, "Missing Version", "", "v is required")
	case p["v"] != "2.0":
		return nil, errorf(CodeUnsupportedVer, "Unsupported Version", "", "only v=2.0")
	case p["format"] != "json":
		return nil, errorf(CodeInvalidFormat, "Invalid Format", "", "this fake speaks format=json only")
	case p["sign"] == "":
		return nil, errorf(CodeMissingSignature, "Missing Signature", "", "sign is required")
	}
	want, ok := sign(p["sign_method"], s.o.AppSecret, p)
	if !ok || !hmac.Equal([]byte(want), []byte(strings.ToUpper(p["sign"]))) {
		return nil, errorf(CodeInvalidSignature, "Invalid signature", "", "sign_method %q", p["sign_method"])
	}
	if method != MethodIncrementGet && method != MethodFullinfoGet {
		return nil, errorf(CodeInvalidMethod, "Invalid Method", "", "method %q is not served", method)
	}
	if p["session"] == "" {
		return nil, errorf(CodeMissingSession, "Missing Session", "", "session is required")
	}
	if q := s.faults[method]; len(q) > 0 {
		s.faults[method] = q[1:]
		return nil, faultError(q[0])
	}
	if !s.sessions[p["session"]] {
		return nil, errorf(CodeInvalidSession, "Invalid session", SubInvalidSession, invalidSessionSubMessage)
	}
	if lim := s.o.RateLimitPerMinute; lim > 0 {
		start := now.Truncate(time.Minute)
		rw := s.window[method]
		if !rw.start.Equal(start) {
			rw = rateWindow{start: start}
		}
		if rw.n >= lim {
			left := int(start.Add(time.Minute).Sub(now).Seconds() + 0.999)
			return nil, errorf(CodeAppCallLimited, "App Call Limited", SubLimitedByApp, banMessageFormat, max(left, 1))
		}
		rw.n++
		s.window[method] = rw
	}
	switch method {
	case MethodIncrementGet:
		return s.incrementGet(p)
	default:
		return s.fullinfoGet(p)
	}
}

func faultError(k FaultKind) *topError {
	switch k {
	case FaultRateLimited:
		return errorf(CodeAppCallLimited, "App Call Limited", SubLimitedByApp, banMessageFormat, 1)
	case FaultInvalidToken:
		return errorf(CodeInvalidSession, "Invalid session", SubInvalidSession, invalidSessionSubMessage)
	default:
		return errorf(CodeRemoteError, "Remote service error", SubRemoteTimeout, systemBusySubMessage)
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// sign is the fake's own implementation of TOP's signature rule.
func sign(method, secret string, p map[string]string) (string, bool) {
	keys := make([]string, 0, len(p))
	for k, v := range p {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + p[k])
	}
	var h hash.Hash
	switch method {
	case SignMD5:
		h = md5.New()
		h.Write([]byte(secret + b.String() + secret))
	case SignHMAC:
		h = hmac.New(md5.New, []byte(secret))
		h.Write([]byte(b.String()))
	case SignHMACSHA256:
		h = hmac.New(sha256.New, []byte(secret))
		h.Write([]byte(b.String()))
	default:
		return "", false
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), true
}

func missing(name string) *topError {
	return errorf(CodeMissingArguments, "Missing Required Arguments", SubMissingParameter+":"+name, "%s is required", name)
}

func invalid(name, format string, args ...any) *topError {
	return errorf(CodeRemoteError, "Remote service error", SubInvalidParameter+":"+name, format, args...)
}

func (s *Server) incrementGet(p map[string]string) (map[string]any, *topError) {
	for _, name := range []string{"fields", "start_modified", "end_modified"} {
		if p[name] == "" {
			return nil, missing(name)
		}
	}
	start, err := time.ParseInLocation(TimeLayout, p["start_modified"], CST)
	if err != nil {
		return nil, invalid("start_modified", "start_modified must be yyyy-MM-dd HH:mm:ss")
	}
	end, err := time.ParseInLocation(TimeLayout, p["end_modified"], CST)
	if err != nil {
		return nil, invalid("end_modified", "end_modified must be yyyy-MM-dd HH:mm:ss")
	}
	if end.Before(start) {
		return nil, invalid("end_modified", "end_modified is before start_modified")
	}
	if end.Sub(start) > s.o.MaxWindow {
		return nil, invalid("end_modified", "start_modified and end_modified must be at most %s apart", s.o.MaxWindow)
	}
	pageNo, pageSize := 1, defaultPageSize
	if v := p["page_no"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, invalid("page_no", "page_no must be an integer from 1")
		}
		pageNo = n
	}
	if v := p["page_size"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			return nil, invalid("page_size", "page_size must be 1..%d", maxPageSize)
		}
		pageSize = n
	}
	var hits []*Order
	for _, o := range s.orders {
		m := o.Modified.Truncate(time.Second)
		if !m.Before(start) && !m.After(end) {
			hits = append(hits, o)
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if !hits[i].Modified.Equal(hits[j].Modified) {
			return hits[i].Modified.After(hits[j].Modified)
		}
		return idLess(hits[j].ID, hits[i].ID)
	})
	fields := fieldSet(p["fields"])
	trades := []any{}
	from := (pageNo - 1) * pageSize
	for i := from; i < len(hits) && i < from+pageSize; i++ {
		trades = append(trades, filter(tradeJSON(hits[i], false), fields))
	}
	return map[string]any{
		"total_results": len(hits),
		"has_next":      from+pageSize < len(hits),
		"trades":        map[string]any{"trade": trades},
	}, nil
}

func (s *Server) fullinfoGet(p map[string]string) (map[string]any, *topError) {
	for _, name := range []string{"fields", "tid"} {
		if p[name] == "" {
			return nil, missing(name)
		}
	}
	o := s.orders[p["tid"]]
	if o == nil {
		return nil, errorf(CodeRemoteError, "Remote service error", SubTradeNotExist, "trade %s does not exist", p["tid"])
	}
	return map[string]any{"trade": filter(tradeJSON(o, true), fieldSet(p["fields"]))}, nil
}

func fieldSet(fields string) map[string]bool {
	set := map[string]bool{}
	for _, f := range strings.Split(fields, ",") {
		f = strings.TrimSpace(f)
		if strings.HasPrefix(f, "orders") {
			f = "orders"
		}
		set[f] = true
	}
	return set
}

func filter(trade map[string]any, fields map[string]bool) map[string]any {
	for k := range trade {
		if !fields[k] {
			delete(trade, k)
		}
	}
	return trade
}

// idLess orders IDs numerically when both are decimal, else as strings.
func idLess(a, b string) bool {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) < len(b)
	}
	return a < b
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Yuan writes fen as TOP's yuan string with two decimals.
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func topTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(CST).Format(TimeLayout)
}

// tradeJSON is a trade as TOP writes it; full adds the sub-orders and
// the buyer's details.
func tradeJSON(o *Order, full bool) map[string]any {
	t := map[string]any{
		"tid_str":        o.ID,
		"status":         o.Status,
		"buyer_open_uid": o.BuyerID,
		"buyer_nick":     o.BuyerNick,
		"payment":        Yuan(o.PaidFen),
		"total_fee":      Yuan(o.TotalFen),
		"post_fee":       Yuan(o.PostFeeFen),
		"discount_fee":   Yuan(o.DiscountFen),
		"created":        topTime(o.Created),
		"modified":       topTime(o.Modified),
		"type":           "fixed",
	}
	if n, err := strconv.ParseInt(o.ID, 10, 64); err == nil {
		t["tid"] = json.Number(strconv.FormatInt(n, 10))
	}
	if !o.PaidAt.IsZero() {
		t["pay_time"] = topTime(o.PaidAt)
	}
	if !full {
		return t
	}
	t["receiver_mobile"] = o.BuyerMobile
	num := 0
	sub := []any{}
	for i, it := range o.Items {
		num += it.Qty
		refund := o.RefundStatus
		if refund == "" {
			refund = RefundNone
		}
		sub = append(sub, map[string]any{
			"oid":           subOrderID(o.ID, i),
			"oid_str":       fmt.Sprint(subOrderID(o.ID, i)),
			"title":         it.Title,
			"num":           it.Qty,
			"price":         Yuan(it.PriceFen),
			"total_fee":     Yuan(it.PriceFen * int64(it.Qty)),
			"sku_id":        it.SkuID,
			"refund_status": refund,
			"status":        o.Status,
		})
	}
	t["num"] = num
	t["orders"] = map[string]any{"order": sub}
	return t
}

// subOrderID is sub-order i's oid: the tid plus i+1 when the tid is an
// int64 (generated tids leave room), else tid-i.
func subOrderID(id string, i int) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return json.Number(strconv.FormatInt(n+int64(i)+1, 10))
	}
	return fmt.Sprintf("%s-%d", id, i+1)
}
