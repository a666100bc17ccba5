package wecomfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

const (
	testCorp   = "wwcorp0001"
	testSecret = "app-secret"
	testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	testToken  = "cbToken123"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is a fake behind a real HTTP server, driven with plain net/http.
type env struct {
	t     *testing.T
	s     *Server
	ts    *httptest.Server
	clock *clock
	tok   string
}

func newEnv(t *testing.T, mod ...func(*Options)) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)}
	o := Options{
		CorpID: testCorp, AgentID: 1000002, Secret: testSecret, ContactSecret: "contact-secret",
		CallbackToken: testToken, EncodingAESKey: testAESKey,
		Now: c.Now, CallbackRetryPause: 50 * time.Millisecond,
	}
	for _, m := range mod {
		m(&o)
	}
	s := New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &env{t: t, s: s, ts: ts, clock: c}
}

// answer is a decoded JSON answer.
type answer map[string]any

func (a answer) code() int {
	f, _ := a["errcode"].(float64)
	return int(f)
}

// do sends a request and decodes the JSON answer into out (when not nil);
// it returns the HTTP status and the errcode.
func (e *env) do(method, path string, q url.Values, body any, out any) (int, int) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	u := e.ts.URL + "/cgi-bin/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		e.t.Fatalf("%s %s: answer not JSON: %s", method, path, raw)
	}
	if _, ok := a["errmsg"]; !ok {
		e.t.Fatalf("%s %s: answer without errmsg: %s", method, path, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, a.code()
}

// token gets (and remembers) an access token.
func (e *env) token() string {
	e.t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_, code := e.do("GET", "gettoken", url.Values{"corpid": {testCorp}, "corpsecret": {testSecret}}, nil, &out)
	if code != 0 || out.AccessToken == "" {
		e.t.Fatalf("gettoken: errcode %d", code)
	}
	e.tok = out.AccessToken
	return e.tok
}

// get calls a GET endpoint with the token; it returns the errcode.
func (e *env) get(path string, q url.Values, out any) int {
	e.t.Helper()
	if e.tok == "" {
		e.token()
	}
	if q == nil {
		q = url.Values{}
	}
	q.Set("access_token", e.tok)
	_, code := e.do("GET", path, q, nil, out)
	return code
}

// post calls a POST endpoint with the token; it returns the errcode.
func (e *env) post(path string, body any, out any) int {
	e.t.Helper()
	if e.tok == "" {
		e.token()
	}
	_, code := e.do("POST", path, url.Values{"access_token": {e.tok}}, body, out)
	return code
}

// want fails the test when got is not the expected errcode.
func want(t *testing.T, what string, got, wantCode int) {
	t.Helper()
	if got != wantCode {
		t.Fatalf("%s: errcode %d, want %d", what, got, wantCode)
	}
}
