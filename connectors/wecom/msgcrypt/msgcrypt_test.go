package msgcrypt_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/connectors/wecom/msgcrypt"
)

// A vector made with OpenSSL and Python's hashlib, not with this package:
// plaintext = "0123456789abcdef" ‖ len ‖ msg ‖ corp id, PKCS#7 to 32,
// `openssl enc -aes-256-cbc -nopad -K <key> -iv <key[:16]>`, then
// sha1(sorted(token, timestamp, nonce, encrypt)).
const (
	vectorKey       = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	vectorCorp      = "ww1234567890abcdef"
	vectorToken     = "QDG6eK"
	vectorTimestamp = "1409659813"
	vectorNonce     = "1372623149"
	vectorMsg       = "<xml><ToUserName><![CDATA[ww1234567890abcdef]]></ToUserName><Event><![CDATA[change_external_contact]]></Event></xml>"
	vectorEncrypt   = "Q3stYC6hdFzMh9T8HCvyDJ5/nuR+WdBetXg7EAtRQcRLHsoRJVJreziEOEjvlaLw9XTTZYzRdHvCfgcTs2PQsBbFWFHC6BV5Qmu7iXoJza1lLAON3mqyaHSJr0sVK5Gu5Qw4HuK2V/8LVAWFl5CulCHWDJSsqmsuqWmRFWpVtIWz4920HYr+Nx8cE9wFjBaq1FjUPCOfkS4qdY6RcEKs/g=="
	vectorSignature = "8eaf513139600ac5575e56598605b848115ca000"
)

