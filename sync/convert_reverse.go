package sync

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is the inverse of the forward mapping (types.go, convert.go):
// a value as PostgreSQL's text output gives it for a column's target type,
// back into a MySQL literal for the column's own MySQL type, exactly. It
// does no I/O.
//
// The text comes from a session with the settings reverseSessionParams
// names (DateStyle ISO, TimeZone UTC, IntervalStyle postgres, bytea_output
// hex, extra_float_digits 3); the literal is for a MySQL session set up with
// legacySessionSQL (time_zone '+00:00', utf8mb4, an sql_mode without
// NO_BACKSLASH_ESCAPES or NO_ZERO_DATE).

// reverseSessionParams are the run-time parameters of the replication
// connection: the walsender formats every value with them, so the text the
// converters parse does not depend on the server's defaults.
var reverseSessionParams = map[string]string{
	"DateStyle":          "ISO, YMD",
	"TimeZone":           "UTC",
	"IntervalStyle":      "postgres",
	"bytea_output":       "hex",
	"extra_float_digits": "3", // shortest exact text (PostgreSQL 12+), never rounded
	"client_encoding":    "UTF8",
}

// AppendMySQLLiteral appends, as a MySQL literal, the value of column col
// (an index into Columns) that PostgreSQL's text output gave for the
// column's target type; null is a NULL. It checks that MySQL will store
// the value exactly: an integer within the MySQL type's range, a decimal
// within its precision and scale, no more fractional seconds than the
// column keeps, an enum or set member, a finite float. NULL for a NOT NULL
// date column that the zero-date policy made nullable is the zero date
// again. Errors are *ValueError; use WithKey to add the row's key.
func (m *TableMap) AppendMySQLLiteral(dst []byte, col int, text []byte, null bool) ([]byte, error) {
	c := &m.Columns[col]
	if null {
		switch {
		case c.zeroNull && c.kind == kindDate:
			return append(dst, "'0000-00-00'"...), nil
		case c.zeroNull:
			return append(dst, "'0000-00-00 00:00:00'"...), nil
		case !c.Nullable:
			return dst, m.valueErr(col, "NULL", "NULL for a NOT NULL column of the MySQL table")
		}
		return append(dst, "NULL"...), nil
	}
	s := string(text)
	switch c.kind {
	case kindInt, kindUint, kindYear:
		lo, hi := sourceIntRange(c.DataType, c.Unsigned)
		if c.kind == kindYear {
			return m.appendYear(dst, col, s)
		}
		return m.appendInt(dst, col, s, lo, hi)
	case kindBool:
		switch s {
		case "t", "true", "1":
			return append(dst, '1'), nil
		case "f", "false", "0":
			return append(dst, '0'), nil
		}
		return dst, m.valueErr(col, s, "not a boolean")
	case kindBitBool, kindBit:
		if c.bitAsInt {
			n := max(1, int(c.Length))
			return m.appendInt(dst, col, s, 0, math.MaxUint64>>(64-min(n, 64)))
		}
		if c.kind == kindBitBool {
			switch s {
			case "t", "true", "1":
				return append(dst, "b'1'"...), nil
			case "f", "false", "0":
				return append(dst, "b'0'"...), nil
			}
			return dst, m.valueErr(col, s, "not a boolean")
		}
		if s == "" || int64(len(s)) > c.Length || strings.Trim(s, "01") != "" {
			return dst, m.valueErr(col, s, "not a bit string of at most %d bits", c.Length)
		}
		dst = append(dst, "b'"...)
		dst = append(dst, s...)
		return append(dst, '\''), nil
	case kindDecimal:
		if err := checkDecimalText(s, c.Precision, c.Scale); err != nil {
			return dst, m.valueErr(col, s, "%v", err)
		}
		return append(dst, s...), nil
	case kindFloat, kindDouble:
		return m.appendFloatLiteral(dst, col, s)
	case kindDate:
		if _, err := checkDateText(text, false); err != nil {
			return dst, m.valueErr(col, s, "%v (MySQL holds years 0000 to 9999, no BC dates, no infinity)", err)
		}
		return appendQuoted(dst, text), nil
	case kindDatetime:
		if err := m.checkDatetime(col, s); err != nil {
			return dst, err
		}
		return appendQuoted(dst, text), nil
	case kindTimestamp:
		utc, err := timestamptzToUTC(s)
		if err != nil {
			return dst, m.valueErr(col, s, "%v", err)
		}
		if err := m.checkDatetime(col, utc); err != nil {
			return dst, err
		}
		return appendQuoted(dst, []byte(utc)), nil
	case kindTime:
		us, err := parsePgInterval(s)
		if err != nil {
			return dst, m.valueErr(col, s, "%v", err)
		}
		const maxTime = (838*3600 + 59*60 + 59) * 1_000_000
		if us > maxTime || us < -maxTime {
			return dst, m.valueErr(col, s, "beyond MySQL's time range -838:59:59 to 838:59:59")
		}
		if frac := us % 1_000_000; frac != 0 && fracDigits(frac) > c.FSP {
			return dst, m.valueErr(col, s, "more fractional digits than the %s column keeps", c.SourceType)
		}
		return appendQuoted(dst, []byte(formatMySQLTime(us))), nil
	case kindText, kindEnum, kindJSON:
		if !utf8.Valid(text) {
			return dst, m.valueErr(col, text, "not valid UTF-8")
		}
		if c.kind == kindEnum && s != "" && !containsString(c.Values, s) {
			return dst, m.valueErr(col, s, "not a member of %s", c.SourceType)
		}
		return appendQuoted(dst, text), nil
	case kindSet:
		var members []string
		if c.Overridden && !strings.HasSuffix(c.TargetType, "[]") {
			members = splitSet(text)
		} else {
			var err error
			if members, err = parseTextArray(s); err != nil {
				return dst, m.valueErr(col, s, "%v", err)
			}
		}
		for _, v := range members {
			if !containsString(c.Values, v) {
				return dst, m.valueErr(col, s, "%q is not a member of %s", v, c.SourceType)
			}
		}
		return appendQuoted(dst, []byte(strings.Join(members, ","))), nil
	case kindBinary:
		b, err := decodeBytea(text)
		if err != nil {
			return dst, m.valueErr(col, s, "%v", err)
		}
		if c.Length > 0 && int64(len(b)) > c.Length {
			return dst, m.valueErr(col, s, "%d bytes, longer than the %s column", len(b), c.SourceType)
		}
		dst = append(dst, "X'"...)
		dst = hex.AppendEncode(dst, b)
		return append(dst, '\''), nil
	}
	return dst, m.valueErr(col, s, "no conversion for kind %s", c.kind)
}

