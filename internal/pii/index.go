package pii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
	"sync"
	"unicode"
)

// indexLen is the length of a blind index in hex characters: 128 bits.
const indexLen = 32

// indexer computes blind indexes. HMAC states are not safe for concurrent
// use, so they are pooled rather than shared or rebuilt per call.
type indexer struct{ pool *sync.Pool }

type indexState struct {
	mac hash.Hash
	msg []byte // kind ":" value, assembled here so Write does not allocate
	sum [sha256.Size]byte
}

func newIndexer(secret []byte) indexer {
	secret = append([]byte(nil), secret...)
	return indexer{pool: &sync.Pool{New: func() any {
		return &indexState{mac: hmac.New(sha256.New, secret)}
	}}}
}

// BlindIndex returns a keyed, deterministic index of an already normalised
// value, for exact-match lookup of encrypted data: HMAC-SHA256 under the
// index secret of kind ":" normalised, as 32 hex characters. kind
// separates the indexes of different kinds of value; it is a fixed name
// such as "phone" and must not contain ':'. An empty value has no index:
// the result is "".
//
// Truncating the HMAC to 128 bits is safe: an index only selects
// candidate rows and the caller decrypts and compares each one, so a
// collision would merely widen a lookup. 128 bits keeps even that out of
// reach, and the shorter column is cheaper to store and index.
func (kr *Keyring) BlindIndex(kind, normalised string) string {
	if strings.Contains(kind, ":") {
		panic("pii: blind index kind must not contain ':'")
	}
	if normalised == "" {
		return ""
	}
	st := kr.index.pool.Get().(*indexState)
	defer kr.index.pool.Put(st)
	st.msg = append(append(append(st.msg[:0], kind...), ':'), normalised...)
	st.mac.Reset()
	st.mac.Write(st.msg)
	var out [indexLen]byte
	hex.Encode(out[:], st.mac.Sum(st.sum[:0])[:indexLen/2])
	clear(st.msg) // it held personal data
	if cap(st.msg) > 1<<10 {
		st.msg = nil // do not pin one unusually long value's buffer
	}
	return string(out[:])
}

// PhoneIndex is the blind index of a phone number: every spelling
// NormalizePhone maps to the same number gets the same index. An empty or
// unparsable number has no index: the result is "".
func (kr *Keyring) PhoneIndex(phone string) string {
	n, ok := NormalizePhone(phone)
	if !ok {
		return ""
	}
	return kr.BlindIndex("phone", n)
}

// NormalizePhone reduces a phone number to one canonical spelling.
//
// Mainland-China mobile numbers, written with or without a +86, 0086 or 86
// country prefix, become their 11 digits ("13812345678"). Any other number
// of 5-20 digits (landlines, foreign numbers) becomes its digits, keeping a
// leading '+'. Spaces, '-', '.', and parentheses are ignored, and
// full-width characters (as typed with a Chinese input method) are read as
// their ASCII forms. Anything else is not a phone number: ok is false.
func NormalizePhone(s string) (normalised string, ok bool) {
	var digits [20]byte
	n, plus := 0, false
	for _, r := range s {
		if '！' <= r && r <= '～' { // full-width ASCII block
			r -= '！' - '!'
		}
		switch {
		case '0' <= r && r <= '9':
			if n == len(digits) {
				return "", false
			}
			digits[n] = byte(r)
			n++
		case r == '+' && n == 0 && !plus:
			plus = true
		case r == '-' || r == '.' || r == '(' || r == ')' || unicode.IsSpace(r):
		default:
			return "", false
		}
	}
	d := string(digits[:n])
	if m, ok := chinaMobile(d, plus); ok {
		return m, true
	}
	if n < 5 {
		return "", false
	}
	if plus {
		return "+" + d, true
	}
	return d, true
}

// chinaMobile extracts a mainland mobile number (1[3-9] and 9 more digits)
// from digits with an optional country prefix.
func chinaMobile(d string, plus bool) (string, bool) {
	switch {
	case plus:
		// Only +86 is China: "+13812345678" is a North American number.
		var ok bool
		if d, ok = strings.CutPrefix(d, "86"); !ok {
			return "", false
		}
	case len(d) == 15:
		d, _ = strings.CutPrefix(d, "0086")
	case len(d) == 13:
		d, _ = strings.CutPrefix(d, "86")
	}
	if len(d) == 11 && d[0] == '1' && '3' <= d[1] && d[1] <= '9' {
		return d, true
	}
	return "", false
}
