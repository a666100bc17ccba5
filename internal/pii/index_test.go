package pii

import (
	"testing"
)

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"13812345678", "13812345678", true},
		{"+86 138-1234-5678", "13812345678", true},
		{"+8613812345678", "13812345678", true},
		{"0086 138 1234 5678", "13812345678", true},
		{"86-13812345678", "13812345678", true},
		{"8613812345678", "13812345678", true},
		{"(+86) 138 1234 5678", "13812345678", true},
		{"138.1234.5678", "13812345678", true},
		{" 138 1234 5678\t", "13812345678", true},
		{"１３８１２３４５６７８", "13812345678", true},       // full-width digits
		{"＋８６　１３８－１２３４－５６７８", "13812345678", true}, // full-width punctuation and space
		{"19912345678", "19912345678", true},
		// Not mainland mobiles: kept as digits.
		{"12812345678", "12812345678", true},                   // no such mobile prefix
		{"+13812345678", "+13812345678", true},                 // +1: North America
		{"+86 10 1234 5678", "+861012345678", true},            // Beijing landline
		{"010-12345678", "01012345678", true},                  // landline, domestic form
		{"(0571) 8765-4321", "057187654321", true},             // landline with area code
		{"+44 20 7946 0958", "+442079460958", true},            // foreign
		{"12345", "12345", true},                               // shortest accepted
		{"12345678901234567890", "12345678901234567890", true}, // longest accepted
		// Not phone numbers.
		{"", "", false},
		{"1234", "", false},
		{"123456789012345678901", "", false},
		{"+", "", false},
		{"138-1234-5678 ext 12", "", false},
		{"1381234567+8", "", false},
		{"++8613812345678", "", false},
		{"phone", "", false},
		{"13812345678/13912345678", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizePhone(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPhoneIndex(t *testing.T) {
	kr := mustKeyring(t, "a1", aesKey("a1", 1))
	want := kr.PhoneIndex("13812345678")
	if len(want) != 32 {
		t.Fatalf("index %q: want 32 hex characters", want)
	}
	for _, spelling := range []string{"+86 138-1234-5678", "0086 138 1234 5678", "86-13812345678", "(138) 1234 5678"} {
		if got := kr.PhoneIndex(spelling); got != want {
			t.Errorf("PhoneIndex(%q) = %q; want %q", spelling, got, want)
		}
	}
	if kr.PhoneIndex("13812345679") == want {
		t.Error("different numbers share an index")
	}
	if kr.PhoneIndex("") != "" || kr.PhoneIndex("not a phone") != "" {
		t.Error("empty or unparsable input has an index")
	}

	other, err := NewKeyring(KeyringConfig{Active: "a1", Keys: []Key{aesKey("a1", 1)}, IndexSecret: secret(100, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if other.PhoneIndex("13812345678") == want {
		t.Error("different index secrets give the same index")
	}
	// The encryption keys do not take part in the index.
	rotated := mustKeyring(t, "b1", sm4Key("b1", 7))
	if rotated.PhoneIndex("13812345678") != want {
		t.Error("index depends on the encryption keys")
	}
}

func TestBlindIndexSeparatesKinds(t *testing.T) {
	kr := mustKeyring(t, "a1", aesKey("a1", 1))
	if kr.BlindIndex("phone", "12345") == kr.BlindIndex("idcard", "12345") {
		t.Error("kinds share an index")
	}
	if kr.BlindIndex("phone", "13812345678") != kr.PhoneIndex("13812345678") {
		t.Error("PhoneIndex is not BlindIndex(phone, …)")
	}
	if kr.BlindIndex("email", "") != "" {
		t.Error("empty value has an index")
	}
	defer func() {
		if recover() == nil {
			t.Error("kind with ':' did not panic")
		}
	}()
	kr.BlindIndex("a:b", "c")
}
