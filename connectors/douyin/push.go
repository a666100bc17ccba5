package douyin

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// PushAnswer is the body to answer a push with (HTTP 200) once its
// messages are stored; anything else makes the platform send it again.
const PushAnswer = `{"code":0,"msg":"success"}`

// TagVerify is the tag of the verification ping sent when a push URL is
// configured (unverified).
const TagVerify = "0"

// PushMessage is one pushed message.
type PushMessage struct {
	Tag, MsgID string
	// OrderID is the shop order (data.p_id); ShopID data.shop_id.
	OrderID string
	ShopID  string
	// UpdatedAt is data.update_time; zero when absent.
	UpdatedAt time.Time
	// Raw is the message's data, as JSON.
	Raw json.RawMessage
}

// ErrPushSignature is returned for a push whose app-id or event-sign is
// wrong.
var ErrPushSignature = errors.New("douyin: push signature does not match")

// ParsePush checks a push's signature and parses its body. The headers
// app-id (our app key) and event-sign (hex(MD5(app_key + body +
// app_secret)), VerifyPush) must match the raw body; with a sign-method
// header of hmac-sha256 (an unverified variant) the sign is
// hex(HMAC-SHA256(app_secret, app_key + body + app_secret)). The body is
// a JSON array of {tag, msg_id, data}, data a string holding JSON (an
// object is read too). A tampered or malformed push is an error and
// nothing parsed is returned. Dedupe on MsgID: the platform pushes again
// until it gets PushAnswer.
func ParsePush(header http.Header, body []byte, appKey, appSecret string) ([]PushMessage, error) {
	if header.Get("app-id") != appKey {
		return nil, ErrPushSignature
	}
	sign := header.Get("event-sign")
	ok := false
	switch m := strings.ToLower(header.Get("sign-method")); m {
	case "", SignMD5:
		ok = sign != "" && VerifyPush(appKey, appSecret, body, sign)
	case SignHMACSHA256:
		mac := hmac.New(sha256.New, []byte(appSecret))
		mac.Write([]byte(appKey))
		mac.Write(body)
		mac.Write([]byte(appSecret))
		ok = hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(strings.ToLower(sign)))
	default:
		return nil, fmt.Errorf("douyin: push sign-method %q is not supported", m)
	}
	if !ok {
		return nil, ErrPushSignature
	}

	var wire []struct {
		Tag   *string         `json:"tag"`
		MsgID *string         `json:"msg_id"`
		Data  json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&wire); err != nil {
		return nil, fmt.Errorf("douyin: push body: %w", err)
	}
	if dec.More() {
		return nil, errors.New("douyin: push body: data after the array")
	}
	msgs := make([]PushMessage, 0, len(wire))
	for i, w := range wire {
		if w.Tag == nil || *w.Tag == "" || w.MsgID == nil || *w.MsgID == "" {
			return nil, fmt.Errorf("douyin: push message %d has no tag or msg_id", i)
		}
		m := PushMessage{Tag: *w.Tag, MsgID: *w.MsgID}
		raw := bytes.TrimSpace(w.Data)
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("douyin: push message %s data: %w", m.MsgID, err)
			}
			raw = bytes.TrimSpace([]byte(s))
		}
		if len(raw) == 0 || string(raw) == "null" {
			raw = []byte("{}")
		}
		var data struct {
			PID        id  `json:"p_id"`
			ShopID     id  `json:"shop_id"`
			UpdateTime num `json:"update_time"`
		}
		if err := json.Unmarshal(raw, &data); err != nil {
			return nil, fmt.Errorf("douyin: push message %s data: %w", m.MsgID, err)
		}
		m.OrderID, m.ShopID = string(data.PID), string(data.ShopID)
		if data.UpdateTime > 0 {
			m.UpdatedAt = time.Unix(int64(data.UpdateTime), 0)
		}
		m.Raw = json.RawMessage(raw)
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// IsVerification reports whether m is the verification ping (tag "0"):
// answer it with PushAnswer and store nothing.
func IsVerification(m PushMessage) bool { return m.Tag == TagVerify }
