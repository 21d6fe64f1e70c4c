package recipes

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTimeSpan(t *testing.T) {
	const h, m, s = 3600 * microsPerSecond, 60 * microsPerSecond, microsPerSecond
	for _, tc := range []struct {
		in   string
		fsp  int
		want timeSpan
		text string // as the field writes it
	}{
		{"00:00:00", 0, 0, "00:00:00"},
		{"838:59:59", 0, maxTimeSpan, "838:59:59"},
		{"-838:59:59", 0, -maxTimeSpan, "-838:59:59"},
		{"1:02:03", 0, h + 2*m + 3*s, "01:02:03"},
		{"-00:00:00", 0, 0, "00:00:00"},
		{"24:00:00", 0, 24 * h, "24:00:00"},
		{"12:34:56.5", 1, 12*h + 34*m + 56*s + 500000, "12:34:56.5"},
		{"12:34:56.500000", 1, 12*h + 34*m + 56*s + 500000, "12:34:56.5"},
		{"12:34:56.000", 0, 12*h + 34*m + 56*s, "12:34:56"},
		{"-00:00:00.000001", 6, -1, "-00:00:00.000001"},
		{"838:59:59.000000", 6, maxTimeSpan, "838:59:59.000000"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTimeSpan(tc.in, tc.fsp)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.text, got.format(tc.fsp))
			back, err := parseTimeSpan(got.format(tc.fsp), tc.fsp)
			require.NoError(t, err)
			assert.Equal(t, got, back, "read back from its written form")
		})
	}
	for _, tc := range []struct {
		in   string
		fsp  int
		want string
	}{
		{"839:00:00", 0, "outside MySQL's TIME range"},
		{"838:59:59.5", 1, "outside MySQL's TIME range"},
		{"-838:59:59.000001", 6, "outside MySQL's TIME range"},
		{"1000:00:00", 0, "not a time"},
		{"12:60:00", 0, "not a time"},
		{"12:00:60", 0, "not a time"},
		{"12:00", 0, "not a time"},
		{"12:0:00", 0, "not a time"},
		{"+12:00:00", 0, "not a time"},
		{"--1:00:00", 0, "not a time"},
		{"12:00:00.", 6, "not a time"},
		{"12:00:00.1234567", 6, "not a time"},
		{"12:00:00.5", 0, "more than 0 fractional digits"},
		{"12:00:00.123", 2, "more than 2 fractional digits"},
		{" 12:00:00", 0, "not a time"},
		{"", 0, "not a time"},
		{"P1D", 0, "not a time"},
	} {
		t.Run("refused "+tc.in, func(t *testing.T) {
			_, err := parseTimeSpan(tc.in, tc.fsp)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	assert.Equal(t, "-12:00:00.25", timeSpan(-(12*h + 250000)).text())
	assert.Equal(t, timeSpan(26*h+5), timeSpan(intervalMicros(pgtype.Interval{Days: 1, Microseconds: 2*h + 5, Valid: true})))
}

func TestParseBitsBlobSet(t *testing.T) {
	got, err := parseBits("10101", 5)
	require.NoError(t, err)
	assert.Equal(t, "10101", got)
	for in, want := range map[string]string{"1010": "has 4 bits; the field holds exactly 5", "10201": "not a bit string", "": "has 0 bits", "1010 ": "not a bit string"} {
		_, err := parseBits(in, 5)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
	assert.Equal(t, "0101", bitsText(pgtype.Bits{Bytes: []byte{0x50}, Len: 4, Valid: true}))

	raw := blob("\x00a\x00\xff\xfe")
	assert.Equal(t, "AGEA//4=", raw.json())
	assert.Equal(t, "AGEA__4", raw.text())
	for _, in := range []string{"AGEA//4=", "AGEA//4", "AGEA__4", "AGEA__4="} {
		b, err := parseBlob(in)
		require.NoError(t, err, in)
		assert.Equal(t, raw, b, in)
	}
	for _, in := range []string{"AGEA//4==", "AGEA/", "AGEA/_4=", "AG EA", "AGEA\n//4=", "not base64!", "AGF="} {
		_, err := parseBlob(in)
		assert.Error(t, err, in)
	}
	empty, err := parseBlob("")
	require.NoError(t, err)
	assert.Equal(t, blob(""), empty)

	f := &Field{Name: "tags", Type: TypeSet, Enum: []string{"x", "y", "z"}}
	set, err := f.parseSetJSON([]any{"z", "x"})
	require.NoError(t, err)
	assert.Equal(t, stringSet{"x", "z"}, set, "members in enum order, as MySQL writes a set")
	set, err = f.parseSetText("")
	require.NoError(t, err)
	assert.NotNil(t, set)
	assert.Empty(t, set)
	set, err = f.parseSetText("y,x")
	require.NoError(t, err)
	assert.Equal(t, stringSet{"x", "y"}, set)
	set, err = f.parseSetText(`["z", "y"]`)
	require.NoError(t, err)
	assert.Equal(t, stringSet{"y", "z"}, set, "the text form may be a JSON array")
	set, err = f.parseSetText("[]")
	require.NoError(t, err)
	assert.Equal(t, stringSet{}, set)
	_, err = f.parseSetText("x,,y")
	assert.ErrorContains(t, err, `member "" must be one of x, y, z`)
	for _, tc := range []struct {
		in   any
		want string
	}{
		{[]any{"x", "x"}, `holds "x" twice`},
		{[]any{"w"}, `member "w" must be one of x, y, z`},
		{[]any{1.0}, "item 0: expected a string, found"},
		{"x", "expected an array of strings, found a string"},
		{map[string]any{}, "expected an array of strings, found an object"},
	} {
		_, err := f.parseSetJSON(tc.in)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	free := &Field{Name: "labels", Type: TypeSet}
	set, err = free.parseSetJSON([]any{"b", "a,c"})
	require.NoError(t, err)
	assert.Equal(t, stringSet{"b", "a,c"}, set, "without an enum the order is kept")
	_, err = free.parseSetJSON([]any{"a\x00"})
	assert.ErrorContains(t, err, "NUL")
	assert.Equal(t, "ARRAY['x', 'it''s']::text[]", stringSet{"x", "it's"}.arraySQL())
	assert.Equal(t, "'{}'::text[]", stringSet{}.arraySQL())
	assert.Equal(t, []string{}, bindValue(stringSet(nil)), "a set binds as an array, never as NULL")
}

// TestTypedValuesWritten writes a value of each type as answers do and
// reads it back from the JSON as requests are read.
func TestTypedValuesWritten(t *testing.T) {
	shape := &Shape{Decimals: "number", Booleans: "bool"}
	for _, tc := range []struct {
		f    Field
		v    any
		want string
	}{
		{Field{Type: TypeTime}, -maxTimeSpan, `"-838:59:59"`},
		{Field{Type: TypeTime, FSP: 3}, timeSpan(1500), `"00:00:00.001"`},
		{Field{Type: TypeBits, Length: 5}, "10101", `"10101"`},
		{Field{Type: TypeBinary}, blob("\x00\x00"), `"AAA="`},
		{Field{Type: TypeSet, Enum: []string{"x", "y"}}, stringSet{"x", "y"}, `["x","y"]`},
		{Field{Type: TypeSet}, stringSet{}, `[]`},
		{Field{Type: TypeSet}, stringSet{"\"<é>"}, `["\"\u003cé\u003e"]`},
		{Field{Type: TypeDecimal, Scale: 0, Precision: 20}, decimal("18446744073709551615"), `18446744073709551615`},
	} {
		t.Run(tc.f.Type+" "+tc.want, func(t *testing.T) {
			raw := exampleJSON(&tc.f, tc.v, shape)
			assert.Equal(t, tc.want, string(raw))
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.UseNumber()
			var back any
			require.NoError(t, dec.Decode(&back))
			got, err := tc.f.parseJSON(back, shape)
			require.NoError(t, err)
			if tc.f.Type == TypeTime && tc.f.FSP == 3 {
				assert.Equal(t, timeSpan(1000), got, "written with fsp digits")
				return
			}
			assert.Equal(t, tc.v, got)
		})
	}
}

func TestTypedColumnLimits(t *testing.T) {
	n := func(v int32) *int32 { return &v }
	bit5 := limitOfColumn("bit", n(5), nil, nil, nil)
	assert.Equal(t, "", bit5.check("10101"))
	assert.Equal(t, "must have exactly 5 bits (the column is bit(5))", bit5.check("101"))
	iv0 := limitOfColumn("interval", nil, nil, nil, n(0))
	assert.Equal(t, "", iv0.check(timeSpan(-maxTimeSpan)))
	assert.Equal(t, "has more fractional digits than the column holds (the column is interval(0))", iv0.check(timeSpan(1)))
	iv6 := limitOfColumn("interval", nil, nil, nil, n(6))
	assert.Equal(t, "", iv6.check(timeSpan(1)))
	big := limitOfColumn("numeric", nil, n(20), n(0), nil)
	assert.Equal(t, "", big.check(decimal("18446744073709551615")))
	assert.Contains(t, big.check(decimal("184467440737095516150")), "more than 20 digits")
	assert.Equal(t, "text[]", arrayType("_text"))
	assert.Equal(t, "character varying[]", arrayType("_varchar"))
	assert.Equal(t, "int4[]", arrayType("_int4"))
	assert.True(t, serves(TypeSet, "text[]"))
	assert.False(t, serves(TypeSet, "int4[]"))
	assert.True(t, serves(TypeDecimal, "numeric"))
	assert.False(t, serves(TypeInteger, "numeric"), "numeric(20,0) holds values beyond int64: a decimal serves it")
}

// FuzzTypedValues reads arbitrary text as a value of each type that has a
// text form of its own: what is accepted is written in one form that reads
// back as the same value.
func FuzzTypedValues(f *testing.F) {
	for _, s := range []string{"-838:59:59", "12:34:56.5", "10101", "AGEA//4=", "AGEA__4", "x,z", "", "1:2:3", "==", "y,x,y"} {
		f.Add(s)
	}
	shape := &Shape{Decimals: "number", Booleans: "bool"}
	fields := []Field{
		{Name: "t", Type: TypeTime, FSP: 3},
		{Name: "t6", Type: TypeTime, FSP: 6},
		{Name: "b", Type: TypeBits, Length: 5},
		{Name: "bin", Type: TypeBinary},
		{Name: "s", Type: TypeSet, Enum: []string{"x", "y", "z"}},
		{Name: "free", Type: TypeSet},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := range fields {
			fl := &fields[i]
			v, err := fl.parseText(s, shape)
			if err != nil {
				continue
			}
			raw := exampleJSON(fl, v, shape)
			var back any
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatalf("%s: %q written as %s, which is not JSON: %v", fl.Type, s, raw, err)
			}
			got, err := fl.parseJSON(back, shape)
			if err != nil {
				t.Fatalf("%s: %q written as %s is not read back: %v", fl.Type, s, raw, err)
			}
			if keyText(got) != keyText(v) {
				t.Fatalf("%s: %q read back as %v, not %v", fl.Type, s, got, v)
			}
			if fl.Type == TypeTime {
				if x := got.(timeSpan); x > maxTimeSpan || x < -maxTimeSpan {
					t.Fatalf("%q accepted outside the TIME range: %v", s, x)
				}
			}
		}
	})
}

// TestBadTypedFields: the rules of the keys the new types bring are
// checked when the recipe loads, each refusal positioned.
func TestBadTypedFields(t *testing.T) {
	const status = "        type: string\n        enum: [new, paid]"
	const id = "        type: integer\n        generated: true"
	for _, tc := range []struct {
		name, old, new, want string
		line                 int
	}{
		{"bits without length", status, "        type: bits", `resources[0].fields[1]: missing field "length"`, 9},
		{"bits of no bits", status, "        type: bits\n        length: 0", "length: 0 is not between 1 and 83886080", 11},
		{"length on a string", status, "        type: string\n        length: 3", "length applies to bits fields, not string", 11},
		{"fsp on a string", status, "        type: string\n        fsp: 3", "fsp applies to time fields, not string", 11},
		{"fsp beyond microseconds", status, "        type: time\n        fsp: 7", "fsp: 7 is not between 0 and 6", 11},
		{"enum on bits", status, "        type: bits\n        length: 2\n        enum: ['01']", "enum applies to string and set fields, not bits", 12},
		{"set member with a comma", status, "        type: set\n        enum: [new, 'a,b']", `member "a,b" holds a comma`, 11},
		{"set member twice", status, "        type: set\n        enum: [new, new]", `member "new" is listed twice`, 11},
		{"filter on a set", status, "        type: set\n        enum: [new, paid]", `"status" is a set field and cannot be filtered or sorted`, 26},
		{"time key", id, "        type: time", `the key "id" cannot be of type time`, 3},
		{"set key", id, "        type: set", `the key "id" cannot be of type set`, 3},
		{"time default out of range", status, "        type: time\n        default: '839:00:00'", "outside MySQL's TIME range", 11},
		{"bits default of the wrong length", status, "        type: bits\n        length: 3\n        default: '01'", "has 2 bits; the field holds exactly 3", 12},
		{"binary default not base64", status, "        type: binary\n        default: '***'", "is not base64", 11},
		{"set default not a member", status, "        type: set\n        enum: [new, paid]\n        default: 'new,lost'", `member "lost" must be one of new, paid`, 12},
		{"set example twice", status, "        type: set\n        example: 'a,a'", `holds "a" twice`, 11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(good, tc.old, tc.new, 1)
			if tc.name == "filter on a set" {
				require.Contains(t, src, "filters: [status]")
			}
			require.NotEqual(t, good, src)
			_, err := Parse("shop.yaml", []byte(src))
			require.Error(t, err)
			var lines []string
			found := false
			for _, e := range errorsOf(err) {
				lines = append(lines, e.Error())
				if strings.Contains(e.Error(), tc.want) {
					found = true
					assert.Equal(t, tc.line, e.Line, e.Error())
				}
			}
			assert.True(t, found, "want %q in\n%s", tc.want, strings.Join(lines, "\n"))
		})
	}
	for _, ok := range []string{
		"        type: bits\n        length: 64",
		"        type: time\n        fsp: 6\n        default: '-838:59:59'",
		"        type: set\n        enum: [new, paid]\n        default: 'paid,new'",
		"        type: set\n        default: '[]'",
		"        type: binary\n        default: 'AP8='",
	} {
		src := strings.Replace(strings.Replace(good, status, ok, 1), "filters: [status]", "filters: [id]", 1)
		_, err := Parse("shop.yaml", []byte(src))
		assert.NoError(t, err, ok)
	}
}