// appendInt checks an integer's text against [lo, hi] and appends it.
func (m *TableMap) appendInt(dst []byte, col int, s string, lo int64, hi uint64) ([]byte, error) {
	neg, mag, ok := parseIntText(s)
	if !ok {
		if t := strings.TrimLeft(s, "+-"); len(t) > 0 && len(s)-len(t) <= 1 && strings.Trim(t, "0123456789") == "" {
			return dst, m.valueErr(col, s, "out of range of MySQL %s", m.Columns[col].SourceType)
		}
		return dst, m.valueErr(col, s, "not an integer")
	}
	if neg && mag != 0 && (lo >= 0 || mag > uint64(-(lo+1))+1) || !neg && mag > hi {
		return dst, m.valueErr(col, s, "out of range of MySQL %s", m.Columns[col].SourceType)
	}
	if neg && mag != 0 {
		dst = append(dst, '-')
	}
	return strconv.AppendUint(dst, mag, 10), nil
}

// appendYear accepts 0 and 1901 to 2155, MySQL's YEAR values (a number
// from 1 to 99 would be read as a two-digit year).
func (m *TableMap) appendYear(dst []byte, col int, s string) ([]byte, error) {
	neg, y, ok := parseIntText(s)
	if !ok {
		return dst, m.valueErr(col, s, "not an integer")
	}
	if neg && y != 0 || y != 0 && (y < 1901 || y > 2155) {
		return dst, m.valueErr(col, s, "not a MySQL year (0, or 1901 to 2155)")
	}
	return strconv.AppendUint(dst, y, 10), nil
}

