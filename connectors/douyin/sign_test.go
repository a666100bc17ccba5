package douyin_test

import (
	"testing"

	"github.com/scrm-dev/scrm/connectors/douyin"
)

// Vectors computed with Python's json/hashlib/hmac from PLATFORMS.md's
// rules, not with this package.
func TestParamJSONAndSignMatchIndependentVectors(t *testing.T) {
	type nested struct {
		Z string `json:"z"`
		A []any  `json:"a"`
	}
	params := struct {
		UpdateTimeStart int64  `json:"update_time_start"`
		UpdateTimeEnd   int64  `json:"update_time_end"`
		Page            int    `json:"page"`
		Size            int    `json:"size"`
		OrderBy         string `json:"order_by"`
		B               nested `json:"b"`
	}{1764030600, 1764032400, 0, 100, "update_time", nested{Z: "<&>", A: []any{2, map[string]any{"y": 1, "x": "中文"}}}}
	pj, err := douyin.ParamJSON(params)
	const wantPJ = `{"b":{"a":[2,{"x":"中文","y":1}],"z":"<&>"},"order_by":"update_time","page":0,"size":100,"update_time_end":1764032400,"update_time_start":1764030600}`
	if err != nil || pj != wantPJ {
		t.Fatalf("param_json %s %v\nwant %s", pj, err, wantPJ)
	}
	for method, want := range map[string]string{
		douyin.SignHMACSHA256: "3b9e3cfe314c209725f76fced43805f7a41f6ce8a7cbba73330d5b7b2ba3e46e",
		douyin.SignMD5:        "43e7848edac8718c0a8e072c49845b42",
	} {
		got, err := douyin.Sign(method, "7001", "dsecret", "order.searchList", pj, "2026-11-25 10:00:00")
		if err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", method, got, err, want)
		}
	}
	if _, err := douyin.Sign("sha1", "7001", "dsecret", "m", pj, "t"); err == nil {
		t.Error("an unknown sign method was accepted")
	}
}

func TestPushSignature(t *testing.T) {
	body := []byte(`[{"tag":"100","msg_id":"7001-1","data":"{\"p_id\":1}"}]`)
	const want = "6be85c359ff0823c435fec2f3dee9687"
	if got := douyin.PushSignature("7001", "dsecret", body); got != want {
		t.Fatalf("event-sign %s, want %s", got, want)
	}
	if !douyin.VerifyPush("7001", "dsecret", body, want) {
		t.Fatal("a good push was refused")
	}
	tampered := append([]byte(nil), body...)
	tampered[10] = 'X'
	if douyin.VerifyPush("7001", "dsecret", tampered, want) || douyin.VerifyPush("7001", "other", body, want) {
		t.Fatal("a tampered push, or another secret, was accepted")
	}
}
