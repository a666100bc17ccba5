package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	_ "github.com/scrm-dev/scrm/authz" // registers the default policies new tenants get
	"github.com/scrm-dev/scrm/connectors/douyin"
	"github.com/scrm-dev/scrm/connectors/wecom"
	"github.com/scrm-dev/scrm/connectors/wecom/msgcrypt"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/redisconn"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

const (
	fuzzCorp   = "wwfuzzcorp"
	fuzzToken  = "FuzzCallbackToken"
	fuzzAESKey = "U3luY1Rlc3RFbmNvZGluZ0tleUZvclNDUk1UZXN0cyE"
	fuzzAppKey = "7000000000000000042"
	fuzzSecret = "fuzz-douyin-app-secret"
)

// FuzzPlatformCallbacks drives the WeCom callback and Douyin push
// handlers (account lookup, body limit, envelope, signature, decryption,
// event parsing, enqueueing) with arbitrary input. mode 0 sends the
// input as it is; mode 1 seals body as the decrypted message, correctly
// signed, so that the event parser sees arbitrary XML; mode 2 sends body
// as a correctly signed Douyin push. The handlers must never panic,
// answer only their documented statuses, and accept exactly what the
// parsers accept.
func FuzzPlatformCallbacks(f *testing.F) {
	st := testenv.OpenStore(f, testenv.SQLite)
	tn, err := st.Client.Tenant.Create().SetName("fuzz").SetSlug("fuzz").Save(viewer.System(context.Background()))
	if err != nil {
		f.Fatal(err)
	}
	ctx := viewer.ForTenant(context.Background(), tn.ID)
	s := func(v string) *string { return &v }
	agent := 1000002
	wa, err := connectoraccounts.Create(ctx, st.Client, connectoraccounts.CreateInput{Platform: connectoraccount.PlatformWecom,
		Name: "corp", CorpID: s(fuzzCorp), AgentID: &agent, Secret: s("fuzz-secret"), CallbackToken: s(fuzzToken), EncodingAESKey: s(fuzzAESKey)})
	if err != nil {
		f.Fatal(err)
	}
	da, err := connectoraccounts.Create(ctx, st.Client, connectoraccounts.CreateInput{Platform: connectoraccount.PlatformDouyin,
		Name: "shop", ShopID: s("4463798"), AppKey: s(fuzzAppKey), AppSecret: s(fuzzSecret)})
	if err != nil {
		f.Fatal(err)
	}
	rdb, err := redisconn.Open(context.Background(), "")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { rdb.Close() })
	enq := asynq.NewClient(rdb.Opt)
	f.Cleanup(func() { enq.Close() })
	p := &Platforms{Client: st.Client, Enqueuer: enq, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mux := http.NewServeMux()
	p.mount(mux)
	crypter, err := msgcrypt.New(fuzzToken, fuzzAESKey, fuzzCorp)
	if err != nil {
		f.Fatal(err)
	}
	wecomPath := "/connectors/wecom/" + wa.CallbackKey + "/callback"
	pushPath := "/connectors/douyin/" + da.CallbackKey + "/push"

	event := `<xml><ToUserName><![CDATA[wwfuzzcorp]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>` +
		`<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>` +
		`<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>` +
		`<ExternalUserID><![CDATA[wmABC]]></ExternalUserID></xml>`
	enc, sig, _ := crypter.Encrypt([]byte(event), "1700000000", "42")
	f.Add([]byte("<xml><Encrypt><![CDATA["+enc+"]]></Encrypt></xml>"), sig, "1700000000", "42", uint8(0))
	f.Add([]byte("<xml><Encrypt>AAAA</Encrypt></xml>"), "bad", "1", "2", uint8(0))
	f.Add([]byte("<not xml"), "", "", "", uint8(0))
	f.Add([]byte(event), "", "", "", uint8(1))
	f.Add([]byte("<xml><ToUserName>x</ToUserName><MsgType>event</MsgType></xml>"), "", "", "", uint8(1))
	f.Add([]byte("not xml"), "", "", "", uint8(1))
	f.Add([]byte{}, "", "", "", uint8(1))
	f.Add([]byte(`[{"tag":"101","msg_id":"1","data":"{\"p_id\":\"69\",\"update_time\":1700000000}"}]`), "", "", "", uint8(2))
	f.Add([]byte(`[{"tag":"0","msg_id":"1","data":{}}]`), "", "", "", uint8(2))
	f.Add([]byte(`[{"tag":"101","msg_id":"1","data":"{"}]`), "", "", "", uint8(2))
	f.Add([]byte(`{}`), "", "", "", uint8(2))

	f.Fuzz(func(t *testing.T, body []byte, sig, ts, nonce string, mode uint8) {
		var req *http.Request
		want := 0 // 0: any documented status
		switch mode % 3 {
		case 0:
			q := url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}
			req = httptest.NewRequest(http.MethodPost, wecomPath+"?"+q.Encode(), strings.NewReader(string(body)))
		case 1:
			if ts == "" {
				ts = "1700000000"
			}
			enc, sig, err := crypter.Encrypt(body, ts, nonce)
			if err != nil {
				t.Fatal(err)
			}
			q := url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}}
			req = httptest.NewRequest(http.MethodPost, wecomPath+"?"+q.Encode(),
				strings.NewReader("<xml><Encrypt>"+enc+"</Encrypt></xml>"))
			want = http.StatusBadRequest
			if _, err := wecom.ParseEvent(body); err == nil {
				want = http.StatusOK
			}
		case 2:
			req = httptest.NewRequest(http.MethodPost, pushPath, strings.NewReader(string(body)))
			req.Header.Set("app-id", fuzzAppKey)
			req.Header.Set("event-sign", douyin.PushSignature(fuzzAppKey, fuzzSecret, body))
			want = http.StatusBadRequest
			if _, err := douyin.ParsePush(req.Header, body, fuzzAppKey, fuzzSecret); err == nil {
				want = http.StatusOK
			}
			if len(body) > maxCallbackBody {
				want = http.StatusRequestEntityTooLarge
			}
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch {
		case want != 0 && rec.Code != want:
			t.Fatalf("mode %d answered %d, want %d: %s", mode%3, rec.Code, want, rec.Body)
		case rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized &&
			rec.Code != http.StatusForbidden && rec.Code != http.StatusRequestEntityTooLarge:
			t.Fatalf("mode %d answered %d: %s", mode%3, rec.Code, rec.Body)
		}
	})
}
