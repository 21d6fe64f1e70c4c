package sync

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendMySQLLiteral: PostgreSQL's text output of each target type back
// to a literal of the column's MySQL type, exactly, and the values MySQL
// could not store exactly refused with the table, column and value named.
func TestAppendMySQLLiteral(t *testing.T) {
	m := convMap(t, Policies{})
	const null = "\x00NULL"
	tests := []struct {
		name, col, text string
		want            string // the literal; "" when err is set
		err             string
	}{
		{"int", "id", "42", "42", ""},
		{"tinyint min", "ti", "-128", "-128", ""},
		{"tinyint beyond", "ti", "128", "", `column ti: value "128": out of range of MySQL tinyint(4)`},
		{"tinyint unsigned max", "tu", "255", "255", ""},
		{"tinyint unsigned negative", "tu", "-1", "", "out of range of MySQL tinyint(3) unsigned"},
		{"smallint unsigned max", "su", "65535", "65535", ""},
		{"mediumint unsigned beyond", "mu", "16777216", "", "out of range"},
		{"int unsigned max", "iu", "4294967295", "4294967295", ""},
		{"bigint min", "bi", "-9223372036854775808", "-9223372036854775808", ""},
		{"bigint unsigned max from numeric(20,0)", "bu", "18446744073709551615", "18446744073709551615", ""},
		{"bigint unsigned beyond", "bu", "18446744073709551616", "", "out of range of MySQL bigint(20) unsigned"},
		{"not an integer", "id", "4.5", "", "not an integer"},
		{"boolean true", "b1", "t", "1", ""},
		{"boolean false", "b1", "f", "0", ""},
		{"boolean garbage", "b1", "yes", "", "not a boolean"},
		{"decimal 65,30", "dec", "-99999999999999999999999999999999999.999999999999999999999999999999",
			"-99999999999999999999999999999999999.999999999999999999999999999999", ""},
		{"decimal with trailing zeros", "dec", "1.500000000000000000000000000000", "1.500000000000000000000000000000", ""},
		{"decimal finer than its scale", "dec", "0.0000000000000000000000000000001", "", "31 fraction digits, more than the 30 of decimal(65,30)"},
		{"decimal wider than its precision", "dec", "123456789012345678901234567890123456", "", "36 integer digits, more than the 35"},
		{"decimal NaN", "dec", "NaN", "", "MySQL holds no NaN or infinity"},
		{"float max, its float32 value exactly", "f", "3.4028235e+38", "3.4028234663852886e+38", ""},
		{"float 0.1, its float32 value exactly", "f", "0.1", "0.10000000149011612e0", ""},
		{"float NaN", "f", "NaN", "", "not a finite number"},
		{"double max", "d", "1.7976931348623157e+308", "1.7976931348623157e+308", ""},
		{"double 0.1 as an approximate literal", "d", "0.1", "0.1e0", ""},
		{"double minus infinity", "d", "-Infinity", "", "not a finite number"},
		{"bit(1) true", "bit1", "t", "b'1'", ""},
		{"bit(1) false", "bit1", "f", "b'0'", ""},
		{"bit(10)", "bit10", "0101010101", "b'0101010101'", ""},
		{"bit(10) not bits", "bit10", "0121", "", "not a bit string of at most 10 bits"},
		{"bit(10) too long", "bit10", "01010101011", "", "not a bit string"},
		{"date", "dt", "2024-02-29", "'2024-02-29'", ""},
		{"date that does not exist", "dt", "2023-02-29", "", "not a valid date"},
		{"date BC", "dt", "0044-03-15 BC", "", "no BC dates"},
		{"date infinity", "dt", "infinity", "", "no infinity"},
		{"NULL of a NOT NULL date is the zero date again", "dt", null, "'0000-00-00'", ""},
		{"datetime(6) max", "dtm", "9999-12-31 23:59:59.999999", "'9999-12-31 23:59:59.999999'", ""},
		{"datetime without fraction", "dtm", "2024-05-06 07:08:09", "'2024-05-06 07:08:09'", ""},
		{"datetime infinity", "dtm", "-infinity", "", "not a date and time MySQL holds"},
		{"datetime NULL", "dtm", null, "NULL", ""},
		{"timestamp in UTC", "ts", "2038-01-19 03:14:07.999999+00", "'2038-01-19 03:14:07.999999'", ""},
		{"timestamp with an offset", "ts", "2024-01-01 02:00:00.5+02", "'2024-01-01 00:00:00.5'", ""},
		{"timestamp with a minutes offset", "ts", "2024-01-01 00:00:00-05:30", "'2024-01-01 05:30:00'", ""},
		{"timestamp without offset", "ts", "2024-01-01 00:00:00", "", "no offset"},
		{"time negative", "tm", "-838:59:59", "'-838:59:59'", ""},
		{"time beyond a day", "tm", "100:00:00.5", "'100:00:00.5'", ""},
		{"time of days and hours", "tm", "1 day 02:00:00", "'26:00:00'", ""},
		{"time of negative days", "tm", "-1 days +02:00:00", "'-22:00:00'", ""},
		{"time zero", "tm", "00:00:00", "'0:00:00'", ""},
		{"time beyond MySQL's range", "tm", "34 days 23:00:00", "", "beyond MySQL's time range"},
		{"time in months", "tm", "1 mon", "", "months or years has no fixed length"},
		{"year max", "yr", "2155", "2155", ""},
		{"year zero", "yr", "0", "0", ""},
		{"year a two-digit year would misread", "yr", "5", "", "not a MySQL year"},
		{"text with quotes, backslashes, newlines", "vc", "it's \\ a\nb\r\x1a", `'it\'s \\ a\nb\r\Z'`, ""},
		{"text in latin1 is sent as UTF-8", "l1", "café €", "'café €'", ""},
		{"text not UTF-8", "vc", "\xff", "", "not valid UTF-8"},
		{"bytea hex", "bl", `\x00ff27`, "X'00ff27'", ""},
		{"bytea empty", "bl", `\x`, "X''", ""},
		{"bytea escape format", "bl", `a\\b\001`, "X'615c6201'", ""},
		{"bytea bad hex", "bl", `\xzz`, "", "not bytea hex output"},
		{"binary(4) holds 4 bytes", "bn", `\xff00ff00`, "X'ff00ff00'", ""},
		{"binary(4) of 5 bytes", "bn", `\x0102030405`, "", "5 bytes, longer than the binary(4) column"},
		{"enum member", "en", "b c", "'b c'", ""},
		{"enum empty string", "en", "", "''", ""},
		{"enum non-member", "en", "c", "", "not a member of enum('a','b c')"},
		{"set", "st", "{x,z}", "'x,z'", ""},
		{"set empty", "st", "{}", "''", ""},
		{"set quoted member", "st", `{"x",y}`, "'x,y'", ""},
		{"set non-member", "st", "{q}", "", `"q" is not a member of set('x','y','z')`},
		{"set NULL member", "st", "{x,NULL}", "", "a NULL element"},
		{"json", "js", `{"a": [1, 2.50, "é"]}`, `'{"a": [1, 2.50, "é"]}'`, ""},
		{"NULL of a NOT NULL column", "id", null, "", "NULL for a NOT NULL column"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			col := m.columnIndex(tc.col)
			require.GreaterOrEqual(t, col, 0, tc.col)
			got, err := m.AppendMySQLLiteral(nil, col, []byte(tc.text), tc.text == null)
			if tc.err != "" {
				require.Error(t, err)
				var ve *ValueError
				require.True(t, errors.As(err, &ve), "a *ValueError: %v", err)
				assert.Contains(t, err.Error(), "table t: column "+tc.col)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(got))
			assert.True(t, literalWellFormed(got), "a well-formed literal: %s", got)
		})
	}
}

