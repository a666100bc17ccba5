// Package douyinfake is an in-memory Douyin shop (抖店) open platform for
// tests and the demo: an http.Handler answering the open API the way
// openapi-fxg.jinritemai.com does (PLATFORMS.md, Douyin section), with a
// shop's orders it can generate and change, and a sender of signed push
// messages to a receiver URL.
//
// It is written against the wire protocol only and imports nothing from
// this repository, so a client's tests against it check the client
// against the protocol, not against itself.
//
// # Protocol
//
// A call is POST /{method with "." replaced by "/"} with the query
// parameters app_key, method, access_token (not for token.*), timestamp
// ("2006-01-02 15:04:05" in UTC+8, at most Options.TimestampSkew, default
// 10 minutes, from Options.Now), v=2, sign_method (hmac-sha256 or md5;
// md5 when absent, the platform's old default) and sign; the body is
// param_json, the business parameters as JSON. The sign is checked with
// this package's own implementation of the rule: over app_secret +
// "app_key" + app_key + "method" + method + "param_json" + body +
// "timestamp" + timestamp + "v" + "2" + app_secret, HMAC-SHA256 keyed
// with app_secret or plain MD5, hex (case ignored). The sign is checked
// over the exact bytes of the body received, never over a re-encoding:
// a client that signs one string and sends another fails here as on the
// platform. Whether the body is in canonical form (keys sorted at every
// depth, compact, no HTML escaping) is checked only with
// Options.StrictParamJSON. Business parameters may be JSON strings or
// numbers.
//
// Every answer is HTTP 200 with {code, msg, sub_code, sub_msg, log_id,
// data}; code 10000 is success. Errors use the platform's public codes
// (op.jinritemai.com, 平台基础错误码汇总), named by the Code and Sub
// constants. Checks run in this order: method in the path known to the
// router (70000); query method matching the path, app_key, timestamp and
// v (40001 missing, 40003 invalid) — from the method check on the call
// counts in Calls; sign (40001 missing, 40003 isv.signature-invalid); an
// injected fault (FailNext); the access token (40001 missing, 40003
// isv.access-token-no-existed or isv.access-token-expired); the
// per-minute rate limit (60000); param_json (40003
// isv.parameter-format-invalid); then the method's own parameters (40002
// missing, 40004 invalid, 50002 no such order, 50001 token refusals).
//
// # Methods
//
//   - token.create: grant_type=authorization_self and shop_id (optional;
//     if given, Options.ShopID) -> data{access_token, expires_in,
//     refresh_token, scope, shop_id, shop_name, authority_id}.
//   - token.refresh: grant_type=refresh_token and refresh_token -> the
//     same, with a new pair; the refresh token used is spent.
//   - order.searchList: update_time_start/update_time_end and
//     create_time_start/create_time_end (unix seconds, inclusive, each
//     optional), page from 0, size 1..100 (default 10), order_by
//     (create_time, the default, or update_time), order_asc (default
//     false) -> data{shop_order_list, page, size, total}; ties are broken
//     by order ID in the same direction.
//   - order.orderDetail: shop_order_id -> data{shop_order_detail}.
//
// # Simplified
//
//   - One app, one shop; tokens are shop-wide. Access tokens live
//     Options.TokenTTL (default 7 days) and refresh tokens 14 days, on
//     Options.Now; ExpireTokens expires every access token at once (the
//     refresh tokens stay usable). An access token stays valid after a
//     refresh that replaced it, until it expires.
//   - Orders have one shop order per package; Order.Items are its SKU
//     orders, each with ID = shop order ID + i + 1 when the ID is an
//     int64 (generated IDs are 16 apart, so these never collide).
//   - The buyer's phone is returned as mask_post_tel ("138****1234") and
//     encrypt_post_tel, an opaque token that is the same for the same
//     number (the platform's ciphertexts need its decrypt API, which this
//     fake does not offer).
//   - Amounts: Order.TotalFen is order_amount, PaidFen pay_amount,
//     PostFeeFen post_amount, DiscountFen promotion_amount; all fen.
//   - Refunds: Order.RefundStatus is the SKU orders' refund_status as a
//     decimal string ("0" none, "1" to refund, "2" refunding, "3"
//     refunded); after_sale_status is derived from it (0, 6, 6, 12).
//     These numbers are *unverified* against the platform's tables.
//   - No deep-paging limit, no order_type/biz variety, no other methods.
//   - The rate limit is a fixed window per calendar minute of
//     Options.Now, per method.
package douyinfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TimeLayout is the timestamp format, in UTC+8.
const TimeLayout = "2006-01-02 15:04:05"

