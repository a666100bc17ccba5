package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newIssuer(t *testing.T) *Issuer {
	t.Helper()
	i, err := NewIssuer(strings.Repeat("k", 32), "scrm")
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestIssueThenVerify(t *testing.T) {
	i := newIssuer(t)
	tok, err := i.Issue(Staff{TenantID: 7, TenantSlug: "demo", StaffID: 9, Roles: []string{"agent"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	v, exp, err := i.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if v.TenantID != 7 || v.StaffID != 9 || !v.HasRole("agent") || time.Until(exp) > time.Hour {
		t.Errorf("viewer %+v, expiry %v", v, exp)
	}
}

func TestVerifyRefuses(t *testing.T) {
	i := newIssuer(t)
	good, _ := i.Issue(Staff{TenantID: 1, StaffID: 1}, time.Hour)
	expired, _ := i.Issue(Staff{TenantID: 1, StaffID: 1}, -time.Minute)
	other, _ := NewIssuer(strings.Repeat("o", 32), "scrm")
	forged, _ := other.Issue(Staff{TenantID: 1, StaffID: 1}, time.Hour)
	foreign, _ := NewIssuer(strings.Repeat("k", 32), "someone-else")
	wrongIssuer, _ := foreign.Issue(Staff{TenantID: 1, StaffID: 1}, time.Hour)
	noStaff, _ := i.Issue(Staff{TenantID: 1}, time.Hour)
	parts := strings.Split(good, ".")
	unsigned := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
	for name, tok := range map[string]string{
		"expired": expired, "forged": forged, "wrong issuer": wrongIssuer, "no staff": noStaff,
		"alg none": unsigned, "garbage": "abc", "tampered": parts[0] + "." + parts[1] + "x." + parts[2],
	} {
		if _, _, err := i.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestDevSecretIsCreatedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	a, err := DevSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DevSecret(dir)
	if err != nil || a != b || len(a) < 32 {
		t.Fatalf("%q then %q (%v)", a, b, err)
	}
	info, _ := os.Stat(filepath.Join(dir, "jwt-secret"))
	if info.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v", info.Mode())
	}
}
