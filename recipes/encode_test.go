package recipes

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRecipes returns every recipe file of the repository that parses, by
// name: the legacy shop's, the ones under testdata, the seeds of FuzzParse
// and the small recipe the parse tests break.
func repoRecipes(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{"good": []byte(good)}
	files, err := filepath.Glob("../testdata/legacyshop/recipes/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		out[f] = data
	}
	err = filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch {
		case strings.HasSuffix(path, ".yaml"):
			out[path] = data
		case strings.Contains(path, "FuzzParse"):
			// go test fuzz v1, then one []byte("...") line
			_, arg, ok := strings.Cut(string(data), "[]byte(")
			if s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimSpace(arg), ")")); ok && err == nil {
				out[path] = []byte(s)
			}
		}
		return nil
	})
	require.NoError(t, err)
	for name, data := range out {
		if _, err := Parse(name, data); err != nil {
			delete(out, name)
		}
	}
	return out
}

// diffExported returns the first difference between a and b in exported
// fields, with its path, or "" when they are equal. The File of a Recipe
// and every unexported field (positions, compiled patterns and rules) are
// ignored: they are not part of what a recipe file says.
func diffExported(a, b reflect.Value, path string) string {
	if a.Kind() != b.Kind() {
		return fmt.Sprintf("%s: kind %s != %s", path, a.Kind(), b.Kind())
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return fmt.Sprintf("%s: nil %v != nil %v", path, a.IsNil(), b.IsNil())
			}
			return ""
		}
		return diffExported(a.Elem(), b.Elem(), path)
	case reflect.Struct:
		for i := range a.NumField() {
			sf := a.Type().Field(i)
			if !sf.IsExported() || (a.Type() == reflect.TypeFor[Recipe]() && sf.Name == "File") {
				continue
			}
			if d := diffExported(a.Field(i), b.Field(i), path+"."+sf.Name); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return fmt.Sprintf("%s: %#v != %#v", path, a.Interface(), b.Interface())
		}
		for i := range a.Len() {
			if d := diffExported(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		return fmt.Sprintf("%s: %#v != %#v", path, a.Interface(), b.Interface())
	}
	return ""
}

// roundTrip encodes r, parses the result and checks that it is r again
// and that encoding it again gives the same bytes; it returns the bytes.
func roundTrip(t *testing.T, r *Recipe, opts EncodeOptions) []byte {
	t.Helper()
	out, err := EncodeWith(r, opts)
	require.NoError(t, err)
	back, err := Parse("encoded.yaml", out)
	require.NoError(t, err, "the encoded recipe does not parse:\n%s", out)
	if d := diffExported(reflect.ValueOf(r).Elem(), reflect.ValueOf(back).Elem(), "recipe"); d != "" {
		t.Fatalf("parsed back differently: %s\n%s", d, out)
	}
	again, err := Encode(back)
	require.NoError(t, err)
	plain, err := Encode(r)
	require.NoError(t, err)
	require.Equal(t, string(plain), string(again), "encoding is not idempotent")
	return out
}

func TestEncodeRepoRecipes(t *testing.T) {
	recipes := repoRecipes(t)
	for _, name := range []string{"../testdata/legacyshop/recipes/orders.yaml", "../testdata/legacyshop/recipes/catalog.yaml", "testdata/recipes/formats.yaml", "testdata/recipes/composite.yaml"} {
		require.Contains(t, recipes, name)
	}
	for name, data := range recipes {
		t.Run(name, func(t *testing.T) {
			r, err := Parse(name, data)
			require.NoError(t, err)
			out := roundTrip(t, r, EncodeOptions{})
			second, err := Encode(r)
			require.NoError(t, err)
			assert.Equal(t, string(out), string(second), "two calls differ")
		})
	}
}

