package pii

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync/atomic"
)

// The data layer (ent's value scanners) encrypts and decrypts columns with
// the process's keyring: Use installs it once at start-up, before the first
// query. A process without one refuses to store personal data rather than
// store it in the clear.

var current atomic.Pointer[Keyring]

// ErrNoKeyring is returned when personal data is written or read before a
// keyring was installed.
var ErrNoKeyring = errors.New("pii: no keyring installed (call pii.Use at start-up)")

// Use makes kr the keyring columns are encrypted with.
func Use(kr *Keyring) { current.Store(kr) }

// Current returns the installed keyring.
func Current() (*Keyring, error) {
	if kr := current.Load(); kr != nil {
		return kr, nil
	}
	return nil, ErrNoKeyring
}

// ColumnValue encrypts a column value for the database; "" stays "".
func ColumnValue(plain string) (driver.Value, error) {
	if plain == "" {
		return "", nil
	}
	kr, err := Current()
	if err != nil {
		return nil, err
	}
	return kr.Encrypt(plain)
}

// ScanColumn decrypts a column value read from the database. A value
// stored before encryption was turned on is returned as it is (and
// re-encrypted by `scrm keys rotate`); NULL reads as "".
func ScanColumn(ns *sql.NullString) (string, error) {
	if !ns.Valid || ns.String == "" {
		return "", nil
	}
	if !IsEnvelope(ns.String) {
		return ns.String, nil
	}
	kr, err := Current()
	if err != nil {
		return "", err
	}
	return kr.Decrypt(ns.String)
}
