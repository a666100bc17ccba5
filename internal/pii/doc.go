// Package pii owns the protection of customers' personal data: encryption
// at rest, blind indexes for exact lookup, and display masks.
//
// Values are encrypted into self-describing envelopes,
//
//	pii1:<key id>:<base64url-nopad(nonce || ciphertext || tag)>
//
// with AES-256-GCM or SM4-GCM. The key id travels with every value, so keys
// can rotate: a Keyring encrypts under its one active key and decrypts
// under any key it still holds. The envelope header is the AEAD's
// additional data, so a value cannot be relabelled to another key.
//
// Encrypted values cannot be searched, so exact-match lookups (a phone
// number) go through a blind index: a keyed HMAC of the normalised value,
// under a secret separate from the encryption keys. The index only narrows
// a lookup; callers decrypt and compare the candidates it returns.
//
// The masks produce strings that are safe to show to staff who may see
// that a value exists but not the value itself.
//
// The package is hand-written rather than built on an encryption library:
// it is small, the envelope format is ours to keep stable, and it must stay
// free of the rest of the project (no ent, no GraphQL) so any layer can use
// it. Keys reach it through a Provider, the seam a KMS can stand behind.
package pii
