// Package auth signs and verifies the JWTs staff and mini-program customers
// present and turns a valid one into the viewer the data layer confines
// queries to. It authenticates;
// it does not decide what a viewer may do (authz/), and it knows nothing of
// HTTP (internal/httpapi applies it to requests).
package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scrm-dev/scrm/internal/viewer"
)

// Claims are what a token says.
type Claims struct {
	jwt.RegisteredClaims
	// TenantID is the tenant the token is confined to.
	TenantID int `json:"tid"`
	// Tenant is the tenant's slug, for people reading tokens.
	Tenant string `json:"tenant,omitempty"`
	// Roles of the staff member when the token was issued.
	Roles []string `json:"roles"`
	// CustomerID marks a customer token (a mini-program sign-in): its
	// subject is customerSubject(CustomerID). Staff tokens have none.
	CustomerID int `json:"cid,omitempty"`
}

// CustomerRole is the one role of a customer token (authz.RoleCustomer).
const CustomerRole = "customer"

// customerSubject is a customer token's subject. It is not a number, so a
// customer token can never pass for a staff token even if its cid claim
// were ignored.
func customerSubject(id int) string { return "customer:" + strconv.Itoa(id) }

// Issuer signs and verifies tokens with an HMAC secret (HS256).
type Issuer struct {
	secret []byte
	issuer string
	now    func() time.Time
}

// NewIssuer returns an issuer for secret (at least 32 bytes).
func NewIssuer(secret, issuer string) (*Issuer, error) {
	if len(secret) < 32 {
		return nil, errors.New("auth: the JWT secret must be at least 32 bytes")
	}
	return &Issuer{secret: []byte(secret), issuer: issuer, now: time.Now}, nil
}

// Staff identifies whom a token is for.
type Staff struct {
	TenantID   int
	TenantSlug string
	StaffID    int
	Roles      []string
}

// Issue signs a token for s valid for ttl.
func (i *Issuer) Issue(s Staff, ttl time.Duration) (string, error) {
	now := i.now()
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   strconv.Itoa(s.StaffID),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		TenantID: s.TenantID,
		Tenant:   s.TenantSlug,
		Roles:    s.Roles,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.secret)
}

// IssueCustomer signs a customer token for customerID of tenantID valid
// for ttl.
func (i *Issuer) IssueCustomer(tenantID, customerID int, ttl time.Duration) (string, time.Time, error) {
	now := i.now()
	exp := now.Add(ttl)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   customerSubject(customerID),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		TenantID:   tenantID,
		Roles:      []string{CustomerRole},
		CustomerID: customerID,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.secret)
	// The token carries whole seconds.
	return tok, claims.ExpiresAt.Time, err
}

// ErrInvalidToken is wrapped by every verification failure.
var ErrInvalidToken = errors.New("invalid token")

// Verify checks a token's signature, issuer and lifetime and returns the
// viewer it names and when it expires: a staff member (StaffID), or for a
// customer token a customer (CustomerID, StaffID 0, role customer).
func (i *Issuer) Verify(token string) (*viewer.Viewer, time.Time, error) {
	var claims Claims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return i.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(i.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(i.now),
	)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %s", ErrInvalidToken, describe(err))
	}
	if claims.CustomerID != 0 {
		if claims.CustomerID < 0 || claims.TenantID <= 0 || claims.Subject != customerSubject(claims.CustomerID) {
			return nil, time.Time{}, fmt.Errorf("%w: it names no customer or tenant", ErrInvalidToken)
		}
		v := &viewer.Viewer{TenantID: claims.TenantID, CustomerID: claims.CustomerID, Roles: []string{CustomerRole}}
		return v, claims.ExpiresAt.Time, nil
	}
	staffID, err := strconv.Atoi(claims.Subject)
	if err != nil || staffID <= 0 || claims.TenantID <= 0 {
		return nil, time.Time{}, fmt.Errorf("%w: it names no staff member or tenant", ErrInvalidToken)
	}
	v := &viewer.Viewer{TenantID: claims.TenantID, StaffID: staffID, Roles: claims.Roles}
	return v, claims.ExpiresAt.Time, nil
}

// ClaimedTenant reads the tenant a token claims without verifying it, for
// recording a failed sign-in against the tenant it was aimed at. Never
// trust it for anything else.
func ClaimedTenant(token string) int {
	var claims Claims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &claims); err != nil {
		return 0
	}
	return claims.TenantID
}

// describe words jwt's errors for the caller without echoing the token.
func describe(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "it has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "it is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "its signature does not match"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "it is malformed"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "it was issued by someone else"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "it lacks an expiry"
	}
	return "it cannot be verified"
}

// DevSecret returns the development JWT secret kept in dataDir, creating it
// on first use, so `scrm token` and `scrm serve` agree with no
// configuration. Never used in production mode.
func DevSecret(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 32 {
			return s, nil
		}
		return "", fmt.Errorf("%s holds a secret shorter than 32 bytes; delete it to generate a new one", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", err
	}
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	// O_EXCL: if two processes start at once, one secret wins.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return DevSecret(dataDir)
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.WriteString(secret + "\n"); err != nil {
		return "", err
	}
	return secret, nil
}