func crypter(t testing.TB, token, corp string) *msgcrypt.Crypter {
	t.Helper()
	c, err := msgcrypt.New(token, vectorKey, corp)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seal encrypts plaintext exactly as given (no padding of its own) with
// the standard library, to build broken messages.
func seal(t testing.TB, plain []byte) string {
	t.Helper()
	key, _ := base64.StdEncoding.DecodeString(vectorKey + "=")
	block, _ := aes.NewCipher(key)
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

func plaintext(msg, receiver string, padTo int, padByte byte, length int) []byte {
	b := []byte("0123456789abcdef")
	b = binary.BigEndian.AppendUint32(b, uint32(length))
	b = append(b, msg...)
	b = append(b, receiver...)
	for len(b)%padTo != 0 || len(b) == 0 {
		b = append(b, padByte)
	}
	return b
}

func TestSignatureMatchesTheIndependentVector(t *testing.T) {
	c := crypter(t, vectorToken, vectorCorp)
	if got := c.Signature(vectorTimestamp, vectorNonce, vectorEncrypt); got != vectorSignature {
		t.Fatalf("signature %s, want %s", got, vectorSignature)
	}
}

func TestDecrypt(t *testing.T) {
	c := crypter(t, vectorToken, vectorCorp)
	sign := func(enc string) string { return c.Signature(vectorTimestamp, vectorNonce, enc) }
	// padded seals a plaintext with correct PKCS#7 padding to 32.
	padded := func(msg, receiver string, length int) string {
		raw := plaintext(msg, receiver, 1, 0, length)
		pad := 32 - len(raw)%32
		for range pad {
			raw = append(raw, byte(pad))
		}
		return seal(t, raw)
	}
	for _, tc := range []struct {
		name      string
		signature string
		encrypt   string
		want      string
		err       error
	}{
		{"the OpenSSL vector", vectorSignature, vectorEncrypt, vectorMsg, nil},
		{"upper-case hex signature", strings.ToUpper(vectorSignature), vectorEncrypt, vectorMsg, nil},
		{"a tampered signature", "0" + vectorSignature[1:], vectorEncrypt, "", msgcrypt.ErrSignature},
		{"a tampered message, signature unchanged", vectorSignature, "R" + vectorEncrypt[1:], "", msgcrypt.ErrSignature},
		{"no signature", "", vectorEncrypt, "", msgcrypt.ErrSignature},
		{"not base64", sign("%%%"), "%%%", "", msgcrypt.ErrMalformed},
		{"not whole AES blocks", sign("AAAA"), "AAAA", "", msgcrypt.ErrMalformed},
		{"empty", sign(""), "", "", msgcrypt.ErrMalformed},
		{"another corp's message", sign(padded("<xml/>", "wwOTHER", 6)), padded("<xml/>", "wwOTHER", 6), "", msgcrypt.ErrReceiveID},
		{"no receive id at all", sign(padded("<xml/>", "", 6)), padded("<xml/>", "", 6), "", msgcrypt.ErrReceiveID},
		{"a length past the end", sign(padded("<xml/>", vectorCorp, 4096)), padded("<xml/>", vectorCorp, 4096), "", msgcrypt.ErrMalformed},
		{"padding byte 0", sign(seal(t, plaintext("<xml/>", vectorCorp, 32, 0, 6))), seal(t, plaintext("<xml/>", vectorCorp, 32, 0, 6)), "", msgcrypt.ErrMalformed},
		{"padding byte over 32", sign(seal(t, plaintext("<xml/>", vectorCorp, 32, 33, 6))), seal(t, plaintext("<xml/>", vectorCorp, 32, 33, 6)), "", msgcrypt.ErrMalformed},
		{"a well-formed message of ours", sign(padded("<xml>ok</xml>", vectorCorp, 13)), padded("<xml>ok</xml>", vectorCorp, 13), "<xml>ok</xml>", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Decrypt(tc.signature, vectorTimestamp, vectorNonce, tc.encrypt)
			if !errors.Is(err, tc.err) || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
	// The receive id is the account's: the same message for another corp
	// is refused after it decrypts.
	other := crypter(t, vectorToken, "wwSOMEONEELSE")
	if _, err := other.Decrypt(vectorSignature, vectorTimestamp, vectorNonce, vectorEncrypt); !errors.Is(err, msgcrypt.ErrReceiveID) {
		t.Fatalf("another account's crypter: %v", err)
	}
	// Another token signs differently.
	if _, err := crypter(t, "OtherToken", vectorCorp).Decrypt(vectorSignature, vectorTimestamp, vectorNonce, vectorEncrypt); !errors.Is(err, msgcrypt.ErrSignature) {
		t.Fatalf("another token: %v", err)
	}
}

// TestEncryptRoundTrip: what the fake platform sends decrypts, for
// messages around every padding boundary; the padding is to 32 bytes.
func TestEncryptRoundTrip(t *testing.T) {
	c := crypter(t, vectorToken, vectorCorp)
	for n := range 100 {
		msg := strings.Repeat("x", n)
		enc, sig, err := c.Encrypt([]byte(msg), vectorTimestamp, vectorNonce)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(enc)
		if len(raw)%32 != 0 {
			t.Fatalf("n=%d: %d bytes sealed, not whole 32-byte blocks", n, len(raw))
		}
		got, err := c.Decrypt(sig, vectorTimestamp, vectorNonce, enc)
		if err != nil || string(got) != msg {
			t.Fatalf("n=%d: %q, %v", n, got, err)
		}
	}
}

func TestVerifyURL(t *testing.T) {
	c := crypter(t, vectorToken, vectorCorp)
	echo, sig, _ := c.Encrypt([]byte("1616140317555161061"), "1616140317", "nonce")
	got, err := c.VerifyURL(sig, "1616140317", "nonce", echo)
	if err != nil || string(got) != "1616140317555161061" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := c.VerifyURL(sig, "1616140318", "nonce", echo); !errors.Is(err, msgcrypt.ErrSignature) {
		t.Fatalf("a changed timestamp: %v", err)
	}
}

func TestNewRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct{ token, key, corp string }{
		{"", vectorKey, vectorCorp},
		{strings.Repeat("t", 33), vectorKey, vectorCorp},
		{vectorToken, vectorKey[:42], vectorCorp},
		{vectorToken, "!" + vectorKey[1:], vectorCorp},
		{vectorToken, vectorKey, ""},
	} {
		if _, err := msgcrypt.New(tc.token, tc.key, tc.corp); err == nil {
			t.Errorf("New(%q, %q, %q) accepted", tc.token, tc.key, tc.corp)
		}
	}
}

func TestParseEnvelope(t *testing.T) {
	e, err := msgcrypt.ParseEnvelope([]byte(`<xml><ToUserName><![CDATA[ww1]]></ToUserName><AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[abc]]></Encrypt></xml>`))
	if err != nil || e.ToUserName != "ww1" || e.AgentID != "1000002" || e.Encrypt != "abc" {
		t.Fatalf("%+v %v", e, err)
	}
	for _, bad := range []string{``, `<xml>`, `<xml><ToUserName>ww1</ToUserName></xml>`, `{"Encrypt":"abc"}`, `<xml><Encrypt>` + strings.Repeat("a", 2<<20) + `</Encrypt></xml>`} {
		if _, err := msgcrypt.ParseEnvelope([]byte(bad)); !errors.Is(err, msgcrypt.ErrMalformed) {
			t.Errorf("%.40q: %v", bad, err)
		}
	}
}

// FuzzDecrypt: whatever arrives, Decrypt answers without panicking, and
// only a correctly signed and sealed message for this corp decrypts.
func FuzzDecrypt(f *testing.F) {
	c := crypter(f, vectorToken, vectorCorp)
	f.Add(vectorEncrypt, true)
	f.Add("AAAA", true)
	f.Add("", false)
	f.Add(seal(f, make([]byte, 32)), true)
	f.Fuzz(func(t *testing.T, encrypted string, signed bool) {
		sig := "nope"
		if signed {
			sig = c.Signature(vectorTimestamp, vectorNonce, encrypted)
		}
		msg, err := c.Decrypt(sig, vectorTimestamp, vectorNonce, encrypted)
		if !signed && err == nil {
			t.Fatal("an unsigned message decrypted")
		}
		if err != nil {
			return
		}
		// Whatever decrypted survives a round trip unchanged.
		enc, sig2, err := c.Encrypt(msg, vectorTimestamp, vectorNonce)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := c.Decrypt(sig2, vectorTimestamp, vectorNonce, enc); err != nil || string(again) != string(msg) {
			t.Fatalf("round trip of %q: %q, %v", msg, again, err)
		}
	})
}

// FuzzParseEnvelope: any body parses or is refused, never panics.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`<xml><Encrypt>abc</Encrypt></xml>`))
	f.Add([]byte(`<xml><ToUserName>ww</ToUserName>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := msgcrypt.ParseEnvelope(body)
		if err == nil && e.Encrypt == "" {
			t.Fatal("an envelope without Encrypt was accepted")
		}
	})
}
