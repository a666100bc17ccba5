package gid

import (
	"encoding/base64"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for typ, start := range startByType {
		for _, local := range []int{0, 1, 42, rangeSize - 1} {
			id := start + local
			s := Encode(id)
			got, err := Decode(s)
			if err != nil || got != id {
				t.Errorf("%s %d: Decode(%q) = %d, %v", typ, id, s, got, err)
			}
			if TypeOf(id) != typ {
				t.Errorf("TypeOf(%d) = %q, want %q", id, TypeOf(id), typ)
			}
		}
	}
}

func TestIDsOfDifferentTypesDiffer(t *testing.T) {
	seen := map[string]string{}
	for typ, start := range startByType {
		s := Encode(start + 7)
		if other, dup := seen[s]; dup {
			t.Fatalf("%s and %s share the ID %s", typ, other, s)
		}
		seen[s] = typ
	}
}

func TestDecodeRefusesForeignStrings(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, s := range []string{
		"", "42", "not base64!", enc("Customer"), enc("Customer:"), enc("Customer:-1"),
		enc("Customer:1x"), enc("Customer:007"), enc("Nope:1"), enc("Customer:4294967296"),
	} {
		if id, err := Decode(s); err == nil {
			t.Errorf("Decode(%q) = %d, want an error", s, id)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(startByType["Customer"] + 3))
	f.Add("Q3VzdG9tZXI6MTI")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Decode(s)
		if err != nil {
			return
		}
		if again := Encode(id); again != s {
			t.Fatalf("Decode(%q) = %d, which encodes as %q", s, id, again)
		}
	})
}