// CST is UTC+8 (a fixed zone, so no tzdata is needed).
var CST = time.FixedZone("CST", 8*3600)

// Method names served.
const (
	MethodTokenCreate  = "token.create"
	MethodTokenRefresh = "token.refresh"
	MethodSearchList   = "order.searchList"
	MethodOrderDetail  = "order.orderDetail"
)

// Sign methods.
const (
	SignHMACSHA256 = "hmac-sha256"
	SignMD5        = "md5"
)

// Answer codes (平台基础错误码汇总, op.jinritemai.com/docs/guide-docs/212/1427).
const (
	CodeSuccess         = 10000 // success
	CodeServiceError    = 20000 // 服务不可用 (sub_code isp.*: retryable)
	CodeMissingPlatform = 40001 // 缺少必选参数（平台校验）
	CodeMissingBusiness = 40002 // 缺少必选参数（业务校验）
	CodeInvalidPlatform = 40003 // 非法的参数（平台校验）: sign, token, timestamp
	CodeInvalidBusiness = 40004 // 非法的参数（业务校验）
	CodeTokenFailed     = 50001 // 平台处理失败 (token generation)
	CodeBusinessFailed  = 50002 // 业务处理失败
	CodeRateLimited     = 60000 // 触发限流，请稍后重试
	CodeAPIOff          = 70000 // 接口服务已下线 / unknown API
)

// Sub-codes.
const (
	SubServiceError       = "isp.service-error"
	SubSignatureMissing   = "isv.signature-missing"
	SubSignatureInvalid   = "isv.signature-invalid"
	SubAppIDMissing       = "isv.app-id-missing"
	SubAppIDInvalid       = "isv.app-id-invalid"
	SubTokenMissing       = "isv.access-token-missing"
	SubTokenNotExist      = "isv.access-token-no-existed"
	SubTokenExpired       = "isv.access-token-expired"
	SubTimestampInvalid   = "isv.timestamp-invalid"
	SubTimestampFormat    = "isv.timestamp-format-error"
	SubParamFormatInvalid = "isv.parameter-format-invalid"
	SubAPIServiceOff      = "isp.api-service-off"
	SubGrantTypeInvalid   = "dop.token-generate-failed:grant-type-invalid"
	SubNoAuthorization    = "dop.token-generate-failed:no-authorization"
	SubRefreshExpired     = "dop.token-generate-failed:token-expired"
	SubRefreshInvalid     = "dop.token-generate-failed:token-invalid"
	// Unverified: the sub-codes of these are not in the table above.
	SubRateLimited      = "isv.api-flow-limited"
	SubParameterMissing = "isv.parameter-missing"
	SubParameterInvalid = "isv.parameter-invalid"
	SubBusinessFailed   = "isv.business-failed"
)

// Order statuses (order_status; Order.Status holds them as decimal
// strings).
const (
	StatusUnpaid    = "1" // 待支付 (created, not paid)
	StatusPaid      = "2" // 待发货 (paid, to ship)
	StatusShipped   = "3" // 已发货
	StatusCancelled = "4" // 已取消
	StatusCompleted = "5" // 已完成
)

// Refund statuses (refund_status of the SKU orders; Order.RefundStatus).
// Unverified numbering.
const (
	RefundNone      = "0"
	RefundToRefund  = "1"
	RefundRefunding = "2"
	RefundSuccess   = "3"
)

var statusDesc = map[string]string{
	StatusUnpaid: "待支付", StatusPaid: "待发货", StatusShipped: "已发货",
	StatusCancelled: "已取消", StatusCompleted: "已完成",
}