// appendFloatLiteral writes a real or double precision value so that MySQL
// stores the same binary value: the shortest text of its float64 value
// (a real's float32 value widened exactly), as an approximate-value
// literal (with an exponent), which MySQL reads as a double and a FLOAT
// column narrows back to the same float32.
func (m *TableMap) appendFloatLiteral(dst []byte, col int, s string) ([]byte, error) {
	bits := 64
	if m.Columns[col].kind == kindFloat {
		bits = 32
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, m.valueErr(col, s, "not a finite number: MySQL holds no NaN or infinity")
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	if !strings.ContainsAny(string(dst[start:]), "eE") {
		dst = append(dst, "e0"...)
	}
	return dst, nil
}

// checkDatetime checks a "YYYY-MM-DD HH:MM:SS[.f]" text and its fractional
// digits against the column's precision.
func (m *TableMap) checkDatetime(col int, s string) error {
	c := &m.Columns[col]
	if _, err := checkDateText([]byte(s), true); err != nil || len(s) < 19 {
		return m.valueErr(col, s, "not a date and time MySQL holds (years 0000 to 9999, no BC, no infinity)")
	}
	if len(s) > 20 && fracDigitsText(s[20:]) > c.FSP {
		return m.valueErr(col, s, "more fractional digits than the %s column keeps", c.SourceType)
	}
	return nil
}

// parseIntText reads [+-]digits.
func parseIntText(s string) (neg bool, mag uint64, ok bool) {
	t := s
	if t != "" && (t[0] == '-' || t[0] == '+') {
		neg, t = t[0] == '-', t[1:]
	}
	if t == "" || strings.Trim(t, "0123456789") != "" {
		return false, 0, false
	}
	u, err := strconv.ParseUint(t, 10, 64)
	if err != nil {
		return false, 0, false
	}
	return neg, u, true
}

// checkDecimalText checks a numeric's text output against decimal(p,s):
// no more integer digits than p-s, no more fraction digits than s (MySQL
// would round them away with only a note), no NaN or infinity.
func checkDecimalText(s string, precision, scale int) error {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, _ := strings.Cut(t, ".")
	if intPart == "" && frac == "" || strings.Trim(intPart, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" {
		return fmt.Errorf("not a decimal: MySQL holds no NaN or infinity")
	}
	if f := len(strings.TrimRight(frac, "0")); f > scale {
		return fmt.Errorf("%d fraction digits, more than the %d of decimal(%d,%d)", f, scale, precision, scale)
	}
	if i := len(strings.TrimLeft(intPart, "0")); precision > 0 && i > precision-scale {
		return fmt.Errorf("%d integer digits, more than the %d of decimal(%d,%d)", i, precision-scale, precision, scale)
	}
	return nil
}

// timestamptzToUTC turns a timestamptz text ("2038-01-19 03:14:07.5+00",
// any offset) into the UTC wall clock MySQL reads in a '+00:00' session.
func timestamptzToUTC(s string) (string, error) {
	k := strings.LastIndexAny(s, "+-")
	if k < 19 {
		return "", fmt.Errorf("not a timestamp with time zone (no offset; BC and infinity have no MySQL value)")
	}
	base, off := s[:k], s[k:]
	if _, err := checkDateText([]byte(base), true); err != nil || len(base) < 19 {
		return "", fmt.Errorf("not a timestamp with time zone MySQL holds")
	}
	secs := 0
	parts := strings.Split(off[1:], ":")
	if len(parts) > 3 {
		return "", fmt.Errorf("offset %q is not [+-]HH[:MM[:SS]]", off)
	}
	for i, p := range parts {
		n, ok := digits([]byte(p))
		if !ok || len(p) != 2 {
			return "", fmt.Errorf("offset %q is not [+-]HH[:MM[:SS]]", off)
		}
		secs += n * []int{3600, 60, 1}[i]
	}
	if secs == 0 {
		return base, nil
	}
	if off[0] == '-' {
		secs = -secs
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", base, time.UTC)
	if err != nil {
		return "", fmt.Errorf("not a timestamp: %w", err)
	}
	return t.Add(-time.Duration(secs) * time.Second).Format("2006-01-02 15:04:05.999999"), nil
}

// parsePgInterval reads an interval in IntervalStyle postgres
// ("-838:59:59", "100:00:00.5", "1 day -02:00:00") into microseconds. A
// value with months or years has no fixed length and is refused.
func parsePgInterval(s string) (int64, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return 0, fmt.Errorf("not an interval")
	}
	var total int64
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.Contains(f, ":") {
			us, err := parseClock(f)
			if err != nil {
				return 0, err
			}
			total += us
			continue
		}
		if i+1 >= len(fields) {
			return 0, fmt.Errorf("not an interval: %q has no unit", f)
		}
		neg, n, ok := parseIntText(f)
		if !ok || n > 1<<40 {
			return 0, fmt.Errorf("not an interval: %q", f)
		}
		i++
		switch strings.TrimSuffix(fields[i], "s") {
		case "day":
			if neg {
				total -= int64(n) * 86_400_000_000
			} else {
				total += int64(n) * 86_400_000_000
			}
		case "mon", "year":
			if n != 0 {
				return 0, fmt.Errorf("an interval with months or years has no fixed length; MySQL time holds hours, minutes and seconds")
			}
		default:
			return 0, fmt.Errorf("not an interval: unit %q", fields[i])
		}
	}
	return total, nil
}