// TestEncodeShort checks that what an extracted recipe leaves unset, or
// sets to its default, is not written: the recipe reads as one written by
// hand.
func TestEncodeShort(t *testing.T) {
	four := 40
	r := &Recipe{
		Service: "orders",
		Version: "", // unset: 1.0.0
		Shape:   Shape{Casing: "camel", Pagination: "offset", MaxLimit: 100},
		Resources: []Resource{{
			Name: "order", Table: "orders", Schema: "public", Key: "id",
			Fields: []Field{
				{Name: "id", Type: TypeInteger, Generated: true, ReadOnly: true, Column: "id", JSON: "id"},
				{Name: "customer_id", Type: TypeInteger, JSON: "customerId", Scale: 0, Precision: 0},
				{Name: "total", Type: TypeDecimal, Scale: 0, Precision: 10},
				{Name: "tax", Type: TypeDecimal, Scale: 2, Precision: 18},
				{Name: "code", Type: TypeString, JSON: "the_code", MaxLength: &four, Enum: []string{}},
			},
			Relations: []Relation{{Name: "lines", Resource: "order", Field: "customer_id", Kind: "one", JSON: "lines"}},
			Rules:     []Rule{{Expr: "self.total >= 0", Message: "rule broken: self.total >= 0"}},
		}},
		Endpoints: []Endpoint{
			{Name: "listOrder", Method: "GET", Path: "/orders", Resource: "order", Action: ActionList, Filters: []string{}},
			{Name: "one", Method: "GET", Path: "/orders/{id}", Resource: "order", Action: ActionGet},
		},
	}
	out, err := Encode(r)
	require.NoError(t, err)
	assert.Equal(t, `service: orders
shape:
  casing: camel
resources:
  - name: order
    table: orders
    fields:
      - {name: id, type: integer, generated: true}
      - {name: customer_id, type: integer}
      - {name: total, type: decimal, scale: 0, precision: 10}
      - {name: tax, type: decimal}
      - {name: code, json: the_code, type: string, max_length: 40}
    relations:
      - {name: lines, resource: order, field: customer_id}
    rules:
      - expr: self.total >= 0
endpoints:
  - {method: GET, path: /orders, resource: order, action: list}
  - {name: one, method: GET, path: '/orders/{id}', resource: order, action: get}
`, string(out))
	back, err := Parse("short.yaml", out)
	require.NoError(t, err)
	assert.Equal(t, "1.0.0", back.Version)
	assert.Equal(t, 0, back.Resources[0].Fields[2].Scale, "a decimal's scale 0 is kept")
	assert.Equal(t, 2, back.Resources[0].Fields[1].Scale, "an integer has the default scale")
	assert.Equal(t, "customerId", back.Resources[0].Fields[1].JSON)
}

// TestEncodeKeepsSetValues checks the values that look like defaults but
// are not: an empty meta list, cursor meta members, explicit names.
func TestEncodeKeepsSetValues(t *testing.T) {
	for _, tc := range []struct {
		name, edit, want string
	}{
		{"empty meta", "meta: [total]", "meta: []"},
		{"meta with every offset member", "meta: [total]", "meta: [limit, offset, total]"},
		{"json unlike the casing", "- {name: vip, type: boolean, default: \"false\"}", "- {name: vip, json: VIP, type: boolean, default: \"false\"}"},
		{"table unlike the name", "table: customers", "table: customer_rows"},
		{"message unlike the default", "message: a shipped order must have a positive total", "message: 'rule broken: x'"},
		{"read_only without generated", "", "read_only: true"},
		{"minimum zero", "", "minimum: 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := loadRecipe(t, func(s string) string {
				if tc.edit == "" {
					return s
				}
				require.Contains(t, s, tc.edit)
				return strings.Replace(s, tc.edit, tc.want, 1)
			})
			out := roundTrip(t, r, EncodeOptions{})
			assert.Contains(t, string(out), tc.want)
		})
	}
	t.Run("cursor meta", func(t *testing.T) {
		r := loadRecipe(t, func(s string) string {
			s = strings.Replace(s, "pagination: offset", "pagination: cursor", 1)
			s = strings.Replace(s, "meta: [total]", "meta: [limit]", 1)
			s = strings.Replace(s, ", sort: [placed_at, total, id]", "", 1)
			return strings.Replace(s, ", sort: [placed_at]", "", 1)
		})
		out := roundTrip(t, r, EncodeOptions{})
		assert.Contains(t, string(out), "meta: [limit]")
		r.Shape.Meta = []string{"next_cursor", "limit"}
		out, err := Encode(r)
		require.NoError(t, err)
		assert.NotContains(t, string(out), "meta:", "the meta of cursor pagination is the derived one")
	})
}

