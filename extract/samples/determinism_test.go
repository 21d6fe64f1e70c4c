package samples_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mixedRecords is traffic with something of everything: several templates,
// formats, conflicts, query parameters and notes.
func mixedRecords() []capture.Record {
	recs := shopRecords()
	for i := range 30 {
		recs = append(recs,
			get(fmt.Sprintf("/v2/products/item-%c%c?fields=sku", 'a'+i%26, 'a'+i/26), fmt.Sprintf(`{"sku":"S-%04d","slug":"item-%c%c","in_stock":%d,"released_on":"%02d/03/2024"}`, i, 'a'+i%26, 'a'+i/26, i%2, i%28+1)),
			get(fmt.Sprintf("/v2/products?cursor=c%d&sort=-price&filter[in_stock]=1", i), fmt.Sprintf(`{"items":[{"sku":"S-%04d","price":%d.5}],"pagination":{"nextCursor":"c%d","Total":"%d"}}`, i, i, i+1, 30+i%2)),
		)
	}
	return recs
}

func TestDeterministic(t *testing.T) {
	for name, recs := range map[string][]capture.Record{"shop": shopRecords(), "mixed": mixedRecords()} {
		t.Run(name, func(t *testing.T) {
			before, err := json.Marshal(recs)
			require.NoError(t, err)
			first, err := json.Marshal(samples.Analyze(recs))
			require.NoError(t, err)
			for range 20 {
				again, err := json.Marshal(samples.Analyze(recs))
				require.NoError(t, err)
				require.JSONEq(t, string(first), string(again))
				require.Equal(t, string(first), string(again))
			}
			after, _ := json.Marshal(recs)
			assert.Equal(t, string(before), string(after), "the records are left as they were")
		})
	}
}

func TestNoRecords(t *testing.T) {
	res := samples.Analyze(nil)
	assert.Equal(t, 0, res.Records)
	assert.Empty(t, res.Endpoints)
	assert.Equal(t, samples.Shape{}, res.Shape)
	assert.Empty(t, res.AllNotes())
}
