package douyinfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/douyin"
	"github.com/scrm-dev/scrm/connectors/douyin/douyinfake"
)

const (
	appKey    = "7012345678901234567"
	appSecret = "dy-s3cr3t"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, douyinfake.CST)

type env struct {
	f     *douyinfake.Server
	srv   *httptest.Server
	clock *clock
	token string
}

func setup(t *testing.T, o douyinfake.Options) *env {
	t.Helper()
	c := &clock{t: t0}
	o.AppKey, o.AppSecret = appKey, appSecret
	if o.Now == nil {
		o.Now = c.Now
	}
	f := douyinfake.New(o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	at, _ := f.IssueToken()
	return &env{f: f, srv: srv, clock: c, token: at}
}

type answer struct {
	Code    int             `json:"code"`
	Msg     string          `json:"msg"`
	SubCode string          `json:"sub_code"`
	SubMsg  string          `json:"sub_msg"`
	LogID   string          `json:"log_id"`
	Data    json.RawMessage `json:"data"`
}

// req describes one call; zero fields take the defaults.
type req struct {
	method     string
	params     any
	body       *string // the exact body, else ParamJSON(params)
	signMethod string
	timestamp  string
	token      *string
	badSign    bool
	query      map[string]string // overrides
}

// call signs with the repository's independently verified signer.
func (e *env) call(t *testing.T, r req) answer {
	t.Helper()
	var body string
	if r.body != nil {
		body = *r.body
	} else {
		p := r.params
		if p == nil {
			p = map[string]any{}
		}
		var err error
		if body, err = douyin.ParamJSON(p); err != nil {
			t.Fatal(err)
		}
	}
	if r.signMethod == "" {
		r.signMethod = douyin.SignHMACSHA256
	}
	if r.timestamp == "" {
		r.timestamp = e.clock.Now().In(douyinfake.CST).Format(douyinfake.TimeLayout)
	}
	sig, err := douyin.Sign(r.signMethod, appKey, appSecret, r.method, body, r.timestamp)
	if err != nil {
		t.Fatal(err)
	}
	if r.badSign {
		sig, _ = douyin.Sign(r.signMethod, appKey, "wrong", r.method, body, r.timestamp)
	}
	q := url.Values{"app_key": {appKey}, "method": {r.method}, "timestamp": {r.timestamp}, "v": {"2"},
		"sign_method": {r.signMethod}, "sign": {sig}}
	if !strings.HasPrefix(r.method, "token.") {
		q.Set("access_token", e.token)
	}
	if r.token != nil {
		q.Set("access_token", *r.token)
	}
	for k, v := range r.query {
		q.Set(k, v)
	}
	u := e.srv.URL + "/" + strings.ReplaceAll(r.method, ".", "/") + "?" + q.Encode()
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a
}

func wantOK(t *testing.T, a answer) {
	t.Helper()
	if a.Code != douyinfake.CodeSuccess || a.Msg != "success" || a.LogID == "" {
		t.Fatalf("not success: %+v", a)
	}
}

func wantErr(t *testing.T, a answer, code int, sub string) {
	t.Helper()
	if a.Code != code || a.SubCode != sub {
		t.Fatalf("got %d %q (%s), want %d %q", a.Code, a.SubCode, a.SubMsg, code, sub)
	}
}

func detail(id string) req {
	return req{method: douyinfake.MethodOrderDetail, params: map[string]any{"shop_order_id": id}}
}

func TestSignatureBothMethods(t *testing.T) {
	e := setup(t, douyinfake.Options{})
	e.f.Generate(1, 3, t0.Add(-time.Hour), t0)
	id := e.f.OrderIDs()[0]
	for _, m := range []string{douyin.SignHMACSHA256, douyin.SignMD5} {
		r := detail(id)
		r.signMethod = m
		wantOK(t, e.call(t, r))
		r.badSign = true
		wantErr(t, e.call(t, r), douyinfake.CodeInvalidPlatform, douyinfake.SubSignatureInvalid)
	}
	// md5 is the default when sign_method is absent.
	r := detail(id)
	r.signMethod = douyin.SignMD5
	r.query = map[string]string{"sign_method": ""}
	wantOK(t, e.call(t, r))
	// The sign covers the exact body: the same parameters written
	// another way (keys unsorted) do not verify against the canonical
	// form's sign.
	canon, _ := douyin.ParamJSON(map[string]any{"shop_order_id": id, "a": "1"})
	other := `{"shop_order_id":"` + id + `","a":"1"}`
	sig, _ := douyin.Sign(douyin.SignHMACSHA256, appKey, appSecret, douyinfake.MethodOrderDetail, canon, e.clock.Now().In(douyinfake.CST).Format(douyinfake.TimeLayout))
	r = req{method: douyinfake.MethodOrderDetail, body: &other, query: map[string]string{"sign": sig}}
	wantErr(t, e.call(t, r), douyinfake.CodeInvalidPlatform, douyinfake.SubSignatureInvalid)
	// ...but a non-canonical body signed as sent is accepted unless
	// StrictParamJSON.
	wantOK(t, e.call(t, req{method: douyinfake.MethodOrderDetail, body: &other}))
	r = req{method: douyinfake.MethodOrderDetail, query: map[string]string{"sign": ""}, params: map[string]any{"shop_order_id": id}}
	wantErr(t, e.call(t, r), douyinfake.CodeMissingPlatform, douyinfake.SubSignatureMissing)
	r = detail(id)
	r.query = map[string]string{"sign_method": "sha1"}
	wantErr(t, e.call(t, r), douyinfake.CodeInvalidPlatform, douyinfake.SubSignatureInvalid)
	if n := e.f.Calls(douyinfake.MethodOrderDetail); n != 9 {
		t.Errorf("Calls = %d, want 9", n)
	}
}

func TestStrictParamJSON(t *testing.T) {
	e := setup(t, douyinfake.Options{StrictParamJSON: true})
	e.f.Generate(1, 1, t0.Add(-time.Hour), t0)
	id := e.f.OrderIDs()[0]
	wantOK(t, e.call(t, detail(id)))
	for _, body := range []string{
		`{"shop_order_id":"` + id + `","a":"1"}`,      // keys unsorted
		`{"a": "1","shop_order_id":"` + id + `"}`,     // not compact
		`{"a":"\u003c","shop_order_id":"` + id + `"}`, // HTML escaped
		`not json`,
	} {
		wantErr(t, e.call(t, req{method: douyinfake.MethodOrderDetail, body: &body}), douyinfake.CodeInvalidPlatform, douyinfake.SubParamFormatInvalid)
	}
	// HTML characters written plainly are canonical.
	body := `{"a":"<&>","shop_order_id":"` + id + `"}`
	wantOK(t, e.call(t, req{method: douyinfake.MethodOrderDetail, body: &body}))
}

func TestCommonParameterErrors(t *testing.T) {
	e := setup(t, douyinfake.Options{})
	e.f.Generate(1, 1, t0.Add(-time.Hour), t0)
	id := e.f.OrderIDs()[0]
	now := e.clock.Now().In(douyinfake.CST)
	for _, tc := range []struct {
		name string
		r    req
		code int
		sub  string
	}{
		{"skew +11m", req{timestamp: now.Add(11 * time.Minute).Format(douyinfake.TimeLayout)}, 40003, douyinfake.SubTimestampInvalid},
		{"skew -11m", req{timestamp: now.Add(-11 * time.Minute).Format(douyinfake.TimeLayout)}, 40003, douyinfake.SubTimestampInvalid},
		{"UTC wall clock", req{timestamp: now.UTC().Format(douyinfake.TimeLayout)}, 40003, douyinfake.SubTimestampInvalid},
		{"unix timestamp", req{timestamp: "1795572000"}, 40003, douyinfake.SubTimestampFormat},
		{"app key", req{query: map[string]string{"app_key": "1"}}, 40003, douyinfake.SubAppIDInvalid},
		{"no token", req{token: new(string)}, 40001, douyinfake.SubTokenMissing},
		{"unknown token", req{token: ptr("nope")}, 40003, douyinfake.SubTokenNotExist},
		{"method mismatch", req{query: map[string]string{"method": "order.searchList"}}, 40003, douyinfake.SubParameterInvalid},
		{"v", req{query: map[string]string{"v": "1"}}, 40003, douyinfake.SubParameterInvalid},
		{"missing id", req{params: map[string]any{}}, 40002, douyinfake.SubParameterMissing + ":shop_order_id"},
		{"unknown order", req{params: map[string]any{"shop_order_id": "1"}}, 50002, douyinfake.SubBusinessFailed},
	} {
		r := tc.r
		r.method = douyinfake.MethodOrderDetail
		if r.params == nil {
			r.params = map[string]any{"shop_order_id": id}
		}
		if a := e.call(t, r); a.Code != tc.code || a.SubCode != tc.sub {
			t.Errorf("%s: %d %q (%s), want %d %q", tc.name, a.Code, a.SubCode, a.SubMsg, tc.code, tc.sub)
		}
	}
	// Within ten minutes either way is fine.
	r := detail(id)
	r.timestamp = now.Add(9 * time.Minute).Format(douyinfake.TimeLayout)
	wantOK(t, e.call(t, r))
	r.timestamp = now.Add(-9 * time.Minute).Format(douyinfake.TimeLayout)
	wantOK(t, e.call(t, r))
	// Unknown API.
	resp, err := http.Post(e.srv.URL+"/product/list", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	var a answer
	_ = json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	wantErr(t, a, douyinfake.CodeAPIOff, douyinfake.SubAPIServiceOff)
}

func ptr(s string) *string { return &s }

type tokenData struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	ShopID       int64  `json:"shop_id"`
	ShopName     string `json:"shop_name"`
}

func TestTokensCreateRefreshExpire(t *testing.T) {
	e := setup(t, douyinfake.Options{ShopID: 77, ShopName: "小店", TokenTTL: time.Hour})
	e.f.Generate(1, 1, t0.Add(-time.Hour), t0)
	id := e.f.OrderIDs()[0]
	a := e.call(t, req{method: douyinfake.MethodTokenCreate, params: map[string]any{"grant_type": "authorization_self", "shop_id": "77"},
		token: new(string)})
	wantOK(t, a)
	var tok tokenData
	if err := json.Unmarshal(a.Data, &tok); err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.ExpiresIn != 3600 || tok.ShopID != 77 || tok.ShopName != "小店" || tok.Scope == "" {
		t.Fatalf("token data %s", a.Data)
	}
	e.token = tok.AccessToken
	wantOK(t, e.call(t, detail(id)))
	// Another shop, another grant type.
	wantErr(t, e.call(t, req{method: douyinfake.MethodTokenCreate, params: map[string]any{"grant_type": "authorization_self", "shop_id": 78}}),
		douyinfake.CodeTokenFailed, douyinfake.SubNoAuthorization)
	wantErr(t, e.call(t, req{method: douyinfake.MethodTokenCreate, params: map[string]any{"grant_type": "authorization_code"}}),
		douyinfake.CodeTokenFailed, douyinfake.SubGrantTypeInvalid)

	// Expiry by the clock.
	e.clock.Add(time.Hour)
	wantErr(t, e.call(t, detail(id)), douyinfake.CodeInvalidPlatform, douyinfake.SubTokenExpired)
	a = e.call(t, req{method: douyinfake.MethodTokenRefresh, params: map[string]any{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken}})
	wantOK(t, a)
	var tok2 tokenData
	_ = json.Unmarshal(a.Data, &tok2)
	if tok2.AccessToken == tok.AccessToken || tok2.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh gave the same tokens")
	}
	e.token = tok2.AccessToken
	wantOK(t, e.call(t, detail(id)))
	// A refresh token is spent once used.
	wantErr(t, e.call(t, req{method: douyinfake.MethodTokenRefresh, params: map[string]any{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken}}),
		douyinfake.CodeTokenFailed, douyinfake.SubRefreshInvalid)

	// ExpireTokens expires every access token; refresh still works.
	e.f.ExpireTokens()
	wantErr(t, e.call(t, detail(id)), douyinfake.CodeInvalidPlatform, douyinfake.SubTokenExpired)
	a = e.call(t, req{method: douyinfake.MethodTokenRefresh, params: map[string]any{"grant_type": "refresh_token", "refresh_token": tok2.RefreshToken}})
	wantOK(t, a)
	_ = json.Unmarshal(a.Data, &tok)
	e.token = tok.AccessToken
	wantOK(t, e.call(t, detail(id)))
	// Refresh tokens expire after 14 days.
	e.clock.Add(14 * 24 * time.Hour)
	wantErr(t, e.call(t, req{method: douyinfake.MethodTokenRefresh, params: map[string]any{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken}}),
		douyinfake.CodeTokenFailed, douyinfake.SubRefreshExpired)
}

