package samples

import "strings"

// Value classes of path segments (Var.Kind) and of strings.
const (
	KindInteger  = "integer"  // 123
	KindUUID     = "uuid"     // 3f2504e0-4f89-41d3-9a0c-0305e82c3301
	KindHex      = "hex"      // 5f2b9c1e8a7d (8 or more hex digits, one a digit)
	KindCode     = "code"     // ABC-1234, x1234: letters with a run of 3 or more digits
	KindSlug     = "slug"     // blue-shirt, summer_sale_2, index.php, BlueShirt
	KindWord     = "word"     // recent, daily
	KindVersion  = "version"  // v1, v2.1
	KindRedacted = "redacted" // the facade's [REDACTED]
	KindOther    = "other"
	KindMixed    = "mixed" // values of several classes
)

// redacted is what the facade writes in place of a redacted value
// (proxy.Redacted).
const redacted = "[REDACTED]"

func isDigits(s string) bool {
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

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// isUUID reports whether s is a UUID in its 8-4-4-4-12 form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

// isVersion reports whether s is a version segment: v1, V2, v1.2, v2_1.
func isVersion(s string) bool {
	if len(s) < 2 || (s[0] != 'v' && s[0] != 'V') {
		return false
	}
	rest := s[1:]
	for _, part := range strings.FieldsFunc(rest, func(r rune) bool { return r == '.' || r == '_' }) {
		if !isDigits(part) {
			return false
		}
	}
	return isDigits(rest[:1]) && !strings.HasSuffix(rest, ".") && !strings.HasSuffix(rest, "_")
}

// segmentKind classifies one path segment.
func segmentKind(s string) string {
	switch {
	case s == redacted:
		return KindRedacted
	case isVersion(s):
		return KindVersion
	case isDigits(s):
		return KindInteger
	case isUUID(s):
		return KindUUID
	}
	hex, digit, letter, lowerOnly, seps := true, false, false, true, 0
	run, maxRun := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
			run++
			maxRun = max(maxRun, run)
			continue
		case c >= 'a' && c <= 'z':
			letter = true
			hex = hex && c <= 'f'
		case c >= 'A' && c <= 'Z':
			letter, lowerOnly = true, false
			hex = hex && c <= 'F'
		case c == '-' || c == '_' || c == '.':
			seps++
			hex = false
		default:
			return KindOther
		}
		run = 0
	}
	switch {
	case hex && digit && len(s) >= 8:
		return KindHex
	case letter && maxRun >= 3:
		return KindCode
	case !letter:
		return KindOther
	case seps > 0 || digit || !lowerOnly:
		return KindSlug
	}
	return KindWord
}

// alwaysVariable reports whether a segment of this class is a variable
// wherever it is seen.
func alwaysVariable(kind string) bool {
	switch kind {
	case KindInteger, KindUUID, KindHex, KindCode, KindRedacted:
		return true
	}
	return false
}

// numericString reports whether s is a number written as a string, as
// legacy code writes decimals ("12.50"), and how many digits follow the
// point (-1 for an integer).
func numericString(s string) (ok bool, scale int) {
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	if !isDigits(whole) || (dot && !isDigits(frac)) {
		return false, 0
	}
	if len(whole) > 1 && whole[0] == '0' {
		return false, 0 // a code such as 007, not a number
	}
	if !dot {
		return true, -1
	}
	return true, len(frac)
}

// numberScale is the digits after the point of a JSON number as written,
// -1 for one without a point; an exponent makes it -2.
func numberScale(s string) int {
	if strings.ContainsAny(s, "eE") {
		return -2
	}
	if _, frac, ok := strings.Cut(s, "."); ok {
		return len(frac)
	}
	return -1
}
