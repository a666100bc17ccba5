package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/emmansun/gmsm/sm4"
)

// Algorithm names an AEAD cipher an envelope can be sealed with.
type Algorithm string

const (
	AES256GCM Algorithm = "aes-256-gcm" // 32-byte keys
	SM4GCM    Algorithm = "sm4-gcm"     // 16-byte keys, for deployments that must use the Chinese national standard
)

// keySize is the secret length the algorithm takes, 0 if it is unknown.
func (a Algorithm) keySize() int {
	switch a {
	case AES256GCM:
		return 32
	case SM4GCM:
		return 16
	}
	return 0
}

func (a Algorithm) newAEAD(secret []byte) (cipher.AEAD, error) {
	var block cipher.Block
	var err error
	switch a {
	case AES256GCM:
		block, err = aes.NewCipher(secret)
	case SM4GCM:
		block, err = sm4.NewCipher(secret)
	default:
		return nil, errUnknownAlgorithm
	}
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

var errUnknownAlgorithm = fmt.Errorf("unknown algorithm (want %s or %s)", AES256GCM, SM4GCM)

// Key is one encryption key. The Keyring copies what it needs, so the
// caller may wipe Secret afterwards.
type Key struct {
	ID        string // 1-32 characters of [A-Za-z0-9_-]; stored in every envelope
	Algorithm Algorithm
	Secret    []byte
}

// String and GoString keep the secret out of logs and %v/%#v output.
func (k Key) String() string   { return fmt.Sprintf("pii.Key{ID: %q, Algorithm: %q}", k.ID, k.Algorithm) }
func (k Key) GoString() string { return k.String() }

// KeyringConfig is what NewKeyring builds a Keyring from.
type KeyringConfig struct {
	Active string // id of the key new values are encrypted under
	Keys   []Key  // the active key plus any older keys still needed to decrypt

	// IndexSecret keys the blind indexes; at least 32 bytes. Unlike the
	// encryption keys it cannot rotate without rebuilding every index.
	IndexSecret []byte
}

const minIndexSecret = 32

// Keyring encrypts under its active key and decrypts under any of its keys.
// It is immutable and safe for concurrent use. Build it with NewKeyring,
// ParseKeys or DevKeyring; the zero value is not usable.
type Keyring struct {
	active *sealer
	keys   map[string]*sealer
	index  indexer
}

// sealer is one key, ready to use: ciphers are built once, at construction.
type sealer struct {
	id     string
	header string // "pii1:<id>:", also the AEAD additional data
	ad     []byte // header as bytes, so Seal/Open need no conversion
	aead   cipher.AEAD
}

// NewKeyring validates cfg and builds a Keyring from it.
func NewKeyring(cfg KeyringConfig) (*Keyring, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("pii: keyring has no keys")
	}
	if len(cfg.IndexSecret) < minIndexSecret {
		return nil, fmt.Errorf("pii: index secret must be at least %d bytes, got %d", minIndexSecret, len(cfg.IndexSecret))
	}
	kr := &Keyring{
		keys:  make(map[string]*sealer, len(cfg.Keys)),
		index: newIndexer(cfg.IndexSecret),
	}
	for i, k := range cfg.Keys {
		name := keyName(i+1, k.ID)
		if !validKeyID(k.ID) {
			return nil, fmt.Errorf("pii: %s: id must be 1-%d characters of A-Z a-z 0-9 _ -", name, maxKeyID)
		}
		if _, dup := kr.keys[k.ID]; dup {
			return nil, fmt.Errorf("pii: %s: duplicate key id", name)
		}
		size := k.Algorithm.keySize()
		if size == 0 {
			return nil, fmt.Errorf("pii: %s: %w", name, errUnknownAlgorithm)
		}
		if len(k.Secret) != size {
			return nil, fmt.Errorf("pii: %s: %s secret must be %d bytes, got %d", name, k.Algorithm, size, len(k.Secret))
		}
		aead, err := k.Algorithm.newAEAD(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("pii: %s: %w", name, err)
		}
		header := envelopePrefix + k.ID + ":"
		kr.keys[k.ID] = &sealer{id: k.ID, header: header, ad: []byte(header), aead: aead}
	}
	if cfg.Active == "" {
		return nil, errors.New("pii: no active key id")
	}
	kr.active = kr.keys[cfg.Active]
	if kr.active == nil {
		return nil, fmt.Errorf("pii: active key %s is not in the keyring", quoteID(cfg.Active))
	}
	return kr, nil
}

// ActiveKeyID is the id of the key Encrypt uses.
func (kr *Keyring) ActiveKeyID() string { return kr.active.id }

// String lists key ids only, so a Keyring can be logged.
func (kr *Keyring) String() string {
	ids := make([]string, 0, len(kr.keys))
	for id := range kr.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return fmt.Sprintf("pii.Keyring{Active: %q, Keys: %q}", kr.active.id, ids)
}

func (kr *Keyring) GoString() string { return kr.String() }

const (
	envelopePrefix = "pii1:"
	maxKeyID       = 32
	nonceSize      = 12 // the GCM standard nonce, for both ciphers
	tagSize        = 16
)

var payloadEncoding = base64.RawURLEncoding.Strict() // Strict: one spelling per ciphertext

