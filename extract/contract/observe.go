package contract

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// node gathers what the samples show at one place of a JSON value (a
// body, a field, the items of an array), and writes its JSON Schema.
type node struct {
	seen     int // values seen here, null and redacted ones included
	nulls    int
	redacted int // the facade's redaction mark: says nothing of the type
	bools    int
	ints     int // numbers written without fraction or exponent
	numbers  int // the other numbers
	str      *texts
	obj      *object
	arr      *array
	example  any // the first non-null, non-redacted scalar seen
}

// texts gathers the strings seen at a node.
type texts struct {
	count    int
	kinds    map[string]int
	scales   map[int]int // of decimal strings
	values   map[string]int
	overflow bool // more distinct values than values holds
}

type object struct {
	count   int
	props   map[string]*node
	present map[string]int // objects that had the property
}

type array struct {
	count int
	items *node
}

var (
	reInteger = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	reNumber  = regexp.MustCompile(`^-?(0|[1-9][0-9]*)\.[0-9]+$`)
)

// maxDistinct bounds the distinct strings a node remembers for enums.
const maxDistinct = 64

// observe adds one decoded JSON value (decoded with UseNumber).
func (n *node) observe(v any) {
	n.seen++
	switch v := v.(type) {
	case nil:
		n.nulls++
	case bool:
		n.bools++
		n.setExample(v)
	case json.Number:
		if strings.ContainsAny(string(v), ".eE") {
			n.numbers++
		} else {
			n.ints++
		}
		n.setExample(v)
	case string:
		n.observeString(v)
	case map[string]any:
		if n.obj == nil {
			n.obj = &object{props: map[string]*node{}, present: map[string]int{}}
		}
		n.obj.count++
		for k, pv := range v {
			p := n.obj.props[k]
			if p == nil {
				p = &node{}
				n.obj.props[k] = p
			}
			n.obj.present[k]++
			p.observe(pv)
		}
	case []any:
		if n.arr == nil {
			n.arr = &array{}
		}
		n.arr.count++
		for _, it := range v {
			if n.arr.items == nil {
				n.arr.items = &node{}
			}
			n.arr.items.observe(it)
		}
	}
}

func (n *node) observeString(s string) {
	if s == redactedMark {
		n.redacted++
		return
	}
	if n.str == nil {
		n.str = &texts{kinds: map[string]int{}, scales: map[int]int{}, values: map[string]int{}}
	}
	st := n.str
	st.count++
	k := valueKind(s)
	st.kinds[k]++
	if k == kindDecimal {
		st.scales[decimalScale(s)]++
	}
	if _, ok := st.values[s]; ok || len(st.values) < maxDistinct {
		st.values[s]++
	} else {
		st.overflow = true
	}
	n.setExample(s)
}

// observeText adds a value that arrived as text (a path or query
// parameter): an integer, a number or a boolean when it reads as one.
func (n *node) observeText(s string) {
	switch {
	case s == redactedMark:
		n.seen++
		n.redacted++
	case reInteger.MatchString(s):
		n.observe(json.Number(s))
	case reNumber.MatchString(s):
		n.observe(json.Number(s))
	case s == "true" || s == "false":
		n.observe(s == "true")
	default:
		n.observe(s)
	}
}

func (n *node) setExample(v any) {
	if n.example == nil {
		n.example = v
	}
}

// Enum rule: a string field is an enum when it was seen at least
// EnumMinSamples times, took at most EnumMaxValues distinct values and
// took each of them at least twice (free text rarely repeats itself).
const (
	DefaultEnumMinSamples = 20
	DefaultEnumMaxValues  = 8
)

// schema is the JSON Schema of what the node saw.
func (n *node) schema(o *Options) map[string]any {
	s := map[string]any{}
	var types []string
	if n.bools > 0 {
		types = append(types, "boolean")
	}
	switch {
	case n.numbers > 0:
		types = append(types, "number")
	case n.ints > 0:
		types = append(types, "integer")
	}
	if n.str != nil {
		types = append(types, "string")
	}
	if n.obj != nil {
		types = append(types, "object")
	}
	if n.arr != nil {
		types = append(types, "array")
	}
	sort.Strings(types)
	if len(types) == 0 && n.redacted > 0 {
		s["description"] = "redacted in every sample"
		return s
	}
	if n.nulls > 0 {
		types = append(types, "null")
	}
	switch len(types) {
	case 0:
		return s
	case 1:
		s["type"] = types[0]
	default:
		s["type"] = types
	}
	if n.str != nil {
		n.str.write(s, o, n.nulls > 0 && len(types) == 2)
	}
	if n.obj != nil {
		props := map[string]any{}
		var req []string
		for k, p := range n.obj.props {
			props[k] = p.schema(o)
			if n.obj.present[k] == n.obj.count {
				req = append(req, k)
			}
		}
		s["properties"] = props
		if len(req) > 0 {
			slices.Sort(req)
			s["required"] = req
		}
	}
	if n.arr != nil && n.arr.items != nil {
		s["items"] = n.arr.items.schema(o)
	}
	if n.example != nil && n.obj == nil && n.arr == nil {
		s["example"] = n.example
	}
	return s
}

// write adds the string part of a schema: the kind every string had, or
// an enum. nullOnly says that null is the only other type seen.
func (st *texts) write(s map[string]any, o *Options, nullOnly bool) {
	kind, all := "", false
	for k, c := range st.kinds {
		if c == st.count {
			kind, all = k, true
		}
	}
	if all && kind != "" {
		switch {
		case kind == kindDecimal:
			s["pattern"] = `^-?[0-9]+\.[0-9]+$`
			if len(st.scales) == 1 {
				for sc := range st.scales {
					s["pattern"] = `^-?[0-9]+\.[0-9]{` + strconv.Itoa(sc) + `}$`
				}
			}
		case strings.HasPrefix(kind, layoutPrefix):
			layout := strings.TrimPrefix(kind, layoutPrefix)
			s[extLayout] = layout
			for _, l := range observedLayouts {
				if l.layout == layout {
					s["pattern"] = l.pattern
				}
			}
		default:
			s["format"] = kind
		}
		return
	}
	if st.overflow || st.count < o.enumMinSamples() || len(st.values) > o.enumMaxValues() {
		return
	}
	if _, isType := s["type"].(string); !isType && !nullOnly {
		return // strings among other types: no enum
	}
	var enum []any
	for v, c := range st.values {
		if c < 2 {
			return
		}
		enum = append(enum, v)
	}
	slices.SortFunc(enum, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
	if nullOnly {
		enum = append(enum, nil) // enum restricts null too
	}
	s["enum"] = enum
}
