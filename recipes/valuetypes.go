package recipes

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// The values of the field types that JSON has no form of its own for:
// MySQL TIME spans (time), bit strings (bits), bytes (binary) and sets of
// strings (set). Each is read from text and from decoded JSON, and written
// back in one canonical form; a value read back from its written form is
// the same value.

// timeSpan is a value of a time field: a MySQL TIME, a signed span of
// microseconds from -838:59:59 to 838:59:59, held in PostgreSQL as an
// interval.
type timeSpan int64

const (
	microsPerSecond = 1_000_000
	maxTimeSpan     = timeSpan((838*3600 + 59*60 + 59) * microsPerSecond)
	maxFSP          = 6 // fractional second digits of MySQL and PostgreSQL
)

// parseTimeSpan reads [-]H:MM:SS[.f], with 1 to 3 hour digits and up to 6
// fractional digits, of which only the first fsp may be other than 0.
func parseTimeSpan(s string, fsp int) (timeSpan, error) {
	bad := func() (timeSpan, error) {
		return 0, fmt.Errorf("%q is not a time in the form [-]HH:MM:SS[.ffffff]", s)
	}
	t, neg := strings.CutPrefix(s, "-")
	hms, frac, hasFrac := strings.Cut(t, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 || len(parts[0]) < 1 || len(parts[0]) > 3 || len(parts[1]) != 2 || len(parts[2]) != 2 {
		return bad()
	}
	var n [3]int64
	for i, p := range parts {
		if !allDigits(p) {
			return bad()
		}
		n[i], _ = strconv.ParseInt(p, 10, 64)
	}
	if n[1] > 59 || n[2] > 59 {
		return bad()
	}
	var micros int64
	if hasFrac {
		if len(frac) < 1 || len(frac) > maxFSP || !allDigits(frac) {
			return bad()
		}
		if len(strings.TrimRight(frac, "0")) > fsp {
			return 0, fmt.Errorf("%q has more than %d fractional digits (fsp %d)", s, fsp, fsp)
		}
		micros, _ = strconv.ParseInt(frac+strings.Repeat("0", maxFSP-len(frac)), 10, 64)
	}
	v := timeSpan((n[0]*3600+n[1]*60+n[2])*microsPerSecond + micros)
	if v > maxTimeSpan {
		return 0, fmt.Errorf("%q is outside MySQL's TIME range, -838:59:59 to 838:59:59", s)
	}
	if neg {
		v = -v
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// format writes the span as [-]HH:MM:SS with fsp fractional digits, as
// MySQL writes a time(fsp).
func (t timeSpan) format(fsp int) string {
	var b strings.Builder
	u := int64(t)
	if u < 0 {
		b.WriteByte('-')
		u = -u
	}
	secs, micros := u/microsPerSecond, u%microsPerSecond
	fmt.Fprintf(&b, "%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if fsp > 0 {
		frac := fmt.Sprintf("%06d", micros)
		b.WriteByte('.')
		b.WriteString(frac[:min(fsp, maxFSP)])
	}
	return b.String()
}

// text writes the span with the fractional digits it needs (none for a
// whole second): the form of keys and of intervals a named query returns.
func (t timeSpan) text() string {
	s := t.format(maxFSP)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// intervalMicros folds an interval into microseconds, a month counting 30
// days as PostgreSQL's extract(epoch) does.
func intervalMicros(iv pgtype.Interval) int64 {
	const day = 24 * 3600 * microsPerSecond
	return iv.Microseconds + int64(iv.Days)*day + int64(iv.Months)*30*day
}

// parseBits reads a bit string of exactly length bits (any length when
// length is 0, for query parameters).
func parseBits(s string, length int) (string, error) {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' && s[i] != '1' {
			return "", fmt.Errorf("%q is not a bit string (only the digits 0 and 1)", s)
		}
	}
	if length > 0 && len(s) != length {
		return "", fmt.Errorf("%q has %d bits; the field holds exactly %d", s, len(s), length)
	}
	return s, nil
}

// bitsText writes a bit string as PostgreSQL's text form does.
func bitsText(b pgtype.Bits) string {
	out := make([]byte, b.Len)
	for i := range out {
		if b.Bytes[i/8]&(0x80>>(i%8)) != 0 {
			out[i] = '1'
		} else {
			out[i] = '0'
		}
	}
	return string(out)
}

// blob is a value of a binary field: its bytes, in a string so that it
// can be a map key (embeds group rows by key).
type blob string

// parseBlob reads base64: the standard or the URL-safe alphabet, padded or
// not, and nothing else (no spaces, no bits left over).
func parseBlob(s string) (blob, error) {
	t := strings.TrimRight(s, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(t, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.Strict().DecodeString(t)
	if err != nil || strings.ContainsAny(t, "\r\n") || (len(t) != len(s) && len(s)%4 != 0) {
		return "", fmt.Errorf("%q is not base64", short(s))
	}
	return blob(b), nil
}

// json writes the bytes as answers do: standard base64, padded.
func (b blob) json() string { return base64.StdEncoding.EncodeToString([]byte(b)) }

// text writes the bytes for a path or a cursor: URL-safe base64, unpadded.
func (b blob) text() string { return base64.RawURLEncoding.EncodeToString([]byte(b)) }

// short cuts a long value for an error message.
func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// stringSet is a value of a set field: distinct strings, in enum order
// when the field has an enum. It is never nil: an empty set is not null.
type stringSet []string

// parseSetText reads a set as MySQL writes one, members separated by
// commas ("" for the empty set), or as a JSON array of strings ("[]" for
// the empty set, which a default cannot write as "").
func (f *Field) parseSetText(s string) (stringSet, error) {
	if s == "" {
		return f.makeSet(nil)
	}
	if strings.HasPrefix(s, "[") {
		var items []any
		if json.Unmarshal([]byte(s), &items) == nil {
			return f.parseSetJSON(items)
		}
	}
	return f.makeSet(strings.Split(s, ","))
}

// parseSetJSON reads a set from a decoded JSON array of strings.
func (f *Field) parseSetJSON(v any) (stringSet, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected an array of strings, found %s", jsonKind(v))
	}
	members := make([]string, len(items))
	for i, item := range items {
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("item %d: expected a string, found %s", i, jsonKind(item))
		}
		members[i] = s
	}
	return f.makeSet(members)
}

// makeSet checks members (text PostgreSQL stores, no member twice, each one
// of the enum) and orders them as the enum does.
func (f *Field) makeSet(members []string) (stringSet, error) {
	out := make(stringSet, 0, len(members))
	for _, m := range members {
		if p := textProblem(m); p != "" {
			return nil, fmt.Errorf("member %q %s", short(m), p)
		}
		if slices.Contains(out, m) {
			return nil, fmt.Errorf("holds %q twice; a set holds each member once", short(m))
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, m) {
			return nil, fmt.Errorf("member %q must be one of %s", short(m), strings.Join(f.Enum, ", "))
		}
		out = append(out, m)
	}
	if len(f.Enum) > 0 {
		slices.SortFunc(out, func(a, b string) int { return slices.Index(f.Enum, a) - slices.Index(f.Enum, b) })
	}
	return out, nil
}

// setFromDB converts a text[] pgx decoded. A NULL element, which neither
// sync nor the runtime writes, is no member and is left out.
func setFromDB(items []any) stringSet {
	out := make(stringSet, 0, len(items))
	for _, item := range items {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// arraySQL is a text[] literal of the set, for a column default.
func (s stringSet) arraySQL() string {
	if len(s) == 0 {
		return "'{}'::text[]"
	}
	quoted := make([]string, len(s))
	for i, m := range s {
		quoted[i] = literal(m)
	}
	return "ARRAY[" + strings.Join(quoted, ", ") + "]::text[]"
}
