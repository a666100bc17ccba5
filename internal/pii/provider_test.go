package pii_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/internal/pii"
)

func b64(n int, seed byte) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)*7
	}
	return base64.StdEncoding.EncodeToString(b)
}

var indexB64 = b64(32, 99)

func TestParseKeys(t *testing.T) {
	aes, sm4 := b64(32, 1), b64(16, 2)
	spec := fmt.Sprintf("k2026:aes-256-gcm:%s, old1:sm4-gcm:%s", aes, sm4)
	kr, err := pii.ParseKeys(spec, "k2026", indexB64)
	if err != nil {
		t.Fatal(err)
	}
	if kr.ActiveKeyID() != "k2026" {
		t.Fatalf("active = %q", kr.ActiveKeyID())
	}

	// The same keys spelled in URL-safe, unpadded base64 are the same keys.
	urlSpec := fmt.Sprintf("k2026:aes-256-gcm:%s,old1:sm4-gcm:%s", toURL(aes), toURL(sm4))
	same, err := pii.ParseKeys(urlSpec, "old1", strings.TrimRight(indexB64, "="))
	if err != nil {
		t.Fatal(err)
	}
	env, _ := kr.Encrypt("13812345678")
	if got, err := same.Decrypt(env); err != nil || got != "13812345678" {
		t.Fatalf("Decrypt with URL-spelled keys = %q, %v", got, err)
	}
	if kr.PhoneIndex("13812345678") != same.PhoneIndex("13812345678") {
		t.Fatal("URL-spelled index secret gives another index")
	}
}

func toURL(s string) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(s), "=")
}

func TestParseKeysErrors(t *testing.T) {
	aes, sm4 := b64(32, 1), b64(16, 2)
	tests := []struct {
		name, spec, active, index string
		want                      string
	}{
		{"aes key too short", "k1:aes-256-gcm:" + sm4, "k1", indexB64, `key 1 "k1": aes-256-gcm secret must be 32 bytes, got 16`},
		{"sm4 key too long", "k1:aes-256-gcm:" + aes + ",k2:sm4-gcm:" + aes, "k1", indexB64, `key 2 "k2": sm4-gcm secret must be 16 bytes, got 32`},
		{"bad base64", "k1:aes-256-gcm:" + aes[:10] + "!" + aes[11:], "k1", indexB64, `key 1 "k1": secret is not valid base64`},
		{"duplicate id", "k1:aes-256-gcm:" + aes + ",k1:sm4-gcm:" + sm4, "k1", indexB64, `key 2 "k1": duplicate key id`},
		{"missing active", "k1:aes-256-gcm:" + aes, "k2", indexB64, `active key "k2" is not in the keyring`},
		{"unknown algorithm", "k1:aes-128-gcm:" + aes, "k1", indexB64, `key 1 "k1": unknown algorithm`},
		{"missing field", "k1:" + aes, "k1", indexB64, `key 1 "k1": want id:algorithm:base64-secret`},
		{"empty entry", "k1:aes-256-gcm:" + aes + ",", "k1", indexB64, "key 2 is empty"},
		{"empty spec", "", "k1", indexB64, "key 1 is empty"},
		{"bad id", "k 1:aes-256-gcm:" + aes, "k 1", indexB64, "key 1 (id withheld): id must be"},
		{"bad index secret", "k1:aes-256-gcm:" + aes, "k1", "%%%", "index secret is not valid base64"},
		{"short index secret", "k1:aes-256-gcm:" + aes, "k1", b64(16, 3), "index secret must be at least 32 bytes"},
		// A secret pasted where the id goes must not come back in the error.
		{"secret in id field", toURL(sm4) + ":sm4-gcm:" + aes, "k1", indexB64, "key 1 (id withheld): sm4-gcm secret must be 16 bytes"},
		{"secret as active", "k1:aes-256-gcm:" + aes, toURL(sm4), indexB64, "active key (id withheld)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pii.ParseKeys(tt.spec, tt.active, tt.index)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want it to contain %q", err, tt.want)
			}
			for _, secret := range []string{aes, sm4, indexB64, toURL(aes), toURL(sm4), aes[:20], sm4[:16]} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestDevKeyring(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")

	kr, created, err := pii.DevKeyring(dir)
	if err != nil || !created {
		t.Fatalf("first DevKeyring: created = %v, err = %v", created, err)
	}
	if kr.ActiveKeyID() != "dev1" {
		t.Fatalf("active = %q; want dev1", kr.ActiveKeyID())
	}
	env, err := kr.Encrypt("13812345678")
	if err != nil {
		t.Fatal(err)
	}

	info, err := os.Stat(filepath.Join(dir, "pii-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("keys file mode = %v; want 0600", mode)
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode = %v; want 0700", info.Mode().Perm())
	}

	again, created, err := pii.DevKeyring(dir)
	if err != nil || created {
		t.Fatalf("second DevKeyring: created = %v, err = %v", created, err)
	}
	if got, err := again.Decrypt(env); err != nil || got != "13812345678" {
		t.Fatalf("Decrypt after reload = %q, %v", got, err)
	}
	if again.PhoneIndex("13812345678") != kr.PhoneIndex("13812345678") {
		t.Fatal("index changed after reload")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("data dir holds %d files; want only the keys file", len(entries))
	}
}

func TestDevKeyringCorruptFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pii-keys.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pii.DevKeyring(dir); err == nil || !strings.Contains(err.Error(), "pii-keys.json") {
		t.Fatalf("err = %v; want an error naming the file", err)
	}
}

func TestStaticProvider(t *testing.T) {
	kr, err := pii.ParseKeys("k1:aes-256-gcm:"+b64(32, 1), "k1", indexB64)
	if err != nil {
		t.Fatal(err)
	}
	var p pii.Provider = pii.StaticProvider{Ring: kr}
	if got, err := p.Keyring(context.Background()); got != kr || err != nil {
		t.Fatalf("Keyring = %v, %v", got, err)
	}
	if _, err := (pii.StaticProvider{}).Keyring(context.Background()); err == nil {
		t.Fatal("empty StaticProvider returned no error")
	}
}

func ExampleKeyring_Encrypt() {
	kr, err := pii.ParseKeys("k2026:aes-256-gcm:"+b64(32, 1), "k2026", indexB64)
	if err != nil {
		panic(err)
	}
	env, _ := kr.Encrypt("13812345678")
	id, _ := kr.KeyID(env)
	plain, _ := kr.Decrypt(env)
	_, err = kr.Decrypt("13812345678")
	fmt.Println(id, plain, errors.Is(err, pii.ErrNotEncrypted))
	fmt.Println(pii.MaskPhone(plain))
	// Output:
	// k2026 13812345678 true
	// 138****5678
}

func TestParseKeysDefaultsToTheFirstKey(t *testing.T) {
	a := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	b := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	kr, err := pii.ParseKeys("new:aes-256-gcm:"+a+",old:aes-256-gcm:"+b, "", b)
	if err != nil || kr.ActiveKeyID() != "new" {
		t.Fatalf("active %v, err %v; want the first key", kr, err)
	}
}
