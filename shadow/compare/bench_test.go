package compare_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/shadow/compare"
	"github.com/stranglerfig/strangler/shadow/internal/comparebench/bodies"
)

func benchCompare(b *testing.B, rules compare.Rules, x, y []byte, match bool) {
	c := mustCompile(b, rules)
	ra, rb := jsonResp(string(x)), jsonResp(string(y))
	require.Equal(b, match, c.Compare(ra, rb, nil).Match())
	b.SetBytes(int64(len(x) + len(y)))
	b.ReportAllocs()
	for b.Loop() {
		c.Compare(ra, rb, nil)
	}
}

// baseline is what the comparer replaces: decoding both bodies into
// generic values and comparing those.
func baseline(b *testing.B, x, y []byte) {
	b.SetBytes(int64(len(x) + len(y)))
	b.ReportAllocs()
	for b.Loop() {
		var u, v any
		if json.Unmarshal(x, &u) != nil || json.Unmarshal(y, &v) != nil {
			b.Fatal("invalid JSON")
		}
		_ = reflect.DeepEqual(u, v)
	}
}

var (
	body1K   = bodies.Generate(1024)
	body100K = bodies.Generate(100 * 1024)
)

func BenchmarkCompare1KiBEqual(b *testing.B) {
	benchCompare(b, compare.Rules{}, body1K.A, body1K.Same, true)
}

func BenchmarkCompare1KiBEqualReordered(b *testing.B) {
	benchCompare(b, compare.Rules{}, body1K.A, body1K.Reordered, true)
}

func BenchmarkCompare1KiBDiffering(b *testing.B) {
	benchCompare(b, compare.Rules{}, body1K.A, body1K.Differing, false)
}

func BenchmarkCompare1KiBRules(b *testing.B) {
	benchCompare(b, bodies.Rules, body1K.A, body1K.Ruled, true)
}

func BenchmarkCompare100KiBEqual(b *testing.B) {
	benchCompare(b, compare.Rules{}, body100K.A, body100K.Same, true)
}

func BenchmarkCompare100KiBEqualReordered(b *testing.B) {
	benchCompare(b, compare.Rules{}, body100K.A, body100K.Reordered, true)
}

func BenchmarkCompare100KiBDiffering(b *testing.B) {
	benchCompare(b, compare.Rules{}, body100K.A, body100K.Differing, false)
}

func BenchmarkCompare100KiBRules(b *testing.B) {
	benchCompare(b, bodies.Rules, body100K.A, body100K.Ruled, true)
}

func BenchmarkBaseline1KiBEqual(b *testing.B)     { baseline(b, body1K.A, body1K.Same) }
func BenchmarkBaseline1KiBDiffering(b *testing.B) { baseline(b, body1K.A, body1K.Differing) }
func BenchmarkBaseline100KiBEqual(b *testing.B)   { baseline(b, body100K.A, body100K.Same) }
func BenchmarkBaseline100KiBDiffering(b *testing.B) {
	baseline(b, body100K.A, body100K.Differing)
}
