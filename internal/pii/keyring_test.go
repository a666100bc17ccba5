package pii

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// secret returns n deterministic bytes derived from seed, so tests can
// build distinct keys without randomness.
func secret(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func aesKey(id string, seed byte) Key {
	return Key{ID: id, Algorithm: AES256GCM, Secret: secret(seed, 32)}
}
func sm4Key(id string, seed byte) Key {
	return Key{ID: id, Algorithm: SM4GCM, Secret: secret(seed, 16)}
}

func mustKeyring(t testing.TB, active string, keys ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(KeyringConfig{Active: active, Keys: keys, IndexSecret: secret(200, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestRoundTrip(t *testing.T) {
	for _, key := range []Key{aesKey("a1", 1), sm4Key("s1", 2)} {
		t.Run(string(key.Algorithm), func(t *testing.T) {
			kr := mustKeyring(t, key.ID, key)
			for _, plain := range []string{"13812345678", "浙江省杭州市文三路123号", "x", strings.Repeat("长", 1000), "\x00\xff"} {
				env, err := kr.Encrypt(plain)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(env, "pii1:"+key.ID+":") || !IsEnvelope(env) {
					t.Fatalf("envelope %q: want prefix pii1:%s:", env, key.ID)
				}
				if len(plain) > 3 && strings.Contains(env, plain) {
					t.Fatalf("envelope %q contains the plaintext", env)
				}
				got, err := kr.Decrypt(env)
				if err != nil || got != plain {
					t.Fatalf("Decrypt = %q, %v; want %q", got, err, plain)
				}
			}
		})
	}
}

func TestEncryptUsesFreshNonces(t *testing.T) {
	kr := mustKeyring(t, "a1", aesKey("a1", 1))
	a, _ := kr.Encrypt("same")
	b, _ := kr.Encrypt("same")
	if a == b {
		t.Fatal("two encryptions of one value are equal")
	}
}

func TestEmptyStaysEmpty(t *testing.T) {
	kr := mustKeyring(t, "a1", aesKey("a1", 1))
	if env, err := kr.Encrypt(""); env != "" || err != nil {
		t.Fatalf(`Encrypt("") = %q, %v`, env, err)
	}
	if plain, err := kr.Decrypt(""); plain != "" || err != nil {
		t.Fatalf(`Decrypt("") = %q, %v`, plain, err)
	}
}

func TestDecryptRejects(t *testing.T) {
	kr := mustKeyring(t, "a1", aesKey("a1", 1), aesKey("a2", 50))
	env, _ := kr.Encrypt("13812345678")
	id, payload, _ := strings.Cut(strings.TrimPrefix(env, "pii1:"), ":")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)

	flipped := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return "pii1:" + id + ":" + base64.RawURLEncoding.EncodeToString(b)
	}
	tests := []struct {
		name, in string
		want     error
	}{
		{"legacy plaintext", "13812345678", ErrNotEncrypted},
		{"other prefix", "pii2:a1:" + payload, ErrNotEncrypted},
		{"no payload", "pii1:a1:", ErrMalformed},
		{"no key id", "pii1::" + payload, ErrMalformed},
		{"no separator", "pii1:" + payload, ErrMalformed},
		{"bad key id", "pii1:a.1:" + payload, ErrMalformed},
		{"bad base64", "pii1:a1:" + payload[:10] + "!" + payload[11:], ErrMalformed},
		{"padded base64", env + "=", ErrMalformed},
		{"newline in payload", "pii1:a1:" + payload[:10] + "\n" + payload[10:], ErrMalformed},
		{"too short", "pii1:a1:" + payload[:20], ErrMalformed},
		{"unknown key", "pii1:zz:" + payload, ErrUnknownKey},
		{"relabelled to another key", "pii1:a2:" + payload, ErrDecrypt},
		{"flipped nonce", flipped(0), ErrDecrypt},
		{"flipped ciphertext", flipped(15), ErrDecrypt},
		{"flipped tag", flipped(len(raw) - 1), ErrDecrypt},
		{"truncated", "pii1:a1:" + base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]), ErrDecrypt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.Decrypt(tt.in)
			if !errors.Is(err, tt.want) || got != "" {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.want)
			}
			if strings.Contains(err.Error(), "13812345678") {
				t.Fatalf("error %q contains the plaintext", err)
			}
		})
	}
}

