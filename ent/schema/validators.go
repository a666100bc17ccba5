package schema

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
)

var (
	slugPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)
	// typeKeyPattern is a ticket type's key: AFTER_SALES.
	typeKeyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,31}$`)
	loginPattern   = regexp.MustCompile(`^[a-zA-Z0-9._@-]+$`)
	// mobilePattern accepts mainland China mobile numbers: 11 digits, 1[3-9].
	mobilePattern = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
	// idNumberPattern is a resident identity card number: 18 characters
	// (the last may be X) or the older 15 digits.
	idNumberPattern = regexp.MustCompile(`^([0-9]{17}[0-9X]|[0-9]{15})$`)
)

func validateEmail(s string) error {
	if s == "" {
		return nil
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s {
		return fmt.Errorf("%q is not an email address", s)
	}
	return nil
}

func validateDate(s string) error {
	if s == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		return fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return nil
}

// named turns Go-style enum names into ent's NamedValues pairs whose stored
// and GraphQL value is the UPPER_SNAKE form: "InProgress" -> "IN_PROGRESS".
func named(names ...string) []string {
	pairs := make([]string, 0, 2*len(names))
	for _, n := range names {
		var b strings.Builder
		for i, r := range n {
			if i > 0 && unicode.IsUpper(r) && !unicode.IsUpper(rune(n[i-1])) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToUpper(r))
		}
		pairs = append(pairs, n, b.String())
	}
	return pairs
}
