package compare_test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/shadow/compare"
)

func jsonResp(body string) compare.Response {
	return compare.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

func typed(ct, body string) compare.Response {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	return compare.Response{Status: 200, Header: h, Body: []byte(body)}
}

// mirror is what comparing the other way round must give for d.
func mirror(d compare.Diff) compare.Diff {
	switch d.Kind {
	case compare.KindMissing:
		d.Kind = compare.KindAdded
	case compare.KindAdded:
		d.Kind = compare.KindMissing
	}
	d.A, d.B = d.B, d.A
	return d
}

// check compares a with b both ways: the first way must give want, the
// other its mirror (as a set: the order of diffs at one path may differ).
func check(t *testing.T, c *compare.Comparer, a, b compare.Response, want []compare.Diff) {
	t.Helper()
	got := c.Compare(a, b, nil)
	assert.Equal(t, want, got.Diffs)
	assert.Zero(t, got.More)
	assert.Equal(t, len(want) == 0, got.Match())
	back := c.Compare(b, a, nil)
	var mirrored []compare.Diff
	for _, d := range want {
		mirrored = append(mirrored, mirror(d))
	}
	assert.ElementsMatch(t, mirrored, back.Diffs, "compared the other way round")
}

func mustCompile(t testing.TB, r compare.Rules) *compare.Comparer {
	t.Helper()
	c, err := compare.Compile(r)
	require.NoError(t, err)
	return c
}

type jsonCase struct {
	name  string
	rules compare.Rules
	a, b  string
	want  []compare.Diff // nil: a match
}

func runJSON(t *testing.T, cases []jsonCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, mustCompile(t, tc.rules), jsonResp(tc.a), jsonResp(tc.b), tc.want)
		})
	}
}

func changed(path, a, b string) compare.Diff {
	return compare.Diff{Path: path, Kind: compare.KindChanged, A: a, B: b}
}

func missing(path, a string) compare.Diff {
	return compare.Diff{Path: path, Kind: compare.KindMissing, A: a}
}

func added(path, b string) compare.Diff {
	return compare.Diff{Path: path, Kind: compare.KindAdded, B: b}
}

func typeDiff(path, a, b string) compare.Diff {
	return compare.Diff{Path: path, Kind: compare.KindType, A: a, B: b}
}

func TestJSONMeaning(t *testing.T) {
	runJSON(t, []jsonCase{
		{name: "key order", a: `{"a":1,"b":{"c":2,"d":3}}`, b: `{"b":{"d":3,"c":2},"a":1}`},
		{name: "whitespace", a: `{"a": [1, 2], "b" : "x"}`, b: "\n{\"a\":[1,\r\n2],\t\"b\":\"x\"}  "},
		{name: "one changed member", a: `{"a":1,"b":2}`, b: `{"a":1,"b":3}`, want: []compare.Diff{changed("$.b", "2", "3")}},
		{name: "member missing and added", a: `{"a":1,"b":2}`, b: `{"a":1,"c":2}`,
			want: []compare.Diff{missing("$.b", "2"), added("$.c", "2")}},
		{name: "quoted member names", a: `{"k y":1,"":2,"é":3,"a.b":4}`, b: `{"k y":2,"":3,"é":4,"a.b":5}`,
			want: []compare.Diff{changed(`$[""]`, "2", "3"), changed(`$["a.b"]`, "4", "5"), changed(`$["k y"]`, "1", "2"), changed(`$["é"]`, "3", "4")}},
		{name: "identifier-like names", a: `{"x-request_id2":1}`, b: `{"x-request_id2":2}`, want: []compare.Diff{changed("$.x-request_id2", "1", "2")}},
		{name: "scalar roots", a: `"a"`, b: `"b"`, want: []compare.Diff{changed("$", `"a"`, `"b"`)}},
		{name: "root type", a: `[1]`, b: `{"a":1}`, want: []compare.Diff{typeDiff("$", "[1]", `{"a":1}`)}},
		{name: "number vs string", a: `{"a":1}`, b: `{"a":"1"}`, want: []compare.Diff{typeDiff("$.a", "1", `"1"`)}},
		{name: "object vs array", a: `{"a":{}}`, b: `{"a":[]}`, want: []compare.Diff{typeDiff("$.a", "{}", "[]")}},
		{name: "true vs false", a: `[true]`, b: `[false]`, want: []compare.Diff{changed("$[0]", "true", "false")}},
		{name: "null vs false", a: `[null]`, b: `[false]`, want: []compare.Diff{typeDiff("$[0]", "null", "false")}},
		{name: "duplicate keys: last wins", a: `{"a":1,"a":2}`, b: `{"a":2}`},
		{name: "duplicate keys: the last differs", a: `{"a":2,"b":0,"a":1}`, b: `{"b":0,"a":2}`, want: []compare.Diff{changed("$.a", "1", "2")}},
		{name: "duplicate keys on both sides", a: `{"a":1,"a":3,"a":2}`, b: `{"a":7,"a":2}`},
	})
}

