package sync

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// FromBinlog converts a value of column col (an index into Columns) as
// go-mysql's replication.RowsEvent decodes it into a value pgx sends for
// the column's TargetType (nil for NULL). The Go types it accepts:
//
//   - integers: int8/int16/int32/int64 as decoded (signed even for unsigned
//     columns: they are reinterpreted here by the column's width), int,
//     uint* too; -> int64, bool (tinyint(1)) or pgtype.Numeric (bigint
//     unsigned -> numeric(20,0))
//   - decimal: string, or a fmt.Stringer such as decimal.Decimal with
//     UseDecimal -> pgtype.Numeric
//   - float32/float64 -> float32/float64
//   - bit: int64 -> bool (bit(1)) or pgtype.Bits
//   - date, datetime: string "2006-01-02[ 15:04:05.999999]" (zero dates
//     "0000-00-00..." by the policy) or time.Time with ParseTime -> time.Time
//     in UTC holding the wall clock
//   - timestamp: string, which must be formatted in UTC (set the binlog
//     syncer's TimestampStringLocation to time.UTC), or time.Time -> time.Time
//   - time: string "[-]HHH:MM:SS[.ffffff]" -> pgtype.Interval
//   - year: int -> int64
//   - char/varchar/text/enum members: string or []byte in the column's
//     character set -> string in UTF-8, NUL bytes by the policy
//   - binary/blob: []byte or string -> []byte (a copy; binary(n) padded
//     back to n bytes with zeros, which the binlog drops)
//   - enum: int64 index (0 = the empty string) -> string
//   - set: int64 bitmask -> []string (text[]), or the comma-joined string when
//     overridden to text
//   - json: string or []byte -> string (raw JSON, sent as jsonb)
//
// Errors are *ValueError; use WithKey to add the row's key.
func (m *TableMap) FromBinlog(col int, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	c := &m.Columns[col]
	switch c.kind {
	case kindInt, kindUint, kindYear, kindBool:
		neg, u, ok := binlogInt(v, c.DataType, c.Unsigned)
		if !ok {
			return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
		}
		if c.kind == kindBool {
			if !neg && u <= 1 {
				return u == 1, nil
			}
			return nil, m.valueErr(col, intString(neg, u), "a %s column mapped to boolean holds a value other than 0 or 1; map it to smallint with tables[].types: {%s: smallint}", c.SourceType, c.Name)
		}
		if !neg && u > math.MaxInt64 {
			if _, _, isInt := targetIntRange(c.TargetType); isInt {
				return nil, m.valueErr(col, intString(neg, u), "out of range of %s", c.TargetType)
			}
			return pgtype.Numeric{Int: new(big.Int).SetUint64(u), Valid: true}, nil
		}
		n := int64(u)
		if neg {
			n = -int64(u)
		}
		if c.intCheck && (n < c.intMin || n > c.intMax) {
			return nil, m.valueErr(col, n, "out of range of %s", c.TargetType)
		}
		if _, _, isInt := targetIntRange(c.TargetType); !isInt && strings.HasPrefix(c.TargetType, "numeric") {
			return pgtype.Numeric{Int: big.NewInt(n), Valid: true}, nil
		}
		return n, nil
	case kindDecimal:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		case fmt.Stringer:
			s = x.String()
		default:
			return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
		}
		n, err := parseNumeric(s)
		if err != nil {
			return nil, m.valueErr(col, s, "%v", err)
		}
		return n, nil
	case kindFloat, kindDouble:
		switch x := v.(type) {
		case float32:
			if c.kind == kindDouble {
				return float64(x), nil
			}
			return x, nil
		case float64:
			if c.kind == kindFloat {
				return float32(x), nil
			}
			return x, nil
		}
		return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
	case kindBitBool, kindBit:
		neg, u, ok := binlogInt(v, "bigint", true)
		if !ok || neg {
			return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
		}
		if c.bitAsInt {
			if u > math.MaxInt64 {
				return pgtype.Numeric{Int: new(big.Int).SetUint64(u), Valid: true}, nil
			}
			return int64(u), nil
		}
		if c.kind == kindBitBool {
			if u > 1 {
				return nil, m.valueErr(col, u, "not a bit(1) value")
			}
			return u == 1, nil
		}
		n := int(c.Length)
		if n < 64 && u>>n != 0 {
			return nil, m.valueErr(col, u, "more than %d bits", n)
		}
		b := make([]byte, (n+7)/8)
		// Left-align the n bits in the byte slice, as pgtype.Bits wants.
		shifted := u << (64 - n)
		for i := range b {
			b[i] = byte(shifted >> (56 - 8*i))
		}
		return pgtype.Bits{Bytes: b, Len: int32(n), Valid: true}, nil
	case kindDate, kindDatetime, kindTimestamp:
		return m.binlogTime(col, v)
	case kindTime:
		s, ok := asString(v)
		if !ok {
			return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
		}
		us, err := parseMySQLTime([]byte(s))
		if err != nil {
			return nil, m.valueErr(col, s, "%v", err)
		}
		return pgtype.Interval{Microseconds: us, Valid: true}, nil
	case kindText, kindJSON:
		b, ok := asBytes(v)
		if !ok {
			return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
		}
		if c.dec != nil {
			d, err := c.dec(b)
			if err != nil {
				return nil, m.valueErr(col, b, "%v", err)
			}
			b = d
		}
		if c.kind == kindJSON && len(b) == 0 {
			// go-mysql gives an empty document for a JSON value stored empty
			// (INSERT IGNORE of NULL into NOT NULL): the JSON null literal.
			return "null", nil
		}
		b, err := m.cleanText(col, b)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	case kindBinary:
		b, ok := asBytes(v)
		if !ok {
			return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
		}
		out := append([]byte{}, b...)
		if c.DataType == "binary" && int64(len(out)) < c.Length {
			// The binlog drops binary(n)'s trailing zero padding; the
			// column's value, and the snapshot's, keeps it.
			out = append(out, make([]byte, c.Length-int64(len(out)))...)
		}
		return out, nil
	case kindEnum:
		if s, ok := asString(v); ok { // a text form, as some decoders give
			return s, nil
		}
		_, idx, ok := binlogInt(v, "bigint", true)
		if !ok {
			return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
		}
		if idx == 0 {
			return "", nil
		}
		if idx > uint64(len(c.Values)) {
			return nil, m.valueErr(col, idx, "enum index beyond the %d members", len(c.Values))
		}
		return c.Values[idx-1], nil
	case kindSet:
		var members []string
		if s, ok := asString(v); ok {
			members = splitSet([]byte(s))
		} else {
			_, mask, ok := binlogInt(v, "bigint", true)
			if !ok {
				return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
			}
			members = []string{}
			for i, name := range c.Values {
				if i < 64 && mask&(1<<i) != 0 {
					members = append(members, name)
				}
			}
			if len(c.Values) < 64 && mask>>len(c.Values) != 0 {
				return nil, m.valueErr(col, mask, "set bits beyond the %d members", len(c.Values))
			}
		}
		if c.Overridden && !strings.HasSuffix(c.TargetType, "[]") {
			return strings.Join(members, ","), nil
		}
		return members, nil
	}
	return nil, m.valueErr(col, v, "no conversion for kind %s", c.kind)
}