type listData struct {
	List []struct {
		OrderID    string `json:"order_id"`
		UpdateTime int64  `json:"update_time"`
	} `json:"shop_order_list"`
	Page, Size, Total int
}

func search(start, end time.Time, page, size int, asc bool) req {
	return req{method: douyinfake.MethodSearchList, params: map[string]any{
		"update_time_start": start.Unix(), "update_time_end": end.Unix(),
		"page": page, "size": size, "order_by": "update_time", "order_asc": asc,
	}}
}

func TestSearchListPaginationCoversWindowOnce(t *testing.T) {
	e := setup(t, douyinfake.Options{})
	e.f.Generate(9, 400, t0.Add(-24*time.Hour), t0)
	start, end := t0.Add(-10*time.Hour), t0.Add(-2*time.Hour)
	want := map[string]bool{}
	for _, id := range e.f.OrderIDs() {
		o, _ := e.f.Order(id)
		if u := o.Modified.Unix(); u >= start.Unix() && u <= end.Unix() {
			want[id] = true
		}
	}
	if len(want) < 100 {
		t.Fatalf("%d orders in the window", len(want))
	}
	for _, asc := range []bool{true, false} {
		seen := map[string]int{}
		var last int64
		for page := 0; ; page++ {
			a := e.call(t, search(start, end, page, 50, asc))
			wantOK(t, a)
			var d listData
			if err := json.Unmarshal(a.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.Total != len(want) || d.Page != page || d.Size != 50 {
				t.Fatalf("page %d: total %d page %d size %d", page, d.Total, d.Page, d.Size)
			}
			if len(d.List) == 0 {
				break
			}
			for _, o := range d.List {
				seen[o.OrderID]++
				if page > 0 || o.OrderID != d.List[0].OrderID {
					if asc && o.UpdateTime < last || !asc && o.UpdateTime > last {
						t.Fatalf("asc=%v: update_time %d after %d", asc, o.UpdateTime, last)
					}
				}
				last = o.UpdateTime
			}
		}
		if len(seen) != len(want) {
			t.Errorf("asc=%v: %d orders seen, want %d", asc, len(seen), len(want))
		}
		for id := range want {
			if seen[id] != 1 {
				t.Errorf("asc=%v: %s seen %d times", asc, id, seen[id])
			}
		}
	}
	// Parameters given as strings, as older clients send them, work too.
	a := e.call(t, req{method: douyinfake.MethodSearchList, params: map[string]any{
		"update_time_start": "0", "update_time_end": "9999999999", "page": "0", "size": "100"}})
	wantOK(t, a)
	var d listData
	_ = json.Unmarshal(a.Data, &d)
	if d.Total != 400 || len(d.List) != 100 {
		t.Errorf("string parameters: total %d, %d listed", d.Total, len(d.List))
	}
	wantErr(t, e.call(t, search(start, end, 0, 101, true)), douyinfake.CodeInvalidBusiness, douyinfake.SubParameterInvalid+":size")
	wantErr(t, e.call(t, search(start, end, -1, 10, true)), douyinfake.CodeInvalidBusiness, douyinfake.SubParameterInvalid+":page")
}

func TestOrderDetailShape(t *testing.T) {
	e := setup(t, douyinfake.Options{ShopID: 12})
	e.f.AddOrder(douyinfake.Order{
		ID: "6920000000000000016", BuyerID: "1@#abc=", BuyerMobile: "13812345678", Status: douyinfake.StatusPaid,
		TotalFen: 5980, PaidFen: 5380, PostFeeFen: 0, DiscountFen: 600,
		Created: t0.Add(-time.Hour), Modified: t0.Add(-time.Minute), PaidAt: t0.Add(-50 * time.Minute),
		Items:        []douyinfake.Item{{SkuID: "1700000000001", Title: "零食", Qty: 2, PriceFen: 2990}},
		RefundStatus: douyinfake.RefundToRefund,
	})
	a := e.call(t, detail("6920000000000000016"))
	wantOK(t, a)
	var d struct {
		D map[string]any `json:"shop_order_detail"`
	}
	dec := json.NewDecoder(bytes.NewReader(a.Data))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"order_id": "6920000000000000016", "order_status": "2", "doudian_open_id": "1@#abc=",
		"mask_post_tel": "138****5678", "order_amount": "5980", "pay_amount": "5380", "post_amount": "0",
		"promotion_amount": "600", "create_time": "1795568400", "update_time": "1795571940", "pay_time": "1795569000", "shop_id": "12"} {
		if got := asString(d.D[k]); got != v {
			t.Errorf("%s = %v, want %s", k, got, v)
		}
	}
	if tel, _ := d.D["encrypt_post_tel"].(string); tel == "" || strings.Contains(tel, "13812345678") {
		t.Errorf("encrypt_post_tel %q", tel)
	}
	sku := d.D["sku_order_list"].([]any)[0].(map[string]any)
	as := sku["after_sale_info"].(map[string]any)
	if asString(sku["sku_id"]) != "1700000000001" || sku["product_name"] != "零食" || asString(sku["item_num"]) != "2" ||
		asString(sku["origin_amount"]) != "5980" || asString(as["refund_status"]) != "1" || asString(as["after_sale_status"]) != "6" {
		t.Errorf("sku order %v", sku)
	}
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case nil:
		return "<nil>"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFailNextAndRateLimit(t *testing.T) {
	e := setup(t, douyinfake.Options{RateLimitPerMinute: 2})
	e.f.Generate(1, 1, t0.Add(-time.Hour), t0)
	id := e.f.OrderIDs()[0]
	e.f.FailNext(douyinfake.MethodOrderDetail, douyinfake.FaultSystemBusy, 2)
	e.f.FailNext(douyinfake.MethodOrderDetail, douyinfake.FaultInvalidToken, 1)
	e.f.FailNext(douyinfake.MethodOrderDetail, douyinfake.FaultRateLimited, 1)
	// A bad sign does not use up a fault.
	r := detail(id)
	r.badSign = true
	wantErr(t, e.call(t, r), douyinfake.CodeInvalidPlatform, douyinfake.SubSignatureInvalid)
	wantErr(t, e.call(t, detail(id)), douyinfake.CodeServiceError, douyinfake.SubServiceError)
	wantErr(t, e.call(t, detail(id)), douyinfake.CodeServiceError, douyinfake.SubServiceError)
	wantErr(t, e.call(t, detail(id)), douyinfake.CodeInvalidPlatform, douyinfake.SubTokenExpired)
	wantErr(t, e.call(t, detail(id)), douyinfake.CodeRateLimited, douyinfake.SubRateLimited)
	wantOK(t, e.call(t, detail(id)))
	wantOK(t, e.call(t, detail(id)))
	wantErr(t, e.call(t, detail(id)), douyinfake.CodeRateLimited, douyinfake.SubRateLimited)
	wantOK(t, e.call(t, search(t0.Add(-time.Hour), t0, 0, 10, true))) // per method
	if n := e.f.Calls(douyinfake.MethodOrderDetail); n != 8 {
		t.Errorf("Calls = %d, want 8", n)
	}
	e.clock.Add(time.Minute)
	wantOK(t, e.call(t, detail(id)))
}

func TestGenerateDeterministicWithRepeatBuyersAndRefunds(t *testing.T) {
	from, to := t0.Add(-24*time.Hour), t0
	a, b, c := douyinfake.New(douyinfake.Options{}), douyinfake.New(douyinfake.Options{}), douyinfake.New(douyinfake.Options{})
	a.Generate(5, 240, from, to)
	b.Generate(5, 240, from, to)
	c.Generate(6, 240, from, to)
	ids := a.OrderIDs()
	if len(ids) != 240 || strings.Join(ids, ",") != strings.Join(b.OrderIDs(), ",") || strings.Join(ids, ",") == strings.Join(c.OrderIDs(), ",") {
		t.Fatal("IDs not determined by the seed")
	}
	buyers := map[string]int{}
	refunded := 0
	for _, id := range ids {
		oa, _ := a.Order(id)
		ob, _ := b.Order(id)
		ja, _ := json.Marshal(oa)
		jb, _ := json.Marshal(ob)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("%s differs", id)
		}
		if oa.Modified.Before(from) || !oa.Modified.Before(to) {
			t.Errorf("%s modified %s", id, oa.Modified)
		}
		buyers[oa.BuyerID]++
		if oa.RefundStatus != douyinfake.RefundNone {
			refunded++
		}
	}
	repeat := 0
	for _, n := range buyers {
		if n > 1 {
			repeat++
		}
	}
	if len(buyers) != 80 || repeat < 40 || refunded < 5 {
		t.Errorf("%d buyers, %d repeat, %d refunded", len(buyers), repeat, refunded)
	}
}

