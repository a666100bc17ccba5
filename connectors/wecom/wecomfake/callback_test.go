package wecomfake

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/connectors/wecom/msgcrypt"
)

// receiver is a callback endpoint that checks what the fake sends with
// msgcrypt, as our connector will.
type receiver struct {
	t        *testing.T
	c        *msgcrypt.Crypter
	mu       sync.Mutex
	failures int // answer 500 this many times first
	hits     int
	got      []string // decrypted messages
	bodies   []string
}

func newReceiver(t *testing.T, failures int) (*receiver, *httptest.Server) {
	c, err := msgcrypt.New(testToken, testAESKey, testCorp)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, c: c, failures: failures}
	ts := httptest.NewServer(rc)
	t.Cleanup(ts.Close)
	return rc, ts
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.Method == http.MethodGet {
		plain, err := rc.c.VerifyURL(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), q.Get("echostr"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		_, _ = w.Write(plain)
		return
	}
	body, _ := io.ReadAll(r.Body)
	env, err := msgcrypt.ParseEnvelope(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	msg, err := rc.c.Decrypt(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), env.Encrypt)
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hits++
	rc.bodies = append(rc.bodies, string(body))
	if rc.hits <= rc.failures {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.got = append(rc.got, string(msg))
}

type event struct {
	ToUserName, FromUserName, MsgType, Event, ChangeType string
	CreateTime                                           int64
	UserID, ExternalUserID, State, WelcomeCode           string
	Source, FailReason, Id, TagType                      string
	Name, Department, Mobile, Status, ParentId, Order    string
}

func parseEvent(t *testing.T, s string) event {
	t.Helper()
	var e event
	if err := xml.Unmarshal([]byte(s), &e); err != nil {
		t.Fatalf("event XML %q: %v", s, err)
	}
	return e
}

func TestSendCallback(t *testing.T) {
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	t.Run("delivered encrypted and signed, retried after two 500s", func(t *testing.T) {
		e := newEnv(t)
		rc, ts := newReceiver(t, 2)
		xmlMsg := e.s.EventAddExternalContact("alice", "wm1", "store_qr_1", "WC1", at)
		status, attempts, err := e.s.SendCallback(context.Background(), ts.URL+"/wecom/callback?corp=1", xmlMsg)
		if err != nil || status != 200 || attempts != 3 {
			t.Fatalf("SendCallback: status %d, attempts %d, err %v", status, attempts, err)
		}
		if len(rc.got) != 1 || rc.got[0] != xmlMsg {
			t.Fatalf("received %q", rc.got)
		}
		if rc.bodies[0] != rc.bodies[2] {
			t.Fatal("a retry carried another body")
		}
		env, _ := msgcrypt.ParseEnvelope([]byte(rc.bodies[0]))
		if env.ToUserName != testCorp || env.AgentID != "1000002" {
			t.Fatalf("envelope %+v", env)
		}
		ev := parseEvent(t, rc.got[0])
		if ev.ToUserName != testCorp || ev.FromUserName != "sys" || ev.MsgType != "event" || ev.Event != "change_external_contact" ||
			ev.ChangeType != "add_external_contact" || ev.State != "store_qr_1" || ev.WelcomeCode != "WC1" || ev.CreateTime != at.Unix() {
			t.Fatalf("event %+v", ev)
		}
	})
	t.Run("gives up after 3 attempts", func(t *testing.T) {
		e := newEnv(t)
		rc, ts := newReceiver(t, 10)
		status, attempts, err := e.s.SendCallback(context.Background(), ts.URL, e.s.EventDelFollowUser("alice", "wm1", at))
		if err == nil || status != 500 || attempts != 3 || rc.hits != 3 {
			t.Fatalf("status %d, attempts %d, hits %d, err %v", status, attempts, rc.hits, err)
		}
	})
	t.Run("a receiver with another token refuses it", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.CallbackToken = "otherToken" })
		_, ts := newReceiver(t, 0)
		status, _, err := e.s.SendCallback(context.Background(), ts.URL, e.s.EventDelFollowUser("alice", "wm1", at))
		if err == nil || status != http.StatusForbidden {
			t.Fatalf("status %d, err %v", status, err)
		}
	})
}

