package sync

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendCopyValue(t *testing.T) {
	tm := pgtype.NewMap()
	ts := time.Date(2024, 2, 29, 23, 59, 59, 123456000, time.UTC)
	tests := []struct {
		name string
		oid  uint32
		v    any
		want string
	}{
		{"null", pgtype.TextOID, nil, `\N`},
		{"nil bytes are null", pgtype.ByteaOID, []byte(nil), `\N`},
		{"text with specials", pgtype.TextOID, "a\tb\nc\\d\re", `a\tb\nc\\d\re`},
		{"bytea as hex", pgtype.ByteaOID, []byte{0, 0xff, '\n'}, `\\x00ff0a`},
		{"bytes into text", pgtype.TextOID, []byte("x\ty"), `x\ty`},
		{"int64", pgtype.Int8OID, int64(math.MinInt64), "-9223372036854775808"},
		{"uint64", pgtype.NumericOID, uint64(math.MaxUint64), "18446744073709551615"},
		{"float64", pgtype.Float8OID, -2.25e-300, "-2.25e-300"},
		{"float32 keeps its digits", pgtype.Float4OID, float32(1.1), "1.1"},
		{"NaN", pgtype.Float8OID, math.NaN(), "NaN"},
		{"infinity", pgtype.Float8OID, math.Inf(-1), "-Infinity"},
		{"bool", pgtype.BoolOID, true, "t"},
		{"bool into a number", pgtype.Int2OID, false, "0"},
		{"date", pgtype.DateOID, ts, "2024-02-29"},
		{"timestamp", pgtype.TimestampOID, ts, "2024-02-29 23:59:59.123456"},
		{"timestamptz", pgtype.TimestamptzOID, ts, "2024-02-29 23:59:59.123456Z"},
		{"numeric through pgx", pgtype.NumericOID, pgtype.Numeric{Int: big.NewInt(-12345), Exp: -2, Valid: true}, "-123.45"},
		{"invalid numeric is null", pgtype.NumericOID, pgtype.Numeric{}, `\N`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := appendCopyValue([]byte("prefix|"), tm, tt.oid, tt.v)
			require.NoError(t, err)
			assert.Equal(t, "prefix|"+tt.want, string(got))
		})
	}
	t.Run("a value pgx cannot encode is an error naming its type", func(t *testing.T) {
		_, err := appendCopyValue(nil, tm, pgtype.Int8OID, struct{ X int }{1})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "struct")
	})
}

// unescapeCopy reverses the COPY text escaping of one field.
func unescapeCopy(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// FuzzApplyCopyEscape checks that an escaped field holds no raw separator
// and unescapes to its input.
func FuzzApplyCopyEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "a\tb", "line\nline", `back\slash`, "\r\n\t\\", "naïve ☃"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(applyCopyEscape(nil, []byte(s)))
		if strings.ContainsAny(got, "\t\n\r") {
			t.Fatalf("escaped %q still holds a separator: %q", s, got)
		}
		if back := unescapeCopy(got); back != s {
			t.Fatalf("round trip of %q gave %q via %q", s, back, got)
		}
	})
}

// unescapeMySQLLiteral reverses escapeMySQLString.
func unescapeMySQLLiteral(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '0':
			b.WriteByte(0)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'Z':
			b.WriteByte(0x1a)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// FuzzMySQLKeyLiteral checks the snapshot's key literals: a quoted string
// never ends early and reads back as the key; a bare literal is a number.
func FuzzMySQLKeyLiteral(f *testing.F) {
	for _, s := range []string{"42", "-1.5e3", "abc", "it's", `a\'b`, "\x00\x1a", "1 OR 1=1", "9e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit := mysqlLiteral(Column{DataType: "bigint"}, s)
		if !strings.HasPrefix(lit, "'") {
			if !isNumericLiteral(s) || lit != s {
				t.Fatalf("bare literal %q for %q", lit, s)
			}
			return
		}
		inner := lit[1 : len(lit)-1]
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' {
				i++
				continue
			}
			if inner[i] == '\'' {
				t.Fatalf("quote not escaped in %q", lit)
			}
		}
		if back := unescapeMySQLLiteral(inner); back != s {
			t.Fatalf("literal %q reads back as %q, want %q", lit, back, s)
		}
	})
}
