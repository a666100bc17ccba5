package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The signature scheme, which partners mirror (Verify is the reference):
//
//	X-SCRM-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The key is the whole secret as shown when the endpoint was made
// ("whsec_…", as ASCII bytes); body is the raw request body, byte for
// byte. Signing the timestamp with the body lets a receiver refuse old
// requests (replays) by checking t against its clock with a tolerance;
// a header may carry several v1 values (a future secret rotation signs
// with both), and one matching is enough.

// SignatureHeader is the header carrying the signature.
const SignatureHeader = "X-SCRM-Signature"

// Sign returns the signature header value of body sent at at.
func Sign(secret string, body []byte, at time.Time) string {
	t := strconv.FormatInt(at.Unix(), 10)
	return "t=" + t + ",v1=" + mac(secret, t, body)
}

func mac(secret, t string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(t))
	h.Write([]byte{'.'})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignatureHeader = errors.New("webhooks: malformed signature header")
	ErrSignatureMismatch  = errors.New("webhooks: no signature matches the body")
	ErrSignatureExpired   = errors.New("webhooks: signature timestamp outside the tolerance")
)

// Verify checks a signature header against body and secret, refusing a
// timestamp more than tolerance away from now (replays). This is what a
// partner's receiver does, in whatever language it is written.
func Verify(secret, header string, body []byte, tolerance time.Duration) error {
	return verifyAt(secret, header, body, tolerance, time.Now())
}

func verifyAt(secret, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var t string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrBadSignatureHeader
		}
		switch k {
		case "t":
			t = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(t, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignatureHeader
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureExpired
	}
	want := []byte(mac(secret, t, body))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}
