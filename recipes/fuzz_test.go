package recipes

import (
	"os"
	"strconv"
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
	composite, err := os.ReadFile(compositeRecipe)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(composite)
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

// FuzzRewriteParams feeds arbitrary SQL to the :name rewriter: it must
// never panic, bind only declared parameters, and number them $1..$n in
// order of first use.
func FuzzRewriteParams(f *testing.F) {
	f.Add("select * from t where a = :a and b = :b and c = :a")
	f.Add("select ':a', \":b\", x::text, $$ -- :c\n from t /* :d */ where e = :e")
	f.Add("select :")
	f.Add("'unterminated :a")
	declared := map[string]bool{"a": true, "b": true, "e": true}
	f.Fuzz(func(t *testing.T, sql string) {
		out, order, err := rewriteParams(sql, declared)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, name := range order {
			if !declared[name] || seen[name] {
				t.Fatalf("order %v binds %q undeclared or twice", order, name)
			}
			seen[name] = true
		}
		for i := len(order) + 1; i <= len(order)+2; i++ {
			if strings.Contains(out, "$"+strconv.Itoa(i)+" ") && !strings.Contains(sql, "$"+strconv.Itoa(i)) {
				t.Fatalf("placeholder $%d beyond the %d parameters: %s", i, len(order), out)
			}
		}
	})
}