func TestJSONNumbers(t *testing.T) {
	runJSON(t, []jsonCase{
		{name: "1 = 1.0", a: `[1]`, b: `[1.0]`},
		{name: "1 = 1e0", a: `[1]`, b: `[1e0]`},
		{name: "1 = 10e-1", a: `[1]`, b: `[10e-1]`},
		{name: "1 = 0.1E+1", a: `[1]`, b: `[0.1E+1]`},
		{name: "100 = 1e2", a: `[100]`, b: `[1e2]`},
		{name: "-0 = 0", a: `[-0]`, b: `[0]`},
		{name: "-0.0 = 0e5", a: `[-0.0]`, b: `[0e5]`},
		{name: "-1.5 = -15e-1", a: `[-1.5]`, b: `[-15e-1]`},
		{name: "1 vs -1", a: `[1]`, b: `[-1]`, want: []compare.Diff{changed("$[0]", "1", "-1")}},
		{name: "big equal", a: `[12345678901234567890123]`, b: `[1.2345678901234567890123e22]`},
		{name: "big equal with zeros", a: `[12345678901234567890123.000]`, b: `[12345678901234567890123]`},
		{name: "big unequal", a: `[12345678901234567890123]`, b: `[12345678901234567890124]`,
			want: []compare.Diff{changed("$[0]", "12345678901234567890123", "12345678901234567890124")}},
		{name: "equal in float64, not in decimal", a: `[0.1]`, b: `[0.10000000000000001]`,
			want: []compare.Diff{changed("$[0]", "0.1", "0.10000000000000001")}},
		{name: "1e400 = 10e399", a: `[1e400]`, b: `[10e399]`},
		{name: "1e400 vs 2e400", a: `[1e400]`, b: `[2e400]`, want: []compare.Diff{changed("$[0]", "1e400", "2e400")}},
		{name: "1e-400 vs 0", a: `[1e-400]`, b: `[0]`, want: []compare.Diff{changed("$[0]", "1e-400", "0")}},
		{name: "exponent beyond int64", a: `[1e99999999999999999999]`, b: `[10e99999999999999999998]`},
		{name: "exponent beyond int64, unequal", a: `[1e99999999999999999999]`, b: `[1e99999999999999999998]`,
			want: []compare.Diff{changed("$[0]", "1e99999999999999999999", "1e99999999999999999998")}},
		{name: "exponent at the int64 edge", a: `[1e1000000000000000]`, b: `[10000000000e999999999999990]`},
		{name: "leading zeros of an exponent", a: `[5e0000000000000000000000001]`, b: `[50]`},
	})
}

func TestJSONStrings(t *testing.T) {
	runJSON(t, []jsonCase{
		{name: `\u00e9 = é`, a: `["\u00e9"]`, b: `["é"]`},
		{name: "surrogate pair = literal emoji", a: `["\ud83d\ude00"]`, b: `["😀"]`},
		{name: "hex digits in any case", a: `["\u00E9"]`, b: `["\u00e9"]`},
		{name: "lone surrogate equals itself", a: `["\ud800"]`, b: `["\uD800"]`},
		{name: "lone surrogate is not U+FFFD", a: `["\ud800"]`, b: `["\ufffd"]`,
			want: []compare.Diff{changed("$[0]", `"\ud800"`, `"�"`)}}, // U+FFFD shown as the character
		{name: "two lone surrogates differ", a: `["\udc00"]`, b: `["\ud800"]`,
			want: []compare.Diff{changed("$[0]", `"\udc00"`, `"\ud800"`)}},
		{name: "high surrogate then letter", a: `["\ud83dx"]`, b: `["\uD83Dx"]`},
		{name: "escaped solidus", a: `["a\/b"]`, b: `["a/b"]`},
		{name: "short escapes", a: `["\n\t\"\\"]`, b: `["\u000a\u0009\u0022\u005c"]`},
		{name: "escaped member name", a: `{"\u0061":1}`, b: `{"a":1}`},
		{name: "escaped member names sort as decoded", a: `{"b":1,"\u00e9":2,"a":3}`, b: `{"a":3,"é":2,"b":1}`},
		{name: "escaped key in a path", a: `{"\u00e9\n":1}`, b: `{"é\n":2}`, want: []compare.Diff{changed(`$["é\n"]`, "1", "2")}},
		{name: "strings shown decoded", a: `{"a":"\u00e9 \u0026"}`, b: `{"a":"e &"}`, want: []compare.Diff{changed("$.a", `"é &"`, `"e &"`)}},
		{name: "control characters shown escaped", a: `{"a":"\u0001\n"}`, b: `{"a":""}`, want: []compare.Diff{changed("$.a", `"\u0001\n"`, `""`)}},
	})
}

func TestJSONArrays(t *testing.T) {
	runJSON(t, []jsonCase{
		{name: "nested equal", a: `[[1,2],[3,[4]]]`, b: `[ [1,2] , [3,[4.0]] ]`},
		{name: "nested tail added", a: `[[1,2],[3]]`, b: `[[1,2],[3,4]]`, want: []compare.Diff{added("$[1][1]", "4")}},
		{name: "order counts", a: `[1,2]`, b: `[2,1]`, want: []compare.Diff{changed("$[0]", "1", "2"), changed("$[1]", "2", "1")}},
		{name: "tail missing", a: `{"a":[1,2,3]}`, b: `{"a":[1]}`, want: []compare.Diff{missing("$.a[1]", "2"), missing("$.a[2]", "3")}},
		{name: "indexes sort by number", a: `[0,0,0,0,0,0,0,0,0,0,0,1]`, b: `[0,0,1,0,0,0,0,0,0,0,0,0]`,
			want: []compare.Diff{changed("$[2]", "0", "1"), changed("$[11]", "1", "0")}},
		{name: "a parent before its members", a: `{"a":{"b":1},"a-":1,"b":1}`, b: `{"a":{"b":2},"a-":2,"b":1}`,
			want: []compare.Diff{changed("$.a.b", "1", "2"), changed("$.a-", "1", "2")}},
	})
}