const (
	defaultTimestampSkew = 10 * time.Minute
	defaultTokenTTL      = 7 * 24 * time.Hour
	refreshTokenTTL      = 14 * 24 * time.Hour
	defaultPageSize      = 10
	maxPageSize          = 100
	maxBody              = 1 << 20
)

// FaultKind is a failure FailNext injects.
type FaultKind int

// Faults.
const (
	// FaultRateLimited answers 60000.
	FaultRateLimited FaultKind = iota + 1
	// FaultInvalidToken answers 40003 isv.access-token-expired.
	FaultInvalidToken
	// FaultSystemBusy answers 20000 isp.service-error (retryable).
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
	// ShopID and ShopName are the shop's; 4463798 and "测试小店" when
	// zero.
	ShopID   int64
	ShopName string
	// TokenTTL is an access token's life (expires_in); 7 days when 0.
	TokenTTL time.Duration
	// StrictParamJSON rejects bodies not in canonical param_json form.
	StrictParamJSON bool
	// PushRetryPause is SendPush's pause between tries; 1s when 0.
	PushRetryPause time.Duration
	// HTTPClient sends pushes; http.DefaultClient when nil.
	HTTPClient *http.Client
}

// Server is the fake platform. Safe for concurrent use.
type Server struct {
	o Options

	mu       sync.Mutex
	tokens   map[string]time.Time // access token -> expiry
	refresh  map[string]time.Time // refresh token -> expiry
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

// New returns a Server with no orders and no tokens.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TimestampSkew == 0 {
		o.TimestampSkew = defaultTimestampSkew
	}
	if o.ShopID == 0 {
		o.ShopID = 4463798
	}
	if o.ShopName == "" {
		o.ShopName = "测试小店"
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = defaultTokenTTL
	}
	if o.PushRetryPause == 0 {
		o.PushRetryPause = time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	return &Server{
		o:       o,
		tokens:  map[string]time.Time{},
		refresh: map[string]time.Time{},
		orders:  map[string]*Order{},
		calls:   map[string]int{},
		faults:  map[string][]FaultKind{},
		window:  map[string]rateWindow{},
	}
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
// the point the method was read and matched the path).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// IssueToken issues a token pair as token.create would, without a call.
func (s *Server) IssueToken() (accessToken, refreshToken string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.issue()
	return d["access_token"].(string), d["refresh_token"].(string)
}

// ExpireTokens expires every access token issued so far.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.tokens {
		s.tokens[t] = time.Time{}
	}
}

type apiError struct {
	code    int
	msg     string
	subCode string
	subMsg  string
}

var codeMsg = map[int]string{
	CodeServiceError:    "服务不可用",
	CodeMissingPlatform: "缺少必选参数",
	CodeMissingBusiness: "缺少必选参数",
	CodeInvalidPlatform: "非法的参数",
	CodeInvalidBusiness: "非法的参数",
	CodeTokenFailed:     "平台处理失败",
	CodeBusinessFailed:  "业务处理失败",
	CodeRateLimited:     "触发限流，请稍后重试",
	CodeAPIOff:          "接口服务已下线",
}