// trickyStrings are values that YAML reads as something else unless
// quoted, or that need care to write.
var trickyStrings = []string{
	"plain words", ":", "a: b", "a:b", "#", "a #b", "a# b", "*star", "&anchor", "!tag", "%percent", "@at", "`tick",
	"yes", "no", "on", "off", "y", "N", "Yes", "OFF", "true", "False", "null", "Null", "~", "",
	"1.0", "007", "0x1F", "0o17", "1e3", ".5", "+1", "-1", "12:30", "190:20:30", "1_000", ".inf", "-.Inf", ".nan",
	"2006-01-02", "2001-12-14t21:59:43.10-05:00", "<<", "=", "-", "- item", "---", "...", "?", "? q", "|", ">", "[a]", "{a}", "a, b", "a,b",
	" lead", "trail ", "  ", "\ttab", "tab\tin", "multi\nline", "multi\nline\n", "trailing\n\n", "\n\nlead", "  indented\nfirst",
	"crlf\r\nline", "cr\ronly", "nel\u0085x", "ls\u2028x", "ps\u2029x", "bom\ufeff", "\ufeffbom", "ctl\x01x", "del\x7f", "nul\x00x",
	"unicode é ü 日本 🙂", "quote ' inside", "'single'", "\"double\"", "back\\slash", "line\nwith: colon\n# and hash",
	strings.Repeat("long words that go on ", 10),
}

// TestEncodeQuoting writes each tricky string where a recipe takes free
// text, and in a list, and checks that it reads back as itself.
func TestEncodeQuoting(t *testing.T) {
	for _, s := range trickyStrings {
		t.Run(strconv.Quote(s), func(t *testing.T) {
			r := loadRecipe(t, nil)
			r.Title = s
			r.Resources[0].Fields[1].Doc = s
			r.Endpoints[0].Doc = s
			r.Resources[1].Rules[0].Message = s
			if s == "" {
				r.Resources[1].Rules[0].Message = "a message" // "" is the derived one
			}
			if !strings.Contains(s, "\x00") && s != "" {
				r.Resources[1].Fields[2].Enum = []string{"new", s} // PostgreSQL stores no NUL
			}
			roundTrip(t, r, EncodeOptions{})
		})
	}
	for _, tc := range []struct{ in, line string }{
		{"plain words", "title: plain words"},
		{"yes", `title: "yes"`},
		{"on", `title: "on"`},
		{"null", `title: "null"`},
		{"true", `title: "true"`},
		{"1.0", `title: "1.0"`},
		{"007", `title: "007"`},
		{"12:30", `title: "12:30"`},
		{"", `title: ""`},
		{"a: b", `title: 'a: b'`},
		{"a #b", `title: 'a #b'`},
		{"*star", `title: '*star'`},
		{"- item", `title: '- item'`},
		{"unicode é ü 日本", "title: unicode é ü 日本"},
		// The YAML library escapes characters beyond the BMP.
		{"emoji 🙂", `title: "emoji \U0001F642"`},
		{"multi\nline", "title: |-\n  multi\n  line"},
	} {
		t.Run("writes "+strconv.Quote(tc.in), func(t *testing.T) {
			r := loadRecipe(t, nil)
			r.Title = tc.in
			r.Resources[1].Fields[2].Enum = []string{tc.in, "new"}
			out, err := Encode(r)
			require.NoError(t, err)
			if tc.in == "" {
				assert.NotContains(t, string(out), "title:", "an empty title is the default")
				assert.Contains(t, string(out), `enum: ["", new]`)
				return
			}
			assert.Contains(t, string(out), tc.line+"\n")
		})
	}
}

