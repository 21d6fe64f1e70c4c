package samples

import (
	"github.com/stranglerfig/strangler/recipes"
	"strings"
	"unicode"
)

// Casings a JSON member name may follow, as recipes' shape.casing names
// them.
const (
	CasingSnake  = "snake"
	CasingCamel  = "camel"
	CasingPascal = "pascal"
	CasingKebab  = "kebab"
	CasingAsIs   = "as_is"
)

// nameCasing says which casing a name is written in: one of the Casing
// constants, "" for a name every casing but pascal writes alike (a single
// lower-case word such as "total"), or CasingAsIs for a name no casing
// produces (SCREAMING_SNAKE, "_links", "user_Name").
func nameCasing(name string) string {
	if name == "" {
		return CasingAsIs
	}
	var upper, lower, under, dash, other bool
	for _, r := range name {
		switch {
		case r == '_':
			under = true
		case r == '-':
			dash = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
		default:
			other = true
		}
	}
	first := rune(name[0])
	switch {
	case other || (under && dash) || !unicode.IsLetter(first):
		return CasingAsIs
	case under:
		if upper {
			return CasingAsIs
		}
		return CasingSnake
	case dash:
		if upper {
			return CasingAsIs
		}
		return CasingKebab
	case unicode.IsUpper(first):
		if !lower {
			return CasingAsIs // ID, URL
		}
		return CasingPascal
	case upper:
		return CasingCamel
	}
	return ""
}

// SnakeName is the snake_case name of a JSON member name, the form schema
// columns and recipe field names take: customerId -> customer_id,
// PlacedAt -> placed_at, HTTPStatus -> http_status, weight-kg ->
// weight_kg, address2Line -> address2_line. Characters that cannot be in
// an identifier are dropped; a name left empty is "field", one starting
// with a digit gets the prefix "f_".
func SnakeName(name string) string {
	var words []string
	for _, part := range strings.FieldsFunc(name, func(r rune) bool {
		return r == '_' || r == '-' || r == ' ' || r == '.'
	}) {
		words = append(words, splitCamel(part)...)
	}
	var b strings.Builder
	for _, w := range words {
		var clean strings.Builder
		for _, r := range strings.ToLower(w) {
			if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				clean.WriteRune(r)
			}
		}
		if clean.Len() == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		b.WriteString(clean.String())
	}
	out := b.String()
	switch {
	case out == "":
		return "field"
	case out[0] >= '0' && out[0] <= '9':
		return "f_" + out
	}
	return out
}

// splitCamel cuts a word at its case changes: before an upper-case letter
// that follows a lower-case letter or a digit, and before the last of a run
// of upper-case letters followed by a lower-case one (HTTPStatus: HTTP,
// Status).
func splitCamel(s string) []string {
	rs := []rune(s)
	var out []string
	start := 0
	for i := 1; i < len(rs); i++ {
		prev, cur := rs[i-1], rs[i]
		cut := unicode.IsUpper(cur) && (unicode.IsLower(prev) || unicode.IsDigit(prev))
		if !cut && unicode.IsUpper(prev) && unicode.IsUpper(cur) && i+1 < len(rs) && unicode.IsLower(rs[i+1]) {
			cut = true
		}
		if cut {
			out = append(out, string(rs[start:i]))
			start = i
		}
	}
	return append(out, string(rs[start:]))
}

// ApplyCasing writes a snake_case name in a casing, as recipes do for a
// field without its own json name: ApplyCasing("camel", "customer_id") is
// customerId. A field whose observed JSON name differs from
// ApplyCasing(shape casing, its Name) needs `json:` in the recipe.
func ApplyCasing(casing, name string) string { return recipes.ApplyCasing(casing, name) }

// irregular plurals that resource names meet.
var irregular = map[string]string{
	"people": "person", "children": "child", "men": "man", "women": "woman",
	"data": "data", "media": "media", "news": "news", "series": "series", "status": "status",
	"indices": "index", "analyses": "analysis", "feet": "foot", "mice": "mouse",
}

// Singular is the singular of an English collection name, in snake_case,
// for resource names: orders -> order, categories -> category, addresses
// -> address, order-items -> order_item. A word it does not know as a
// plural is returned as it is.
func Singular(name string) string {
	s := SnakeName(name)
	head, last := "", s
	if i := strings.LastIndexByte(s, '_'); i >= 0 {
		head, last = s[:i+1], s[i+1:]
	}
	if v, ok := irregular[last]; ok {
		return head + v
	}
	switch {
	case len(last) > 3 && strings.HasSuffix(last, "ies"):
		last = last[:len(last)-3] + "y"
	case strings.HasSuffix(last, "sses"), strings.HasSuffix(last, "shes"), strings.HasSuffix(last, "ches"),
		strings.HasSuffix(last, "xes"), strings.HasSuffix(last, "zzes"), strings.HasSuffix(last, "uses"):
		last = last[:len(last)-2]
	case strings.HasSuffix(last, "ss"), strings.HasSuffix(last, "us"), strings.HasSuffix(last, "is"):
	case len(last) > 1 && strings.HasSuffix(last, "s"):
		last = last[:len(last)-1]
	}
	return head + last
}
