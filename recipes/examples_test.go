package recipes

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// createEndpoint makes the resource of the good recipe written, so that its
// rules are checked against its examples.
const createEndpoint = "  - method: POST\n    path: /orders\n    resource: order\n    action: create\n"

// TestBadExamples: an example that breaks its field's rules, a field whose
// rules no derived example passes, and examples that break a rule of a
// written resource are refused with file:line and the key at fault.
func TestBadExamples(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		line     int
		want     string
	}{
		{"example breaking the pattern", "        enum: [new, paid]", "        pattern: '^[a-z]+$'\n        example: NEW", 12,
			`resources[0].fields[1].example: "NEW": must match ^[a-z]+$`},
		{"example breaking the enum", "        enum: [new, paid]", "        enum: [new, paid]\n        example: lost", 12,
			`resources[0].fields[1].example: "lost": must be one of new, paid`},
		{"example of another type", "        type: decimal", "        type: decimal\n        example: lots", 14,
			`resources[0].fields[2].example: "lots" is not a decimal number`},
		{"example out of bounds", "        type: decimal", "        type: decimal\n        minimum: 10\n        example: 9.99", 15,
			`resources[0].fields[2].example: "9.99": must be at least 10`},
		{"pattern no generated string matches within the length", "        enum: [new, paid]", "        pattern: '^[a-z]{2}$'\n        min_length: 5", 11,
			`resources[0].fields[1].pattern: no example could be built from pattern ^[a-z]{2}$`},
		{"bounds no number passes", "        type: decimal", "        type: decimal\n        scale: 0\n        minimum: 0.2\n        maximum: 0.7", 12,
			`resources[0].fields[2]: no example passes the field's rules`},
		{"examples breaking a rule of a written resource", "    filters: [status]\n", "    filters: [status]\n" + createEndpoint, 15,
			`resources[0].rules[0].expr: the examples of "order"'s fields break this rule`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(good, tc.old, tc.new, 1)
			if strings.Contains(tc.name, "rule") {
				src = strings.Replace(src, `"self.total >= 0"`, `"self.total > 5"`, 1)
			}
			require.NotEqual(t, good, src, "the case must change the recipe")
			_, err := Parse("shop.yaml", []byte(src))
			require.Error(t, err)
			found := false
			for _, e := range errorsOf(err) {
				if strings.Contains(e.Error(), tc.want) {
					found = true
					assert.Equal(t, tc.line, e.Line, "line of %q", e.Error())
					assert.True(t, strings.HasPrefix(e.Error(), "shop.yaml:"), e.Error())
				}
			}
			assert.True(t, found, "want %q in\n%v", tc.want, err)
		})
	}
	t.Run("an example that keeps the rule", func(t *testing.T) {
		src := strings.Replace(good, "    filters: [status]\n", "    filters: [status]\n"+createEndpoint, 1)
		src = strings.Replace(src, `"self.total >= 0"`, `"self.total > 5"`, 1)
		src = strings.Replace(src, "        type: decimal", "        type: decimal\n        example: 6", 1)
		r, err := Parse("shop.yaml", []byte(src))
		require.NoError(t, err)
		assert.Equal(t, decimal("6.00"), r.Resources[0].Fields[2].example)
	})
}

// TestDerivedExamples checks the example each kind of field gets, as the
// OpenAPI document writes it.
func TestDerivedExamples(t *testing.T) {
	intp := func(i int) *int { return &i }
	num := func(f float64) *float64 { return &f }
	str := &Shape{Decimals: "string", Booleans: "int", TimestampFormat: "2006-01-02 15:04:05", DateFormat: "02/01/2006"}
	for _, tc := range []struct {
		name  string
		f     Field
		shape *Shape
		want  string
	}{
		{"pattern", Field{Type: TypeString, Pattern: `^[A-Z]{3}-[0-9]{4}$`}, str, `"AAA-0000"`},
		{"pattern repeated up to min_length", Field{Type: TypeString, Pattern: `^x+$`, MinLength: intp(5)}, str, `"xxxxx"`},
		{"pattern with a negated class", Field{Type: TypeString, Pattern: `^[^@\s]+@[^@\s]+$`}, str, `"a@a"`},
		{"pattern with alternatives", Field{Type: TypeString, Pattern: `^(?:red|green)-\d{2}$`}, str, `"red-00"`},
		{"explicit example", Field{Type: TypeString, Pattern: `^[A-Z]{3}$`, Example: "ABC"}, str, `"ABC"`},
		{"enum", Field{Type: TypeString, Enum: []string{"b", "a"}}, str, `"b"`},
		{"default", Field{Type: TypeString, Enum: []string{"b", "a"}, Default: "a"}, str, `"a"`},
		{"string bounded", Field{Type: TypeString, MaxLength: intp(3)}, str, `"exa"`},
		{"integer at its minimum", Field{Type: TypeInteger, Minimum: num(10.5)}, str, `11`},
		{"integer at its maximum", Field{Type: TypeInteger, Maximum: num(-3)}, str, `-3`},
		{"number", Field{Type: TypeNumber}, str, `1.5`},
		{"decimal at its scale, as a string", Field{Type: TypeDecimal, Scale: 3, Precision: 10, Minimum: num(2.5)}, str, `"2.500"`},
		{"decimal as a number", Field{Type: TypeDecimal, Scale: 2, Precision: 10}, &Shape{Decimals: "number"}, `1.00`},
		{"boolean as an integer", Field{Type: TypeBoolean}, str, `1`},
		{"boolean default", Field{Type: TypeBoolean, Default: "false"}, &Shape{Booleans: "string"}, `"false"`},
		{"timestamp in the shape's layout", Field{Type: TypeTimestamp, Default: "now"}, str, `"2025-11-28 22:45:30"`},
		{"date in the shape's layout", Field{Type: TypeDate}, str, `"28/11/2025"`},
		{"timestamp example read in RFC 3339, written in the layout", Field{Type: TypeTimestamp, Example: "2020-01-02T03:04:05Z"}, str, `"2020-01-02 03:04:05"`},
		{"uuid", Field{Type: TypeUUID}, str, `"` + exampleUUID + `"`},
		{"json", Field{Type: TypeJSON}, str, `{"key":"value"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			if f.Pattern != "" {
				f.pattern = regexp.MustCompile(f.Pattern)
			}
			v, _, err := f.exampleValue(tc.shape)
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(exampleJSON(&f, v, tc.shape)))
		})
	}
}

// TestRelatedKeyExample: a field holding another resource's key shows that
// key's example, so that examples refer to a row the other's example makes.
func TestRelatedKeyExample(t *testing.T) {
	r := loadRecipe(t, func(s string) string {
		return strings.Replace(s, "      - {name: id, type: integer, generated: true}\n      - {name: name, type: string",
			"      - {name: id, type: integer, generated: true, example: \"7\"}\n      - {name: name, type: string", 1)
	})
	assert.Equal(t, int64(7), r.resource("customer").field("id").example)
	assert.Equal(t, int64(7), r.resource("order").field("customer_id").example)
}

// TestExampleErrorsDoNotRepeat: a field whose pattern or type is refused
// gets that one error, not a second one about its example.
func TestExampleErrorsDoNotRepeat(t *testing.T) {
	for _, edit := range [][2]string{
		{"        enum: [new, paid]", "        pattern: '(['"},
		{"        type: decimal", "        type: money\n        example: x"},
	} {
		_, err := Parse("shop.yaml", []byte(strings.Replace(good, edit[0], edit[1], 1)))
		require.Error(t, err)
		assert.Len(t, errorsOf(err), 1, "%v", err)
	}
}
