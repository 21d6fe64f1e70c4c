package proxy

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/stranglerfig/strangler/internal/wire"
)

// Ingress: what the facade does to a client request once, before it matches,
// captures, shadows or forwards it, so that every later step sees the same
// request.
//
//   - Internal headers (X-Strangler-*, in any case) are removed: only the
//     facade itself sets X-Strangler-Shadow, on shadow copies.
//   - The path is normalised: doubled slashes merged, dot segments removed
//     (RFC 3986 5.2.4), a climb above the root stopping at the root
//     ("/../x" is "/x"). "%2e" counts as "." (it is decoded first); other
//     percent-encodings are kept as the client wrote them, with upper-case
//     hex digits. The normalised path is the one matched and the one
//     forwarded to legacy, to targets, in shadow copies and in captures.
//   - Refused with 400: an encoded slash (%2F) or backslash (%5C), a raw
//     backslash, a dot segment with parameters (";"), a malformed
//     percent-encoding, and a path that does not start with '/' (except
//     "*" for OPTIONS). Backends differ on whether these are separators, so
//     no single path could be both matched and forwarded.

// pathError is why a client request's path was refused (400). Its message
// holds the path: it goes to the client, while the log gets the reason only
// (a refused path may still hold a secret).
type pathError struct {
	Path   string // the path as the client sent it (escaped)
	Reason string
}

func (e *pathError) Error() string {
	return fmt.Sprintf("request path %q: %s", e.Path, e.Reason)
}

// ingress strips internal headers from r and normalises its path in place.
func ingress(r *http.Request) error {
	stripInternal(r.Header)
	return normalizeRequestPath(r)
}

// stripInternal removes every X-Strangler-* header, whatever its case.
func stripInternal(h http.Header) {
	for name := range h {
		if wire.IsInternal(name) {
			delete(h, name)
		}
	}
}

// normalizeRequestPath replaces r.URL's path by its normal form.
func normalizeRequestPath(r *http.Request) error {
	u := r.URL
	if u.Opaque != "" {
		return &pathError{Path: u.Opaque, Reason: "the request target is not a path starting with '/'"}
	}
	if u.Path == "*" && u.RawPath == "" {
		if r.Method == http.MethodOptions {
			return nil
		}
		return &pathError{Path: "*", Reason: "'*' is a request target for OPTIONS only"}
	}
	if u.RawPath != "" {
		// EscapedPath ignores a RawPath it finds invalid, so look for the
		// encoded separators in what the client sent.
		if err := refuseEncodedSeparators(u.RawPath); err != nil {
			return err
		}
	}
	esc := u.EscapedPath()
	if esc == "" {
		esc = "/" // absolute-form target without a path (RFC 9112 3.2.2)
	}
	if strings.IndexByte(u.Path, '\\') >= 0 {
		return &pathError{Path: esc, Reason: "a backslash is refused: some servers take it for a '/'"}
	}
	norm, err := normalizePath(esc)
	if err != nil {
		return err
	}
	if norm == esc && u.Path != "" {
		return nil
	}
	p, err := url.PathUnescape(norm)
	if err != nil { // normalizePath checked every escape
		return &pathError{Path: esc, Reason: err.Error()}
	}
	u.Path = p
	u.RawPath = ""
	if u.EscapedPath() != norm {
		u.RawPath = norm // keep the client's own encoding (%3B stays %3B)
	}
	return nil
}

func refuseEncodedSeparators(raw string) error {
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		switch strings.ToUpper(raw[i+1 : i+3]) {
		case "2F":
			return &pathError{Path: raw, Reason: "an encoded slash (%2F) is refused: backends differ on whether it separates segments"}
		case "5C":
			return &pathError{Path: raw, Reason: "an encoded backslash (%5C) is refused: some servers take it for a '/'"}
		}
	}
	return nil
}

// normalizePath returns the normal form of an escaped path that starts with
// '/': "%2e" decoded, other escapes upper-cased, doubled slashes merged and
// dot segments removed; a trailing slash (or a last dot segment) leaves a
// trailing slash. The result is a fixed point: normalizePath(result) ==
// result.
func normalizePath(esc string) (string, error) {
	if !strings.HasPrefix(esc, "/") {
		return "", &pathError{Path: esc, Reason: "a path must start with '/'"}
	}
	if !strings.Contains(esc, "//") && !strings.Contains(esc, "/.") && strings.IndexByte(esc, '%') < 0 &&
		strings.IndexByte(esc, '\\') < 0 {
		return esc, nil // the common case: nothing to do, no allocation
	}
	p, err := normalizeEscapes(esc)
	if err != nil {
		return "", err
	}
	segs := strings.Split(p[1:], "/")
	out := segs[:0]
	trailing := false
	last := len(segs) - 1
	for i, s := range segs {
		switch s {
		case "", ".":
			trailing = i == last
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			trailing = i == last
		default:
			if dot, _, params := strings.Cut(s, ";"); params && (dot == "." || dot == "..") {
				return "", &pathError{Path: esc, Reason: "a dot segment with parameters (" + s + ") is refused: some servers take it for " + dot}
			}
			out = append(out, s)
		}
	}
	var b strings.Builder
	b.Grow(len(p))
	for _, s := range out {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if b.Len() == 0 || trailing {
		b.WriteByte('/')
	}
	return b.String(), nil
}

// normalizeEscapes decodes "%2e" to "." and upper-cases the hex digits of
// every other escape; it refuses a raw backslash, a malformed escape, and an
// encoded slash or backslash.
func normalizeEscapes(esc string) (string, error) {
	if strings.IndexByte(esc, '%') < 0 && strings.IndexByte(esc, '\\') < 0 {
		return esc, nil
	}
	var b strings.Builder
	b.Grow(len(esc))
	for i := 0; i < len(esc); i++ {
		c := esc[i]
		switch c {
		case '\\':
			return "", &pathError{Path: esc, Reason: "a backslash is refused: some servers take it for a '/'"}
		case '%':
			if i+2 >= len(esc) || !isHex(esc[i+1]) || !isHex(esc[i+2]) {
				return "", &pathError{Path: esc, Reason: "a '%' that does not start a %XX escape is refused"}
			}
			hex := strings.ToUpper(esc[i+1 : i+3])
			switch hex {
			case "2E":
				b.WriteByte('.')
			case "2F", "5C":
				return "", refuseEncodedSeparators(esc)
			default:
				b.WriteByte('%')
				b.WriteString(hex)
			}
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