// parseClock reads [+-]H+:MM:SS[.f{1,6}].
func parseClock(f string) (int64, error) {
	neg := false
	if f[0] == '-' || f[0] == '+' {
		neg, f = f[0] == '-', f[1:]
	}
	us, err := parseMySQLTime([]byte(f))
	if err != nil || strings.HasPrefix(f, "-") {
		// parseMySQLTime bounds hours at 838; a day count is separate.
		return 0, fmt.Errorf("not an interval's time %q", f)
	}
	if neg {
		us = -us
	}
	return us, nil
}

// formatMySQLTime formats microseconds as MySQL's [-]H:MM:SS[.ffffff].
func formatMySQLTime(us int64) string {
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	secs, frac := us/1_000_000, us%1_000_000
	s := fmt.Sprintf("%s%d:%02d:%02d", sign, secs/3600, secs/60%60, secs%60)
	if frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
	}
	return s
}

// fracDigits is how many of the 6 fractional digits of frac (0 < frac <
// 1e6) are significant.
func fracDigits(frac int64) int {
	return len(strings.TrimRight(fmt.Sprintf("%06d", max(frac, -frac)), "0"))
}

// fracDigitsText is the number of significant digits of a fraction's text.
func fracDigitsText(s string) int { return len(strings.TrimRight(s, "0")) }

// parseTextArray reads a one-dimensional text[] output ("{x,\"b c\"}"). A
// NULL element is refused: a MySQL set has none.
func parseTextArray(s string) ([]string, error) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("not an array")
	}
	body := s[1 : len(s)-1]
	out := []string{}
	if body == "" {
		return out, nil
	}
	for i := 0; ; {
		var b strings.Builder
		if i < len(body) && body[i] == '"' {
			i++
			for {
				if i >= len(body) {
					return nil, fmt.Errorf("not an array: unterminated quoted element")
				}
				ch := body[i]
				if ch == '\\' && i+1 < len(body) {
					b.WriteByte(body[i+1])
					i += 2
					continue
				}
				if ch == '"' {
					i++
					break
				}
				b.WriteByte(ch)
				i++
			}
		} else {
			j := i
			for j < len(body) && body[j] != ',' {
				if strings.IndexByte("{}\"\\", body[j]) >= 0 {
					return nil, fmt.Errorf("not a one-dimensional array")
				}
				j++
			}
			if body[i:j] == "NULL" {
				return nil, fmt.Errorf("a NULL element, which a MySQL set cannot hold")
			}
			b.WriteString(body[i:j])
			i = j
		}
		out = append(out, b.String())
		if i == len(body) {
			return out, nil
		}
		if body[i] != ',' {
			return nil, fmt.Errorf("not an array: expected a comma at %q", body[i:])
		}
		i++
	}
}

// decodeBytea reads bytea text output: hex (\x0a0b) or the escape format.
func decodeBytea(t []byte) ([]byte, error) {
	if len(t) >= 2 && t[0] == '\\' && t[1] == 'x' {
		out := make([]byte, hex.DecodedLen(len(t)-2))
		if _, err := hex.Decode(out, t[2:]); err != nil {
			return nil, fmt.Errorf("not bytea hex output: %w", err)
		}
		return out, nil
	}
	out := make([]byte, 0, len(t))
	for i := 0; i < len(t); i++ {
		if t[i] != '\\' {
			out = append(out, t[i])
			continue
		}
		switch {
		case i+1 < len(t) && t[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(t) && isOctal(t[i+1]) && isOctal(t[i+2]) && isOctal(t[i+3]) && t[i+1] <= '3':
			out = append(out, (t[i+1]-'0')<<6|(t[i+2]-'0')<<3|(t[i+3]-'0'))
			i += 3
		default:
			return nil, fmt.Errorf("not bytea output: a lone backslash")
		}
	}
	return out, nil
}

func isOctal(b byte) bool { return b >= '0' && b <= '7' }

// appendQuoted appends s as a MySQL string literal, with backslash escapes
// (the session's sql_mode has no NO_BACKSLASH_ESCAPES). Escaping byte by
// byte is safe in utf8mb4: no byte of a multi-byte character is a quote
// or a backslash.
func appendQuoted(dst, s []byte) []byte {
	dst = append(dst, '\'')
	start := 0
	for i, c := range s {
		var esc byte
		switch c {
		case 0:
			esc = '0'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		case '\\':
			esc = '\\'
		case '\'':
			esc = '\''
		case 0x1a:
			esc = 'Z'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '\'')
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