// TestEncodeComments checks where each comment is written, and that no
// comment changes what the file says.
func TestEncodeComments(t *testing.T) {
	r := loadRecipe(t, nil)
	opts := EncodeOptions{
		Header: "Written by strangler extract from the legacy tables customers, orders.\nReview the comments.",
		Comments: map[string]string{
			"resources[1]":                   "the orders",
			"resources[1].fields[3]":         "samples show this as a string of two decimals; the column is decimal(10,2)",
			"resources[0].fields[2]":         "several lines:\nfirst\nsecond",
			"resources[0].fields[3].default": "legacy default 'false'",
			"endpoints[0]":                   "filtered as legacy did",
			"endpoints[10]":                  "a named query",
			"endpoints[10].query.sql":        "hand-written",
			"shape":                          "as the PHP API answered",
			"shape.casing":                   "camelCase in every sample",
			"service":                        "one service",
			"resources[0].relations[0]":      "by customer_id",
			"endpoints[10].query.params[0]":  "from the path",
			"resources[0].fields[4].name":    "on the name\nof created_at",
		},
	}
	out := roundTrip(t, r, opts)
	text := string(out)
	for _, want := range []string{
		"# Written by strangler extract from the legacy tables customers, orders.\n# Review the comments.\nservice: orders # one service\n",
		"shape: # as the PHP API answered\n",
		"  casing: camel # camelCase in every sample\n",
		"  - name: order # the orders\n",
		"      - {name: total, type: decimal, minimum: 0, precision: 12} # samples show this as a string of two decimals; the column is decimal(10,2)\n",
		"      # several lines:\n      # first\n      # second\n      - {name: email,",
		"      - name: vip\n        type: boolean\n        default: \"false\" # legacy default 'false'\n",
		"  - {name: listOrders, method: GET, path: /orders, resource: order, action: list, filters: [status, customer_id, total, placed_at], sort: [placed_at, total, id], embed: [customer]} # filtered as legacy did\n",
		"  - name: customerStats # a named query\n",
		"      sql: | # hand-written\n",
		"      - {name: orders, resource: order, field: customer_id, kind: many} # by customer_id\n",
		"        - {name: customer, type: integer, required: true} # from the path\n",
		"      # on the name\n      # of created_at\n      - name: created_at\n        type: timestamp\n",
	} {
		assert.Contains(t, text, want)
	}
	assert.True(t, strings.HasPrefix(text, "# Written by"), "the header is at the top:\n%s", text)

	t.Run("deterministic", func(t *testing.T) {
		for range 20 {
			again, err := EncodeWith(r, opts)
			require.NoError(t, err)
			require.Equal(t, text, string(again))
		}
	})
	t.Run("hostile text stays a comment", func(t *testing.T) {
		for _, c := range trickyStrings {
			for _, c := range []string{c, "x\rservice: other", "x\r\nmax_body: 1", "x\u2028max_body: 1", "x\u0085max_body: 1", "x\x00y", "\xff\xfe bytes", "- a\n- b", "#"} {
				// a comment that spilled into the recipe would change it,
				// or break it
				roundTrip(t, r, EncodeOptions{Header: c, Comments: map[string]string{
					"resources[0].fields[0]": c, "endpoints[10]": c, "title": c, "shape": c, "resources[1].fields[2].enum": c,
				}})
			}
		}
	})
	t.Run("a path that names nothing written", func(t *testing.T) {
		for _, p := range []string{"resources[0].schema", "resources[5]", "endpoints[0].query", "nope", "resources[0].fields[0].column", ""} {
			_, err := EncodeWith(r, EncodeOptions{Comments: map[string]string{p: "x", "service": "fine"}})
			require.Error(t, err, p)
			assert.Contains(t, err.Error(), strconv.Quote(p))
			assert.NotContains(t, err.Error(), `"service"`)
		}
	})
}

func TestEncodeErrors(t *testing.T) {
	_, err := Encode(nil)
	require.Error(t, err)
	for _, tc := range []struct {
		name, want string
		edit       func(r *Recipe)
	}{
		{"NaN", "resources[1].fields[3].minimum: NaN is not a number", func(r *Recipe) { nan := math.NaN(); r.Resources[1].Fields[3].Minimum = &nan }},
		{"infinity", "resources[1].fields[3].maximum: +Inf is not a number", func(r *Recipe) { inf := math.Inf(1); r.Resources[1].Fields[3].Maximum = &inf }},
		{"invalid UTF-8", `resources[0].fields[1].doc: "\xff" is not valid UTF-8`, func(r *Recipe) { r.Resources[0].Fields[1].Doc = "\xff" }},
		{"invalid UTF-8 in a list", `endpoints[0].filters[1]: "\xfe" is not valid UTF-8`, func(r *Recipe) { r.Endpoints[0].Filters[1] = "\xfe" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := loadRecipe(t, nil)
			tc.edit(r)
			_, err := Encode(r)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "encoding recipe: "+tc.want)
		})
	}
}

