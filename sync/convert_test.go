package sync

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// numericString renders a pgtype.Numeric as decimal text.
func numericString(t *testing.T, v any) string {
	t.Helper()
	n, ok := v.(pgtype.Numeric)
	require.True(t, ok, "not a pgtype.Numeric: %T", v)
	b, err := n.MarshalJSON()
	require.NoError(t, err)
	return string(b)
}

// convMap is a map with one column of each kind, for the converters.
func convMap(t testing.TB, p Policies) *TableMap {
	t.Helper()
	cols := []SourceColumn{
		{Name: "id", ColumnType: "int(11)", DataType: "int"},                                   // 0
		{Name: "ti", ColumnType: "tinyint(4)", DataType: "tinyint", Nullable: true},            // 1
		{Name: "tu", ColumnType: "tinyint(3) unsigned", DataType: "tinyint", Nullable: true},   // 2
		{Name: "su", ColumnType: "smallint(5) unsigned", DataType: "smallint", Nullable: true}, // 3
		{Name: "mu", ColumnType: "mediumint(8) unsigned", DataType: "mediumint", Nullable: true},
		{Name: "iu", ColumnType: "int(10) unsigned", DataType: "int", Nullable: true}, // 5
		{Name: "bi", ColumnType: "bigint(20)", DataType: "bigint", Nullable: true},    // 6
		{Name: "bu", ColumnType: "bigint(20) unsigned", DataType: "bigint", Nullable: true},
		{Name: "b1", ColumnType: "tinyint(1)", DataType: "tinyint", Nullable: true}, // 8
		{Name: "dec", ColumnType: "decimal(65,30)", DataType: "decimal", Precision: 65, Scale: 30, Nullable: true},
		{Name: "f", ColumnType: "float", DataType: "float", Nullable: true}, // 10
		{Name: "d", ColumnType: "double", DataType: "double", Nullable: true},
		{Name: "bit1", ColumnType: "bit(1)", DataType: "bit", Precision: 1, Nullable: true}, // 12
		{Name: "bit10", ColumnType: "bit(10)", DataType: "bit", Precision: 10, Nullable: true},
		{Name: "dt", ColumnType: "date", DataType: "date"}, // 14
		{Name: "dtm", ColumnType: "datetime(6)", DataType: "datetime", FSP: 6, Nullable: true},
		{Name: "ts", ColumnType: "timestamp(6)", DataType: "timestamp", FSP: 6, Nullable: true}, // 16
		{Name: "tm", ColumnType: "time(6)", DataType: "time", FSP: 6, Nullable: true},
		{Name: "yr", ColumnType: "year(4)", DataType: "year", Nullable: true}, // 18
		{Name: "vc", ColumnType: "varchar(10)", DataType: "varchar", CharLen: 10, Charset: "utf8mb4", Nullable: true},
		{Name: "l1", ColumnType: "varchar(10)", DataType: "varchar", CharLen: 10, Charset: "latin1", Nullable: true}, // 20
		{Name: "bl", ColumnType: "blob", DataType: "blob", Nullable: true},
		{Name: "en", ColumnType: "enum('a','b c')", DataType: "enum", Charset: "utf8mb4", Nullable: true}, // 22
		{Name: "st", ColumnType: "set('x','y','z')", DataType: "set", Charset: "utf8mb4", Nullable: true},
		{Name: "js", ColumnType: "json", DataType: "json", Nullable: true}, // 24
		{Name: "bn", ColumnType: "binary(4)", DataType: "binary", CharLen: 4, Nullable: true},
	}
	m, err := buildTableMap("db", config.Table{Name: "t"}, cols, []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}, p)
	require.NoError(t, err)
	return m
}

