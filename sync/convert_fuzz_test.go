package sync

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzAppendCopyText feeds arbitrary snapshot text to every column kind:
// no panic, errors are *ValueError, and a value never breaks out of its
// COPY field (no raw tab or newline).
func FuzzAppendCopyText(f *testing.F) {
	m := convMap(f, Policies{NulBytes: NulBytesStrip})
	f.Fuzz(func(t *testing.T, col uint8, raw []byte) {
		c := int(col) % len(m.Columns)
		out, err := m.AppendCopyText(nil, c, raw)
		if err != nil {
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, not *ValueError: %v", err, err)
			}
			return
		}
		if bytes.ContainsAny(out, "\t\n\r") {
			t.Fatalf("column %s: %q escapes its COPY field: %q", m.Columns[c].Name, raw, out)
		}
	})
}

// FuzzFromBinlog feeds arbitrary binlog values (as strings, bytes and
// integers) to every column kind: no panic, errors are *ValueError.
func FuzzFromBinlog(f *testing.F) {
	m := convMap(f, Policies{})
	f.Fuzz(func(t *testing.T, col uint8, s string, n int64) {
		c := int(col) % len(m.Columns)
		for _, v := range []any{s, []byte(s), n, int8(n), int16(n), int32(n), float32(n), float64(n), int(n)} {
			if _, err := m.FromBinlog(c, v); err != nil {
				var ve *ValueError
				if !errors.As(err, &ve) {
					t.Fatalf("error is %T, not *ValueError: %v", err, err)
				}
			}
		}
	})
}

// FuzzParseMySQLTime checks the TIME parser against its own bounds.
func FuzzParseMySQLTime(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		us, err := parseMySQLTime([]byte(s))
		if err != nil {
			return
		}
		const limit = (838*3600 + 59*60 + 59 + 1) * 1_000_000
		if us <= -limit || us >= limit {
			t.Fatalf("%q parsed to %d µs, beyond MySQL's TIME range", s, us)
		}
	})
}
