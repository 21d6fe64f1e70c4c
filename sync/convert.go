package sync

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// decoder turns text in a column's character set into UTF-8 (binlog values
// come in the column's charset; snapshot reads are converted by the server).
type decoder func([]byte) ([]byte, error)

// sourceIntRange is the range of a MySQL integer type.
func sourceIntRange(dt string, unsigned bool) (lo int64, hi uint64) {
	bits := map[string]uint{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64, "year": 16}[dt]
	if bits == 0 {
		bits = 64
	}
	if unsigned {
		return 0, 1<<bits - 1
	}
	return -1 << (bits - 1), 1<<(bits-1) - 1
}

// prepare fills what conversion needs beyond the mapping: the charset
// decoder and whether integer values need a range check.
func (c *Column) prepare() error {
	if c.Skip {
		return nil
	}
	if c.kind == kindText || c.kind == kindEnum || c.kind == kindSet {
		d, err := charsetDecoder(c.Charset)
		if err != nil {
			return err
		}
		c.dec = d
	}
	if c.kind == kindInt || c.kind == kindUint || c.kind == kindBool || c.kind == kindYear {
		lo, hi := sourceIntRange(c.DataType, c.Unsigned)
		tlo, thi, ok := targetIntRange(c.TargetType)
		c.intCheck = ok && (lo < tlo || hi > uint64(thi))
		if !ok {
			c.intMin, c.intMax = math.MinInt64, math.MaxInt64
		}
	}
	return nil
}

