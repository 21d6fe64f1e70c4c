package recipes

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr"
)

// Examples: every field has one, checked at load time against the field's
// rules like a default, and the OpenAPI document shows it in the recipe's
// shape; request bodies show the object their fields' examples make.

// exampleInstant is the instant time examples show. Each of its elements
// has two digits (28 November, 22:45:30, 10 PM), so it is written alike by
// layouts with and without leading zeros.
var exampleInstant = time.Date(2025, 11, 28, 22, 45, 30, 123456000, time.UTC)

const exampleUUID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"

// exampleTimeSpan is the value time examples show, cut to the field's fsp.
const exampleTimeSpan = timeSpan((12*3600+34*60+56)*microsPerSecond + 123456) // 12:34:56.123456

// exampleValue is the value of f's example: its example key, else one
// derived from its default, type and rules. at names the key at fault when
// there is none ("example", "pattern" or "" for the field).
func (f *Field) exampleValue(shape *Shape) (v any, at string, err error) {
	if !slices.Contains(fieldTypes, f.Type) || (f.Pattern != "" && f.pattern == nil) {
		return nil, "", nil // the type or the pattern is refused on its own
	}
	if f.Example != "" {
		v, err := f.parseText(f.Example, shape)
		if err != nil {
			return nil, "example", err
		}
		if msg := f.check(v); msg != "" {
			return nil, "example", fmt.Errorf("%q: %s", f.Example, msg)
		}
		return f.roundTrip(v, shape, "example")
	}
	if f.Default != "" {
		if v, ok := f.defaultValue(shape, exampleInstant); ok && f.check(v) == "" {
			return f.roundTrip(v, shape, "default")
		}
	}
	for _, v := range f.exampleCandidates() {
		if f.check(v) == "" {
			return f.roundTrip(v, shape, "")
		}
	}
	switch {
	case f.Type == TypeString && f.Pattern != "":
		return nil, "pattern", fmt.Errorf("no example could be built from pattern %s within the field's other rules; give the field an example", f.Pattern)
	case f.Type == TypeString || f.Type == TypeInteger || f.Type == TypeNumber || f.Type == TypeDecimal:
		return nil, "", fmt.Errorf("no example passes the field's rules; give the field an example")
	}
	return nil, "", nil
}

// roundTrip checks that v, written in the shape as answers are, is read
// back by the decoder and passes the field's rules.
func (f *Field) roundTrip(v any, shape *Shape, at string) (any, string, error) {
	raw := exampleJSON(f, v, shape)
	var back any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	err := dec.Decode(&back)
	if err == nil {
		var parsed any
		if parsed, err = f.parseJSON(back, shape); err == nil {
			if msg := f.check(parsed); msg != "" {
				err = fmt.Errorf("%s: %s", raw, msg)
			}
		}
	}
	if err != nil {
		return nil, at, fmt.Errorf("the example %s is not read back: %w", raw, err)
	}
	return v, "", nil
}

// exampleJSON writes a field's value as answers write it.
func exampleJSON(f *Field, v any, shape *Shape) json.RawMessage {
	w := &writer{shape: shape}
	w.value(f, v)
	return json.RawMessage(w.b.Bytes())
}

// exampleCandidates are the values tried, in order, for a field without an
// example or a default.
func (f *Field) exampleCandidates() []any {
	switch f.Type {
	case TypeString:
		if len(f.Enum) > 0 {
			return []any{f.Enum[0]}
		}
		if f.Pattern != "" {
			var out []any
			for _, extra := range []int{0, 1, 2, 4, 8, 16, 32, 64} {
				if s, ok := patternExample(f.Pattern, extra); ok {
					out = append(out, s)
				}
			}
			return out
		}
		s := "example"
		if f.MaxLength != nil && *f.MaxLength < len(s) {
			s = s[:max(*f.MaxLength, 0)]
		}
		if f.MinLength != nil && *f.MinLength > len(s) {
			s += strings.Repeat("x", *f.MinLength-len(s))
		}
		return []any{s}
	case TypeUUID:
		return []any{exampleUUID}
	case TypeInteger:
		v := 1.0
		if f.Minimum != nil && v < math.Ceil(*f.Minimum) {
			v = math.Ceil(*f.Minimum)
		}
		if f.Maximum != nil && v > math.Floor(*f.Maximum) {
			v = math.Floor(*f.Maximum)
		}
		if math.Abs(v) > 1<<53 {
			return nil
		}
		return []any{int64(v)}
	case TypeNumber:
		v := 1.5
		if f.Minimum != nil && v < *f.Minimum {
			v = *f.Minimum
		}
		if f.Maximum != nil && v > *f.Maximum {
			v = *f.Maximum
		}
		return []any{v}
	case TypeDecimal:
		unit := math.Pow(10, float64(f.Scale))
		v := 1.0
		if f.Minimum != nil && v < *f.Minimum {
			v = math.Ceil(*f.Minimum*unit) / unit
		}
		if f.Maximum != nil && v > *f.Maximum {
			v = math.Floor(*f.Maximum*unit) / unit
		}
		d, err := parseDecimal(strconv.FormatFloat(v, 'f', f.Scale, 64), f.Scale, f.Precision)
		if err != nil {
			return nil
		}
		return []any{d}
	case TypeBoolean:
		return []any{true}
	case TypeTimestamp:
		return []any{exampleInstant}
	case TypeDate:
		y, m, d := exampleInstant.Date()
		return []any{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
	case TypeJSON:
		return []any{json.RawMessage(`{"key":"value"}`)}
	case TypeTime:
		unit := timeSpan(1)
		for range maxFSP - min(max(f.FSP, 0), maxFSP) {
			unit *= 10
		}
		return []any{exampleTimeSpan / unit * unit}
	case TypeBits:
		n := f.Length
		if n <= 0 {
			n = 5
		}
		return []any{strings.Repeat("10", (n+1)/2)[:n]}
	case TypeBinary:
		return []any{blob("\x00\x01\x02\x03")}
	case TypeSet:
		if len(f.Enum) > 0 {
			return []any{stringSet(f.Enum[:min(2, len(f.Enum))])}
		}
		return []any{stringSet{"example"}}
	}
	return nil
}

// patternExample builds a string that the regular expression pattern
// matches: the first alternative of each choice, preferred characters
// (letters, then digits) of each class, the least repetitions plus extra
// where a repetition allows more.
func patternExample(pattern string, extra int) (string, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	if !writeExample(&b, re, extra, 0) {
		return "", false
	}
	s := b.String()
	if ok, _ := regexp.MatchString(pattern, s); !ok {
		return "", false
	}
	return s, true
}

func writeExample(b *strings.Builder, re *syntax.Regexp, extra, depth int) bool {
	if depth > 100 || b.Len() > 4096 {
		return false
	}
	repeat := func(n int) bool {
		for range n {
			if !writeExample(b, re.Sub[0], extra, depth+1) {
				return false
			}
		}
		return true
	}
	switch re.Op {
	case syntax.OpNoMatch:
		return false
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		r, ok := classRune(re.Rune)
		if !ok {
			return false
		}
		b.WriteRune(r)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('a')
	case syntax.OpCapture:
		return writeExample(b, re.Sub[0], extra, depth+1)
	case syntax.OpStar:
		return repeat(extra)
	case syntax.OpPlus:
		return repeat(1 + extra)
	case syntax.OpQuest:
		return repeat(min(extra, 1))
	case syntax.OpRepeat:
		n := re.Min + extra
		if re.Max >= 0 && n > re.Max {
			n = re.Max
		}
		return repeat(n)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !writeExample(b, sub, extra, depth+1) {
				return false
			}
		}
	case syntax.OpAlternate:
		return writeExample(b, re.Sub[0], extra, depth+1)
	}
	return true // anchors, boundaries and the empty match write nothing
}