func TestNullEqualsMissing(t *testing.T) {
	runJSON(t, []jsonCase{
		{name: "off: null vs missing", a: `{"a":null,"b":1}`, b: `{"b":1}`, want: []compare.Diff{missing("$.a", "null")}},
		{name: "on: null vs missing", rules: compare.Rules{NullEqualsMissing: true}, a: `{"a":null,"b":1}`, b: `{"b":1}`},
		{name: "on: null vs a value", rules: compare.Rules{NullEqualsMissing: true}, a: `{"a":null}`, b: `{"a":1}`,
			want: []compare.Diff{typeDiff("$.a", "null", "1")}},
		{name: "on: a value vs missing", rules: compare.Rules{NullEqualsMissing: true}, a: `{"a":0}`, b: `{}`,
			want: []compare.Diff{missing("$.a", "0")}},
		{name: "on: not array elements", rules: compare.Rules{NullEqualsMissing: true}, a: `[1,null]`, b: `[1]`,
			want: []compare.Diff{missing("$[1]", "null")}},
	})
}

func TestMaxDepth(t *testing.T) {
	deep := func(n int, leaf string) string {
		return strings.Repeat(`{"a":`, n) + leaf + strings.Repeat("}", n)
	}
	runJSON(t, []jsonCase{
		{name: "below the depth compared by member", rules: compare.Rules{MaxDepth: 3},
			a: `{"a":{"b":{"c":1,"d":2}}}`, b: `{"a":{"b":{"d":2,"c":1}}}`},
		{name: "beyond the depth compared as compact text", rules: compare.Rules{MaxDepth: 3},
			a: `{"a":{"b":{"c":{"d":1, "e":[1, 2]}}}}`, b: `{"a":{"b":{"c":{"d":1,"e":[1,2]}}}}`},
		{name: "beyond the depth member order counts", rules: compare.Rules{MaxDepth: 3},
			a: `{"a":{"b":{"c":{"d":1,"e":2}}}}`, b: `{"a":{"b":{"c":{"e":2,"d":1}}}}`,
			want: []compare.Diff{changed("$.a.b.c", `{"d":1,"e":2}`, `{"e":2,"d":1}`)}},
		{name: "scalars at any depth", rules: compare.Rules{MaxDepth: 2}, a: `{"a":{"b":1}}`, b: `{"a":{"b":1.0}}`},
		{name: "default depth, 300 deep, equal", a: deep(300, "1"), b: strings.ReplaceAll(deep(300, "1"), ":", ": ")},
		{name: "default depth, 260 deep, differing",
			a: deep(260, "1"), b: deep(260, "2"),
			want: []compare.Diff{changed("$"+strings.Repeat(".a", 256), deep(4, "1"), deep(4, "2"))}},
	})
}

func TestInvalidJSON(t *testing.T) {
	c := mustCompile(t, compare.Rules{})
	check(t, c, jsonResp(`{"a":1`), jsonResp(`{"a": 1}`), []compare.Diff{{Path: "body", Kind: compare.KindInvalid,
		A: `invalid JSON at byte 6: "{\"a\":1"`, B: `{"a":1}`}})
	check(t, c, jsonResp(`{"a":1,}`), jsonResp(`[]`), []compare.Diff{{Path: "body", Kind: compare.KindInvalid,
		A: `invalid JSON at byte 7: "{\"a\":1,}"`, B: `[]`}})
	check(t, c, jsonResp(""), jsonResp(`{}`), []compare.Diff{{Path: "body", Kind: compare.KindInvalid,
		A: "invalid JSON: empty body", B: "{}"}})
	t.Run("both invalid: compared as text", func(t *testing.T) {
		check(t, c, jsonResp("{oops\nline 2"), jsonResp("{oops\nline two"), []compare.Diff{{Path: "body", Kind: compare.KindText,
			A: `line 2: "line 2"`, B: `line 2: "line two"`}})
	})
	t.Run("HTML against declared JSON", func(t *testing.T) {
		check(t, c, jsonResp(`{"ok":true}`), typed("text/html", "<h1>502</h1>"), []compare.Diff{{Path: "body", Kind: compare.KindInvalid,
			A: `{"ok":true}`, B: `invalid JSON at byte 0: "<h1>502</h1>"`}})
	})
	for _, bad := range []string{`[01]`, `[1.]`, `[.5]`, `[+1]`, `[1e]`, `["a` + "\x01" + `"]`, `["\x"]`, `["\u12"]`, `[1 2]`, `{"a" 1}`, `{a:1}`, `[nul]`, `[] []`, `[NaN]`, "\ufeff[]", `{"a":1}}`} {
		t.Run("invalid "+bad, func(t *testing.T) {
			res := c.Compare(jsonResp(bad), jsonResp(`0`), nil)
			require.Len(t, res.Diffs, 1)
			assert.Equal(t, compare.KindInvalid, res.Diffs[0].Kind)
			assert.True(t, strings.HasPrefix(res.Diffs[0].A, "invalid JSON at byte "), res.Diffs[0].A)
		})
	}
}

