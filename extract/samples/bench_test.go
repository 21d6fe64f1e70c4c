package samples_test

import (
	"testing"

	"github.com/stranglerfig/strangler/extract/samples"
)

func BenchmarkAnalyze(b *testing.B) {
	recs := mixedRecords()
	b.ReportAllocs()
	for b.Loop() {
		samples.Analyze(recs)
	}
}