func TestUnknownKeyErrorNamesKey(t *testing.T) {
	old := mustKeyring(t, "old1", aesKey("old1", 1))
	env, _ := old.Encrypt("secret value")
	_, err := mustKeyring(t, "new1", aesKey("new1", 2)).Decrypt(env)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `"old1"`) {
		t.Fatalf("err = %v; want ErrUnknownKey naming old1", err)
	}
}

func TestRotation(t *testing.T) {
	old := aesKey("old1", 1)
	before := mustKeyring(t, "old1", old)
	env, _ := before.Encrypt("alice@example.com")

	after := mustKeyring(t, "new1", sm4Key("new1", 9), old)
	if got, err := after.Decrypt(env); err != nil || got != "alice@example.com" {
		t.Fatalf("Decrypt after rotation = %q, %v", got, err)
	}
	if id, ok := after.KeyID(env); !ok || id != "old1" {
		t.Fatalf("KeyID = %q, %v; want old1", id, ok)
	}
	if after.ActiveKeyID() != "new1" {
		t.Fatalf("ActiveKeyID = %q", after.ActiveKeyID())
	}
	fresh, _ := after.Encrypt("alice@example.com")
	if id, _ := after.KeyID(fresh); id != "new1" {
		t.Fatalf("new value under %q; want new1", id)
	}
	if _, err := before.Decrypt(fresh); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old keyring decrypting a new value: %v; want ErrUnknownKey", err)
	}
}

func TestKeyIDAndIsEnvelope(t *testing.T) {
	tests := []struct {
		in string
		id string
		ok bool
	}{
		{"pii1:k2026:AAAA", "k2026", true},
		{"pii1:some_key-2:x", "some_key-2", true},
		{"pii1:k2026:", "", false},
		{"pii1::AAAA", "", false},
		{"pii1:" + strings.Repeat("k", 33) + ":AAAA", "", false},
		{"13812345678", "", false},
		{"", "", false},
	}
	kr := mustKeyring(t, "a1", aesKey("a1", 1))
	for _, tt := range tests {
		id, ok := kr.KeyID(tt.in)
		if id != tt.id || ok != tt.ok || IsEnvelope(tt.in) != tt.ok {
			t.Errorf("KeyID(%q) = %q, %v; IsEnvelope = %v; want %q, %v", tt.in, id, ok, IsEnvelope(tt.in), tt.id, tt.ok)
		}
	}
}