// binlogTime converts date, datetime and timestamp values.
func (m *TableMap) binlogTime(col int, v any) (any, error) {
	c := &m.Columns[col]
	switch x := v.(type) {
	case time.Time:
		if c.kind == kindTimestamp {
			return x.UTC(), nil
		}
		return time.Date(x.Year(), x.Month(), x.Day(), x.Hour(), x.Minute(), x.Second(), x.Nanosecond(), time.UTC), nil
	case string, []byte:
		s, _ := asString(x)
		zero, err := checkDateText([]byte(s), c.kind != kindDate)
		if err != nil {
			return nil, m.valueErr(col, s, "%v", err)
		}
		if zero {
			if m.policies.ZeroDates == ZeroDatesError {
				return nil, m.valueErr(col, s, "zero date (zero_dates: error); set zero_dates: null to write NULL")
			}
			return nil, nil
		}
		layout := "2006-01-02"
		if len(s) > 10 {
			layout = "2006-01-02 15:04:05"
			if len(s) > 19 {
				layout += "." + strings.Repeat("0", len(s)-20)
			}
		}
		t, err := time.ParseInLocation(layout, s, time.UTC)
		if err != nil {
			return nil, m.valueErr(col, s, "not a date: %v", err)
		}
		return t, nil
	}
	return nil, m.valueErr(col, v, "unexpected %T for %s", v, c.SourceType)
}

// binlogInt reads an integer as go-mysql decodes it and reinterprets signed
// values of unsigned columns by the column's width. It returns the sign and
// magnitude.
func binlogInt(v any, dataType string, unsigned bool) (neg bool, mag uint64, ok bool) {
	var n int64
	width := 64
	switch x := v.(type) {
	case int8:
		n, width = int64(x), 8
	case int16:
		n, width = int64(x), 16
	case int32:
		n, width = int64(x), 32
		if dataType == "mediumint" {
			width = 24
		}
	case int64:
		n = x
	case int:
		n = int64(x)
	case uint8:
		return false, uint64(x), true
	case uint16:
		return false, uint64(x), true
	case uint32:
		return false, uint64(x), true
	case uint64:
		return false, x, true
	case uint:
		return false, uint64(x), true
	default:
		return false, 0, false
	}
	if unsigned && n < 0 {
		if width == 64 {
			return false, uint64(n), true
		}
		return false, uint64(n) & (1<<width - 1), true
	}
	if n < 0 {
		return true, uint64(-n), true // -MinInt64 wraps to itself, which is its magnitude as uint64
	}
	return false, uint64(n), true
}

func intString(neg bool, u uint64) string {
	if neg {
		return "-" + strconv.FormatUint(u, 10)
	}
	return strconv.FormatUint(u, 10)
}

func asString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	}
	return "", false
}

func asBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return []byte(x), true
	case []byte:
		return x, true
	}
	return nil, false
}
