package compare_test

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/shadow/compare"
)

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules compare.Rules
		want  []string // each RuleError's text
	}{
		{name: "ignore: unclosed bracket", rules: compare.Rules{Ignore: []string{"$.a", "$.b", "$.a["}},
			want: []string{`ignore[2] "$.a[": unclosed bracket`}},
		{name: "ignore: not a path", rules: compare.Rules{Ignore: []string{"a.b"}},
			want: []string{`ignore[0] "a.b": must start with "$" (or be status, body or header:NAME)`}},
		{name: "ignore: empty", rules: compare.Rules{Ignore: []string{""}}, want: []string{`ignore[0] "": empty pattern`}},
		{name: "ignore: bad bracket", rules: compare.Rules{Ignore: []string{"$.a[x]"}},
			want: []string{`ignore[0] "$.a[x]": unexpected ']' at byte 5: a bracket holds *, an index, #index, a quoted name or key=value`}},
		{name: "ignore: trailing dot", rules: compare.Rules{Ignore: []string{"$.a."}}, want: []string{`ignore[0] "$.a.": "." at the end: a member name must follow`}},
		{name: "ignore: trailing descent", rules: compare.Rules{Ignore: []string{"$.."}}, want: []string{`ignore[0] "$..": ".." at the end: a member or an element must follow`}},
		{name: "ignore: bad key value", rules: compare.Rules{Ignore: []string{"$.a[id=abc]"}},
			want: []string{`ignore[0] "$.a[id=abc]": the key value at byte 7 is not JSON (quote strings: [id="a-1"])`}},
		{name: "ignore: bad header", rules: compare.Rules{Ignore: []string{"header:a b"}}, want: []string{`ignore[0] "header:a b": "a b" is not a header name`}},
		{name: "sets", rules: compare.Rules{Sets: []string{"$.a", "$.b:", "status", "$.c:a b"}}, want: []string{
			`sets[1] "$.b:": empty key field after ":"`,
			`sets[2] "status": must be a JSON path ("$...")`,
			`sets[3] "$.c:a b": key field "a b": quote a name that is not letters, digits, '_' and '-' ("k y")`,
		}},
		{name: "tolerance", rules: compare.Rules{Tolerance: map[string]float64{"$.x": -1, "$.y": math.NaN(), "$.z[": 1, "header:A": 1, "$.ok": 0.5}}, want: []string{
			`tolerance "$.x": must be >= 0`,
			`tolerance "$.y": must be >= 0`,
			`tolerance "$.z[": unclosed bracket`,
			`tolerance "header:A": must be a JSON path ("$...")`,
		}},
		{name: "normalize", rules: compare.Rules{Normalize: []compare.Normalize{
			{Pattern: "[a"}, {Path: "$.[", Pattern: "uuid"}, {Path: "status", Pattern: "x"}, {Path: "$.a"},
		}}, want: []string{
			"normalize[0].pattern: error parsing regexp: missing closing ]: `[a`",
			`normalize[1].path "$.[": unexpected '[' at byte 2: a member name must follow '.' (quote others: ["k y"])`,
			`normalize[2].path "status": the status is not a string`,
			`normalize[3].pattern: empty: a regular expression, or uuid, timestamp or number`,
		}},
		{name: "headers", rules: compare.Rules{Headers: []string{"Content-Type", "", "a b"}}, want: []string{
			`headers[1] "": not a header name`,
			`headers[2] "a b": not a header name`,
		}},
		{name: "limits", rules: compare.Rules{MaxDepth: -1, MaxDiffs: -2}, want: []string{
			`max_depth -1: must be >= 0`,
			`max_diffs -2: must be >= 0`,
		}},
		{name: "depth bound", rules: compare.Rules{MaxDepth: 20000}, want: []string{`max_depth 20000: must be at most 10000`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := compare.Compile(tc.rules)
			require.Error(t, err)
			assert.Nil(t, c)
			var got []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var re *compare.RuleError
				require.True(t, errors.As(e, &re), "%T", e)
				assert.NotNil(t, re.Unwrap())
				got = append(got, re.Error())
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestCompileValid(t *testing.T) {
	_, err := compare.Compile(compare.Rules{
		Ignore:    []string{"status", "body", "header:X-Request-Id", "$", "$.a.b", `$["k y"]`, "$.a[3]", "$.a[*]", "$.*", "$..x", "$..*", "$..[*]", `$..["k"]`, `$.a[id=42]`, `$.a[sku="x]y"]`, `$.a[#2]`, `$.a["q"=1]`},
		Sets:      []string{"$", "$.a", "$.a:id", `$.a:"k y"`, `$.a[sku="x:y"].b:id`, "$.orders[*].lines:sku"},
		Tolerance: map[string]float64{"$": 0, "$..total": math.Inf(1)},
		Normalize: []compare.Normalize{{Pattern: "uuid"}, {Path: "body", Pattern: "timestamp"}, {Path: "header:Date", Pattern: "number", Replace: "N"}},
		Headers:   []string{"content-type", "Content-Type"},
		MaxDepth:  compare.MaxMaxDepth,
		MaxDiffs:  1,
	})
	require.NoError(t, err)
}

func TestRuleErrorUnwraps(t *testing.T) {
	_, err := compare.Compile(compare.Rules{Ignore: []string{"$["}})
	var re *compare.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, `ignore[0] "$["`, re.Rule)
	assert.EqualError(t, re.Err, "unclosed bracket")
}