func TestNewKeyringValidates(t *testing.T) {
	idx := secret(200, 32)
	tests := []struct {
		name string
		cfg  KeyringConfig
		want string
	}{
		{"no keys", KeyringConfig{Active: "a", IndexSecret: idx}, "no keys"},
		{"no active", KeyringConfig{Keys: []Key{aesKey("a", 1)}, IndexSecret: idx}, "no active key"},
		{"active missing", KeyringConfig{Active: "b", Keys: []Key{aesKey("a", 1)}, IndexSecret: idx}, `active key "b" is not in the keyring`},
		{"duplicate", KeyringConfig{Active: "a", Keys: []Key{aesKey("a", 1), sm4Key("a", 2)}, IndexSecret: idx}, `key 2 "a": duplicate`},
		{"bad id", KeyringConfig{Active: "a b", Keys: []Key{aesKey("a b", 1)}, IndexSecret: idx}, "key 1 (id withheld): id must be"},
		{"long id", KeyringConfig{Active: "a", Keys: []Key{aesKey(strings.Repeat("a", 33), 1)}, IndexSecret: idx}, "id must be"},
		{"aes short", KeyringConfig{Active: "a", Keys: []Key{{ID: "a", Algorithm: AES256GCM, Secret: secret(1, 16)}}, IndexSecret: idx}, "aes-256-gcm secret must be 32 bytes, got 16"},
		{"sm4 long", KeyringConfig{Active: "a", Keys: []Key{{ID: "a", Algorithm: SM4GCM, Secret: secret(1, 32)}}, IndexSecret: idx}, "sm4-gcm secret must be 16 bytes, got 32"},
		{"unknown algorithm", KeyringConfig{Active: "a", Keys: []Key{{ID: "a", Algorithm: "des", Secret: secret(1, 8)}}, IndexSecret: idx}, "unknown algorithm"},
		{"short index secret", KeyringConfig{Active: "a", Keys: []Key{aesKey("a", 1)}, IndexSecret: secret(1, 31)}, "index secret must be at least 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyring(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestKeyringCopiesSecrets(t *testing.T) {
	for _, key := range []Key{aesKey("a1", 1), sm4Key("s1", 2)} {
		idx := secret(200, 32)
		kr, err := NewKeyring(KeyringConfig{Active: key.ID, Keys: []Key{key}, IndexSecret: idx})
		if err != nil {
			t.Fatal(err)
		}
		env, _ := kr.Encrypt("v")
		index := kr.PhoneIndex("13812345678")
		clear(key.Secret) // the caller wipes its copies
		clear(idx)
		if got, err := kr.Decrypt(env); err != nil || got != "v" {
			t.Fatalf("%s: Decrypt after wiping caller's secret = %q, %v", key.Algorithm, got, err)
		}
		if kr.PhoneIndex("13812345678") != index {
			t.Fatalf("%s: index changed after wiping caller's secret", key.Algorithm)
		}
	}
}

func TestFormattingHidesSecrets(t *testing.T) {
	key := Key{ID: "a1", Algorithm: AES256GCM, Secret: bytes.Repeat([]byte{0xAB}, 32)}
	kr := mustKeyring(t, "a1", key)
	for _, s := range []string{
		fmt.Sprint(key), fmt.Sprintf("%+v", key), fmt.Sprintf("%#v", key),
		fmt.Sprint(kr), fmt.Sprintf("%+v", kr), fmt.Sprintf("%#v", kr),
	} {
		if strings.Contains(s, "171") || strings.Contains(strings.ToLower(s), "ab") {
			t.Errorf("formatted value %q shows secret bytes", s)
		}
		if !strings.Contains(s, `"a1"`) {
			t.Errorf("formatted value %q does not name the key", s)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	kr := mustKeyring(t, "a1", aesKey("a1", 1), sm4Key("s1", 2))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				plain := fmt.Sprintf("value %d/%d", g, i)
				env, err := kr.Encrypt(plain)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := kr.Decrypt(env); err != nil || got != plain {
					t.Errorf("Decrypt = %q, %v; want %q", got, err, plain)
					return
				}
				if kr.PhoneIndex("138 1234 5678") != kr.PhoneIndex("13812345678") {
					t.Error("index differs under concurrency")
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkEncrypt(b *testing.B) {
	for _, key := range []Key{aesKey("a1", 1), sm4Key("s1", 2)} {
		kr := mustKeyring(b, key.ID, key)
		b.Run(string(key.Algorithm), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := kr.Encrypt("浙江省杭州市西湖区文三路123号"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, key := range []Key{aesKey("a1", 1), sm4Key("s1", 2)} {
		kr := mustKeyring(b, key.ID, key)
		env, _ := kr.Encrypt("浙江省杭州市西湖区文三路123号")
		b.Run(string(key.Algorithm), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := kr.Decrypt(env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPhoneIndex(b *testing.B) {
	kr := mustKeyring(b, "a1", aesKey("a1", 1))
	b.ReportAllocs()
	for b.Loop() {
		kr.PhoneIndex("+86 138-1234-5678")
	}
}
