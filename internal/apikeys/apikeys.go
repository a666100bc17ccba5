// Package apikeys makes, verifies and revokes partner API keys.
//
// A key reads scrm_pk_<8 id chars>_<43 secret chars>. The first part is
// the key's prefix: unique, stored in the clear and shown in the admin
// console so support can tell keys apart. Only the SHA-256 of the whole
// key is stored: the secret is 256 random bits, so a slow password hash
// would add cost without adding safety.
//
// Verification runs on every partner request, so verified keys are kept
// in process for a few seconds. Revoking publishes the key's prefix on a
// Redis channel; every replica drops it from its cache at once (the short
// cache lifetime is the backstop if a notice is lost).
package apikeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/apikey"
	"github.com/scrm-dev/scrm/internal/apperr"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Marker begins every key; a bearer token starting with it is a key, not
// a staff or customer JWT.
const Marker = "scrm_pk_"

const (
	idChars      = 8
	secretBytes  = 32
	cacheFor     = 10 * time.Second
	lastUsedStep = time.Minute // last_used_at is written at most this often
	channel      = "scrm:apikeys:revoked"
)

// IsKey reports whether a bearer token is an API key.
func IsKey(token string) bool { return strings.HasPrefix(token, Marker) }

// Options configure the Service.
type Options struct {
	Client *ent.Client
	Logger *slog.Logger
	// Redis carries revocation notices between replicas; without it a
	// revocation reaches other replicas when their cache entry expires.
	Redis redis.UniversalClient
	// Schema checks scopes when a key is made.
	Schema *ast.Schema
	Now    func() time.Time
}

// Service makes and verifies keys.
type Service struct {
	client *ent.Client
	logger *slog.Logger
	rdb    redis.UniversalClient
	schema *ast.Schema
	now    func() time.Time

	mu       sync.Mutex
	cache    map[string]cached // by prefix
	lastUsed map[int]time.Time
	stop     func()
	touching sync.WaitGroup
}

type cached struct {
	key     *Key
	expires time.Time
}

// Key is what a verified key lets its caller do.
type Key struct {
	ID            int
	TenantID      int
	Prefix        string
	hash          []byte
	Scopes        []string
	PersistedOnly bool
	DocumentLists []string
	IPAllowlist   []netip.Prefix
	// RateLimit is requests per minute; 0 uses the configured default.
	RateLimit int
	ExpiresAt *time.Time
	Revoked   bool
}

// New returns a Service; Close stops its revocation listener.
func New(opts Options) *Service {
	s := &Service{
		client: opts.Client, logger: opts.Logger, rdb: opts.Redis, schema: opts.Schema, now: opts.Now,
		cache: map[string]cached{}, lastUsed: map[int]time.Time{}, stop: func() {},
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rdb != nil {
		s.listen()
	}
	return s
}

// IsKey reports whether a bearer token is an API key (httpapi.KeyVerifier).
func (*Service) IsKey(token string) bool { return IsKey(token) }

// Close stops listening for revocations and waits for last-use writes.
func (s *Service) Close() {
	s.stop()
	s.touching.Wait()
}

func (s *Service) listen() {
	ctx, cancel := context.WithCancel(context.Background())
	sub := s.rdb.Subscribe(ctx, channel)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range sub.Channel() {
			s.forget(msg.Payload)
		}
	}()
	s.stop = func() {
		cancel()
		_ = sub.Close()
		<-done
	}
}

func (s *Service) forget(prefix string) {
	s.mu.Lock()
	delete(s.cache, prefix)
	s.mu.Unlock()
}

// CreateInput describes a new key.
type CreateInput struct {
	Name          string
	Scopes        []string
	PersistedOnly bool
	DocumentLists []string
	IPAllowlist   []string
	RateLimit     int
	ExpiresAt     *time.Time
}