// valueErr builds a *ValueError for column col.
func (m *TableMap) valueErr(col int, v any, format string, args ...any) *ValueError {
	s := ""
	switch x := v.(type) {
	case []byte:
		s = strconv.Quote(string(x))
	case string:
		s = strconv.Quote(x)
	default:
		s = fmt.Sprint(x)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return &ValueError{Table: m.Name, Column: m.Columns[col].Name, Value: s, Reason: fmt.Sprintf(format, args...)}
}

// AppendCopyText appends the value of column col (an index into Columns)
// in PostgreSQL COPY text format: escaped, \N for NULL, no separators (the
// caller adds tabs and newlines). raw is the text form go-sql-driver
// returns for SelectSQL (nil = NULL), read in a session set up with
// SourceSessionSQL. Errors are *ValueError.
func (m *TableMap) AppendCopyText(dst []byte, col int, raw []byte) ([]byte, error) {
	if raw == nil {
		return append(dst, '\\', 'N'), nil
	}
	c := &m.Columns[col]
	switch c.kind {
	case kindInt, kindUint, kindYear:
		if !numberText(raw, false) {
			return dst, m.valueErr(col, raw, "not an integer")
		}
		if c.intCheck {
			if err := m.checkIntText(col, raw); err != nil {
				return dst, err
			}
		}
		return append(dst, raw...), nil
	case kindDecimal, kindDouble, kindFloat:
		if !numberText(raw, true) {
			return dst, m.valueErr(col, raw, "not a number")
		}
		return append(dst, raw...), nil
	case kindBool:
		switch string(raw) {
		case "0":
			return append(dst, 'f'), nil
		case "1":
			return append(dst, 't'), nil
		}
		return dst, m.valueErr(col, raw, "a %s column mapped to boolean holds a value other than 0 or 1; map it to smallint with tables[].types: {%s: smallint}", c.SourceType, c.Name)
	case kindBitBool:
		if c.bitAsInt {
			if !numberText(raw, false) {
				return dst, m.valueErr(col, raw, "not an integer")
			}
			return append(dst, raw...), nil
		}
		if len(raw) == 1 && (raw[0] == '0' || raw[0] == '1') {
			return append(dst, "ft"[raw[0]-'0']), nil
		}
		return dst, m.valueErr(col, raw, "not a bit(1) value")
	case kindBit:
		if c.bitAsInt {
			if !numberText(raw, false) {
				return dst, m.valueErr(col, raw, "not an integer")
			}
			return append(dst, raw...), nil
		}
		for _, b := range raw {
			if b != '0' && b != '1' {
				return dst, m.valueErr(col, raw, "not a bit string")
			}
		}
		return append(dst, raw...), nil
	case kindDate, kindDatetime, kindTimestamp:
		zero, err := checkDateText(raw, c.kind != kindDate)
		if err != nil {
			return dst, m.valueErr(col, raw, "%v", err)
		}
		if zero {
			if m.policies.ZeroDates == ZeroDatesError {
				return dst, m.valueErr(col, raw, "zero date (zero_dates: error); set zero_dates: null to write NULL")
			}
			return append(dst, '\\', 'N'), nil
		}
		dst = append(dst, raw...)
		if c.kind == kindTimestamp {
			dst = append(dst, "+00"...)
		}
		return dst, nil
	case kindTime:
		if _, err := parseMySQLTime(raw); err != nil {
			return dst, m.valueErr(col, raw, "%v", err)
		}
		return append(dst, raw...), nil
	case kindText, kindEnum, kindJSON:
		s, err := m.cleanText(col, raw)
		if err != nil {
			return dst, err
		}
		return appendCopyText(dst, s), nil
	case kindSet:
		s, err := m.cleanText(col, raw)
		if err != nil {
			return dst, err
		}
		if c.Overridden && !strings.HasSuffix(c.TargetType, "[]") {
			return appendCopyText(dst, s), nil
		}
		return appendCopyText(dst, appendArrayLiteral(nil, splitSet(s))), nil
	case kindBinary:
		dst = append(dst, `\\x`...)
		return hex.AppendEncode(dst, raw), nil
	}
	return dst, m.valueErr(col, raw, "no conversion for kind %s", c.kind)
}

// numberText reports whether raw looks like the text MySQL prints for a
// number: an optional sign, digits, and with real a point and an exponent.
// The server's text is trusted to be in range; this keeps anything else
// from reaching the COPY stream.
func numberText(raw []byte, real bool) bool {
	if len(raw) == 0 {
		return false
	}
	digits := 0
	for i, b := range raw {
		switch {
		case b >= '0' && b <= '9':
			digits++
		case (b == '-' || b == '+') && (i == 0 || real && (raw[i-1] == 'e' || raw[i-1] == 'E')):
		case real && (b == '.' || b == 'e' || b == 'E'):
		default:
			return false
		}
	}
	return digits > 0
}

// cleanText applies the NUL-byte policy and checks UTF-8 (and, for JSON,
// the \u0000 escape that jsonb refuses).
func (m *TableMap) cleanText(col int, s []byte) ([]byte, error) {
	if !utf8.Valid(s) {
		return nil, m.valueErr(col, s, "not valid UTF-8")
	}
	nul := bytes.IndexByte(s, 0) >= 0
	jnul := m.Columns[col].kind == kindJSON && bytes.Contains(s, []byte(`\u0000`))
	if !nul && !jnul {
		return s, nil
	}
	if m.policies.NulBytes == NulBytesError {
		return nil, m.valueErr(col, s, "NUL byte in text, which PostgreSQL cannot store (nul_bytes: error); set nul_bytes: strip to remove them")
	}
	if nul {
		s = bytes.ReplaceAll(s, []byte{0}, nil)
	}
	if jnul {
		s = bytes.ReplaceAll(s, []byte(`\u0000`), nil)
	}
	return s, nil
}

// appendCopyText escapes s for COPY text format.
func appendCopyText(dst, s []byte) []byte {
	for _, b := range s {
		switch b {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

// appendArrayLiteral writes a PostgreSQL text[] literal of quoted members.
func appendArrayLiteral(dst []byte, members []string) []byte {
	dst = append(dst, '{')
	for i, v := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		for j := 0; j < len(v); j++ {
			if v[j] == '"' || v[j] == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, v[j])
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func splitSet(s []byte) []string {
	if len(s) == 0 {
		return []string{}
	}
	return strings.Split(string(s), ",")
}

func (m *TableMap) checkIntText(col int, raw []byte) error {
	c := &m.Columns[col]
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		if u, uerr := strconv.ParseUint(string(raw), 10, 64); uerr == nil && u > math.MaxInt64 {
			return m.valueErr(col, raw, "out of range of %s", c.TargetType)
		}
		return m.valueErr(col, raw, "not an integer")
	}
	if n < c.intMin || n > c.intMax {
		return m.valueErr(col, raw, "out of range of %s", c.TargetType)
	}
	return nil
}

// checkDateText checks a MySQL date or datetime text form and reports a
// zero or partial zero date (year, month or day 0). Dates that PostgreSQL
// would refuse for other reasons (2023-02-30 under ALLOW_INVALID_DATES) are
// errors.
func checkDateText(raw []byte, withTime bool) (zero bool, err error) {
	if len(raw) < 10 || raw[4] != '-' || raw[7] != '-' {
		return false, fmt.Errorf("not a date")
	}
	y, ok1 := digits(raw[0:4])
	mo, ok2 := digits(raw[5:7])
	d, ok3 := digits(raw[8:10])
	if !ok1 || !ok2 || !ok3 {
		return false, fmt.Errorf("not a date")
	}
	if withTime {
		if len(raw) != 10 && (len(raw) < 19 || raw[10] != ' ' || raw[13] != ':' || raw[16] != ':') {
			return false, fmt.Errorf("not a date and time")
		}
		if len(raw) > 19 {
			if raw[19] != '.' || len(raw) > 26 || len(raw) == 20 {
				return false, fmt.Errorf("not a date and time")
			}
			if _, ok := digits(raw[20:]); !ok {
				return false, fmt.Errorf("not a date and time")
			}
		}
		if len(raw) >= 19 {
			h, ok1 := digits(raw[11:13])
			mi, ok2 := digits(raw[14:16])
			s, ok3 := digits(raw[17:19])
			if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || s > 59 {
				return false, fmt.Errorf("not a time of day")
			}
		}
	} else if len(raw) != 10 {
		return false, fmt.Errorf("not a date")
	}
	if y == 0 || mo == 0 || d == 0 {
		return true, nil
	}
	if mo > 12 || d > daysIn(y, mo) {
		return false, fmt.Errorf("not a valid date")
	}
	return false, nil
}

func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y, m int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseMySQLTime parses a MySQL TIME text form, [-]H+:MM:SS[.f{1,6}], into
// microseconds (negative and beyond 24 hours, up to 838:59:59).
func parseMySQLTime(raw []byte) (int64, error) {
	s := raw
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	i := bytes.IndexByte(s, ':')
	if i < 1 || i > 3 || len(s) < i+6 || s[i+3] != ':' {
		return 0, fmt.Errorf("not a time")
	}
	h, ok1 := digits(s[:i])
	mi, ok2 := digits(s[i+1 : i+3])
	sec, ok3 := digits(s[i+4 : i+6])
	if !ok1 || !ok2 || !ok3 || mi > 59 || sec > 59 || h > 838 {
		return 0, fmt.Errorf("not a time")
	}
	us := int64(0)
	if rest := s[i+6:]; len(rest) > 0 {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
			return 0, fmt.Errorf("not a time")
		}
		f, ok := digits(rest[1:])
		if !ok {
			return 0, fmt.Errorf("not a time")
		}
		for k := len(rest) - 1; k < 6; k++ {
			f *= 10
		}
		us = int64(f)
	}
	v := (int64(h)*3600+int64(mi)*60+int64(sec))*1_000_000 + us
	if neg {
		v = -v
	}
	return v, nil
}

// parseNumeric parses a decimal text form ("-12.50") into a pgtype.Numeric.
func parseNumeric(s string) (pgtype.Numeric, error) {
	t := s
	neg := false
	if len(t) > 0 && (t[0] == '-' || t[0] == '+') {
		neg, t = t[0] == '-', t[1:]
	}
	intPart, frac, _ := strings.Cut(t, ".")
	if intPart == "" && frac == "" {
		return pgtype.Numeric{}, fmt.Errorf("not a decimal")
	}
	for _, p := range []string{intPart, frac} {
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return pgtype.Numeric{}, fmt.Errorf("not a decimal")
			}
		}
	}
	n, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return pgtype.Numeric{}, fmt.Errorf("not a decimal")
	}
	if neg {
		n.Neg(n)
	}
	return pgtype.Numeric{Int: n, Exp: int32(-len(frac)), Valid: true}, nil
}
