package compare_test

import (
	"fmt"
	"net/http"

	"github.com/stranglerfig/strangler/shadow/compare"
)

func Example() {
	c, err := compare.Compile(compare.Rules{
		Ignore:    []string{"$.meta.request_id"},
		Sets:      []string{"$.items:id"},
		Tolerance: map[string]float64{"$.total": 0.01},
		Normalize: []compare.Normalize{{Path: "$.placed_at", Pattern: "timestamp"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := http.Header{"Content-Type": {"application/json"}}
	legacy := compare.Response{Status: 200, Header: h, Body: []byte(`{
		"meta": {"request_id": "a1"},
		"placed_at": "2024-05-01T10:00:00Z",
		"items": [{"id": 1, "qty": 2}, {"id": 2, "qty": 1}],
		"total": 10.00
	}`)}
	target := compare.Response{Status: 200, Header: h, Body: []byte(`{"total":10.004,"items":[{"id":2,"qty":3},{"id":1,"qty":2},{"id":3,"qty":1}],
		"placed_at":"2024-05-01T10:00:00.123Z","meta":{"request_id":"b2"}}`)}
	res := c.Compare(legacy, target, nil)
	for _, d := range res.Diffs {
		fmt.Printf("%s %s %q %q\n", d.Path, d.Kind, d.A, d.B)
	}
	fmt.Println("match:", res.Match())
	// Output:
	// $.items[id=2].qty changed "1" "3"
	// $.items[id=3] added "" "{\"id\":3,\"qty\":1}"
	// match: false
}

func ExampleGeneralize() {
	fmt.Println(compare.Generalize("$.items[3].price"))
	fmt.Println(compare.Generalize("$.items[id=42].tags[#0]"))
	// Output:
	// $.items[*].price
	// $.items[*].tags[*]
}

func ExampleCompile_errors() {
	_, err := compare.Compile(compare.Rules{
		Ignore:    []string{"$.a["},
		Tolerance: map[string]float64{"$.x": -1},
	})
	fmt.Println(err)
	// Output:
	// ignore[0] "$.a[": unclosed bracket
	// tolerance "$.x": must be >= 0
}
