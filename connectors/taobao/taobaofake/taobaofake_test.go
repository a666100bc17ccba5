package taobaofake_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/taobao"
	"github.com/scrm-dev/scrm/connectors/taobao/taobaofake"
)

const (
	appKey    = "12345678"
	appSecret = "s3cr3t"
	session   = "sess-abc"
)

// clock is a settable clock.
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

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, taobaofake.CST)

func setup(t *testing.T, o taobaofake.Options) (*taobaofake.Server, *httptest.Server, *clock) {
	t.Helper()
	c := &clock{t: t0}
	o.AppKey, o.AppSecret = appKey, appSecret
	if o.Now == nil {
		o.Now = c.Now
	}
	f := taobaofake.New(o)
	f.AddSession(session)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv, c
}

// call signs params (plus the common ones not given) with the repository's
// independently verified signer and posts them; it returns the decoded
// answer, numbers kept as json.Number.
func call(t *testing.T, srv *httptest.Server, now time.Time, signMethod string, params map[string]string) map[string]any {
	t.Helper()
	p := map[string]string{
		"app_key": appKey, "session": session, "v": "2.0", "format": "json",
		"sign_method": signMethod, "timestamp": now.In(taobaofake.CST).Format(taobaofake.TimeLayout),
	}
	for k, v := range params {
		p[k] = v
	}
	if _, ok := p["sign"]; !ok {
		sig, err := taobao.Sign(signMethod, appSecret, p)
		if err != nil {
			t.Fatal(err)
		}
		p["sign"] = sig
	}
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	resp, err := http.PostForm(srv.URL+taobaofake.Path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func errCode(out map[string]any) (code, subCode, subMsg string) {
	e, ok := out["error_response"].(map[string]any)
	if !ok {
		return "", "", ""
	}
	c, _ := e["code"].(json.Number)
	sc, _ := e["sub_code"].(string)
	sm, _ := e["sub_msg"].(string)
	return c.String(), sc, sm
}

func wantCode(t *testing.T, out map[string]any, code string) {
	t.Helper()
	if c, _, _ := errCode(out); c != code {
		t.Fatalf("code %q, want %q: %v", c, code, out)
	}
}

func wantOK(t *testing.T, out map[string]any) {
	t.Helper()
	if _, bad := out["error_response"]; bad {
		t.Fatalf("error: %v", out)
	}
}

func fullinfo(tid string) map[string]string {
	return map[string]string{"method": taobaofake.MethodFullinfoGet, "tid": tid, "fields": "tid,status,payment,orders"}
}

func TestSignatureAllMethods(t *testing.T) {
	f, srv, c := setup(t, taobaofake.Options{})
	f.Generate(1, 3, t0.Add(-time.Hour), t0)
	tid := f.OrderIDs()[0]
	for _, m := range []string{taobao.SignMD5, taobao.SignHMAC, taobao.SignHMACSHA256} {
		wantOK(t, call(t, srv, c.Now(), m, fullinfo(tid)))

		p := fullinfo(tid)
		good, _ := taobao.Sign(m, appSecret, map[string]string{"x": "y"})
		p["sign"] = good // a valid signature of something else
		out := call(t, srv, c.Now(), m, p)
		wantCode(t, out, "25")

		// Lower-case hex is accepted (TOP compares case-insensitively).
		p = fullinfo(tid)
		full := map[string]string{"app_key": appKey, "session": session, "v": "2.0", "format": "json",
			"sign_method": m, "timestamp": c.Now().In(taobaofake.CST).Format(taobaofake.TimeLayout)}
		for k, v := range p {
			full[k] = v
		}
		sig, _ := taobao.Sign(m, appSecret, full)
		p["sign"] = strings.ToLower(sig)
		wantOK(t, call(t, srv, c.Now(), m, p))
	}
	// Signed with another secret.
	p := fullinfo(tid)
	full := map[string]string{"app_key": appKey, "session": session, "v": "2.0", "format": "json",
		"sign_method": "md5", "timestamp": c.Now().In(taobaofake.CST).Format(taobaofake.TimeLayout)}
	for k, v := range p {
		full[k] = v
	}
	p["sign"], _ = taobao.Sign("md5", "other", full)
	wantCode(t, call(t, srv, c.Now(), "md5", p), "25")
	// Unknown sign_method.
	p = fullinfo(tid)
	p["sign"] = "ABC"
	wantCode(t, call(t, srv, c.Now(), "sha1", p), "25")
	// Missing sign.
	p = fullinfo(tid)
	p["sign"] = ""
	wantCode(t, call(t, srv, c.Now(), "md5", p), "24")
	// Every one of those reached the method.
	if n := f.Calls(taobaofake.MethodFullinfoGet); n != 12 {
		t.Errorf("Calls = %d, want 12", n)
	}
}

func TestCommonParameterErrors(t *testing.T) {
	f, srv, c := setup(t, taobaofake.Options{})
	f.Generate(1, 1, t0.Add(-time.Hour), t0)
	tid := f.OrderIDs()[0]
	for _, tc := range []struct {
		name, code string
		change     map[string]string
	}{
		{"unknown app key", "29", map[string]string{"app_key": "999"}},
		{"no method", "21", map[string]string{"method": ""}},
		{"unknown method", "22", map[string]string{"method": "taobao.user.seller.get"}},
		{"no session", "26", map[string]string{"session": ""}},
		{"invalid session", "27", map[string]string{"session": "nope"}},
		{"xml", "23", map[string]string{"format": "xml"}},
		{"version", "34", map[string]string{"v": "1.0"}},
		{"missing tid", "40", map[string]string{"tid": ""}},
		{"unknown tid", "15", map[string]string{"tid": "1"}},
	} {
		p := fullinfo(tid)
		for k, v := range tc.change {
			p[k] = v
		}
		out := call(t, srv, c.Now(), "md5", p)
		if code, _, _ := errCode(out); code != tc.code {
			t.Errorf("%s: code %q, want %s: %v", tc.name, code, tc.code, out)
		}
	}
}

func TestTimestampSkew(t *testing.T) {
	f, srv, c := setup(t, taobaofake.Options{})
	f.Generate(1, 1, t0.Add(-time.Hour), t0)
	tid := f.OrderIDs()[0]
	wantOK(t, call(t, srv, c.Now().Add(9*time.Minute), "md5", fullinfo(tid)))
	wantOK(t, call(t, srv, c.Now().Add(-9*time.Minute), "md5", fullinfo(tid)))
	wantCode(t, call(t, srv, c.Now().Add(11*time.Minute), "md5", fullinfo(tid)), "31")
	wantCode(t, call(t, srv, c.Now().Add(-11*time.Minute), "md5", fullinfo(tid)), "31")
	// The wall clock in UTC rather than UTC+8 is eight hours off.
	p := fullinfo(tid)
	p["timestamp"] = c.Now().UTC().Format(taobaofake.TimeLayout)
	wantCode(t, call(t, srv, c.Now(), "md5", p), "31")
	p["timestamp"] = strconv.FormatInt(c.Now().UnixMilli(), 10)
	wantCode(t, call(t, srv, c.Now(), "md5", p), "31")
}

func incr(start, end time.Time, page, size int) map[string]string {
	return map[string]string{
		"method":         taobaofake.MethodIncrementGet,
		"fields":         "tid,status,modified,payment",
		"start_modified": start.In(taobaofake.CST).Format(taobaofake.TimeLayout),
		"end_modified":   end.In(taobaofake.CST).Format(taobaofake.TimeLayout),
		"page_no":        strconv.Itoa(page), "page_size": strconv.Itoa(size), "use_has_next": "true",
	}
}

type page struct {
	total   int
	hasNext bool
	tids    []string
	mods    []time.Time
}

func readPage(t *testing.T, out map[string]any) page {
	t.Helper()
	wantOK(t, out)
	r := out["trades_sold_increment_get_response"].(map[string]any)
	total, _ := r["total_results"].(json.Number).Int64()
	p := page{total: int(total), hasNext: r["has_next"].(bool)}
	for _, x := range r["trades"].(map[string]any)["trade"].([]any) {
		tr := x.(map[string]any)
		tid := tr["tid"].(json.Number).String()
		if tr["tid_str"] != nil {
			t.Errorf("tid_str returned though not in fields")
		}
		if _, ok := tr["buyer_nick"]; ok {
			t.Errorf("buyer_nick returned though not in fields")
		}
		m, err := time.ParseInLocation(taobaofake.TimeLayout, tr["modified"].(string), taobaofake.CST)
		if err != nil {
			t.Fatal(err)
		}
		p.tids = append(p.tids, tid)
		p.mods = append(p.mods, m)
	}
	return p
}

func TestIncrementPaginationCoversWindowOnceDescending(t *testing.T) {
	f, srv, c := setup(t, taobaofake.Options{})
	from := t0.Add(-24 * time.Hour)
	f.Generate(7, 345, from, t0)
	// The window is the last 12 hours, both ends inclusive.
	start, end := t0.Add(-12*time.Hour), t0.Add(-time.Second)
	want := map[string]bool{}
	for _, id := range f.OrderIDs() {
		o, _ := f.Order(id)
		if !o.Modified.Before(start) && !o.Modified.After(end) {
			want[id] = true
		}
	}
	if len(want) < 100 {
		t.Fatalf("only %d orders in the window", len(want))
	}
	seen := map[string]int{}
	var last time.Time
	var lastTid int64
	for pg := 1; ; pg++ {
		p := readPage(t, call(t, srv, c.Now(), "hmac-sha256", incr(start, end, pg, 40)))
		if p.total != len(want) {
			t.Fatalf("total_results %d, want %d", p.total, len(want))
		}
		for i, tid := range p.tids {
			seen[tid]++
			n, _ := strconv.ParseInt(tid, 10, 64)
			if !last.IsZero() && (p.mods[i].After(last) || p.mods[i].Equal(last) && n > lastTid) {
				t.Fatalf("page %d: %s modified %s after %s: not descending", pg, tid, p.mods[i], last)
			}
			last, lastTid = p.mods[i], n
		}
		if !p.hasNext {
			if pg != (len(want)+39)/40 {
				t.Errorf("has_next false on page %d of %d", pg, (len(want)+39)/40)
			}
			break
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s seen %d times", id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d tids seen, want %d", len(seen), len(want))
	}

	// Walking from the last page to the first while orders change (the
	// walk PLATFORMS.md advises) still sees every order of the window
	// but those that changed, and so left it, before being read.
	pages := (len(want) + 99) / 100
	seen = map[string]int{}
	touched := map[string]bool{}
	var inWindow []string
	for id := range want {
		inWindow = append(inWindow, id)
	}
	for pg := pages; pg >= 1; pg-- {
		p := readPage(t, call(t, srv, c.Now(), "md5", incr(start, end, pg, 100)))
		for _, tid := range p.tids {
			seen[tid]++
		}
		// Orders modified now leave the window.
		for _, id := range inWindow[pg*7 : pg*7+3] {
			if seen[id] == 0 {
				touched[id] = true
			}
			f.Touch(id, "", c.Now())
		}
	}
	for id := range want {
		if seen[id] == 0 && !touched[id] {
			t.Errorf("backward walk missed %s", id)
		}
	}
}

func TestIncrementParameterLimits(t *testing.T) {
	_, srv, c := setup(t, taobaofake.Options{})
	out := call(t, srv, c.Now(), "md5", incr(t0.Add(-24*time.Hour), t0, 1, 100))
	wantOK(t, out) // exactly one day is allowed
	out = call(t, srv, c.Now(), "md5", incr(t0.Add(-24*time.Hour-time.Second), t0, 1, 100))
	wantCode(t, out, "15")
	if _, sub, _ := errCode(out); !strings.HasPrefix(sub, "isv.") {
		t.Errorf("window too long: sub_code %q, want isv.*", sub)
	}
	wantCode(t, call(t, srv, c.Now(), "md5", incr(t0, t0.Add(-time.Hour), 1, 100)), "15")
	wantCode(t, call(t, srv, c.Now(), "md5", incr(t0.Add(-time.Hour), t0, 1, 101)), "15")
	wantCode(t, call(t, srv, c.Now(), "md5", incr(t0.Add(-time.Hour), t0, 0, 10)), "15")
	p := incr(t0.Add(-time.Hour), t0, 1, 10)
	delete(p, "start_modified")
	wantCode(t, call(t, srv, c.Now(), "md5", p), "40")
	// An empty window answers an empty list.
	pg := readPage(t, call(t, srv, c.Now(), "md5", incr(t0.Add(-time.Hour), t0, 1, 10)))
	if pg.total != 0 || pg.hasNext || len(pg.tids) != 0 {
		t.Errorf("empty window: %+v", pg)
	}
}

func TestFullinfo(t *testing.T) {
	f, srv, c := setup(t, taobaofake.Options{})
	f.AddOrder(taobaofake.Order{
		ID: "3123456789012345678", BuyerID: "AAHbuyer", BuyerNick: "t**1", BuyerMobile: "13800000000",
		Status: taobaofake.StatusWaitSellerSend, TotalFen: 2460, PaidFen: 1230, PostFeeFen: 800, DiscountFen: 2030,
		Created: t0.Add(-time.Hour), Modified: t0.Add(-time.Minute), PaidAt: t0.Add(-50 * time.Minute),
		Items:        []taobaofake.Item{{SkuID: "sku1", Title: "面霜", Qty: 2, PriceFen: 1230}},
		RefundStatus: taobaofake.RefundWaitSellerAgree,
	})
	out := call(t, srv, c.Now(), "md5", map[string]string{"method": taobaofake.MethodFullinfoGet,
		"tid": "3123456789012345678", "fields": "tid,tid_str,status,buyer_open_uid,buyer_nick,receiver_mobile,payment,total_fee,post_fee,discount_fee,created,modified,pay_time,orders.oid,orders.title"})
	wantOK(t, out)
	tr := out["trade_fullinfo_get_response"].(map[string]any)["trade"].(map[string]any)
	if tr["tid"].(json.Number).String() != "3123456789012345678" || tr["tid_str"] != "3123456789012345678" {
		t.Errorf("tid %v tid_str %v", tr["tid"], tr["tid_str"])
	}
	for k, v := range map[string]string{"status": "WAIT_SELLER_SEND_GOODS", "buyer_open_uid": "AAHbuyer",
		"receiver_mobile": "13800000000", "payment": "12.30", "total_fee": "24.60", "post_fee": "8.00",
		"discount_fee": "20.30", "created": "2026-11-25 09:00:00", "modified": "2026-11-25 09:59:00",
		"pay_time": "2026-11-25 09:10:00"} {
		if tr[k] != v {
			t.Errorf("%s = %v, want %s", k, tr[k], v)
		}
	}
	sub := tr["orders"].(map[string]any)["order"].([]any)[0].(map[string]any)
	if sub["oid"].(json.Number).String() != "3123456789012345679" || sub["title"] != "面霜" ||
		sub["num"].(json.Number).String() != "2" || sub["price"] != "12.30" || sub["sku_id"] != "sku1" ||
		sub["refund_status"] != "WAIT_SELLER_AGREE" {
		t.Errorf("sub-order %v", sub)
	}
	// Not asked for.
	out = call(t, srv, c.Now(), "md5", map[string]string{"method": taobaofake.MethodFullinfoGet,
		"tid": "3123456789012345678", "fields": "tid,status"})
	tr = out["trade_fullinfo_get_response"].(map[string]any)["trade"].(map[string]any)
	if len(tr) != 2 {
		t.Errorf("fields tid,status gave %v", tr)
	}
}

func TestFailNext(t *testing.T) {
	f, srv, c := setup(t, taobaofake.Options{})
	f.Generate(1, 1, t0.Add(-time.Hour), t0)
	tid := f.OrderIDs()[0]
	f.FailNext(taobaofake.MethodFullinfoGet, taobaofake.FaultRateLimited, 2)
	f.FailNext(taobaofake.MethodFullinfoGet, taobaofake.FaultSystemBusy, 1)
	f.FailNext(taobaofake.MethodFullinfoGet, taobaofake.FaultInvalidToken, 1)
	// Another method is unaffected.
	wantOK(t, call(t, srv, c.Now(), "md5", incr(t0.Add(-time.Hour), t0, 1, 10)))
	for i := range 2 {
		out := call(t, srv, c.Now(), "md5", fullinfo(tid))
		code, sub, msg := errCode(out)
		if code != "7" || sub != "accesscontrol.limited-by-app-access-count" || msg != "This ban will last for 1 more seconds" {
			t.Errorf("call %d: %v", i, out)
		}
	}
	code, sub, _ := errCode(call(t, srv, c.Now(), "md5", fullinfo(tid)))
	if code != "15" || !strings.HasPrefix(sub, "isp.") {
		t.Errorf("busy: %s %s", code, sub)
	}
	wantCode(t, call(t, srv, c.Now(), "md5", fullinfo(tid)), "27")
	wantOK(t, call(t, srv, c.Now(), "md5", fullinfo(tid)))
	if n := f.Calls(taobaofake.MethodFullinfoGet); n != 5 {
		t.Errorf("Calls = %d, want 5", n)
	}
	// A request with a bad signature does not use up a fault.
	f.FailNext(taobaofake.MethodFullinfoGet, taobaofake.FaultSystemBusy, 1)
	p := fullinfo(tid)
	p["sign"] = "00"
	wantCode(t, call(t, srv, c.Now(), "md5", p), "25")
	wantCode(t, call(t, srv, c.Now(), "md5", fullinfo(tid)), "15")
}

func TestRateLimit(t *testing.T) {
	f, srv, c := setup(t, taobaofake.Options{RateLimitPerMinute: 3})
	f.Generate(1, 1, t0.Add(-time.Hour), t0)
	tid := f.OrderIDs()[0]
	c.Add(15 * time.Second)
	for range 3 {
		wantOK(t, call(t, srv, c.Now(), "md5", fullinfo(tid)))
	}
	out := call(t, srv, c.Now(), "md5", fullinfo(tid))
	code, sub, msg := errCode(out)
	if code != "7" || !strings.HasPrefix(sub, "accesscontrol.limited-by-") || msg != "This ban will last for 45 more seconds" {
		t.Errorf("over the limit: %v", out)
	}
	// Per method.
	wantOK(t, call(t, srv, c.Now(), "md5", incr(t0.Add(-time.Hour), t0, 1, 10)))
	c.Add(45 * time.Second)
	wantOK(t, call(t, srv, c.Now(), "md5", fullinfo(tid)))
}

func TestGenerateDeterministicWithRepeatBuyersAndRefunds(t *testing.T) {
	from, to := t0.Add(-24*time.Hour), t0
	a, b, d := taobaofake.New(taobaofake.Options{}), taobaofake.New(taobaofake.Options{}), taobaofake.New(taobaofake.Options{})
	a.Generate(42, 300, from, to)
	b.Generate(42, 300, from, to)
	d.Generate(43, 300, from, to)
	ids := a.OrderIDs()
	if len(ids) != 300 || strings.Join(ids, ",") != strings.Join(b.OrderIDs(), ",") {
		t.Fatalf("same seed, different IDs")
	}
	if strings.Join(ids, ",") == strings.Join(d.OrderIDs(), ",") {
		t.Errorf("different seeds, same IDs")
	}
	buyers := map[string]int{}
	mobiles := map[string]string{}
	refunded := 0
	for _, id := range ids {
		oa, _ := a.Order(id)
		ob, _ := b.Order(id)
		ja, _ := json.Marshal(oa)
		jb, _ := json.Marshal(ob)
		if !bytes.Equal(ja, jb) {
			t.Fatalf("same seed, %s differs:\n%s\n%s", id, ja, jb)
		}
		if oa.Modified.Before(from) || !oa.Modified.Before(to) || oa.Modified.Nanosecond() != 0 {
			t.Errorf("%s modified %s outside [from,to) or not whole seconds", id, oa.Modified)
		}
		if oa.Created.After(oa.Modified) || !oa.PaidAt.IsZero() && (oa.PaidAt.Before(oa.Created) || oa.PaidAt.After(oa.Modified)) {
			t.Errorf("%s: created %s paid %s modified %s", id, oa.Created, oa.PaidAt, oa.Modified)
		}
		if oa.PaidFen != oa.TotalFen+oa.PostFeeFen-oa.DiscountFen || len(oa.Items) == 0 {
			t.Errorf("%s: amounts %+v", id, oa)
		}
		buyers[oa.BuyerID]++
		if m, ok := mobiles[oa.BuyerID]; ok && m != oa.BuyerMobile {
			t.Errorf("buyer %s has two mobiles", oa.BuyerID)
		}
		mobiles[oa.BuyerID] = oa.BuyerMobile
		if oa.RefundStatus != taobaofake.RefundNone {
			refunded++
		}
	}
	if len(buyers) != 100 {
		t.Errorf("%d distinct buyers, want 100", len(buyers))
	}
	repeat := 0
	for _, n := range buyers {
		if n > 1 {
			repeat++
		}
	}
	if repeat < 50 {
		t.Errorf("only %d buyers with more than one order", repeat)
	}
	if refunded < 10 || refunded > 80 {
		t.Errorf("%d refunded orders", refunded)
	}
}

func TestTouch(t *testing.T) {
	f, srv, c := setup(t, taobaofake.Options{})
	f.Generate(3, 20, t0.Add(-48*time.Hour), t0.Add(-24*time.Hour))
	id := f.OrderIDs()[5]
	f.Touch(id, taobaofake.StatusWaitBuyerConfirm, t0.Add(-time.Minute))
	p := readPage(t, call(t, srv, c.Now(), "md5", incr(t0.Add(-time.Hour), t0, 1, 100)))
	if len(p.tids) != 1 || p.tids[0] != id {
		t.Fatalf("after Touch: %v", p.tids)
	}
	o, _ := f.Order(id)
	if o.Status != taobaofake.StatusWaitBuyerConfirm || o.PaidAt.IsZero() {
		t.Errorf("touched order %+v", o)
	}
	f.Touch("nope", taobaofake.StatusFinished, t0) // ignored
}
