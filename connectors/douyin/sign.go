// Package douyin is the Douyin shop (抖店) connector. This file is the
// open API's request signing and the push messages' signature check
// (PLATFORMS.md): small, so ours rather than a vendor SDK of unclear
// licence.
package douyin

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Sign methods.
const (
	SignHMACSHA256 = "hmac-sha256"
	SignMD5        = "md5"
)

// ParamJSON is the param_json the API signs and receives: the business
// parameters as compact JSON, keys sorted at every depth, HTML characters
// not escaped, numbers as they were written.
func ParamJSON(params any) (string, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return "", err
	}
	// Through a generic value: maps marshal with sorted keys, structs
	// would not.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Sign returns the sign of one API call: over app_secret, then app_key,
// method, param_json, timestamp and v=2 as name-value pairs, then
// app_secret again; HMAC-SHA256 keyed with app_secret, or MD5; lower-case
// hex. timestamp must be exactly the string sent.
func Sign(signMethod, appKey, appSecret, method, paramJSON, timestamp string) (string, error) {
	s := appSecret + "app_key" + appKey + "method" + method + "param_json" + paramJSON +
		"timestamp" + timestamp + "v" + "2" + appSecret
	switch signMethod {
	case SignHMACSHA256:
		m := hmac.New(sha256.New, []byte(appSecret))
		m.Write([]byte(s))
		return hex.EncodeToString(m.Sum(nil)), nil
	case SignMD5:
		sum := md5.Sum([]byte(s))
		return hex.EncodeToString(sum[:]), nil
	}
	return "", fmt.Errorf("douyin: unknown sign_method %q", signMethod)
}

// PushSignature is the event-sign header of a push message:
// hex(MD5(app_key + raw body + app_secret)).
func PushSignature(appKey, appSecret string, body []byte) string {
	h := md5.New()
	h.Write([]byte(appKey))
	h.Write(body)
	h.Write([]byte(appSecret))
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyPush reports whether eventSign signs body, in constant time.
func VerifyPush(appKey, appSecret string, body []byte, eventSign string) bool {
	return hmac.Equal([]byte(PushSignature(appKey, appSecret, body)), []byte(strings.ToLower(eventSign)))
}