var listName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Create makes a key in the viewer's tenant and returns it with the whole
// key, which is shown this once.
func (s *Service) Create(ctx context.Context, client *ent.Client, in CreateInput) (*ent.APIKey, string, error) {
	v := viewer.FromContext(ctx)
	if v == nil || v.TenantID == 0 {
		return nil, "", viewer.ErrMissing
	}
	if err := s.check(&in); err != nil {
		return nil, "", err
	}
	prefix, secret, err := generate()
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256([]byte(secret))
	create := client.APIKey.Create().
		SetName(strings.TrimSpace(in.Name)).
		SetPrefix(prefix).
		SetSecretHash(hex.EncodeToString(sum[:])).
		SetScopes(in.Scopes).
		SetPersistedOnly(in.PersistedOnly).
		SetDocumentLists(in.DocumentLists).
		SetIPAllowlist(in.IPAllowlist).
		SetRateLimit(in.RateLimit).
		SetNillableExpiresAt(in.ExpiresAt)
	if v.StaffID != 0 {
		create.SetCreatedByID(v.StaffID)
	}
	k, err := create.Save(ctx)
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// check validates a new key's settings, naming the input field at fault.
func (s *Service) check(in *CreateInput) error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		return apperr.Invalid("name", "a key needs a name of 1 to 100 characters")
	}
	if len(in.Scopes) == 0 {
		return apperr.Invalid("scopes", "a key needs at least one scope: a root field (Query.orders) or a type (Order)")
	}
	if len(in.Scopes) > 200 {
		return apperr.Invalid("scopes", "a key may have at most 200 scopes")
	}
	for i, sc := range in.Scopes {
		sc = strings.TrimSpace(sc)
		if err := authz.ValidKeyScope(s.schema, sc); err != nil {
			return apperr.Invalid(fmt.Sprintf("scopes.%d", i), "%v", err)
		}
		in.Scopes[i] = sc
	}
	in.Scopes = slices.Compact(slices.Sorted(slices.Values(in.Scopes)))
	for i, l := range in.DocumentLists {
		if !listName.MatchString(l) {
			return apperr.Invalid(fmt.Sprintf("documentLists.%d", i), "%q is not a list name (letters, digits, . _ -; up to 64)", l)
		}
	}
	if in.PersistedOnly && len(in.DocumentLists) == 0 {
		return apperr.Invalid("documentLists", "a persisted-only key needs the trusted-document lists it may run")
	}
	for i, a := range in.IPAllowlist {
		p, err := parsePrefix(a)
		if err != nil {
			return apperr.Invalid(fmt.Sprintf("ipAllowlist.%d", i), "%q is not an IP address or CIDR range", a)
		}
		in.IPAllowlist[i] = p.String()
	}
	if in.RateLimit < 0 || in.RateLimit > 1_000_000 {
		return apperr.Invalid("rateLimit", "rateLimit is requests per minute, 0 to 1000000 (0: the default)")
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()) {
		return apperr.Invalid("expiresAt", "expiresAt must be in the future")
	}
	return nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func generate() (prefix, secret string, err error) {
	id := make([]byte, idChars)
	if _, err := rand.Read(id); err != nil {
		return "", "", err
	}
	for i := range id {
		id[i] = alphabet[int(id[i])%len(alphabet)]
	}
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	prefix = Marker + string(id)
	return prefix, prefix + "_" + base64.RawURLEncoding.EncodeToString(raw), nil
}

// Revoke revokes a key of the viewer's tenant. Call Announce with its
// prefix once the transaction has committed, so that every replica stops
// accepting it at once.
func (s *Service) Revoke(ctx context.Context, client *ent.Client, id int) (*ent.APIKey, error) {
	k, err := client.APIKey.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if k.RevokedAt != nil {
		return k, nil
	}
	return k.Update().SetRevokedAt(s.now()).Save(ctx)
}

// Announce drops a changed key from every replica's cache. Before the
// commit it would be too early: a replica could reload the old row.
func (s *Service) Announce(ctx context.Context, prefix string) {
	s.forget(prefix)
	if s.rdb == nil {
		return
	}
	// If the notice were lost, the entry would expire within cacheFor.
	if err := s.rdb.Publish(ctx, channel, prefix).Err(); err != nil {
		s.logger.WarnContext(ctx, "apikeys: publish revocation", "err", err)
	}
}

// ErrUnknown is returned for a key that does not exist.
var ErrUnknown = errors.New("unknown API key")