func TestBodies(t *testing.T) {
	c := mustCompile(t, compare.Rules{})
	t.Run("empty bodies", func(t *testing.T) {
		check(t, c, jsonResp(""), jsonResp(""), nil)
		check(t, c, typed("", ""), typed("", ""), nil)
		check(t, c, typed("text/plain", ""), typed("text/plain", "x"), []compare.Diff{{Path: "body", Kind: compare.KindText, A: `line 1: ""`, B: `line 1: "x"`}})
	})
	t.Run("+json types", func(t *testing.T) {
		check(t, c, typed("application/problem+json; charset=utf-8", `{"a":1}`), typed("application/problem+json", `{ "a" : 1.0 }`), nil)
	})
	t.Run("JSON declared on one side", func(t *testing.T) {
		check(t, c, typed("application/json", `{"a":1,"b":2}`), typed("text/plain", `{"b":2,"a":1}`), nil)
	})
	t.Run("sniffed when no side declares a type", func(t *testing.T) {
		check(t, c, typed("", `{"a":1,"b":2}`), typed("", `{"b":2,"a":1}`), nil)
	})
	t.Run("not sniffed when a side declares text", func(t *testing.T) {
		check(t, c, typed("text/plain", `{"a":1}`), typed("text/plain", `{"a":1.0}`),
			[]compare.Diff{{Path: "body", Kind: compare.KindText, A: `line 1: "{\"a\":1}"`, B: `line 1: "{\"a\":1.0}"`}})
	})
	t.Run("text line by line", func(t *testing.T) {
		check(t, c, typed("text/plain", "a\nb\nc\nd"), typed("text/plain", "a\nB\nc\nD"),
			[]compare.Diff{{Path: "body", Kind: compare.KindText, A: `line 2: "b"`, B: `line 2: "B"`}})
	})
	t.Run("text: CRLF = LF", func(t *testing.T) {
		check(t, c, typed("text/plain", "a\r\nb\r\n"), typed("text/plain", "a\nb\n"), nil)
	})
	t.Run("text: a line more", func(t *testing.T) {
		check(t, c, typed("text/csv", "a\nb"), typed("text/csv", "a\nb\nc"),
			[]compare.Diff{{Path: "body", Kind: compare.KindText, B: `line 3: "c"`}})
	})
	t.Run("UTF-8 without a type is text", func(t *testing.T) {
		check(t, c, typed("", "hello"), typed("application/octet-stream", "hellö"),
			[]compare.Diff{{Path: "body", Kind: compare.KindText, A: `line 1: "hello"`, B: `line 1: "hellö"`}})
	})
	t.Run("binary", func(t *testing.T) {
		a, b := "\x89PNG\x00\xff", "\x89PNG\x00\xfe!"
		check(t, c, typed("image/png", a), typed("image/png", b), []compare.Diff{{Path: "body", Kind: compare.KindBinary,
			A: fmt.Sprintf("sha256:%x, 6 bytes", sha256.Sum256([]byte(a))), B: fmt.Sprintf("sha256:%x, 7 bytes", sha256.Sum256([]byte(b)))}})
	})
	t.Run("long values are cut", func(t *testing.T) {
		long := strings.Repeat("é", 150) // 300 bytes
		res := c.Compare(jsonResp(`["`+long+`"]`), jsonResp(`[1]`), nil)
		require.Len(t, res.Diffs, 1)
		a := res.Diffs[0].A
		assert.True(t, strings.HasSuffix(a, "…"), a)
		assert.LessOrEqual(t, len(a), 200+len("…"))
		assert.True(t, strings.HasPrefix(a, `"éé`), a)
	})
}

func TestStatusAndHeaders(t *testing.T) {
	c := mustCompile(t, compare.Rules{Headers: []string{"content-type", "X-Total", "Vary"}})
	a := compare.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}, "Vary": {"Accept", "Origin"}, "Date": {"x"}}, Body: []byte(`{}`)}
	b := compare.Response{Status: 404, Header: http.Header{"Content-Type": {"text/plain"}, "X-Total": {"3"}, "Vary": {"Accept, Origin"}, "Date": {"y"}}, Body: []byte(`{}`)}
	check(t, c, a, b, []compare.Diff{
		{Path: "status", Kind: compare.KindStatus, A: "200", B: "404"},
		{Path: "header:Content-Type", Kind: compare.KindHeader, A: `"application/json"`, B: `"text/plain"`},
		{Path: "header:X-Total", Kind: compare.KindHeader, B: `"3"`},
	})
	t.Run("present but empty is not absent", func(t *testing.T) {
		c := mustCompile(t, compare.Rules{Headers: []string{"Etag"}})
		check(t, c, compare.Response{Header: http.Header{"Etag": {""}}}, compare.Response{},
			[]compare.Diff{{Path: "header:Etag", Kind: compare.KindHeader, A: `""`}})
	})
	t.Run("ignored", func(t *testing.T) {
		c := mustCompile(t, compare.Rules{Headers: []string{"Content-Type", "X-Total"}, Ignore: []string{"status", "header:x-total"}})
		check(t, c, a, b, []compare.Diff{{Path: "header:Content-Type", Kind: compare.KindHeader, A: `"application/json"`, B: `"text/plain"`}})
	})
	t.Run("normalized", func(t *testing.T) {
		c := mustCompile(t, compare.Rules{Headers: []string{"Location"}, Normalize: []compare.Normalize{{Path: "header:Location", Pattern: `/v[0-9]+/`, Replace: "/v/"}}})
		check(t, c, compare.Response{Header: http.Header{"Location": {"/v1/orders/5"}}}, compare.Response{Header: http.Header{"Location": {"/v2/orders/5"}}}, nil)
	})
}