// TestEncodeNumbers checks that numbers are written without a tag and read
// back exactly.
func TestEncodeNumbers(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 0.1, 1e-5, 123456.789, 1e6, 1e15, 1e21, -2.5e-7, 1 << 53, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		t.Run(strconv.FormatFloat(f, 'g', -1, 64), func(t *testing.T) {
			r := loadRecipe(t, nil)
			lo, hi := f, math.MaxFloat64
			r.Resources[1].Fields[3] = Field{Name: "total", Type: TypeNumber, Minimum: &lo, Maximum: &hi, Example: strconv.FormatFloat(f, 'g', -1, 64),
				Column: "total", JSON: "total", Scale: 2, Precision: 18, Enum: []string{}}
			out := roundTrip(t, r, EncodeOptions{})
			assert.NotContains(t, string(out), "!!")
		})
	}
}

// TestDerivedKeysCoverSpec checks that every key the Spec marks Derived
// has its derived value in derivedKeys, so that Encode leaves it out when
// it holds that value.
func TestDerivedKeysCoverSpec(t *testing.T) {
	for _, o := range Spec {
		for _, f := range o.Fields {
			if f.Derived {
				assert.Contains(t, derivedKeys, o.Name+"."+f.Key)
			}
		}
	}
}

// TestEncodeRandom builds random valid recipes in Go, in the form Parse
// gives (defaults filled), and checks each one's round trip.
func TestEncodeRandom(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 100
	}
	for seed := range uint64(n) {
		g := &gen{rnd: rand.New(rand.NewPCG(seed, 7))}
		r := g.recipe()
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			roundTrip(t, r, EncodeOptions{Header: g.text(), Comments: g.comments(r)})
		})
	}
}

// gen builds random recipes that Parse accepts, written in the form Parse
// returns, so that a round trip must give them back field for field.
type gen struct {
	rnd *rand.Rand
	n   int // a counter for unique names
}

func (g *gen) chance(p float64) bool { return g.rnd.Float64() < p }

func pick[T any](g *gen, xs ...T) T { return xs[g.rnd.IntN(len(xs))] }

// text is a free text: a tricky string or random runes.
func (g *gen) text() string {
	if g.chance(0.6) {
		return pick(g, trickyStrings...)
	}
	runes := []rune("ab :#-*&!'\"\n\t\\{}[],|>%@`?~é日🙂\u0085\u2028\x01 ")
	var b strings.Builder
	for range g.rnd.IntN(12) {
		b.WriteRune(runes[g.rnd.IntN(len(runes))])
	}
	return b.String()
}

// valueText is a free text a string value may hold (no NUL, not empty).
func (g *gen) valueText() string {
	s := strings.ReplaceAll(g.text(), "\x00", "")
	if s == "" {
		return "v"
	}
	return s
}

func (g *gen) nonEmpty() string {
	if s := g.text(); s != "" {
		return s
	}
	return "x"
}

func (g *gen) unique(prefix string) string {
	g.n++
	return prefix + strconv.Itoa(g.n)
}