func TestAppendCopyText(t *testing.T) {
	m := convMap(t, Policies{})
	tests := []struct {
		name string
		col  int
		raw  []byte
		want string
	}{
		{"null", 1, nil, `\N`},
		{"tinyint min", 1, []byte("-128"), "-128"},
		{"bigint unsigned max", 7, []byte("18446744073709551615"), "18446744073709551615"},
		{"bool 0", 8, []byte("0"), "f"},
		{"bool 1", 8, []byte("1"), "t"},
		{"decimal", 9, []byte("-0.000000000000000000000000000001"), "-0.000000000000000000000000000001"},
		{"bit1", 12, []byte("1"), "t"},
		{"bit10", 13, []byte("0000000101"), "0000000101"},
		{"date", 14, []byte("2024-02-29"), "2024-02-29"},
		{"zero date", 14, []byte("0000-00-00"), `\N`},
		{"partial zero date", 14, []byte("2024-00-15"), `\N`},
		{"datetime 6 digits", 15, []byte("9999-12-31 23:59:59.999999"), "9999-12-31 23:59:59.999999"},
		{"zero datetime", 15, []byte("0000-00-00 00:00:00.000000"), `\N`},
		{"timestamp is utc", 16, []byte("2038-01-19 03:14:07.999999"), "2038-01-19 03:14:07.999999+00"},
		{"time negative", 17, []byte("-838:59:59.000000"), "-838:59:59.000000"},
		{"time over a day", 17, []byte("100:00:00.5"), "100:00:00.5"},
		{"year zero", 18, []byte("0000"), "0000"},
		{"text escapes", 19, []byte("a\tb\nc\\d\re"), `a\tb\nc\\d\re`},
		{"empty text", 19, []byte(""), ""},
		{"4-byte utf8", 19, []byte("😀𝄞"), "😀𝄞"},
		{"blob", 21, []byte{0, 1, 0xff}, `\\x0001ff`},
		{"empty blob", 21, []byte{}, `\\x`},
		{"enum", 22, []byte("b c"), "b c"},
		{"set", 23, []byte("x,z"), `{"x","z"}`},
		{"empty set", 23, []byte(""), "{}"},
		{"json", 24, []byte(`{"a": "\\n"}`), `{"a": "\\\\n"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.AppendCopyText([]byte("x"), tt.col, tt.raw)
			require.NoError(t, err)
			assert.Equal(t, "x"+tt.want, string(got))
		})
	}
}

func TestAppendCopyTextErrors(t *testing.T) {
	m := convMap(t, Policies{ZeroDates: ZeroDatesError})
	tests := []struct {
		name   string
		col    int
		raw    string
		reason string
	}{
		{"bool 2", 8, "2", "a tinyint(1) column mapped to boolean holds a value other than 0 or 1; map it to smallint with tables[].types: {b1: smallint}"},
		{"zero date error", 14, "0000-00-00", "zero date (zero_dates: error); set zero_dates: null to write NULL"},
		{"invalid date", 14, "2023-02-30", "not a valid date"},
		{"nul byte", 19, "a\x00b", "NUL byte in text, which PostgreSQL cannot store (nul_bytes: error); set nul_bytes: strip to remove them"},
		{"json nul escape", 24, `"\u0000"`, "NUL byte in text, which PostgreSQL cannot store (nul_bytes: error); set nul_bytes: strip to remove them"},
		{"bad utf8", 19, "\xff", "not valid UTF-8"},
		{"bad time", 17, "25:61:00", "not a time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.AppendCopyText(nil, tt.col, []byte(tt.raw))
			var ve *ValueError
			require.True(t, errors.As(err, &ve), "%v", err)
			assert.Equal(t, tt.reason, ve.Reason)
			assert.Equal(t, "t", ve.Table)
			assert.Equal(t, m.Columns[tt.col].Name, ve.Column)
			require.ErrorAs(t, m.WithKey(err, []any{int32(42)}), &ve)
			assert.Equal(t, "id=42", ve.Key)
			assert.Contains(t, ve.Error(), "table t key id=42: column "+m.Columns[tt.col].Name)
		})
	}
	strip := convMap(t, Policies{NulBytes: NulBytesStrip})
	got, err := strip.AppendCopyText(nil, 19, []byte("a\x00b\x00"))
	require.NoError(t, err)
	assert.Equal(t, "ab", string(got))
}

func TestFromBinlog(t *testing.T) {
	m := convMap(t, Policies{})
	us := func(h, mi, s, u int64) pgtype.Interval {
		return pgtype.Interval{Microseconds: ((h*60+mi)*60+s)*1e6 + u, Valid: true}
	}
	tests := []struct {
		name string
		col  int
		in   any
		want any
	}{
		{"null", 1, nil, nil},
		{"int min", 0, int32(math.MinInt32), int64(math.MinInt32)},
		{"tinyint", 1, int8(-128), int64(-128)},
		{"tinyint unsigned max", 2, int8(-1), int64(255)},
		{"smallint unsigned max", 3, int16(-1), int64(65535)},
		{"mediumint unsigned max", 4, int32(-1), int64(16777215)},
		{"int unsigned max", 5, int32(-1), int64(4294967295)},
		{"bigint min", 6, int64(math.MinInt64), int64(math.MinInt64)},
		{"bool", 8, int8(1), true},
		{"float", 10, float32(math.MaxFloat32), float32(math.MaxFloat32)},
		{"double", 11, -math.MaxFloat64, -math.MaxFloat64},
		{"bit1", 12, int64(1), true},
		{"bit10", 13, int64(0b1000000001), pgtype.Bits{Bytes: []byte{0b10000000, 0b01000000}, Len: 10, Valid: true}},
		{"date", 14, "2024-02-29", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"zero date", 14, "0000-00-00", nil},
		{"datetime", 15, "1000-01-01 00:00:00.000001", time.Date(1000, 1, 1, 0, 0, 0, 1000, time.UTC)},
		{"datetime parsed", 15, time.Date(2024, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600)), time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)},
		{"zero datetime", 15, "0000-00-00 00:00:00.000000", nil},
		{"partial zero datetime", 15, "2024-00-01 10:00:00", nil},
		{"timestamp string utc", 16, "1970-01-01 00:00:01.000000", time.Unix(1, 0).UTC()},
		{"time negative", 17, "-838:59:59.000000", us(-838, -59, -59, 0)},
		{"time fraction", 17, "-00:00:00.5", pgtype.Interval{Microseconds: -500000, Valid: true}},
		{"year", 18, 2155, int64(2155)},
		{"text", 19, "😀", "😀"},
		{"latin1", 20, "caf\xe9 \x80", "café €"},
		{"blob copied", 21, []byte{0, 1}, []byte{0, 1}},
		{"enum index", 22, int64(2), "b c"},
		{"enum invalid", 22, int64(0), ""},
		{"set mask", 23, int64(0b101), []string{"x", "z"}},
		{"empty set", 23, int64(0), []string{}},
		{"json", 24, `{"a":1}`, `{"a":1}`},
		{"json empty", 24, []byte{}, "null"},
		{"binary padded back", 25, "\xff\x00\xff", []byte{0xff, 0, 0xff, 0}},
		{"binary all zero", 25, "", []byte{0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.FromBinlog(tt.col, tt.in)
			require.NoError(t, err)
			if tm, ok := tt.want.(time.Time); ok {
				require.IsType(t, time.Time{}, got)
				assert.True(t, tm.Equal(got.(time.Time)), "%v != %v", tm, got)
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}
	got, err := m.FromBinlog(7, int64(-1))
	require.NoError(t, err)
	assert.Equal(t, "18446744073709551615", numericString(t, got))
	got, err = m.FromBinlog(9, "-12345678901234567890123456789012345.123456789012345678901234567890")
	require.NoError(t, err)
	assert.Equal(t, "-12345678901234567890123456789012345.123456789012345678901234567890", numericString(t, got))
}

func TestFromBinlogErrors(t *testing.T) {
	m := convMap(t, Policies{ZeroDates: ZeroDatesError})
	tests := []struct {
		name string
		col  int
		in   any
		want string
	}{
		{"bool 5", 8, int8(5), `table t key id=7: column b1: value "5": a tinyint(1) column mapped to boolean holds a value other than 0 or 1; map it to smallint with tables[].types: {b1: smallint}`},
		{"zero date", 14, "0000-00-00", `table t key id=7: column dt: value "0000-00-00": zero date (zero_dates: error); set zero_dates: null to write NULL`},
		{"wrong type", 0, "x", `table t key id=7: column id: value "x": unexpected string for int(11)`},
		{"enum beyond", 22, int64(3), "table t key id=7: column en: value 3: enum index beyond the 2 members"},
		{"set beyond", 23, int64(8), "table t key id=7: column st: value 8: set bits beyond the 3 members"},
		{"nul", 19, "a\x00", `table t key id=7: column vc: value "a\x00": NUL byte in text, which PostgreSQL cannot store (nul_bytes: error); set nul_bytes: strip to remove them`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.FromBinlog(tt.col, tt.in)
			require.Error(t, err)
			assert.EqualError(t, m.WithKey(err, []any{int32(7)}), tt.want)
		})
	}
}