func TestIgnore(t *testing.T) {
	const a = `{"meta":{"request_id":"r1","at":1},"items":[{"id":1,"etag":"x","price":5},{"id":2,"etag":"y","price":6}],"user":{"id":7,"name":"n"},"deep":{"x":{"updated_at":1,"v":1}},"updated_at":3}`
	const b = `{"meta":{"request_id":"r2","at":2},"items":[{"id":1,"etag":"z","price":5},{"id":2,"etag":"w","price":7}],"user":{"id":8,"name":"n"},"deep":{"x":{"updated_at":2,"v":1}},"updated_at":4}`
	runJSON(t, []jsonCase{
		{name: "nothing ignored", a: a, b: b, want: []compare.Diff{
			changed("$.deep.x.updated_at", "1", "2"),
			changed("$.items[0].etag", `"x"`, `"z"`),
			changed("$.items[1].etag", `"y"`, `"w"`),
			changed("$.items[1].price", "6", "7"),
			changed("$.meta.at", "1", "2"),
			changed("$.meta.request_id", `"r1"`, `"r2"`),
			changed("$.updated_at", "3", "4"),
			changed("$.user.id", "7", "8"),
		}},
		{name: "a pattern covers what is below", rules: compare.Rules{Ignore: []string{"$.meta", "$.items[*].etag", "$..updated_at", "$.*.id", "$.items[1].price"}}, a: a, b: b},
		{name: "index pattern", rules: compare.Rules{Ignore: []string{"$.items[0].etag", "$.meta", "$..updated_at", "$.user"}}, a: a, b: b, want: []compare.Diff{
			changed("$.items[1].etag", `"y"`, `"w"`),
			changed("$.items[1].price", "6", "7"),
		}},
		{name: "recursive descent of any element", rules: compare.Rules{Ignore: []string{"$..[*]"}}, a: `{"a":[1],"b":{"c":[2]}}`, b: `{"a":[3],"b":{"c":[4,5]}}`},
		{name: "quoted name pattern", rules: compare.Rules{Ignore: []string{`$["k y"]`}}, a: `{"k y":1}`, b: `{"k y":2}`},
		{name: "an ignored member missing", rules: compare.Rules{Ignore: []string{"$.a"}}, a: `{"a":1}`, b: `{}`},
		{name: "an ignored tail", rules: compare.Rules{Ignore: []string{"$[*].x", "$[2]"}}, a: `[{"x":1},{"x":2},3]`, b: `[{"x":5},{"x":6}]`},
		{name: "root", rules: compare.Rules{Ignore: []string{"$"}}, a: `{"a":1}`, b: `{"a":2`},
		{name: "body", rules: compare.Rules{Ignore: []string{"body"}}, a: `{"a":1}`, b: `[2]`},
	})
	t.Run("extra patterns", func(t *testing.T) {
		c := mustCompile(t, compare.Rules{})
		extra, err := compare.CompilePatterns([]string{"$.meta.request_id", "$..updated_at", "status"})
		require.NoError(t, err)
		ra, rb := jsonResp(`{"meta":{"request_id":1},"x":{"updated_at":1},"v":1}`), jsonResp(`{"meta":{"request_id":2},"x":{"updated_at":2},"v":2}`)
		rb.Status = 500
		res := c.Compare(ra, rb, extra)
		assert.Equal(t, []compare.Diff{changed("$.v", "1", "2")}, res.Diffs)
		assert.Len(t, c.Compare(ra, rb, nil).Diffs, 4)
	})
}

