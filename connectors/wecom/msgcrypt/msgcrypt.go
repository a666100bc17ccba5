// Package msgcrypt is WeCom's callback cryptography (the scheme WeCom's
// own samples call WXBizMsgCrypt): the signature on every callback, the
// AES-256-CBC envelope around its XML, and the receive id (the corp id)
// inside that must match the account's.
//
// Written here rather than taken from a client library because the two
// maintained Go clients get it subtly wrong for our purpose (PLATFORMS.md:
// go-workwx does not check the receive id; silenceper/wechat's
// external-contact helper decrypts without checking the signature), and
// because it is small and table-tested against vectors produced with
// OpenSSL, not with this code. The fake WeCom server uses Encrypt to send
// callbacks exactly as WeCom does.
//
// Order of checks, by design: the signature first (constant time), then
// decryption and padding, then the receive id; nothing is parsed before
// all three pass.
package msgcrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Errors a callback can fail with. Every one means "not from WeCom for
// this account": answer 4xx and write nothing.
var (
	ErrSignature = errors.New("wecom callback: the signature does not match")
	ErrMalformed = errors.New("wecom callback: the message is malformed")
	ErrReceiveID = errors.New("wecom callback: the message is for another receiver")
)

// blockSize is the PKCS#7 padding block of WeCom's scheme: 32 bytes, not
// AES's 16.
const blockSize = 32

// randomPrefix is the random bytes before the length in the plaintext.
const randomPrefix = 16

// Crypter signs, encrypts and decrypts one account's callbacks.
type Crypter struct {
	token     string
	key       []byte
	block     cipher.Block
	receiveID string
}

// New returns a Crypter for the account's callback Token, EncodingAESKey
// (43 characters) and receive id (the corp id for an internal app).
func New(token, encodingAESKey, receiveID string) (*Crypter, error) {
	if token == "" || len(token) > 32 {
		return nil, fmt.Errorf("wecom callback token: want 1 to 32 characters, got %d", len(token))
	}
	if len(encodingAESKey) != 43 {
		return nil, fmt.Errorf("wecom EncodingAESKey: want 43 characters, got %d", len(encodingAESKey))
	}
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return nil, errors.New("wecom EncodingAESKey: not the base64 of a 32-byte key")
	}
	if receiveID == "" {
		return nil, errors.New("wecom callback: the receive id (corp id) is required")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &Crypter{token: token, key: key, block: block, receiveID: receiveID}, nil
}

// Signature is msg_signature: the hex SHA-1 of the token, timestamp,
// nonce and encrypted message, sorted as strings and joined.
func (c *Crypter) Signature(timestamp, nonce, encrypted string) string {
	parts := []string{c.token, timestamp, nonce, encrypted}
	sort.Strings(parts)
	sum := sha1.Sum([]byte(strings.Join(parts, "")))
	return hex.EncodeToString(sum[:])
}

// verify checks a signature in constant time.
func (c *Crypter) verify(signature, timestamp, nonce, encrypted string) error {
	want := c.Signature(timestamp, nonce, encrypted)
	if subtle.ConstantTimeCompare([]byte(strings.ToLower(signature)), []byte(want)) != 1 {
		return ErrSignature
	}
	return nil
}

// VerifyURL answers WeCom's URL verification (GET with echostr, already
// URL-decoded): it returns the plaintext to write back as the body.
func (c *Crypter) VerifyURL(signature, timestamp, nonce, echostr string) ([]byte, error) {
	return c.Decrypt(signature, timestamp, nonce, echostr)
}

// Decrypt checks the signature over the encrypted message, decrypts it and
// checks its receive id; it returns the message (the event's XML).
func (c *Crypter) Decrypt(signature, timestamp, nonce, encrypted string) ([]byte, error) {
	if err := c.verify(signature, timestamp, nonce, encrypted); err != nil {
		return nil, err
	}
	sealed, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil || len(sealed) == 0 || len(sealed)%aes.BlockSize != 0 {
		return nil, ErrMalformed
	}
	plain := make([]byte, len(sealed))
	cipher.NewCBCDecrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(plain, sealed)
	plain, err = unpad(plain)
	if err != nil {
		return nil, err
	}
	if len(plain) < randomPrefix+4 {
		return nil, ErrMalformed
	}
	n := binary.BigEndian.Uint32(plain[randomPrefix : randomPrefix+4])
	rest := plain[randomPrefix+4:]
	if uint64(n) > uint64(len(rest)) {
		return nil, ErrMalformed
	}
	msg, receiver := rest[:n], rest[n:]
	if subtle.ConstantTimeCompare(receiver, []byte(c.receiveID)) != 1 {
		return nil, ErrReceiveID
	}
	return bytes.Clone(msg), nil
}

// Encrypt seals msg as WeCom does and signs it: what the fake platform
// sends, and what a passive reply carries.
func (c *Crypter) Encrypt(msg []byte, timestamp, nonce string) (encrypted, signature string, err error) {
	plain := make([]byte, 0, randomPrefix+4+len(msg)+len(c.receiveID)+blockSize)
	prefix := make([]byte, randomPrefix)
	if _, err := rand.Read(prefix); err != nil {
		return "", "", err
	}
	plain = append(plain, prefix...)
	plain = binary.BigEndian.AppendUint32(plain, uint32(len(msg)))
	plain = append(plain, msg...)
	plain = append(plain, c.receiveID...)
	plain = pad(plain)
	sealed := make([]byte, len(plain))
	cipher.NewCBCEncrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(sealed, plain)
	encrypted = base64.StdEncoding.EncodeToString(sealed)
	return encrypted, c.Signature(timestamp, nonce, encrypted), nil
}

func pad(b []byte) []byte {
	n := blockSize - len(b)%blockSize
	return append(b, bytes.Repeat([]byte{byte(n)}, n)...)
}

func unpad(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, ErrMalformed
	}
	n := int(b[len(b)-1])
	if n < 1 || n > blockSize || n > len(b) {
		return nil, ErrMalformed
	}
	for _, x := range b[len(b)-n:] {
		if int(x) != n {
			return nil, ErrMalformed
		}
	}
	return b[:len(b)-n], nil
}

// Envelope is the body of a callback POST.
type Envelope struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName string   `xml:"ToUserName"`
	AgentID    string   `xml:"AgentID"`
	Encrypt    string   `xml:"Encrypt"`
}

// maxEnvelope bounds a callback body; WeCom's are a few KiB.
const maxEnvelope = 1 << 20

// ParseEnvelope reads a callback POST body.
func ParseEnvelope(body []byte) (*Envelope, error) {
	if len(body) > maxEnvelope {
		return nil, ErrMalformed
	}
	var e Envelope
	if err := xml.Unmarshal(body, &e); err != nil || e.Encrypt == "" {
		return nil, ErrMalformed
	}
	return &e, nil
}