func fail(code int, subCode, format string, args ...any) *apiError {
	return &apiError{code: code, msg: codeMsg[code], subCode: subCode, subMsg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers open API calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	s.requests++
	logID := fmt.Sprintf("%s%010d", s.o.Now().In(CST).Format("20060102150405"), s.requests)
	data, aerr := s.handle(strings.ReplaceAll(strings.Trim(r.URL.Path, "/"), "/", "."), q, body)
	s.mu.Unlock()

	out := struct {
		Code    int    `json:"code"`
		Msg     string `json:"msg"`
		SubCode string `json:"sub_code"`
		SubMsg  string `json:"sub_msg"`
		LogID   string `json:"log_id"`
		Data    any    `json:"data"`
	}{Code: CodeSuccess, Msg: "success", LogID: logID, Data: data}
	if aerr != nil {
		out.Code, out.Msg, out.SubCode, out.SubMsg, out.Data = aerr.code, aerr.msg, aerr.subCode, aerr.subMsg, map[string]any{}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
}

var served = map[string]bool{MethodTokenCreate: true, MethodTokenRefresh: true, MethodSearchList: true, MethodOrderDetail: true}

// handle runs one call; s.mu is held.
func (s *Server) handle(method string, q map[string][]string, body []byte) (map[string]any, *apiError) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if !served[method] {
		return nil, fail(CodeAPIOff, SubAPIServiceOff, "API %q does not exist", method)
	}
	switch {
	case get("method") == "":
		return nil, fail(CodeMissingPlatform, SubParameterMissing, "method is required")
	case get("method") != method:
		return nil, fail(CodeInvalidPlatform, SubParameterInvalid, "method %q does not match the path", get("method"))
	}
	s.calls[method]++
	now := s.o.Now()
	switch {
	case get("app_key") == "":
		return nil, fail(CodeMissingPlatform, SubAppIDMissing, "认证失败，app_key不存在")
	case get("app_key") != s.o.AppKey:
		return nil, fail(CodeInvalidPlatform, SubAppIDInvalid, "app_key %q is unknown", get("app_key"))
	case get("timestamp") == "":
		return nil, fail(CodeMissingPlatform, SubParameterMissing, "timestamp is required")
	}
	ts, err := time.ParseInLocation(TimeLayout, get("timestamp"), CST)
	if err != nil {
		return nil, fail(CodeInvalidPlatform, SubTimestampFormat, "时间戳格式错误: want yyyy-MM-dd HH:mm:ss")
	}
	if d := now.Sub(ts); d > s.o.TimestampSkew || d < -s.o.TimestampSkew {
		return nil, fail(CodeInvalidPlatform, SubTimestampInvalid, "时间戳不合法: %s is not within %s of %s", get("timestamp"), s.o.TimestampSkew, now.In(CST).Format(TimeLayout))
	}
	if get("v") != "2" {
		return nil, fail(CodeInvalidPlatform, SubParameterInvalid, "v must be 2")
	}
	if get("sign") == "" {
		return nil, fail(CodeMissingPlatform, SubSignatureMissing, "获取签名失败")
	}
	signMethod := get("sign_method")
	if signMethod == "" {
		signMethod = SignMD5
	}
	want, ok := sign(signMethod, s.o.AppKey, s.o.AppSecret, method, string(body), get("timestamp"))
	if !ok || !hmac.Equal([]byte(want), []byte(strings.ToLower(get("sign")))) {
		return nil, fail(CodeInvalidPlatform, SubSignatureInvalid, "签名校验失败 (sign_method %q)", signMethod)
	}
	if f := s.faults[method]; len(f) > 0 {
		s.faults[method] = f[1:]
		return nil, faultError(f[0])
	}
	if !strings.HasPrefix(method, "token.") {
		tok := get("access_token")
		exp, known := s.tokens[tok]
		switch {
		case tok == "":
			return nil, fail(CodeMissingPlatform, SubTokenMissing, "认证失败，access_token不能为空")
		case !known:
			return nil, fail(CodeInvalidPlatform, SubTokenNotExist, "access_token不存在，请使用最新的access_token访问")
		case !now.Before(exp):
			return nil, fail(CodeInvalidPlatform, SubTokenExpired, "access_token已过期")
		}
	}
	if lim := s.o.RateLimitPerMinute; lim > 0 {
		start := now.Truncate(time.Minute)
		rw := s.window[method]
		if !rw.start.Equal(start) {
			rw = rateWindow{start: start}
		}
		if rw.n >= lim {
			return nil, fail(CodeRateLimited, SubRateLimited, "%s: more than %d calls this minute", method, lim)
		}
		rw.n++
		s.window[method] = rw
	}
	params := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&params); err != nil || dec.More() {
			return nil, fail(CodeInvalidPlatform, SubParamFormatInvalid, "业务参数json解析失败")
		}
		if s.o.StrictParamJSON && canonical(params) != string(body) {
			return nil, fail(CodeInvalidPlatform, SubParamFormatInvalid, "param_json is not canonical (keys sorted, compact, no HTML escaping)")
		}
	}
	p := bizParams(params)
	switch method {
	case MethodTokenCreate:
		return s.tokenCreate(p)
	case MethodTokenRefresh:
		return s.tokenRefresh(p, now)
	case MethodSearchList:
		return s.searchList(p)
	default:
		return s.orderDetail(p)
	}
}