func TestSets(t *testing.T) {
	runJSON(t, []jsonCase{
		{name: "unkeyed: order does not count", rules: compare.Rules{Sets: []string{"$.tags"}}, a: `{"tags":["a","b","c"]}`, b: `{"tags":["c","a","b"]}`},
		{name: "unkeyed: a multiset", rules: compare.Rules{Sets: []string{"$.tags"}}, a: `{"tags":["a","b","b"]}`, b: `{"tags":["b","a","c"]}`,
			want: []compare.Diff{missing("$.tags[#2]", `"b"`), added("$.tags[#2]", `"c"`)}},
		{name: "unkeyed: elements by meaning", rules: compare.Rules{Sets: []string{"$"}}, a: `[{"a":1,"b":[1,2]},1.0,"\u00e9"]`, b: `["é",{"b":[1,2.0],"a":1},1]`},
		{name: "unkeyed: pairs in index order", rules: compare.Rules{Sets: []string{"$"}}, a: `[1,2,1,1]`, b: `[1,3,1]`,
			want: []compare.Diff{missing("$[#1]", "2"), added("$[#1]", "3"), missing("$[#3]", "1")}},
		{name: "unkeyed: ignore inside elements", rules: compare.Rules{Sets: []string{"$.s"}, Ignore: []string{"$.s[*].ts"}},
			a: `{"s":[{"v":1,"ts":1},{"v":2,"ts":2}]}`, b: `{"s":[{"v":2,"ts":9},{"v":1,"ts":8}]}`},
		{name: "unkeyed: normalize inside elements", rules: compare.Rules{Sets: []string{"$"}, Normalize: []compare.Normalize{{Path: "$[*].id", Pattern: "uuid"}}},
			a: `[{"id":"123e4567-e89b-12d3-a456-426614174000","n":1},{"n":2}]`, b: `[{"n":2},{"id":"00000000-0000-0000-0000-000000000000","n":1}]`},
		{name: "unkeyed: nested sets", rules: compare.Rules{Sets: []string{"$", "$[*]"}}, a: `[[1,2],[3,4]]`, b: `[[4,3],[2,1]]`},
		{name: "unkeyed: null equals missing inside elements", rules: compare.Rules{Sets: []string{"$"}, NullEqualsMissing: true}, a: `[{"a":1,"b":null}]`, b: `[{"a":1}]`},
		{name: "unkeyed: numbers exact in matching", rules: compare.Rules{Sets: []string{"$"}, Tolerance: map[string]float64{"$": 1}}, a: `[1]`, b: `[1.5]`,
			want: []compare.Diff{missing("$[#0]", "1"), added("$[#0]", "1.5")}},
		{name: "not a set where the pattern does not match exactly", rules: compare.Rules{Sets: []string{"$.a"}}, a: `{"a":{"b":[1,2]}}`, b: `{"a":{"b":[2,1]}}`,
			want: []compare.Diff{changed("$.a.b[0]", "1", "2"), changed("$.a.b[1]", "2", "1")}},
		{name: "keyed: matched by key", rules: compare.Rules{Sets: []string{"$.items:id"}},
			a: `{"items":[{"id":1,"q":1},{"id":2,"q":2},{"id":3,"q":3}]}`, b: `{"items":[{"id":3,"q":3},{"id":1.0,"q":1},{"id":2,"q":5},{"id":4,"q":4}]}`,
			want: []compare.Diff{changed("$.items[id=2].q", "2", "5"), added("$.items[id=4]", `{"id":4,"q":4}`)}},
		{name: "keyed: string keys", rules: compare.Rules{Sets: []string{"$.items:sku"}},
			a: `[{"items":[{"sku":"a-1","q":1}]}]`, b: `[{"items":[{"sku":"a-1","q":1}]}]`},
		{name: "keyed: string keys in paths", rules: compare.Rules{Sets: []string{"$.items:sku"}},
			a: `{"items":[{"sku":"a\u00e9","q":1},{"sku":"b","q":1}]}`, b: `{"items":[{"sku":"b","q":1},{"sku":"aé","q":2}]}`,
			want: []compare.Diff{changed(`$.items[sku="aé"].q`, "1", "2")}},
		{name: "keyed: with a pattern", rules: compare.Rules{Sets: []string{"$.orders[*].lines:sku"}},
			a: `{"orders":[{"lines":[{"sku":"x","n":1},{"sku":"y","n":2}]}]}`, b: `{"orders":[{"lines":[{"sku":"y","n":2},{"sku":"x","n":3}]}]}`,
			want: []compare.Diff{changed(`$.orders[0].lines[sku="x"].n`, "1", "3")}},
		{name: "keyed: elements without the key are a multiset", rules: compare.Rules{Sets: []string{"$:id"}},
			a: `[{"id":1},{"v":1},"x",{"v":2}]`, b: `[{"v":2},"x",{"id":1},{"v":3}]`,
			want: []compare.Diff{missing("$[#1]", `{"v":1}`), added("$[#3]", `{"v":3}`)}},
		{name: "keyed: duplicate keys are a multiset", rules: compare.Rules{Sets: []string{"$:id"}},
			a: `[{"id":1,"v":1},{"id":1,"v":2},{"id":2,"v":1}]`, b: `[{"id":1,"v":2},{"id":1,"v":3},{"id":2,"v":2}]`,
			want: []compare.Diff{changed("$[id=2].v", "1", "2"), missing("$[#0]", `{"id":1,"v":1}`), added("$[#1]", `{"id":1,"v":3}`)}},
		{name: "keyed: a key duplicated on one side only", rules: compare.Rules{Sets: []string{"$:id"}},
			a: `[{"id":1,"v":1}]`, b: `[{"id":1,"v":1},{"id":1,"v":2}]`,
			want: []compare.Diff{added("$[#1]", `{"id":1,"v":2}`)}},
		{name: "keyed: ignore a keyed element", rules: compare.Rules{Sets: []string{"$:id"}, Ignore: []string{"$[id=2]"}},
			a: `[{"id":1},{"id":2,"v":1}]`, b: `[{"id":2,"v":2},{"id":1}]`},
		{name: "keyed: tolerance applies inside matched elements", rules: compare.Rules{Sets: []string{"$:id"}, Tolerance: map[string]float64{"$[*].p": 0.5}},
			a: `[{"id":1,"p":1}]`, b: `[{"id":1,"p":1.4}]`},
		{name: "keyed: a quoted key field", rules: compare.Rules{Sets: []string{`$:"k y"`}},
			a: `[{"k y":1,"v":1}]`, b: `[{"k y":1,"v":2}]`, want: []compare.Diff{changed(`$["k y"=1].v`, "1", "2")}},
	})
}

