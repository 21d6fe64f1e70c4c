package compare_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/shadow/compare"
)

func TestGeneralize(t *testing.T) {
	for in, want := range map[string]string{
		"$.items[3].price":          "$.items[*].price",
		"$.items[id=42]":            "$.items[*]",
		`$.items[sku="a]b"].q`:      "$.items[*].q",
		"$.a[#2]":                   "$.a[*]",
		"$[0][1].x":                 "$[*][*].x",
		`$["k [3]"][3]`:             `$["k [3]"][*]`,
		"$.a.b":                     "$.a.b",
		"$":                         "$",
		"status":                    "status",
		"header:Date":               "header:Date",
		"body":                      "body",
		"not a path":                "not a path",
		"$.a[":                      "$.a[",
		"$..x[2]":                   "$..x[*]",
		`$.a["k"=1]`:                "$.a[*]",
		"$.meta.request_id":         "$.meta.request_id",
		"$.data.items[12].tags[0]":  "$.data.items[*].tags[*]",
		`$["é"][0]`:                 `$["é"][*]`,
		"$.a[*]":                    "$.a[*]",
		"$.x-y_z[10]":               "$.x-y_z[*]",
		`$.a[""=1]`:                 "$.a[*]",
		`$["\u00e9"]`:               `$["é"]`,
		`$.items[id=1.0]`:           "$.items[*]",
		`$.items["3d"=1].x`:         "$.items[*].x",
		`$.items[id={"a":[1,2]}].x`: "$.items[*].x",
	} {
		assert.Equal(t, want, compare.Generalize(in), in)
	}
}

func TestPatterns(t *testing.T) {
	p, err := compare.CompilePatterns([]string{"$.meta", "$.items[*].etag", "$..updated_at", "$.*.id", "status", "header:x-request-id", `$.k[id=42]`, `$["k y"]`, "$.a[2]", "$.s[#1]"})
	require.NoError(t, err)
	assert.Equal(t, 10, p.Len())
	assert.Equal(t, "$.meta", p.Strings()[0])
	for path, want := range map[string]bool{
		"$.meta":                      true,
		"$.meta.request_id":           true,
		"$.metadata":                  false,
		"$.items[3].etag":             true,
		"$.items[id=4].etag":          true,
		"$.items[#0].etag.x":          true,
		"$.items[3].price":            false,
		"$.updated_at":                true,
		"$.a[1].b.updated_at":         true,
		"$.a[1].b.updated_at_x":       false,
		"$.user.id":                   true,
		"$.user.name":                 false,
		"$.user.x.id":                 false,
		"status":                      true,
		"header:X-Request-Id":         true,
		"header:X-Other":              false,
		"body":                        false,
		"$.k[id=42].v":                true,
		"$.k[id=42.0]":                true,
		"$.k[id=43]":                  false,
		`$.k[id="42"]`:                false,
		`$["k y"].z`:                  true,
		"$.a[2]":                      true,
		"$.a[20]":                     false,
		"$.s[#1]":                     true,
		"$.s[1]":                      false,
		"$.items[*].etag":             true,
		"garbage":                     false,
		"$.a[":                        false,
		"$":                           false,
		"$.items":                     false,
		"$.items[3]":                  false,
		"$.meta[\"request_id\"]":      true,
		"$.items[3].etag[\"x y\"][0]": true,
	} {
		assert.Equal(t, want, p.Match(path), path)
	}

	t.Run("nil and empty match nothing", func(t *testing.T) {
		var nilp *compare.Patterns
		assert.False(t, nilp.Match("$.a"))
		assert.Zero(t, nilp.Len())
		assert.Nil(t, nilp.Strings())
		empty, err := compare.CompilePatterns(nil)
		require.NoError(t, err)
		assert.False(t, empty.Match("$"))
	})
	t.Run("the whole body", func(t *testing.T) {
		for _, s := range []string{"$", "body"} {
			p, err := compare.CompilePatterns([]string{s})
			require.NoError(t, err)
			assert.True(t, p.Match("$.a[1]"), s)
			assert.True(t, p.Match("body"), s)
			assert.False(t, p.Match("status"), s)
		}
	})
	t.Run("errors name the pattern", func(t *testing.T) {
		_, err := compare.CompilePatterns([]string{"$.a", "$.a["})
		assert.EqualError(t, err, `patterns[1] "$.a[": unclosed bracket`)
	})
	t.Run("generalized diff paths compile", func(t *testing.T) {
		c := mustCompile(t, compare.Rules{Sets: []string{"$.k:id", "$.u"}, Headers: []string{"Date"}})
		a, b := jsonResp(`{"k":[{"id":"x y","v":1}],"u":[1],"a b":[{"c":1}]}`), jsonResp(`{"k":[{"id":"x y","v":2}],"u":[2],"a b":[{"c":2}]}`)
		a.Header.Set("Date", "1")
		var paths []string
		for _, d := range c.Compare(a, b, nil).Diffs {
			paths = append(paths, d.Path, compare.Generalize(d.Path))
		}
		p, err := compare.CompilePatterns(paths)
		require.NoError(t, err)
		for _, s := range paths {
			assert.True(t, p.Match(s), s)
		}
		assert.True(t, c.Compare(a, b, p).Match())
	})
}

func TestNames(t *testing.T) {
	for path, want := range map[string][]string{
		"status":                nil,
		"body":                  nil,
		"header:set-cookie":     {"Set-Cookie"},
		"$":                     nil,
		"$.user.password":       {"user", "password"},
		`$.items[3]["api key"]`: {"items", "api key"},
		"$.items[id=42].token":  {"items", "id", "token"},
		`$["\u0070assword"]`:    {"password"},
		"$.a[":                  nil,
	} {
		assert.Equal(t, want, compare.Names(path), path)
	}
}

func TestMember(t *testing.T) {
	assert.Equal(t, ".requestId", compare.Member("requestId"))
	assert.Equal(t, `["k y"]`, compare.Member("k y"))
	assert.Equal(t, `[""]`, compare.Member(""))
	p, err := compare.CompilePatterns([]string{"$" + compare.Member("k y")})
	require.NoError(t, err)
	assert.True(t, p.Match(`$["k y"]`))
}
