package pii

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzEnvelope(f *testing.F) {
	kr := mustKeyring(f, "a1", aesKey("a1", 1), sm4Key("s1", 2))
	env, _ := kr.Encrypt("13812345678")
	for _, s := range []string{"", "13812345678", env, env[:len(env)-1], "pii1:a1:", "pii1:s1:AAAA", "pii1::", "张三"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Arbitrary input, read as an envelope: an error, never a panic.
		if plain, err := kr.Decrypt(s); err == nil && s != "" && plain == "" {
			t.Fatalf("Decrypt(%q) succeeded with empty plaintext", s)
		}
		kr.KeyID(s)

		env, err := kr.Encrypt(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := kr.Decrypt(env); err != nil || got != s {
			t.Fatalf("round trip of %q = %q, %v", s, got, err)
		}
	})
}

func FuzzMasks(f *testing.F) {
	for _, s := range []string{"", "13812345678", "+86 138-1234-5678", "110101199003074512", "张三", "alice@example.com",
		"浙江省杭州市西湖区文三路123号", "1990-03-07", "\xff", "   "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, class := range []Class{ClassPhone, ClassName, ClassAddress, ClassEmail, ClassIDCard, ClassBirthday} {
			got := Mask(class, s)
			if (got == "") != (s == "") {
				t.Fatalf("Mask(%s, %q) = %q: empty exactly when the input is", class, s, got)
			}
		}
		// Masking stars out text; input that is already stars proves nothing.
		if utf8.RuneCountInString(s) < 8 || strings.Contains(s, "*") {
			return
		}
		for _, class := range []Class{ClassPhone, ClassIDCard} {
			if got := Mask(class, s); strings.Contains(got, s) {
				t.Fatalf("Mask(%s, %q) = %q reveals the input", class, s, got)
			}
		}
	})
}