func TestTolerance(t *testing.T) {
	runJSON(t, []jsonCase{
		{name: "within", rules: compare.Rules{Tolerance: map[string]float64{"$.total": 0.01}}, a: `{"total":10.00}`, b: `{"total":10.005}`},
		{name: "at the bound", rules: compare.Rules{Tolerance: map[string]float64{"$.total": 0.5}}, a: `{"total":10}`, b: `{"total":10.5}`},
		{name: "beyond", rules: compare.Rules{Tolerance: map[string]float64{"$.total": 0.01}}, a: `{"total":10.00}`, b: `{"total":10.02}`,
			want: []compare.Diff{changed("$.total", "10.00", "10.02")}},
		{name: "only where it matches", rules: compare.Rules{Tolerance: map[string]float64{"$.total": 1}}, a: `{"total":1,"other":1}`, b: `{"total":2,"other":2}`,
			want: []compare.Diff{changed("$.other", "1", "2")}},
		{name: "covers what is below", rules: compare.Rules{Tolerance: map[string]float64{"$.prices": 0.1}}, a: `{"prices":[1.0,{"p":2.0}]}`, b: `{"prices":[1.05,{"p":2.05}]}`},
		{name: "the largest wins", rules: compare.Rules{Tolerance: map[string]float64{"$.a": 0.1, "$..a": 1}}, a: `{"a":1}`, b: `{"a":1.9}`},
		{name: "patterns", rules: compare.Rules{Tolerance: map[string]float64{"$.items[*].price": 0.01}}, a: `{"items":[{"price":1}]}`, b: `{"items":[{"price":1.001}]}`},
		{name: "zero is exact", rules: compare.Rules{Tolerance: map[string]float64{"$": 0}}, a: `[1]`, b: `[1.0000001]`,
			want: []compare.Diff{changed("$[0]", "1", "1.0000001")}},
		{name: "not for strings", rules: compare.Rules{Tolerance: map[string]float64{"$": 1}}, a: `["1"]`, b: `["1.5"]`,
			want: []compare.Diff{changed("$[0]", `"1"`, `"1.5"`)}},
	})
}

func TestNormalize(t *testing.T) {
	runJSON(t, []jsonCase{
		{name: "uuid", rules: compare.Rules{Normalize: []compare.Normalize{{Path: "$.id", Pattern: "uuid"}}},
			a: `{"id":"order 123e4567-e89b-12d3-a456-426614174000"}`, b: `{"id":"order 9F1C2D3E-0000-4000-8000-00000000ABCD"}`},
		{name: "uuid: the rest still counts", rules: compare.Rules{Normalize: []compare.Normalize{{Path: "$.id", Pattern: "uuid"}}},
			a: `{"id":"order 123e4567-e89b-12d3-a456-426614174000"}`, b: `{"id":"cart 123e4567-e89b-12d3-a456-426614174001"}`,
			want: []compare.Diff{changed("$.id", `"order 123e4567-e89b-12d3-a456-426614174000"`, `"cart 123e4567-e89b-12d3-a456-426614174001"`)}},
		{name: "timestamp", rules: compare.Rules{Normalize: []compare.Normalize{{Pattern: "timestamp"}}},
			a: `{"at":"2024-01-02T03:04:05Z","b":["2024-01-02T03:04:05.123+01:00"],"c":"20240102T030405Z"}`,
			b: `{"at":"2025-12-31T23:59:59.999999Z","b":["2024-06-01 10:00:00-0700"],"c":"20991231T235959Z"}`},
		{name: "timestamp: a date is not a date-time", rules: compare.Rules{Normalize: []compare.Normalize{{Pattern: "timestamp"}}},
			a: `["2024-01-02"]`, b: `["2024-01-03"]`, want: []compare.Diff{changed("$[0]", `"2024-01-02"`, `"2024-01-03"`)}},
		{name: "number", rules: compare.Rules{Normalize: []compare.Normalize{{Path: "$..msg", Pattern: "number"}}},
			a: `{"x":{"msg":"took 12.5 ms, 3 rows"}}`, b: `{"x":{"msg":"took 7 ms, 10 rows"}}`},
		{name: "custom regex with a group", rules: compare.Rules{Normalize: []compare.Normalize{{Path: "$.url", Pattern: `^https?://[^/]+(/.*)$`, Replace: "HOST$1"}}},
			a: `{"url":"http://legacy:8080/a/b"}`, b: `{"url":"https://new.internal/a/b"}`},
		{name: "custom regex, default replacement", rules: compare.Rules{Normalize: []compare.Normalize{{Pattern: `[0-9a-f]{32}`}}},
			a: `["h=0123456789abcdef0123456789abcdef"]`, b: `["h=fedcba9876543210fedcba9876543210"]`},
		{name: "in order", rules: compare.Rules{Normalize: []compare.Normalize{{Pattern: `a`, Replace: "b"}, {Pattern: `b`, Replace: "c"}}},
			a: `["a"]`, b: `["c"]`},
		{name: "only at its path", rules: compare.Rules{Normalize: []compare.Normalize{{Path: "$.a", Pattern: "number"}}},
			a: `{"a":"1","b":"1"}`, b: `{"a":"2","b":"2"}`, want: []compare.Diff{changed("$.b", `"1"`, `"2"`)}},
		{name: "not member names", rules: compare.Rules{Normalize: []compare.Normalize{{Pattern: "number"}}},
			a: `{"k1":"1"}`, b: `{"k2":"2"}`, want: []compare.Diff{missing("$.k1", `"1"`), added("$.k2", `"2"`)}},
	})
	t.Run("text bodies", func(t *testing.T) {
		c := mustCompile(t, compare.Rules{Normalize: []compare.Normalize{{Path: "body", Pattern: "timestamp"}}})
		check(t, c, typed("text/plain", "generated 2024-01-01T00:00:00Z\nrows: 3"), typed("text/plain", "generated 2024-05-05T10:10:10Z\nrows: 3"), nil)
		check(t, c, typed("text/plain", "at 2024-01-01T00:00:00Z\nrows: 3"), typed("text/plain", "at 2024-05-05T10:10:10Z\nrows: 4"),
			[]compare.Diff{{Path: "body", Kind: compare.KindText, A: `line 2: "rows: 3"`, B: `line 2: "rows: 4"`}})
		c = mustCompile(t, compare.Rules{Normalize: []compare.Normalize{{Path: "$.x", Pattern: "timestamp"}}})
		check(t, c, typed("text/plain", "2024-01-01T00:00:00Z"), typed("text/plain", "2024-05-05T10:10:10Z"),
			[]compare.Diff{{Path: "body", Kind: compare.KindText, A: `line 1: "2024-01-01T00:00:00Z"`, B: `line 1: "2024-05-05T10:10:10Z"`}})
	})
	t.Run("everywhere includes headers", func(t *testing.T) {
		c := mustCompile(t, compare.Rules{Headers: []string{"Date"}, Normalize: []compare.Normalize{{Pattern: `.+`, Replace: "x"}}})
		check(t, c, compare.Response{Header: http.Header{"Date": {"Mon"}}}, compare.Response{Header: http.Header{"Date": {"Tue"}}}, nil)
	})
}

