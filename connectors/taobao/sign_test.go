package taobao_test

import (
	"testing"

	"github.com/scrm-dev/scrm/connectors/taobao"
)

// Vectors computed with Python's hashlib/hmac from PLATFORMS.md's rules,
// not with this package.
func TestSignMatchesIndependentVectors(t *testing.T) {
	params := map[string]string{
		"method": "taobao.trades.sold.increment.get", "app_key": "12345678", "session": "sess-abc",
		"timestamp": "2026-11-25 10:00:00", "v": "2.0", "sign_method": "md5", "format": "json",
		"start_modified": "2026-11-25 09:30:00", "end_modified": "2026-11-25 10:00:00",
		"page_no": "1", "page_size": "100", "use_has_next": "true", "fields": "tid,status,modified",
		"empty": "", // empty values are left out
	}
	for method, want := range map[string]string{
		taobao.SignMD5:        "AAD1B5B7B0798B73036B9DA00E09E7CB",
		taobao.SignHMAC:       "0E377246A64E2730D64206F2CBE095AE",
		taobao.SignHMACSHA256: "7900E6BDCC3659EAA73671C4AA2BF57FCFDDD3C9D7C24DB7B0F23D60AB7FD7BB",
	} {
		got, err := taobao.Sign(method, "s3cr3t", params)
		if err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", method, got, err, want)
		}
		withSign := map[string]string{"sign": "ignored"}
		for k, v := range params {
			withSign[k] = v
		}
		if !taobao.Verify(method, "s3cr3t", withSign, want) {
			t.Errorf("%s: its own signature does not verify (the sign parameter must not be signed)", method)
		}
		if taobao.Verify(method, "other", params, want) {
			t.Errorf("%s: verified with another secret", method)
		}
	}
	if _, err := taobao.Sign("sha1", "s", params); err == nil {
		t.Error("an unknown sign_method was accepted")
	}
}
