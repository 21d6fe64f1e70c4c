package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// generalize returns path with every array or set element selector
// replaced by [*]: an index [3], a keyed set element [id=42] (the key's
// value may be quoted: [sku="a]b"]) and an unmatched set element [#3]. A
// quoted member ["a [b]"] and any other bracket stay as they are, and so
// does an unterminated bracket.
func generalize(path string) string {
	if strings.IndexByte(path, '[') < 0 {
		return path
	}
	var b strings.Builder
	b.Grow(len(path))
	rest := path
	for {
		open := strings.IndexByte(rest, '[')
		if open < 0 {
			b.WriteString(rest)
			return b.String()
		}
		end := bracketEnd(rest, open)
		if end < 0 {
			b.WriteString(rest)
			return b.String()
		}
		b.WriteString(rest[:open])
		if isElement(rest[open+1 : end]) {
			b.WriteString("[*]")
		} else {
			b.WriteString(rest[open : end+1])
		}
		rest = rest[end+1:]
	}
}

// bracketEnd returns the index of the ']' that closes the '[' at s[open],
// skipping quoted strings ("..." or '...', with backslash escapes), or -1.
func bracketEnd(s string, open int) int {
	var quote byte
	for i := open + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++ // the escaped character
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '"' || c == '\'':
			quote = c
		case c == ']':
			return i
		}
	}
	return -1
}

// isElement says whether the inside of a bracket selects an element of an
// array or a set: "3", "#3", "*", or key=value.
func isElement(inner string) bool {
	switch {
	case inner == "*":
		return true
	case allDigits(inner):
		return true
	case len(inner) > 1 && inner[0] == '#' && allDigits(inner[1:]):
		return true
	case inner == "" || inner[0] == '"' || inner[0] == '\'':
		return false
	}
	eq := strings.IndexByte(inner, '=')
	return eq > 0 && !strings.ContainsAny(inner[:eq], `"'[]`)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maxPathLen bounds a path kept as a key (a PostgreSQL btree entry must
// stay well under 2,700 bytes, and a state file should not grow with the
// depth of one answer).
const maxPathLen = 512

// boundPath returns p when it is at most maxPathLen bytes, otherwise a
// prefix of it and a hash of the whole: distinct long paths stay distinct.
func boundPath(p string) string {
	if len(p) <= maxPathLen {
		return p
	}
	sum := sha256.Sum256([]byte(p))
	suffix := "…#" + hex.EncodeToString(sum[:8])
	cut := maxPathLen - len(suffix)
	for cut > 0 && !utf8.RuneStart(p[cut]) {
		cut--
	}
	return p[:cut] + suffix
}

// pathHit is one generalised path of a record, with the first diff that
// has it.
type pathHit struct {
	path string // generalised and bounded
	diff *Diff  // the concrete path and both values
}

// diffPaths returns the distinct generalised paths of r's diffs, in the
// order they first appear.
func diffPaths(r *Record) []pathHit {
	if len(r.Diffs) == 0 {
		return nil
	}
	hits := make([]pathHit, 0, len(r.Diffs))
	var seen map[string]bool // for many diffs; a few are compared directly
	if len(r.Diffs) > 8 {
		seen = make(map[string]bool, len(r.Diffs))
	}
	for i := range r.Diffs {
		p := boundPath(generalize(r.Diffs[i].Path))
		if seen != nil {
			if seen[p] {
				continue
			}
			seen[p] = true
		} else if hasPath(hits, p) {
			continue
		}
		hits = append(hits, pathHit{path: p, diff: &r.Diffs[i]})
	}
	return hits
}

func hasPath(hits []pathHit, p string) bool {
	for _, h := range hits {
		if h.path == p {
			return true
		}
	}
	return false
}