// Errors from Decrypt. None of them carries plaintext or key material.
var (
	// ErrNotEncrypted means the value has no envelope prefix: legacy
	// plaintext, for a caller migrating data to tell apart.
	ErrNotEncrypted = errors.New("pii: value is not encrypted")
	ErrMalformed    = errors.New("pii: malformed envelope")
	ErrUnknownKey   = errors.New("pii: unknown key id")
	// ErrDecrypt means authentication failed: the envelope was altered or
	// its key id names a different secret than the one it was sealed with.
	ErrDecrypt = errors.New("pii: decryption failed")
)

// Encrypt seals plaintext under the active key with a random nonce. An
// empty plaintext stays empty, so absent values stay absent.
//
// Random 96-bit nonces are safe for about 2^32 values per key, far more
// than a key encrypts between rotations here.
func (kr *Keyring) Encrypt(plaintext string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	s := kr.active
	rawLen := nonceSize + len(plaintext) + tagSize
	encLen := payloadEncoding.EncodedLen(rawLen)
	buf := getScratch(rawLen + encLen)
	defer putScratch(buf)
	raw, enc := (*buf)[:rawLen], (*buf)[rawLen:rawLen+encLen]

	nonce := raw[:nonceSize]
	rand.Read(nonce) // never fails (Go 1.24+)
	// Seal in place: the plaintext copy sits exactly where the ciphertext goes.
	copy(raw[nonceSize:], plaintext)
	s.aead.Seal(nonce, nonce, raw[nonceSize:nonceSize+len(plaintext)], s.ad)
	payloadEncoding.Encode(enc, raw)

	var b strings.Builder
	b.Grow(len(s.header) + encLen)
	b.WriteString(s.header)
	b.Write(enc)
	return b.String(), nil
}

// Decrypt opens an envelope made by Encrypt under any key of the keyring.
// An empty value decrypts to empty; a value without the envelope prefix
// fails with ErrNotEncrypted.
func (kr *Keyring) Decrypt(envelope string) (string, error) {
	if envelope == "" {
		return "", nil
	}
	id, payload, err := splitEnvelope(envelope)
	if err != nil {
		return "", err
	}
	s := kr.keys[id]
	if s == nil {
		return "", fmt.Errorf("%w %s", ErrUnknownKey, quoteID(id))
	}
	// The decoder skips newlines; refuse them so each ciphertext has one spelling.
	if strings.ContainsAny(payload, "\r\n") {
		return "", ErrMalformed
	}
	decMax := payloadEncoding.DecodedLen(len(payload))
	buf := getScratch(len(payload) + decMax)
	defer putScratch(buf)
	src, dst := (*buf)[:len(payload)], (*buf)[len(payload):len(payload)+decMax]
	copy(src, payload) // avoids a []byte(payload) allocation
	n, err := payloadEncoding.Decode(dst, src)
	if err != nil || n < nonceSize+tagSize {
		return "", ErrMalformed
	}
	raw := dst[:n]
	plain, err := s.aead.Open(raw[nonceSize:nonceSize], raw[:nonceSize], raw[nonceSize:], s.ad)
	if err != nil {
		return "", ErrDecrypt
	}
	return string(plain), nil
}

// KeyID returns the key id in an envelope's header without decrypting, so
// key rotation can find values not under the active key. It reads the
// header only: ok does not mean the keyring holds that key, nor that the
// envelope is authentic.
func (kr *Keyring) KeyID(envelope string) (id string, ok bool) {
	id, _, err := splitEnvelope(envelope)
	return id, err == nil
}

// IsEnvelope reports whether s has the shape of an envelope (prefix, valid
// key id, payload). It does not authenticate s.
func IsEnvelope(s string) bool {
	_, _, err := splitEnvelope(s)
	return err == nil
}

func splitEnvelope(s string) (id, payload string, err error) {
	rest, ok := strings.CutPrefix(s, envelopePrefix)
	if !ok {
		return "", "", ErrNotEncrypted
	}
	id, payload, ok = strings.Cut(rest, ":")
	if !ok || !validKeyID(id) || payload == "" {
		return "", "", ErrMalformed
	}
	return id, payload, nil
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// quoteID quotes a key id for an error message. Ids long enough to be a
// base64 key (22 characters encode the shortest, 16-byte, secret) are
// withheld, so a config with id and secret swapped never logs the secret.
func quoteID(id string) string {
	if !validKeyID(id) || len(id) >= 22 {
		return "(id withheld)"
	}
	return fmt.Sprintf("%q", id)
}

// keyName names the n-th key (1-based) of a config for an error message.
func keyName(n int, id string) string {
	return fmt.Sprintf("key %d %s", n, quoteID(id))
}

// Scratch buffers for Encrypt/Decrypt: with them each call allocates only
// its result. Buffers are wiped before reuse since they held plaintext.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooledScratch = 64 << 10 // larger buffers go to the GC rather than pin memory

func getScratch(n int) *[]byte {
	b := scratchPool.Get().(*[]byte)
	if cap(*b) < n {
		*b = make([]byte, n)
	}
	*b = (*b)[:n]
	return b
}

func putScratch(b *[]byte) {
	if cap(*b) > maxPooledScratch {
		return
	}
	clear(*b)
	scratchPool.Put(b)
}
