package sync

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestBoundedName(t *testing.T) {
	long := strings.Repeat("orders_archive_", 6) // 90 bytes
	tests := []struct {
		name, in string
		same     bool // the name fits and is kept as it is
	}{
		{"short", "strangler_orders_1_r", true},
		{"exactly 63 bytes", strings.Repeat("a", 63), true},
		{"64 bytes", strings.Repeat("a", 64), false},
		{"long", long, false},
		{"multi-byte characters across the cut", strings.Repeat("é", 40), false},
		{"dots and quotes", `strangler_"sales"."orders".` + long, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := boundedName(tt.in)
			assert.LessOrEqual(t, len(got), maxIdent)
			assert.True(t, utf8.ValidString(got))
			if tt.same {
				assert.Equal(t, tt.in, got)
			} else {
				assert.NotEqual(t, tt.in, got)
				assert.Equal(t, got, boundedName(tt.in), "deterministic")
			}
			assert.LessOrEqual(t, len(pgIdent(got)), 2*maxIdent+2, "quoted, it stays one identifier")
		})
	}
}

// TestGeneratedNamesDistinct: names that share a long prefix stay apart
// once bounded, for every kind sync builds.
func TestGeneratedNamesDistinct(t *testing.T) {
	prefix := strings.Repeat("x", 60)
	seen := map[string]string{}
	for _, table := range []string{prefix + "_a", prefix + "_b", prefix + "_a.b"} {
		for _, gen := range []string{"1", "2"} {
			for _, name := range []string{
				"strangler_" + table + "_" + gen + "_r",
				"strangler_" + table + "_" + gen + "_k",
				"strangler_repair_" + table,
				table + "_status_enum",
			} {
				b := boundedName(name)
				assert.LessOrEqual(t, len(b), maxIdent, name)
				if other, dup := seen[b]; dup && other != name {
					t.Fatalf("%q and %q both become %q", other, name, b)
				}
				seen[b] = name
			}
		}
	}
}
