package pgident

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestName(t *testing.T) {
	long := strings.Repeat("a", 60)
	tests := []struct {
		name  string
		parts []string
		want  string // "" : only the bounds are checked
	}{
		{"short names are kept", []string{"orders", "status", "enum"}, "orders_status_enum"},
		{"exactly 63 bytes are kept", []string{strings.Repeat("b", 58), "enum"}, strings.Repeat("b", 58) + "_enum"},
		{"64 bytes are hashed", []string{strings.Repeat("b", 59), "enum"}, ""},
		{"multibyte cut", []string{strings.Repeat("é", 40)}, ""},
		{"quotes and dots", []string{`a"b.c` + long}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Name(tt.parts...)
			assert.LessOrEqual(t, len(got), MaxLen)
			assert.True(t, utf8.ValidString(got), "%q is not UTF-8", got)
			if tt.want != "" {
				assert.Equal(t, tt.want, got)
			}
			assert.Equal(t, got, Name(tt.parts...), "deterministic")
		})
	}
}

func TestNameDistinctForSharedPrefixes(t *testing.T) {
	prefix := strings.Repeat("customer_order_line_item_", 3) // 75 bytes
	seen := map[string][]string{}
	for _, parts := range [][]string{
		{prefix + "a", "enum"}, {prefix + "b", "enum"}, {prefix, "a_enum"}, {prefix + "a_enum"},
		{"strangler", prefix + "x"}, {"strangler", prefix + "y"},
		{"t", prefix + "é"}, {"t", prefix + "è"},
	} {
		got := Name(parts...)
		require.LessOrEqual(t, len(got), MaxLen, "%q", got)
		if other, dup := seen[got]; dup {
			t.Fatalf("%q and %q both give %q", other, parts, got)
		}
		seen[got] = parts
	}
}

func TestCheck(t *testing.T) {
	require.NoError(t, Check("table", strings.Repeat("x", 63)))
	err := Check("target table", strings.Repeat("x", 64))
	var tl *TooLongError
	require.True(t, errors.As(err, &tl))
	assert.Contains(t, err.Error(), "64 bytes")
	assert.Contains(t, err.Error(), "target table")
}

func TestQuote(t *testing.T) {
	assert.Equal(t, `"a""b.c"`, Quote(`a"b.c`))
}