func (g *gen) recipe() *Recipe {
	r := &Recipe{
		Service:  pick(g, "orders", "shop-2", "a_b"),
		Title:    pick(g, "", g.text()),
		Version:  pick(g, "1.0.0", g.nonEmpty()),
		BasePath: pick(g, "", "/api", "/v2"),
		MaxBody:  pick[int64](g, 1048576, 1, 65536),
	}
	s := &r.Shape
	s.Envelope = pick(g, "data", "bare")
	s.DataKey, s.MetaKey = "data", "meta"
	if g.chance(0.3) {
		s.DataKey, s.MetaKey = "d"+g.text(), "m"+g.text()
	}
	s.Casing = pick(g, "snake", "camel", "pascal", "kebab", "as_is")
	s.Nulls = pick(g, "null", "omit")
	s.Decimals = pick(g, "number", "string")
	s.TimestampFormat = pick(g, "rfc3339", "2006-01-02 15:04:05", "02/01/2006 3:04:05.000 PM -07:00")
	s.DateFormat = pick(g, "2006-01-02", "Jan _2, 2006", "02.01.2006")
	s.Booleans = pick(g, "bool", "int", "string")
	s.Pagination = pick(g, "offset", "cursor")
	members := []string{"total", "limit", "offset"}
	s.Meta = []string{"total", "limit", "offset"}
	if s.Pagination == "cursor" {
		members = []string{"next_cursor", "limit"}
		s.Meta = []string{"next_cursor", "limit"}
	}
	if g.chance(0.4) {
		s.Meta = []string{}
		for _, m := range members {
			if g.chance(0.5) {
				s.Meta = append(s.Meta, m)
			}
		}
	}
	s.MaxLimit = pick(g, 100, 1, 500)
	s.DefaultLimit = min(pick(g, 20, 1, 50), s.MaxLimit)
	e := &r.Events
	e.Backoff, e.MaxBackoff, e.Timeout, e.Retention = "500ms", "30s", "5s", "168h"
	if g.chance(0.3) {
		e.Webhook = "http://127.0.0.1:9200/events"
		e.Backoff, e.MaxBackoff, e.Timeout, e.Retention = "1s", "1m", "2s", "0s"
	}
	if g.chance(0.2) {
		e.NATSURL, e.NATSSubject = "nats://127.0.0.1:4222", "shop.{type}"
	}
	for i := range 1 + g.rnd.IntN(3) {
		r.Resources = append(r.Resources, g.resource(r, i))
	}
	if last := &r.Resources[len(r.Resources)-1]; g.chance(0.4) {
		// No relation points at the last resource: its key may be composite.
		last.Fields = append(last.Fields, g.fill(r, Field{Name: "part", Type: pick(g, TypeInteger, TypeString, TypeDate)}, true))
		last.Keys = append(last.Keys, "part")
	}
	for i := range r.Resources {
		g.endpoints(r, i)
	}
	if g.chance(0.4) {
		g.queryEndpoint(r)
	}
	return r
}

func (g *gen) resource(r *Recipe, i int) Resource {
	res := Resource{Name: "r" + strconv.Itoa(i), Schema: pick(g, "public", "shop"), Key: pick(g, "id", "code")}
	res.Keys = []string{res.Key}
	res.Table = pick(g, res.Name, "t_"+res.Name)
	key := Field{Name: res.Key, Type: pick(g, TypeInteger, TypeUUID, TypeString)}
	if key.Type != TypeString && g.chance(0.7) {
		key.Generated = true
	}
	res.Fields = append(res.Fields, g.fill(r, key, true))
	if i > 0 {
		// kind one to the previous resource, kind many back
		prev := &r.Resources[i-1]
		ref := Field{Name: "parent_" + prev.Key, Type: prev.Fields[0].Type}
		res.Fields = append(res.Fields, g.fill(r, ref, false))
		rel := Relation{Name: "parent", Resource: prev.Name, Field: ref.Name, Kind: "one"}
		res.Relations = append(res.Relations, g.relation(r, rel))
		back := Relation{Name: "children" + strconv.Itoa(i), Resource: res.Name, Field: ref.Name, Kind: "many"}
		prev.Relations = append(prev.Relations, g.relation(r, back))
	}
	for j := range g.rnd.IntN(6) {
		f := Field{Name: "f" + strconv.Itoa(j), Type: pick(g, genTypes...)}
		res.Fields = append(res.Fields, g.fill(r, f, false))
	}
	if g.chance(0.3) {
		rule := Rule{Expr: "self." + res.Key + " == nil || self." + res.Key + " != nil", Field: pick(g, "", res.Key)}
		rule.Message = pick(g, "rule broken: "+rule.Expr, g.nonEmpty())
		res.Rules = append(res.Rules, rule)
	}
	return res
}

// genTypes are the field types gen knows the rules of.
var genTypes = []string{TypeString, TypeInteger, TypeNumber, TypeDecimal, TypeBoolean, TypeTimestamp, TypeDate, TypeUUID, TypeJSON}

func (g *gen) relation(r *Recipe, rel Relation) Relation {
	rel.JSON = applyCasing(r.Shape.Casing, rel.Name)
	if g.chance(0.3) {
		rel.JSON = g.nonEmpty()
	}
	return rel
}