// receiver is a push endpoint checking signatures with the repository's
// verified helper; it answers 500 to the first fails posts.
type receiver struct {
	fails  int32
	posts  atomic.Int32
	mu     sync.Mutex
	bodies [][]byte
	t      *testing.T
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := rc.posts.Add(1)
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("app-id") != appKey || !douyin.VerifyPush(appKey, appSecret, body, r.Header.Get("event-sign")) {
		rc.t.Errorf("push %d: bad app-id or event-sign", n)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if n <= rc.fails {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.mu.Unlock()
	_, _ = w.Write([]byte(`{"code":0,"msg":"success"}`))
}

func TestPushSignedAndRetried(t *testing.T) {
	e := setup(t, douyinfake.Options{PushRetryPause: 50 * time.Millisecond, ShopID: 99})
	e.f.Generate(2, 5, t0.Add(-time.Hour), t0)
	id := e.f.OrderIDs()[0]
	e.f.Touch(id, douyinfake.StatusPaid, t0)
	rc := &receiver{fails: 2, t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	msgs := []douyinfake.PushMessage{e.f.PushFor(id, douyinfake.TagTradePaid), e.f.PushFor(id, douyinfake.TagRefundCreated)}
	began := time.Now()
	attempts, err := e.f.SendPush(context.Background(), srv.URL, msgs)
	if err != nil || attempts != 3 {
		t.Fatalf("attempts %d err %v", attempts, err)
	}
	if d := time.Since(began); d < 100*time.Millisecond {
		t.Errorf("two pauses took %s", d)
	}
	var got []struct {
		Tag   string `json:"tag"`
		MsgID string `json:"msg_id"`
		Data  string `json:"data"`
	}
	if err := json.Unmarshal(rc.bodies[0], &got); err != nil || len(got) != 2 {
		t.Fatalf("body %s: %v", rc.bodies[0], err)
	}
	if got[0].Tag != "101" || got[0].MsgID != msgs[0].MsgID || got[1].Tag != "200" {
		t.Errorf("messages %+v", got)
	}
	var data map[string]any
	dec := json.NewDecoder(strings.NewReader(got[0].Data))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		t.Fatalf("data is not a JSON string: %v", err)
	}
	if asString(data["p_id"]) != id || asString(data["shop_id"]) != "99" || asString(data["order_status"]) != "2" ||
		asString(data["pay_time"]) != asString(paidAt(e.f, id)) || len(data["s_ids"].([]any)) == 0 {
		t.Errorf("paid data %v", data)
	}
	// Same change, same msg_id.
	if e.f.PushFor(id, douyinfake.TagTradePaid).MsgID != msgs[0].MsgID {
		t.Error("msg_id not stable")
	}

	// Three failures: not delivered, three tries.
	rc2 := &receiver{fails: 3, t: t}
	srv2 := httptest.NewServer(rc2)
	defer srv2.Close()
	attempts, err = e.f.SendPush(context.Background(), srv2.URL, []douyinfake.PushMessage{e.f.VerifyPing()})
	if err == nil || attempts != 3 || rc2.posts.Load() != 3 {
		t.Errorf("attempts %d err %v posts %d", attempts, err, rc2.posts.Load())
	}

	// A 200 without code 0 is not a delivery.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"code":1}`))
	}))
	defer bad.Close()
	if _, err := e.f.SendPush(context.Background(), bad.URL, msgs); err == nil {
		t.Error("code 1 counted as delivered")
	}
	// Cancelled while pausing.
	down := httptest.NewServer(&receiver{fails: 100, t: t})
	defer down.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if attempts, err := e.f.SendPush(ctx, down.URL, msgs); err == nil || attempts != 1 {
		t.Errorf("cancelled: attempts %d err %v", attempts, err)
	}
}

func paidAt(f *douyinfake.Server, id string) int64 {
	o, _ := f.Order(id)
	return o.PaidAt.Unix()
}

func TestPushBodyStringDataAsIs(t *testing.T) {
	body, err := douyinfake.PushBody([]douyinfake.PushMessage{{Tag: "0", MsgID: "m", Data: `{"a":1}`}})
	if err != nil || string(body) != `[{"tag":"0","msg_id":"m","data":"{\"a\":1}"}]` {
		t.Errorf("%s %v", body, err)
	}
}
