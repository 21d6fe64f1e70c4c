package sync

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// maxIdent is PostgreSQL's limit on an identifier, in bytes (NAMEDATALEN-1):
// a longer one is cut there without an error, so two long names sharing
// their first 63 bytes would name the same object.
const maxIdent = 63

// boundedName is every name sync builds from user-given names (staging and
// repair tables, constraints): name itself when it fits maxIdent, else its
// first bytes (cut on a character boundary) and a hash of the whole name,
// so that it fits and differs from every other name by construction, never
// by a truncated concatenation.
func boundedName(name string) string {
	if len(name) <= maxIdent {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "_" + hex.EncodeToString(sum[:6])
	keep := maxIdent - len(suffix)
	for keep > 0 && !utf8.RuneStart(name[keep]) {
		keep--
	}
	return name[:keep] + suffix
}

// pgIdent quotes a PostgreSQL identifier (NUL bytes, which PostgreSQL
// refuses, dropped).
func pgIdent(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, "\x00", ""), `"`, `""`) + `"`
}

// myIdent quotes a MySQL identifier.
func myIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