// classRune picks a character of a class (pairs of lo, hi): a lower-case
// letter, an upper-case one, a digit, then any printable character.
func classRune(ranges []rune) (rune, bool) {
	in := func(r rune) bool {
		for i := 0; i+1 < len(ranges); i += 2 {
			if ranges[i] <= r && r <= ranges[i+1] {
				return true
			}
		}
		return false
	}
	for _, span := range [][2]rune{{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'!', '~'}} {
		for r := span[0]; r <= span[1]; r++ {
			if in(r) {
				return r, true
			}
		}
	}
	for i := 0; i+1 < len(ranges); i += 2 {
		for r := ranges[i]; r <= ranges[i+1] && r < ranges[i]+1024; r++ {
			if unicode.IsPrint(r) && utf8.ValidRune(r) {
				return r, true
			}
		}
	}
	return 0, false
}

// checkExamples gives every field its example and refuses the recipe where
// a field's example breaks its rules, or the example of a written
// resource breaks one of the resource's rules.
func (r *Recipe) checkExamples(c *checker) {
	for i := range r.Resources {
		res := &r.Resources[i]
		for j := range res.Fields {
			f := &res.Fields[j]
			v, at, err := f.exampleValue(&r.Shape)
			if err != nil {
				path := fmt.Sprintf("resources[%d].fields[%d]", i, j)
				if at != "" {
					path += "." + at
				}
				c.fail(path, "%v", err)
				continue
			}
			f.example = v
		}
	}
	// A field holding another resource's key shows that key's example, so
	// that the examples of related resources refer to each other.
	for i := range r.Resources {
		res := &r.Resources[i]
		for _, rel := range res.Relations {
			target := r.resource(rel.Resource)
			if target == nil {
				continue
			}
			holder, keyed := res, target
			if rel.Kind == "many" {
				holder, keyed = target, res
			}
			f, k := holder.field(rel.Field), keyed.field(keyed.Key)
			if f == nil || k == nil || k.example == nil || f.Example != "" || f.Default != "" || f.Type != k.Type || f.check(k.example) != "" {
				continue
			}
			f.example = k.example
		}
	}
	for i := range r.Resources {
		res := &r.Resources[i]
		if !r.written(res) {
			continue
		}
		env := ruleEnv(exampleRow(res, &r.Shape))
		for k := range res.Rules {
			rule := &res.Rules[k]
			if rule.prog == nil {
				continue
			}
			if ok, err := expr.Run(rule.prog, env); err != nil || ok != true {
				c.fail(fmt.Sprintf("resources[%d].rules[%d].expr", i, k),
					"the examples of %q's fields break this rule (%s); give the fields it reads examples that keep it", res.Name, rule.Message)
			}
		}
	}
}

// written reports whether an endpoint creates, replaces or patches res.
func (r *Recipe) written(res *Resource) bool {
	for _, e := range r.Endpoints {
		if e.Resource == res.Name && (e.Action == ActionCreate || e.Action == ActionReplace || e.Action == ActionPatch) {
			return true
		}
	}
	return false
}

// exampleRow is the row a create of the resource's example body writes, as
// rules see it: read-only fields hold their default, or nothing yet.
func exampleRow(res *Resource, shape *Shape) map[string]any {
	row := make(map[string]any, len(res.Fields))
	for i := range res.Fields {
		f := &res.Fields[i]
		switch {
		case !f.ReadOnly:
			row[f.Name] = f.example
		case f.Default != "":
			row[f.Name], _ = f.defaultValue(shape, exampleInstant)
		default:
			row[f.Name] = nil
		}
	}
	return row
}
