package sync

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// This file turns converted values into PostgreSQL COPY text fields. It
// does no I/O.

// applyCopyEscape appends s to dst escaped for the COPY text format:
// backslash, tab, newline and carriage return become backslash sequences.
func applyCopyEscape(dst, s []byte) []byte {
	start := 0
	for i, c := range s {
		var esc byte
		switch c {
		case '\\':
			esc = '\\'
		case '\t':
			esc = 't'
		case '\n':
			esc = 'n'
		case '\r':
			esc = 'r'
		default:
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// appendCopyValue appends v, a value returned by TableMap.FromBinlog, as one
// COPY text field for a target column of type oid. nil is \N. Common Go
// types are written directly; anything else goes through pgx's text
// encoder for the column's type.
func appendCopyValue(dst []byte, tm *pgtype.Map, oid uint32, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, '\\', 'N'), nil
	case string:
		return applyCopyEscape(dst, []byte(x)), nil
	case []byte:
		if x == nil {
			return append(dst, '\\', 'N'), nil
		}
		if oid == pgtype.ByteaOID {
			// \x hex form; its backslash is escaped for COPY.
			dst = append(dst, '\\', '\\', 'x')
			return hex.AppendEncode(dst, x), nil
		}
		return applyCopyEscape(dst, x), nil
	case json.RawMessage:
		return applyCopyEscape(dst, x), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case float64:
		return appendFloat(dst, x, 64), nil
	case float32:
		return appendFloat(dst, float64(x), 32), nil
	case bool:
		if oid == pgtype.BoolOID || oid == 0 {
			if x {
				return append(dst, 't'), nil
			}
			return append(dst, 'f'), nil
		}
		if x {
			return append(dst, '1'), nil
		}
		return append(dst, '0'), nil
	case time.Time:
		switch oid {
		case pgtype.DateOID:
			return x.AppendFormat(dst, "2006-01-02"), nil
		case pgtype.TimestamptzOID:
			return x.UTC().AppendFormat(dst, "2006-01-02 15:04:05.999999Z07:00"), nil
		default:
			return x.AppendFormat(dst, "2006-01-02 15:04:05.999999"), nil
		}
	}
	if tm == nil {
		return nil, fmt.Errorf("encoding %T for COPY: no type map", v)
	}
	start := len(dst)
	buf, err := tm.Encode(oid, pgtype.TextFormatCode, v, nil)
	if err != nil {
		return nil, fmt.Errorf("encoding %T for COPY (type oid %d): %w", v, oid, err)
	}
	if buf == nil {
		return append(dst[:start], '\\', 'N'), nil
	}
	return applyCopyEscape(dst, buf), nil
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}