func faultError(k FaultKind) *apiError {
	switch k {
	case FaultRateLimited:
		return fail(CodeRateLimited, SubRateLimited, "injected rate limit")
	case FaultInvalidToken:
		return fail(CodeInvalidPlatform, SubTokenExpired, "access_token已过期")
	default:
		return fail(CodeServiceError, SubServiceError, "内部错误，请稍后重试")
	}
}

// sign is the fake's own implementation of the API signature.
func sign(signMethod, appKey, appSecret, method, paramJSON, timestamp string) (string, bool) {
	s := appSecret + "app_key" + appKey + "method" + method + "param_json" + paramJSON +
		"timestamp" + timestamp + "v" + "2" + appSecret
	switch signMethod {
	case SignHMACSHA256:
		m := hmac.New(sha256.New, []byte(appSecret))
		m.Write([]byte(s))
		return hex.EncodeToString(m.Sum(nil)), true
	case SignMD5:
		sum := md5.Sum([]byte(s))
		return hex.EncodeToString(sum[:]), true
	}
	return "", false
}

// canonical re-encodes decoded JSON: maps sort their keys, numbers keep
// their text, HTML characters stay as they are.
func canonical(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// bizParams reads business parameters given as JSON strings or numbers.
type bizParams map[string]any

func (p bizParams) str(k string) string {
	switch v := p[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func (p bizParams) has(k string) bool { return p.str(k) != "" }

func (p bizParams) int(k string) (int64, *apiError) {
	n, err := strconv.ParseInt(p.str(k), 10, 64)
	if err != nil {
		return 0, fail(CodeInvalidBusiness, SubParameterInvalid+":"+k, "%s must be an integer", k)
	}
	return n, nil
}

func missing(k string) *apiError {
	return fail(CodeMissingBusiness, SubParameterMissing+":"+k, "%s is required", k)
}

func (s *Server) issue() map[string]any {
	s.requests++
	mk := func(kind string) string {
		sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d|%s", s.o.AppSecret, kind, s.requests, s.o.Now().String()))
		h := hex.EncodeToString(sum[:16])
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	at, rt := mk("access"), mk("refresh")
	now := s.o.Now()
	s.tokens[at] = now.Add(s.o.TokenTTL)
	s.refresh[rt] = now.Add(refreshTokenTTL)
	return map[string]any{
		"access_token":  at,
		"expires_in":    int64(s.o.TokenTTL / time.Second),
		"refresh_token": rt,
		"scope":         "SCOPE",
		"shop_id":       s.o.ShopID,
		"shop_name":     s.o.ShopName,
		"authority_id":  strconv.FormatInt(s.o.ShopID, 10),
	}
}

func (s *Server) tokenCreate(p bizParams) (map[string]any, *apiError) {
	if p.str("grant_type") != "authorization_self" {
		return nil, fail(CodeTokenFailed, SubGrantTypeInvalid, "生成token失败，grant_type参数取值不正确 (this fake: authorization_self)")
	}
	if p.has("shop_id") && p.str("shop_id") != strconv.FormatInt(s.o.ShopID, 10) {
		return nil, fail(CodeTokenFailed, SubNoAuthorization, "生成token失败，店铺授权已失效")
	}
	return s.issue(), nil
}

func (s *Server) tokenRefresh(p bizParams, now time.Time) (map[string]any, *apiError) {
	if p.str("grant_type") != "refresh_token" {
		return nil, fail(CodeTokenFailed, SubGrantTypeInvalid, "生成token失败，grant_type参数取值不正确 (want refresh_token)")
	}
	rt := p.str("refresh_token")
	if rt == "" {
		return nil, missing("refresh_token")
	}
	exp, ok := s.refresh[rt]
	if !ok {
		return nil, fail(CodeTokenFailed, SubRefreshInvalid, "生成token失败，token不存在")
	}
	delete(s.refresh, rt)
	if !now.Before(exp) {
		return nil, fail(CodeTokenFailed, SubRefreshExpired, "生成token失败，token已过期")
	}
	return s.issue(), nil
}