// fill gives field f random keys, valid together, in the form Parse gives.
func (g *gen) fill(r *Recipe, f Field, key bool) Field {
	f.Column = pick(g, f.Name, "c_"+f.Name)
	f.JSON = applyCasing(r.Shape.Casing, f.Name)
	if g.chance(0.2) {
		f.JSON = f.Name + "_" + g.text()
	}
	f.Scale, f.Precision, f.Enum = 2, 18, []string{}
	if !key && g.chance(0.4) {
		f.Nullable = true
	}
	f.Unique = g.chance(0.2)
	if g.chance(0.3) {
		f.Doc = g.text()
	}
	switch f.Type {
	case TypeString:
		switch {
		case g.chance(0.25):
			f.Enum = []string{g.valueText(), g.unique("e")}
			if g.chance(0.5) {
				f.Default = f.Enum[g.rnd.IntN(2)]
			}
		case g.chance(0.25):
			lo, hi := g.rnd.IntN(3), 3+g.rnd.IntN(10)
			f.MinLength, f.MaxLength = &lo, &hi
		case g.chance(0.2):
			f.Pattern = pick(g, `^[a-z]+$`, `^[A-Z]{2}-[0-9]+$`, `^#[0-9a-f]{6}$`)
		case g.chance(0.5):
			f.Default = g.valueText()
			if g.chance(0.5) {
				f.Example = g.valueText()
			}
		}
	case TypeInteger, TypeNumber, TypeDecimal:
		if f.Type == TypeDecimal {
			f.Scale = pick(g, 2, 0, 4, 6)
			f.Precision = pick(g, 18, f.Scale+8, 38)
		}
		if g.chance(0.4) {
			lo := pick(g, 0, -3, 0.25, 1e-5, -2.5e-7, 1e6)
			if f.Type == TypeInteger {
				lo = math.Round(lo)
			}
			f.Minimum = &lo
			if g.chance(0.5) {
				hi := lo + pick(g, 1.0, 10, 1e6)
				f.Maximum = &hi
			}
		}
		if f.Type == TypeInteger && g.chance(0.3) && f.Minimum == nil {
			f.Default = pick(g, "0", "42", "-7")
		}
	case TypeBoolean:
		if g.chance(0.4) {
			f.Default = pick(g, "true", "false")
		}
	case TypeTimestamp, TypeDate:
		if g.chance(0.3) {
			f.Default = "now"
		}
		if g.chance(0.3) {
			f.Format = pick(g, "rfc3339", "2006-01-02", "20060102T150405Z0700")
			if f.Type == TypeDate {
				f.Format = "2006-002"
			}
		}
	}
	if f.Generated {
		f.ReadOnly, f.Default = true, ""
	} else if g.chance(0.15) {
		f.ReadOnly = true
	} else if !key && g.chance(0.15) {
		f.WriteOnly = true
	}
	return f
}

func (g *gen) endpoints(r *Recipe, i int) {
	res := &r.Resources[i]
	base := "/" + res.Name
	item := base
	for _, k := range res.Keys {
		item += "/{" + k + "}"
	}
	var rels []string
	for _, rel := range res.Relations {
		rels = append(rels, rel.Name)
	}
	var readable []string
	for _, f := range res.Fields {
		if !f.WriteOnly && f.Type != TypeJSON {
			readable = append(readable, f.Name)
		}
	}
	for _, a := range []struct{ action, method, path string }{
		{ActionList, "GET", base}, {ActionGet, "GET", item}, {ActionCreate, "POST", base},
		{ActionReplace, "PUT", item}, {ActionPatch, "PATCH", item}, {ActionDelete, "DELETE", item},
	} {
		if !g.chance(0.6) && !(i == 0 && a.action == ActionGet) {
			continue
		}
		e := Endpoint{Method: a.method, Path: a.path, Resource: res.Name, Action: a.action, Filters: []string{}, Sort: []string{}, Embed: []string{}}
		e.Name = defaultEndpointName(&e, len(r.Endpoints))
		if g.chance(0.3) {
			e.Name = g.unique("ep") + "_" + g.text()
		}
		if a.action == ActionList {
			e.Filters = g.subset(readable)
			if r.Shape.Pagination == "offset" {
				e.Sort = g.subset(readable)
			}
		}
		if a.action != ActionDelete {
			e.Embed = g.subset(rels)
		}
		if a.action != ActionList && a.action != ActionGet && g.chance(0.4) {
			e.Event = pick(g, "Changed", "Order_Placed")
		}
		if g.chance(0.3) {
			e.Doc = g.text()
		}
		r.Endpoints = append(r.Endpoints, e)
	}
}

