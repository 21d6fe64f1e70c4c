package recipes

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the recipe parser: it must never
// panic, every refusal must be a positioned *Errors naming the file, and
// every accepted recipe must yield an OpenAPI document.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(ordersRecipe)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(good))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.yaml", data)
		if err != nil {
			es := errorsOf(err)
			if len(es) == 0 {
				t.Fatalf("error is not a positioned recipe error: %v", err)
			}
			for _, e := range es {
				if !strings.HasPrefix(e.Error(), "fuzz.yaml:") || e.Line < 1 {
					t.Fatalf("error without file:line: %v", e)
				}
			}
			return
		}
		if r.Service == "" || len(r.Endpoints) == 0 {
			t.Fatal("accepted a recipe without service or endpoints")
		}
		if _, err := OpenAPI(r); err != nil {
			t.Fatalf("accepted recipe has no OpenAPI document: %v", err)
		}
	})
}