// Authenticate verifies a key presented from clientIP and returns the
// viewer it acts as and its rate limit (requests per minute, 0: default).
// Refusals are apperr Unauthenticated errors saying why.
func (s *Service) Authenticate(ctx context.Context, token, clientIP string) (*viewer.Viewer, int, error) {
	prefix, ok := prefixOf(token)
	if !ok {
		return nil, 0, apperr.Unauthenticated("the API key is malformed")
	}
	k, err := s.lookup(ctx, prefix)
	if errors.Is(err, ErrUnknown) {
		return nil, 0, apperr.Unauthenticated("the API key is not valid")
	}
	if err != nil {
		return nil, 0, err
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], k.hash) != 1 {
		return nil, 0, apperr.Unauthenticated("the API key is not valid")
	}
	now := s.now()
	switch {
	case k.Revoked:
		return nil, 0, apperr.Unauthenticated("the API key %s was revoked", k.Prefix)
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return nil, 0, apperr.Unauthenticated("the API key %s expired at %s", k.Prefix, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if len(k.IPAllowlist) > 0 && !allowed(k.IPAllowlist, clientIP) {
		return nil, 0, apperr.Unauthenticated("the API key %s may not be used from %s", k.Prefix, clientIP)
	}
	s.touch(k.ID, now)
	return &viewer.Viewer{
		TenantID: k.TenantID, Roles: []string{authz.RolePartner}, APIKeyID: k.ID,
		KeyScopes: k.Scopes, PersistedOnly: k.PersistedOnly, DocumentLists: k.DocumentLists,
	}, k.RateLimit, nil
}

func prefixOf(token string) (string, bool) {
	if !IsKey(token) || len(token) < len(Marker)+idChars+2 || token[len(Marker)+idChars] != '_' {
		return "", false
	}
	return token[:len(Marker)+idChars], true
}

func allowed(list []netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Service) lookup(ctx context.Context, prefix string) (*Key, error) {
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[prefix]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		if c.key == nil {
			return nil, ErrUnknown
		}
		return c.key, nil
	}
	row, err := s.client.APIKey.Query().Where(apikey.Prefix(prefix)).Only(viewer.System(ctx))
	var k *Key
	switch {
	case ent.IsNotFound(err):
		// Remembered too, so guessing prefixes costs no queries.
	case err != nil:
		return nil, fmt.Errorf("apikeys: load key: %w", err)
	default:
		if k, err = keyOf(row); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if len(s.cache) > 100_000 {
		clear(s.cache) // a flood of made-up prefixes must not grow memory
	}
	s.cache[prefix] = cached{key: k, expires: now.Add(cacheFor)}
	s.mu.Unlock()
	if k == nil {
		return nil, ErrUnknown
	}
	return k, nil
}

func keyOf(row *ent.APIKey) (*Key, error) {
	hash, err := hex.DecodeString(row.SecretHash)
	if err != nil {
		return nil, fmt.Errorf("apikeys: key %d has a malformed hash", row.ID)
	}
	k := &Key{
		ID: row.ID, TenantID: row.TenantID, Prefix: row.Prefix, hash: hash, Scopes: row.Scopes,
		PersistedOnly: row.PersistedOnly, DocumentLists: row.DocumentLists, RateLimit: row.RateLimit,
		ExpiresAt: row.ExpiresAt, Revoked: row.RevokedAt != nil,
	}
	for _, a := range row.IPAllowlist {
		p, err := parsePrefix(a)
		if err != nil {
			return nil, fmt.Errorf("apikeys: key %d has a malformed allowlist entry %q", row.ID, a)
		}
		k.IPAllowlist = append(k.IPAllowlist, p)
	}
	return k, nil
}

// touch records that a key was used, at most once a minute per key and
// off the request's path.
func (s *Service) touch(id int, now time.Time) {
	s.mu.Lock()
	last, ok := s.lastUsed[id]
	due := !ok || now.Sub(last) >= lastUsedStep
	if due {
		s.lastUsed[id] = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	s.touching.Add(1)
	go func() {
		defer s.touching.Done()
		ctx, cancel := context.WithTimeout(viewer.System(context.Background()), 5*time.Second)
		defer cancel()
		if err := s.client.APIKey.UpdateOneID(id).SetLastUsedAt(now).Exec(ctx); err != nil {
			s.logger.Warn("apikeys: record last use", "key", id, "err", err)
		}
	}()
}