// literalWellFormed reports whether lit is one MySQL literal: a quoted
// string whose quotes inside are escaped, X'hex', b'bits', NULL or a
// number.
func literalWellFormed(lit []byte) bool {
	s := string(lit)
	switch {
	case s == "NULL":
		return true
	case strings.HasPrefix(s, "X'") || strings.HasPrefix(s, "b'"):
		return strings.HasSuffix(s, "'") && !strings.ContainsAny(s[2:len(s)-1], `'\`)
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return false
		}
		body := s[1 : len(s)-1]
		for i := 0; i < len(body); i++ {
			switch body[i] {
			case '\\':
				i++
				if i == len(body) {
					return false
				}
			case '\'':
				return false
			}
		}
		return true
	}
	return s != "" && strings.Trim(s, "0123456789+-.eE") == ""
}

func TestParsePgInterval(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"00:00:00", 0, false},
		{"838:59:59", 3020399 * 1_000_000, false},
		{"-00:00:00.000001", -1, false},
		{"1 day", 86_400_000_000, false},
		{"2 days -01:00:00", 47 * 3600 * 1_000_000, false},
		{"0 years 0 mons 3 days", 3 * 86_400_000_000, false},
		{"1 year", 0, true},
		{"3", 0, true},
		{"x days", 0, true},
		{"1 fortnight", 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePgInterval(tc.in)
			if tc.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// FuzzAppendMySQLLiteral feeds arbitrary text to every column kind: no
// panic, errors are *ValueError, and the result is one well-formed literal
// (nothing breaks out of its quotes).
func FuzzAppendMySQLLiteral(f *testing.F) {
	m := convMap(f, Policies{})
	for _, s := range []string{"42", "-128", "t", "3.4028235e+38", "2024-02-29", "2038-01-19 03:14:07.999999+00",
		"-1 days +02:00:00", `\x00ff`, `a\\b\001`, "{x,\"y\"}", "it's \\", "0101", "NaN"} {
		f.Add(uint8(0), s)
	}
	f.Fuzz(func(t *testing.T, col uint8, s string) {
		c := int(col) % len(m.Columns)
		out, err := m.AppendMySQLLiteral(nil, c, []byte(s), false)
		if err != nil {
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, not *ValueError: %v", err, err)
			}
			return
		}
		if !literalWellFormed(out) {
			t.Fatalf("column %s: %q gave %q, not one literal", m.Columns[c].Name, s, out)
		}
	})
}

func TestEvalLegacyWrites(t *testing.T) {
	tests := []struct {
		name    string
		grants  []string
		ok      bool
		missing string
	}{
		{"all on everything", []string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"}, true, ""},
		{"on the database", []string{"GRANT USAGE ON *.* TO `sync`@`%`", "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `shop`.* TO `sync`@`%`"}, true, ""},
		{"an escaped underscore", []string{"GRANT ALL PRIVILEGES ON `my\\_shop`.* TO `sync`@`%`"}, true, ""},
		{"read only", []string{"GRANT SELECT, REPLICATION SLAVE ON *.* TO `sync`@`%`"}, false, "INSERT, UPDATE, DELETE, CREATE missing"},
		{"another database", []string{"GRANT ALL PRIVILEGES ON `crm`.* TO `sync`@`%`"}, false, "SELECT, INSERT, UPDATE, DELETE, CREATE missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			schema := "shop"
			if tc.name == "an escaped underscore" {
				schema = "my_shop"
			}
			c := evalLegacyWrites(tc.grants, schema, "sync@%")
			assert.Equal(t, tc.ok, c.OK, c.Observed)
			if !tc.ok {
				assert.Contains(t, c.Observed, tc.missing)
				assert.Equal(t, "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE ON `shop`.* TO 'sync'@'%';", c.Fix)
			}
		})
	}
}
