package compare

import (
	"unicode/utf8"
)

// maxValue is the most bytes of a value a Diff shows; longer values are
// cut there (at a character boundary) and end with "…".
const maxValue = 200

// stringValue returns the decoded value of string node n, decoding into
// scratch when it holds escapes.
func (d *doc) stringValue(n int32, scratch []byte) []byte {
	nd := &d.nodes[n]
	raw := d.src[nd.a:nd.b]
	if !nd.esc {
		return raw
	}
	return appendUnescaped(scratch[:0], raw)
}

const hexDigits = "0123456789abcdef"

// appendQuoted appends s as a JSON string. Characters are kept, except
// what JSON requires escaped; a lone surrogate (see appendUnescaped) is
// written as its \u escape and a byte that is not UTF-8 as \ufffd.
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			if c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2] >= 0x80 && s[i+2] <= 0xBF {
				u := 0xD000 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F)
				dst = append(dst, '\\', 'u', hexDigits[u>>12], hexDigits[u>>8&0xF], hexDigits[u>>4&0xF], hexDigits[u&0xF])
				i += 3
				continue
			}
			dst = append(dst, `\ufffd`...)
			i++
			continue
		}
		dst = append(dst, s[i:i+size]...)
		i += size
	}
	return append(dst, '"')
}

// appendCanonical appends the canonical text of value n: compact, members
// sorted by name, strings decoded and quoted again, numbers in their
// canonical form. Two values have the same canonical text exactly when
// they are equal without rules. It is the text of a key in a path.
// scratch is a buffer it may reuse.
func appendCanonical(dst []byte, d *doc, n int32, scratch *[]byte) []byte {
	nd := &d.nodes[n]
	switch nd.kind {
	case kNull:
		return append(dst, "null"...)
	case kTrue:
		return append(dst, "true"...)
	case kFalse:
		return append(dst, "false"...)
	case kNumber:
		var dec decimal
		dec, *scratch = parseDecimal(d.src[nd.a:nd.b], (*scratch)[:0])
		return dec.appendCanonical(dst)
	case kString:
		s := d.src[nd.a:nd.b]
		if nd.esc {
			*scratch = appendUnescaped((*scratch)[:0], s)
			s = *scratch
		}
		return appendQuoted(dst, s)
	case kRaw:
		return append(dst, d.buf[nd.a:nd.b]...)
	case kObject:
		dst = append(dst, '{')
		for i, m := range d.members[nd.a : nd.a+nd.b] {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendQuoted(dst, m.key)
			dst = append(dst, ':')
			dst = appendCanonical(dst, d, m.val, scratch)
		}
		return append(dst, '}')
	default:
		dst = append(dst, '[')
		for i, e := range d.elems[nd.a : nd.a+nd.b] {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonical(dst, d, e, scratch)
		}
		return append(dst, ']')
	}
}

// appendCompact appends value n as compact JSON as the document wrote it
// (numbers verbatim, strings with their escapes decoded and only what JSON
// requires escaped again; members sorted by name, a repeated name once),
// stopping once dst is longer than limit.
func appendCompact(dst []byte, d *doc, n int32, limit int) []byte {
	nd := &d.nodes[n]
	switch nd.kind {
	case kNull:
		return append(dst, "null"...)
	case kTrue:
		return append(dst, "true"...)
	case kFalse:
		return append(dst, "false"...)
	case kNumber:
		return append(dst, d.src[nd.a:nd.b]...)
	case kString:
		if !nd.esc {
			return append(dst, d.src[nd.a-1:nd.b+1]...)
		}
		// Escapes are decoded for the reader: "\u0026" shows as "&".
		return appendQuoted(dst, appendUnescaped(nil, d.src[nd.a:nd.b]))
	case kRaw:
		return append(dst, d.buf[nd.a:nd.b]...)
	case kObject:
		dst = append(dst, '{')
		for i, m := range d.members[nd.a : nd.a+nd.b] {
			if len(dst) > limit {
				return dst
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendQuoted(dst, m.key)
			dst = append(dst, ':')
			dst = appendCompact(dst, d, m.val, limit)
		}
		return append(dst, '}')
	default:
		dst = append(dst, '[')
		for i, e := range d.elems[nd.a : nd.a+nd.b] {
			if len(dst) > limit {
				return dst
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCompact(dst, d, e, limit)
		}
		return append(dst, ']')
	}
}

// cut returns b as a string of at most maxValue bytes, plus "…" when it
// was longer.
func cut(b []byte) string {
	if len(b) <= maxValue {
		return string(b)
	}
	i := maxValue
	for i > 0 && !utf8.RuneStart(b[i]) {
		i--
	}
	return string(b[:i]) + "…"
}

// valueText is the text of value n of d in a Diff: compact JSON, cut.
func valueText(d *doc, n int32, scratch []byte) string {
	if n < 0 {
		return ""
	}
	return cut(appendCompact(scratch[:0], d, n, maxValue))
}