func (g *gen) queryEndpoint(r *Recipe) {
	e := Endpoint{Method: "GET", Path: "/q/{p}", Action: ActionQuery, Filters: []string{}, Sort: []string{}, Embed: []string{}}
	e.Name = defaultEndpointName(&e, len(r.Endpoints))
	if g.chance(0.5) {
		e.Name = g.unique("query")
	}
	e.Query = &Query{SQL: pick(g, "select :p::text as x", "select 1 as one\nfrom t\nwhere :p::text is not null -- a comment: # yes\n"), Single: g.chance(0.5)}
	e.Query.Params = []Param{{Name: "p", Type: TypeString, Required: g.chance(0.5)}}
	if g.chance(0.5) {
		e.Query.Params[0].Default = g.valueText()
	}
	if g.chance(0.5) {
		e.Doc = g.text()
	}
	r.Endpoints = append(r.Endpoints, e)
}

func (g *gen) subset(xs []string) []string {
	out := []string{}
	for _, x := range xs {
		if g.chance(0.4) {
			out = append(out, x)
		}
	}
	return out
}

// comments attaches random comments to items and keys that are written.
func (g *gen) comments(r *Recipe) map[string]string {
	out := map[string]string{}
	for i, res := range r.Resources {
		if g.chance(0.3) {
			out[fmt.Sprintf("resources[%d]", i)] = g.text()
		}
		for j := range res.Fields {
			if g.chance(0.2) {
				out[fmt.Sprintf("resources[%d].fields[%d]", i, j)] = g.text()
			}
			if g.chance(0.05) {
				out[fmt.Sprintf("resources[%d].fields[%d].name", i, j)] = g.text()
			}
		}
	}
	for i := range r.Endpoints {
		if g.chance(0.2) {
			out[fmt.Sprintf("endpoints[%d]", i)] = g.text()
		}
	}
	if g.chance(0.3) {
		out["resources"] = g.text()
	}
	return out
}

func ExampleEncodeWith() {
	r := &Recipe{
		Service: "orders",
		Resources: []Resource{{Name: "order", Table: "orders", Fields: []Field{
			{Name: "id", Type: TypeInteger, Generated: true},
			{Name: "total", Type: TypeDecimal, Precision: 10, Scale: 2},
		}}},
		Endpoints: []Endpoint{{Method: "GET", Path: "/orders/{id}", Resource: "order", Action: ActionGet}},
	}
	out, err := EncodeWith(r, EncodeOptions{
		Header:   "Written by strangler extract.",
		Comments: map[string]string{"resources[0].fields[1]": "samples show this as a string of two decimals; the column is decimal(10,2)"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	_, err = Parse("orders.yaml", out)
	fmt.Println(err)
	// Output:
	// # Written by strangler extract.
	// service: orders
	// resources:
	//   - name: order
	//     table: orders
	//     fields:
	//       - {name: id, type: integer, generated: true}
	//       - {name: total, type: decimal, precision: 10} # samples show this as a string of two decimals; the column is decimal(10,2)
	// endpoints:
	//   - {method: GET, path: '/orders/{id}', resource: order, action: get}
	// <nil>
}

// FuzzEncode parses arbitrary bytes and checks every recipe accepted:
// Encode writes it, Parse reads that back to the same recipe, and a second
// Encode gives the same bytes.
func FuzzEncode(f *testing.F) {
	for _, data := range repoRecipes(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		out, err := Encode(r)
		if err != nil {
			t.Fatalf("encoding an accepted recipe: %v", err)
		}
		back, err := Parse("encoded.yaml", out)
		if err != nil {
			t.Fatalf("the encoded recipe does not parse: %v\n%s", err, out)
		}
		if d := diffExported(reflect.ValueOf(r).Elem(), reflect.ValueOf(back).Elem(), "recipe"); d != "" {
			t.Fatalf("parsed back differently: %s\n%s", d, out)
		}
		again, err := Encode(back)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("encoding is not idempotent (%v):\n%s\n----\n%s", err, out, again)
		}
	})
}
