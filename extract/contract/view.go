package contract

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// view is a schema flattened for comparison: allOf merged, anyOf/oneOf of
// one type and null read as a nullable type.
type view struct {
	any       bool            // no type constraint
	types     map[string]bool // JSON types but null
	nullable  bool
	kind      string // of strings, see formats.go
	numFormat string // int32, int64, float, double
	enum      []string
	props     map[string]*openapi3.SchemaRef
	required  map[string]bool
	closed    bool // additionalProperties: false
	items     *openapi3.SchemaRef
	readOnly  bool
	writeOnly bool
}

func (v *view) hasEnum() bool { return v.enum != nil }

func (v *view) describesProps() bool { return len(v.props) > 0 || v.closed }

func newView() view {
	return view{types: map[string]bool{}, props: map[string]*openapi3.SchemaRef{}, required: map[string]bool{}}
}

func anyView() view {
	v := newView()
	v.any = true
	return v
}

// clone is a copy of v that shares no map with it.
func (v view) clone() view {
	c := v
	c.types = maps.Clone(v.types)
	c.props = maps.Clone(v.props)
	c.required = maps.Clone(v.required)
	c.enum = slices.Clone(v.enum)
	return c
}

// views flattens schemas, each once however often it is reached (a
// document may share one schema among many, or nest allOf in allOf); a
// schema reached again through its own allOf, anyOf or oneOf reads as any.
type views struct {
	done     map[*openapi3.Schema]*view
	visiting map[*openapi3.Schema]bool
}

func newViews() *views {
	return &views{done: map[*openapi3.Schema]*view{}, visiting: map[*openapi3.Schema]bool{}}
}

func (vs *views) of(ref *openapi3.SchemaRef) view {
	if ref == nil || ref.Value == nil {
		return anyView()
	}
	s := ref.Value
	if v, ok := vs.done[s]; ok {
		return v.clone()
	}
	if vs.visiting[s] {
		return anyView()
	}
	vs.visiting[s] = true
	v := vs.build(s)
	delete(vs.visiting, s)
	vs.done[s] = &v
	return v.clone()
}

func (vs *views) build(s *openapi3.Schema) view {
	v := newView()
	v.readOnly, v.writeOnly = s.ReadOnly, s.WriteOnly
	if s.Type != nil {
		for _, t := range s.Type.Slice() {
			if t == openapi3.TypeNull {
				v.nullable = true
			} else {
				v.types[t] = true
			}
		}
	}
	v.nullable = v.nullable || s.Nullable
	switch f := strings.ToLower(s.Format); f {
	case "int32", "int64", "float", "double":
		v.numFormat = f
	default:
		v.kind = f
	}
	if v.kind == "" {
		if l := extString(s.Extensions, extLayout); l != "" {
			v.kind = layoutKind(l)
		} else if s.Pattern != "" && patternIsDecimal(s.Pattern) {
			v.kind = kindDecimal
		}
	}
	switch {
	case s.Enum != nil:
		v.enum = []string{}
		for _, e := range s.Enum {
			if e == nil {
				v.nullable = true
				continue
			}
			v.enum = append(v.enum, enumText(e))
		}
	case s.Const != nil:
		v.enum = []string{enumText(s.Const)}
	}
	for k, p := range s.Properties {
		v.props[k] = p
	}
	for _, r := range s.Required {
		v.required[r] = true
	}
	if has := s.AdditionalProperties.Has; has != nil && !*has {
		v.closed = true
	}
	v.items = s.Items
	for _, b := range s.AllOf {
		v.merge(vs.of(b), true)
	}
	var alts []view
	for _, list := range []openapi3.SchemaRefs{s.AnyOf, s.OneOf} {
		for _, b := range list {
			bv := vs.of(b)
			if !bv.any && len(bv.types) == 0 && bv.nullable {
				v.nullable = true // the {type: null} branch
				continue
			}
			alts = append(alts, bv)
		}
	}
	if len(alts) > 0 {
		u := alts[0]
		for _, a := range alts[1:] {
			u.union(a)
		}
		v.merge(u, false)
	}
	// With no type stated, the other keywords tell it.
	if len(v.types) == 0 {
		switch {
		case len(v.props) > 0 || v.closed:
			v.types["object"] = true
		case v.items != nil:
			v.types["array"] = true
		case v.enum != nil:
			for _, e := range append(slices.Clone(s.Enum), s.Const) {
				if t := jsonType(e); t != "" {
					v.types[t] = true
				}
			}
		case v.kind != "":
			v.types["string"] = true
		case v.numFormat != "":
			v.types["number"] = true
		}
	}
	nullOnly := len(v.types) == 0 && v.nullable && s.Type != nil
	v.any = !nullOnly && len(v.types) == 0
	return v
}

