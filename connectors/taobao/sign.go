// Package taobao is the Taobao/Tmall connector (TOP API). This file is the
// request signing TOP requires (PLATFORMS.md): a few dozen lines, so ours
// rather than a vendor SDK of unclear licence.
package taobao

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
	"strings"
)

// Sign methods TOP accepts (the sign_method parameter).
const (
	SignMD5        = "md5"
	SignHMAC       = "hmac"
	SignHMACSHA256 = "hmac-sha256"
)

// Sign returns the sign parameter for params (every parameter sent,
// without sign itself): the keys in ASCII order, each non-empty value
// appended after its key, then MD5(secret+s+secret), HMAC-MD5(secret, s)
// or HMAC-SHA256(secret, s) by method, in upper-case hex.
func Sign(method, secret string, params map[string]string) (string, error) {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k != "sign" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(params[k])
	}
	s := b.String()
	var h hash.Hash
	switch method {
	case SignMD5:
		h = md5.New()
		h.Write([]byte(secret + s + secret))
	case SignHMAC:
		h = hmac.New(md5.New, []byte(secret))
		h.Write([]byte(s))
	case SignHMACSHA256:
		h = hmac.New(sha256.New, []byte(secret))
		h.Write([]byte(s))
	default:
		return "", fmt.Errorf("taobao: unknown sign_method %q", method)
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), nil
}

// Verify reports whether sign is params' signature (the fake platform
// checks requests with it), comparing in constant time.
func Verify(method, secret string, params map[string]string, sign string) bool {
	want, err := Sign(method, secret, params)
	return err == nil && hmac.Equal([]byte(want), []byte(strings.ToUpper(sign)))
}