func TestVerifyURL(t *testing.T) {
	e := newEnv(t)
	_, ts := newReceiver(t, 0)
	plain, err := e.s.VerifyURL(context.Background(), ts.URL)
	if err != nil || plain == "" {
		t.Fatalf("VerifyURL: %q, %v", plain, err)
	}
	echoWrong := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(r.URL.Query().Get("echostr"))) // forgot to decrypt
	}))
	defer echoWrong.Close()
	if _, err := e.s.VerifyURL(context.Background(), echoWrong.URL); err == nil {
		t.Fatal("VerifyURL accepted the encrypted echostr as an answer")
	}
}

func TestSimulateAdd(t *testing.T) {
	e := newEnv(t)
	e.s.AddUser(User{UserID: "alice"})
	rc, ts := newReceiver(t, 0)
	code, err := e.s.SimulateAdd(context.Background(), ts.URL, "alice", ExternalContact{ExternalUserID: "wm1", Name: "客", Type: 1}, "store_qr_7")
	if err != nil {
		t.Fatal(err)
	}
	ev := parseEvent(t, rc.got[0])
	if ev.WelcomeCode != code || ev.UserID != "alice" || ev.ExternalUserID != "wm1" || ev.State != "store_qr_7" {
		t.Fatalf("event %+v, code %q", ev, code)
	}
	if f := e.s.Follows("wm1"); len(f) != 1 || f[0].State != "store_qr_7" || f[0].AddWay != 1 {
		t.Fatalf("follows %+v", f)
	}
	e.clock.Add(5 * time.Second)
	body := map[string]any{"welcome_code": code, "text": map[string]any{"content": "欢迎光临"}}
	want(t, "welcome", e.post("externalcontact/send_welcome_msg", body, nil), 0)
	if _, err := e.s.SimulateAdd(context.Background(), ts.URL, "ghost", ExternalContact{ExternalUserID: "wm2"}, ""); err == nil {
		t.Fatal("SimulateAdd for an unknown member succeeded")
	}
}

func TestEventBuilders(t *testing.T) {
	e := newEnv(t)
	at := time.Unix(1700000000, 0)
	cases := []struct {
		name  string
		xml   string
		check func(ev event) bool
	}{
		{"edit", e.s.EventEditExternalContact("a", "wm", at), func(ev event) bool {
			return ev.ChangeType == "edit_external_contact" && ev.UserID == "a"
		}},
		{"del by transfer", e.s.EventDelExternalContact("a", "wm", "DELETE_BY_TRANSFER", at), func(ev event) bool {
			return ev.ChangeType == "del_external_contact" && ev.Source == "DELETE_BY_TRANSFER"
		}},
		{"transfer fail", e.s.EventTransferFail("b", "wm", "customer_refused", at), func(ev event) bool {
			return ev.ChangeType == "transfer_fail" && ev.FailReason == "customer_refused"
		}},
		{"tag", e.s.EventChangeExternalTag("et1", "tag", "create", at), func(ev event) bool {
			return ev.Event == "change_external_tag" && ev.Id == "et1" && ev.TagType == "tag" && ev.ChangeType == "create"
		}},
		{"user", e.s.EventChangeContactUser("create_user", User{UserID: "a", Name: "<甲&]]>", Departments: []int64{3, 4}, Mobile: "13800000000", Status: 1}, at), func(ev event) bool {
			return ev.Event == "change_contact" && ev.Name == "<甲&]]>" && ev.Department == "3,4" && ev.Status == "1"
		}},
		{"party", e.s.EventChangeContactParty("create_party", Department{ID: 7, Name: "店", ParentID: 2, Order: 5}, at), func(ev event) bool {
			return ev.ChangeType == "create_party" && ev.Id == "7" && ev.ParentId == "2" && ev.Order == "5"
		}},
	}
	for _, c := range cases {
		ev := parseEvent(t, c.xml)
		if ev.ToUserName != testCorp || ev.CreateTime != at.Unix() || !c.check(ev) {
			t.Errorf("%s: %+v from %s", c.name, ev, c.xml)
		}
		if !strings.HasPrefix(c.xml, "<xml><ToUserName>") {
			t.Errorf("%s: %s", c.name, c.xml)
		}
	}
}
