package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
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

func TestCustomerTokens(t *testing.T) {
	i := newIssuer(t)
	sign := func(c Claims) string {
		c.Issuer = "scrm"
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	t.Run("a customer token reads back as the customer, with no staff identity", func(t *testing.T) {
		tok, exp, err := i.IssueCustomer(7, 42, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		v, vexp, err := i.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if v.TenantID != 7 || v.CustomerID != 42 || v.StaffID != 0 || len(v.Roles) != 1 || !v.HasRole(CustomerRole) {
			t.Fatalf("viewer %+v", v)
		}
		if !vexp.Equal(exp) || time.Until(exp) > 24*time.Hour || time.Until(exp) < 23*time.Hour {
			t.Fatalf("expiry %v, verified %v", exp, vexp)
		}
	})

	t.Run("a staff token is never a customer's", func(t *testing.T) {
		tok, _ := i.Issue(Staff{TenantID: 7, StaffID: 42, Roles: []string{"admin"}}, time.Hour)
		v, _, err := i.Verify(tok)
		if err != nil || v.CustomerID != 0 || v.StaffID != 42 {
			t.Fatalf("viewer %+v, %v", v, err)
		}
	})

	t.Run("forged mixtures are refused", func(t *testing.T) {
		for name, c := range map[string]Claims{
			// a staff subject with a cid: neither a staff nor a customer token
			"staff subject with cid": {RegisteredClaims: jwt.RegisteredClaims{Subject: "42"}, TenantID: 7, CustomerID: 42},
			// a customer token stripped of its cid does not become staff
			"customer subject without cid": {RegisteredClaims: jwt.RegisteredClaims{Subject: "customer:42"}, TenantID: 7, Roles: []string{"admin"}},
			"cid of another customer":      {RegisteredClaims: jwt.RegisteredClaims{Subject: "customer:41"}, TenantID: 7, CustomerID: 42},
			"customer without tenant":      {RegisteredClaims: jwt.RegisteredClaims{Subject: "customer:42"}, CustomerID: 42},
			"negative cid":                 {RegisteredClaims: jwt.RegisteredClaims{Subject: "customer:-1"}, TenantID: 7, CustomerID: -1},
		} {
			if v, _, err := i.Verify(sign(c)); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("%s: accepted as %+v", name, v)
			}
		}
	})

	t.Run("the roles claim of a customer token is ignored", func(t *testing.T) {
		tok := sign(Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "customer:42"}, TenantID: 7, CustomerID: 42, Roles: []string{"admin"}})
		v, _, err := i.Verify(tok)
		if err != nil || v.HasRole("admin") || !v.HasRole(CustomerRole) {
			t.Fatalf("viewer %+v, %v", v, err)
		}
	})
}