// jsonType is the JSON type of a decoded value, "" for null.
func jsonType(e any) string {
	switch x := e.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		if x == float64(int64(x)) {
			return "integer"
		}
		return "number"
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return "number"
		}
		return "integer"
	case int, int64:
		return "integer"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return ""
}

// merge adds what another view of the same value says (an allOf branch,
// or the alternatives of an anyOf). all says the value must satisfy both.
func (v *view) merge(o view, all bool) {
	if len(v.types) == 0 {
		v.types = o.types
	} else if len(o.types) > 0 && all {
		for t := range v.types {
			if !o.types[t] && !(t == "number" && o.types["integer"]) {
				delete(v.types, t)
			}
		}
	}
	v.nullable = v.nullable || (!all && o.nullable)
	if v.kind == "" {
		v.kind = o.kind
	}
	if v.numFormat == "" {
		v.numFormat = o.numFormat
	}
	if v.enum == nil {
		v.enum = o.enum
	}
	for k, p := range o.props {
		if _, ok := v.props[k]; !ok {
			v.props[k] = p
		}
	}
	for k := range o.required {
		v.required[k] = true
	}
	v.closed = v.closed || o.closed
	if v.items == nil {
		v.items = o.items
	}
}

// union widens v by an alternative: either may be the value.
func (v *view) union(o view) {
	v.any = v.any || o.any
	for t := range o.types {
		v.types[t] = true
	}
	v.nullable = v.nullable || o.nullable
	if v.kind != o.kind {
		v.kind = ""
	}
	if v.enum != nil && o.enum != nil {
		for _, e := range o.enum {
			if !slices.Contains(v.enum, e) {
				v.enum = append(v.enum, e)
			}
		}
	} else {
		v.enum = nil
	}
	for k, p := range o.props {
		if _, ok := v.props[k]; !ok {
			v.props[k] = p
		}
	}
	for k := range v.required {
		if !o.required[k] {
			delete(v.required, k)
		}
	}
	v.closed = v.closed && o.closed
	if v.items == nil {
		v.items = o.items
	}
}

func extString(ext map[string]any, key string) string {
	switch x := ext[key].(type) {
	case string:
		return x
	case json.RawMessage:
		var s string
		if json.Unmarshal(x, &s) == nil {
			return s
		}
	}
	return ""
}

// enumText is an enum member as text: a string as it is, anything else
// as JSON.
func enumText(e any) string {
	if s, ok := e.(string); ok {
		return s
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "?"
	}
	return string(b)
}

// typeOrder is the order types are written in.
var typeOrder = []string{"string", "integer", "number", "boolean", "object", "array"}

func (v *view) typeText() string {
	switch {
	case v.any:
		return "any"
	case len(v.types) == 0 && v.nullable:
		return "null"
	case len(v.types) == 0:
		return "any"
	}
	var out []string
	for _, t := range typeOrder {
		if v.types[t] {
			out = append(out, t)
		}
	}
	for _, t := range sortedKeys(v.types) {
		if !slices.Contains(typeOrder, t) {
			out = append(out, t)
		}
	}
	return strings.Join(out, ", ")
}

// accepts says whether a value of type t is one of v's types. As text (a
// parameter), a plain string accepts every scalar and a decimal string
// accepts numbers.
func (v *view) accepts(t string, asText bool) bool {
	switch {
	case v.any, v.types[t], t == "integer" && v.types["number"]:
		return true
	case asText && v.types["string"] && t != "object" && t != "array":
		return v.kind == "" || v.kind == kindDecimal && (t == "integer" || t == "number")
	}
	return false
}

// covers says whether every value of o's types is one of v's.
func (v *view) covers(o *view, asText bool) bool {
	if o.any {
		return v.any
	}
	for t := range o.types {
		if !v.accepts(t, asText) {
			return false
		}
	}
	return true
}