func TestMaxDiffs(t *testing.T) {
	c := mustCompile(t, compare.Rules{MaxDiffs: 3, Sets: []string{"$.s"}})
	a := jsonResp(`{"a":1,"b":2,"c":3,"d":4,"e":5,"s":[1,2]}`)
	b := jsonResp(`{"a":0,"b":0,"c":0,"d":0,"e":0,"s":[3,4]}`)
	res := c.Compare(a, b, nil)
	assert.Equal(t, []compare.Diff{changed("$.a", "1", "0"), changed("$.b", "2", "0"), changed("$.c", "3", "0")}, res.Diffs)
	assert.Equal(t, 6, res.More)
	assert.False(t, res.Match())

	t.Run("the cut is by path, either way round", func(t *testing.T) {
		c := mustCompile(t, compare.Rules{MaxDiffs: 3, Sets: []string{"$"}})
		a, b := jsonResp(`[1,2,"x"]`), jsonResp(`[3,4]`)
		ab, ba := c.Compare(a, b, nil), c.Compare(b, a, nil)
		require.Len(t, ab.Diffs, 3)
		require.Len(t, ba.Diffs, 3)
		assert.Equal(t, 2, ab.More)
		for i := range ab.Diffs {
			assert.Equal(t, mirror(ab.Diffs[i]), ba.Diffs[i])
		}
	})
}

func TestCompareIsSafeForConcurrentUse(t *testing.T) {
	c := mustCompile(t, compare.Rules{Sets: []string{"$.s:id"}, Ignore: []string{"$..ts"}})
	a := jsonResp(`{"s":[{"id":1,"v":1},{"id":2,"v":2}],"ts":1}`)
	b := jsonResp(`{"s":[{"id":2,"v":3},{"id":1,"v":1}],"ts":2}`)
	want := c.Compare(a, b, nil)
	done := make(chan compare.Result)
	for range 8 {
		go func() {
			var r compare.Result
			for range 200 {
				r = c.Compare(a, b, nil)
			}
			done <- r
		}()
	}
	for range 8 {
		assert.Equal(t, want, <-done)
	}
}

func TestEqualBodiesDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	c := mustCompile(t, compare.Rules{Ignore: []string{"$.meta"}, Sets: []string{"$.items:id"}, Headers: []string{"Content-Type"}})
	body := `{"meta":{"id":1},"items":[{"id":1,"price":10.5,"name":"a"},{"id":2,"price":3,"name":"b"}],"total":13.5}`
	a, b := jsonResp(body), jsonResp(body)
	assert.Zero(t, testing.AllocsPerRun(100, func() { c.Compare(a, b, nil) }), "byte-equal bodies")
	reordered := jsonResp(`{"total":1.35e1,"items":[{"name":"b","id":2,"price":3.0},{"price":10.50,"id":1,"name":"a"}],"meta":{"id":2}}`)
	require.True(t, c.Compare(a, reordered, nil).Match())
	assert.Zero(t, testing.AllocsPerRun(100, func() { c.Compare(a, reordered, nil) }), "equal by meaning")
}
