// Package pgident builds and checks PostgreSQL identifiers. PostgreSQL
// keeps the first 63 bytes of an identifier and drops the rest without an
// error, so two long names that share a prefix silently become one object.
// Every identifier strangler generates goes through Name, and every name a
// user gives that becomes an identifier is checked with Check.
package pgident

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest identifier PostgreSQL keeps, in bytes
// (NAMEDATALEN - 1).
const MaxLen = 63

// hashLen is the number of hex digits of the hash that ends a name too long
// to keep whole (64 bits).
const hashLen = 16

// Name joins parts with "_" into an identifier of at most MaxLen bytes.
// When the joined name fits it is returned unchanged, so that names which
// always fitted keep their spelling. Otherwise it is the longest prefix of
// the joined name that is whole UTF-8 and leaves room for "_" and 16 hex
// digits of a SHA-256 of the parts (each part counted separately, so
// ("a_b", "c") and ("a", "b_c") hash apart): unique by construction, not a
// truncated concatenation.
//
// A name that fits is unique as long as, within one namespace, the callers
// vary one part and keep the others fixed (as all of strangler's do).
func Name(parts ...string) string {
	joined := strings.Join(parts, "_")
	if len(joined) <= MaxLen {
		return joined
	}
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	sum := hex.EncodeToString(h.Sum(nil))[:hashLen]
	prefix := joined[:MaxLen-1-hashLen]
	for len(prefix) > 0 && !utf8.ValidString(prefix) {
		prefix = prefix[:len(prefix)-1]
	}
	return prefix + "_" + sum
}

// TooLongError refuses a user-given name that PostgreSQL would cut.
type TooLongError struct {
	What string // what the name is, e.g. `target table of source table "orders"`
	Name string
}

// Error names the name, its length and the limit.
func (e *TooLongError) Error() string {
	return fmt.Sprintf("%s %q is %d bytes long; PostgreSQL keeps only %d and would cut it without an error", e.What, e.Name, len(e.Name), MaxLen)
}

// Check returns a *TooLongError when name is longer than MaxLen bytes;
// what says what the name is, for the message.
func Check(what, name string) error {
	if len(name) > MaxLen {
		return &TooLongError{What: what, Name: name}
	}
	return nil
}

// Quote quotes an identifier for PostgreSQL: in double quotes, doubling
// the double quotes inside.
func Quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
