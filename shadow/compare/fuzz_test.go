package compare_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/stranglerfig/strangler/shadow/compare"
)

// fuzzComparers are the rule sets FuzzCompare checks: none, and most rules
// at once with small limits.
var fuzzComparers = func() []*compare.Comparer {
	var out []*compare.Comparer
	for _, r := range []compare.Rules{
		{},
		{
			Ignore:            []string{"$..ts", "$[2]", "$.*.x"},
			Sets:              []string{"$", "$[*]", "$..items:id", `$..s:"k"`},
			Tolerance:         map[string]float64{"$..p": 0.5, "$[0]": 1},
			Normalize:         []compare.Normalize{{Path: "$..n", Pattern: "number"}, {Pattern: "uuid"}},
			NullEqualsMissing: true,
			MaxDiffs:          3,
			MaxDepth:          5,
		},
	} {
		c, err := compare.Compile(r)
		if err != nil {
			panic(err)
		}
		out = append(out, c)
	}
	return out
}()

var loneSurrogate = regexp.MustCompile(`(?i)\\ud[89a-f]`)

func FuzzCompare(f *testing.F) {
	for _, s := range [][2]string{
		{`{"a":1,"b":[1,2,{"c":"x"}]}`, `{"b":[1,2,{"c":"y"}],"a":1.0}`},
		{`[1,2,3]`, `[3,2,1,0]`},
		{`{"items":[{"id":1,"p":1},{"id":2},{"id":2},{"v":1}]}`, `{"items":[{"id":2},{"id":1,"p":1.4},{"v":2}]}`},
		{`["\u00e9","\ud83d\ude00","\ud800"]`, `["é","😀","\uD800"]`},
		{`{"a":null,"ts":1,"n":"took 3 ms"}`, `{"ts":2,"n":"took 4 ms"}`},
		{`[[[[[[[1]]]]]]]`, `[[[[[[[2]]]]]]]`},
		{`1e400`, `10e399`},
		{`{"a":1`, `{"a":1}`},
		{"text\nline", "text\nline 2"},
		{"", "{}"},
		{`{"s":[{"k":1},{"k":1},{"z":0}]}`, `{"s":[{"k":"1"},{"k":1}]}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(fuzzOne)
}

func fuzzOne(t *testing.T, a, b []byte) {
	h := http.Header{"Content-Type": {"application/json"}}
	{
		ra, rb := compare.Response{Status: 200, Header: h, Body: a}, compare.Response{Status: 200, Header: h, Body: b}
		for _, c := range fuzzComparers {
			if !c.Compare(ra, ra, nil).Match() {
				t.Fatal("a body differs from itself")
			}
			checkMirrored(t, c.Compare(ra, rb, nil), c.Compare(rb, ra, nil))
			checkMirrored(t, c.Compare(typedBody("", a), typedBody("", b), nil), c.Compare(typedBody("", b), typedBody("", a), nil))
		}
		plain := fuzzComparers[0]
		// Validity agrees with encoding/json (which refuses nesting deeper
		// than 10000).
		if len(a) < 10000 && len(b) < 10000 {
			res := plain.Compare(ra, compare.Response{Status: 200, Header: h, Body: []byte("null")}, nil)
			invalid := len(res.Diffs) == 1 && res.Diffs[0].Kind == compare.KindInvalid
			if invalid == json.Valid(a) {
				t.Fatalf("json.Valid = %v, compare says invalid = %v: %+v", json.Valid(a), invalid, res)
			}
		}
		if !json.Valid(a) {
			return
		}
		// The same value written otherwise is equal.
		var indented bytes.Buffer
		if err := json.Indent(&indented, a, "", " "); err == nil {
			for _, c := range fuzzComparers {
				if res := c.Compare(ra, compare.Response{Status: 200, Header: h, Body: indented.Bytes()}, nil); !res.Match() {
					t.Fatalf("indented: %+v", res)
				}
			}
		}
		// So is what encoding/json writes of it, keys sorted and numbers
		// kept, when it has no bytes or escapes encoding/json replaces.
		if utf8.Valid(a) && !loneSurrogate.Match(a) && len(a) < 10000 {
			dec := json.NewDecoder(bytes.NewReader(a))
			dec.UseNumber()
			var v any
			if dec.Decode(&v) == nil {
				out, err := json.Marshal(v)
				if err == nil {
					if res := plain.Compare(ra, compare.Response{Status: 200, Header: h, Body: out}, nil); !res.Match() {
						t.Fatalf("re-encoded as %s: %+v", out, res)
					}
				}
			}
		}
	}
}

func typedBody(ct string, b []byte) compare.Response {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	return compare.Response{Status: 200, Header: h, Body: b}
}

// checkMirrored fails unless ba lists the diffs of ab mirrored: the same
// paths, A and B swapped, missing and added exchanged.
func checkMirrored(t *testing.T, ab, ba compare.Result) {
	t.Helper()
	if ab.More != ba.More || len(ab.Diffs) != len(ba.Diffs) {
		t.Fatalf("not mirrored:\n%+v\n%+v", ab, ba)
	}
	key := func(d compare.Diff) string { return fmt.Sprintf("%q %q %q %q", d.Path, d.Kind, d.A, d.B) }
	var x, y []string
	for i := range ab.Diffs {
		x = append(x, key(mirror(ab.Diffs[i])))
		y = append(y, key(ba.Diffs[i]))
		if ab.Diffs[i].Path != ba.Diffs[i].Path {
			t.Fatalf("paths in another order:\n%+v\n%+v", ab, ba)
		}
	}
	slices.Sort(x)
	slices.Sort(y)
	if !slices.Equal(x, y) {
		t.Fatalf("not mirrored:\n%+v\n%+v", ab, ba)
	}
}
