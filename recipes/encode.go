package recipes

// Writing recipes: Encode is the inverse of Parse. It walks a Recipe as the
// Spec tables declare it, leaves out every key that holds the value Parse
// would fill in without it (so a generated recipe stays as short as a
// hand-written one) and writes the rest in the style of the example
// recipes: fields, relations, parameters and simple endpoints as one flow
// mapping per line, lists of strings in flow style, everything else in
// block style. Scalars are quoted by the YAML library Parse reads with, so
// a string is quoted exactly when a reader would otherwise take it for
// something else.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// EncodeOptions are the comments EncodeWith writes into a recipe. Comments
// are only comments: Parse reads the file as if they were not there.
type EncodeOptions struct {
	// Header is a comment block written at the top of the file, one "# "
	// line per line of text (the text is given without the "#"). Empty:
	// no header.
	Header string

	// Comments are written next to keys and list items, keyed by the path
	// that Parse's errors name (FieldError.Field): a list item such as
	// "resources[0].fields[2]" or "endpoints[3]", or a key such as
	// "shape.decimals" or "resources[0].table". A text of one line is
	// written at the end of the line where the item or key starts; a text
	// of several lines is written as a block above it. A comment on a key
	// of a field, relation, parameter or endpoint writes that item in block
	// style, so that the key has a line of its own. A path that names
	// nothing written (a key left out because it holds its default, an
	// index past the end) makes EncodeWith fail. Nil: no comments.
	Comments map[string]string
}

// Encode writes r as a recipe file that Parse reads back to the same
// recipe. Keys come in the order the structs declare them; a key is left
// out when it holds its default, or the value Parse derives without it
// (a table named like its resource, a JSON name in shape.casing, an
// endpoint named action + resource, ...). A zero value is taken as unset
// and left out too, so a Recipe built in Go needs only the keys it means:
// Version "" is written as nothing and reads back as 1.0.0. The one zero
// that is written is the scale 0 of a decimal field, a scale in its own
// right; scale and precision of other fields are never written.
//
// Encode does not validate r: Parse the result to check it. The same
// recipe always gives the same bytes.
func Encode(r *Recipe) ([]byte, error) {
	return EncodeWith(r, EncodeOptions{})
}

// EncodeWith is Encode with a header comment and comments on keys and list
// items (see EncodeOptions).
func EncodeWith(r *Recipe, opts EncodeOptions) ([]byte, error) {
	if r == nil {
		return nil, errors.New("encoding recipe: the recipe is nil")
	}
	e := &encoder{comments: opts.Comments, used: map[string]bool{}, defaults: map[string]reflect.Value{}}
	shape := e.defaultsOf(specByName("shape"), reflect.TypeFor[Shape]()).Addr().Interface().(*Shape)
	e.casing, e.pagination = orDefault(r.Shape.Casing, shape.Casing), orDefault(r.Shape.Pagination, shape.Pagination)
	e.service = r.Service
	root, err := e.object(reflect.ValueOf(r).Elem(), specByName("recipe"), "", 0)
	if err != nil {
		return nil, fmt.Errorf("encoding recipe: %w", err)
	}
	if err := e.unused(); err != nil {
		return nil, fmt.Errorf("encoding recipe: %w", err)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	if h := commentText(opts.Header); h != "" {
		// On the first key rather than on the document, which would put a
		// blank line under it: the example recipes have none.
		if len(root.Content) > 0 {
			root.Content[0].HeadComment = joinComments(h, root.Content[0].HeadComment, "\n")
		} else {
			doc.HeadComment = h
		}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding recipe: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding recipe: %w", err)
	}
	return buf.Bytes(), nil
}

// orDefault is v, or def when v is empty.
func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// encoder holds what one Encode call needs besides the value at hand.
type encoder struct {
	comments   map[string]string
	used       map[string]bool          // comment paths that were written
	defaults   map[string]reflect.Value // by object spec: the struct Parse fills from an empty mapping
	casing     string                   // shape.casing in effect
	pagination string                   // shape.pagination in effect
	service    string                   // the recipe's service
}

// flowObjects are the objects written as one flow mapping per list item,
// as the example recipes write them, when all their values fit on a line.
var flowObjects = []string{"field", "relation", "param", "endpoint", "event_param"}

// derivedKeys gives, for the keys whose value Parse computes from other
// keys when they are left out, that computed value; such a key is written
// only when it holds something else. Each one mirrors the line of
// validate.go (or examples.go) that fills the key; every key the Spec marks
// Derived is here, as a test checks.
var derivedKeys = map[string]func(e *encoder, parent reflect.Value, index int) any{
	"resource.table": func(_ *encoder, p reflect.Value, _ int) any { return p.Addr().Interface().(*Resource).Name },
	"field.column":   func(_ *encoder, p reflect.Value, _ int) any { return p.Addr().Interface().(*Field).Name },
	"field.json": func(e *encoder, p reflect.Value, _ int) any {
		return applyCasing(e.casing, p.Addr().Interface().(*Field).Name)
	},
	// The derived example is kept in an unexported field; the key stays "".
	"field.example": func(*encoder, reflect.Value, int) any { return "" },
	// A generated field is read-only whether or not it says so.
	"field.read_only": func(_ *encoder, p reflect.Value, _ int) any { return p.Addr().Interface().(*Field).Generated },
	"relation.json": func(e *encoder, p reflect.Value, _ int) any {
		return applyCasing(e.casing, p.Addr().Interface().(*Relation).Name)
	},
	"rule.message": func(_ *encoder, p reflect.Value, _ int) any {
		return "rule broken: " + p.Addr().Interface().(*Rule).Expr
	},
	"subscription.durable": func(e *encoder, p reflect.Value, _ int) any {
		return "strangler-" + e.service + "-" + p.Addr().Interface().(*Subscription).Name
	},
	"subscription.dead_letter": func(e *encoder, p reflect.Value, _ int) any {
		return "strangler.dead." + e.service + "." + p.Addr().Interface().(*Subscription).Name
	},
	"event_param.from": func(_ *encoder, p reflect.Value, _ int) any {
		return "data." + p.Addr().Interface().(*EventParam).Name
	},
	"endpoint.name": func(_ *encoder, p reflect.Value, i int) any {
		return defaultEndpointName(p.Addr().Interface().(*Endpoint), i)
	},
	// Cursor pagination has meta members of its own when none are written.
	"shape.meta": func(e *encoder, _ reflect.Value, _ int) any {
		if e.pagination == "cursor" {
			return []string{"next_cursor", "limit"}
		}
		return e.defaultsOf(specByName("shape"), reflect.TypeFor[Shape]()).FieldByName("Meta").Interface()
	},
}

// defaultsOf returns the value Parse gives an object of spec written as an
// empty mapping: the Spec defaults of its keys.
func (e *encoder) defaultsOf(spec *ObjectSpec, t reflect.Type) reflect.Value {
	if v, ok := e.defaults[spec.Name]; ok {
		return v
	}
	v := reflect.New(t).Elem()
	d := &decoder{pos: positions{}}
	d.object(&yaml.Node{Kind: yaml.MappingNode, Line: 1}, v, spec, "", 0) // missing required keys: not our concern
	e.defaults[spec.Name] = v
	return v
}

// object writes the struct v, an object of spec at path (index is its
// place in its list), as a mapping in the order the struct declares its
// keys.
func (e *encoder) object(v reflect.Value, spec *ObjectSpec, path string, index int) (*yaml.Node, error) {
	if spec == nil {
		return nil, fmt.Errorf("%s: no object of the recipe format is declared for %s", path, v.Type())
	}
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	t := v.Type()
	def := e.defaultsOf(spec, t)
	for i := range t.NumField() {
		sf := t.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || key == "" || key == "-" {
			continue
		}
		kp := join(path, key)
		fv := v.Field(i)
		fs := findKey(spec, key)
		if fs == nil {
			if fv.IsZero() {
				continue
			}
			return nil, fmt.Errorf("%s: the recipe format declares no key %q", kp, key)
		}
		val, err := e.value(v, fv, def.Field(i), spec, fs, kp, index)
		if err != nil {
			return nil, err
		}
		if val == nil {
			continue
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}
		e.keyComment(kp, k, val)
		m.Content = append(m.Content, k, val)
	}
	return m, nil
}

// value writes the key fs of parent, holding fv, or returns nil when the
// key is left out.
func (e *encoder) value(parent, fv, def reflect.Value, spec *ObjectSpec, fs *FieldSpec, path string, index int) (*yaml.Node, error) {
	switch fs.Kind {
	case KObject:
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				return nil, nil
			}
			return e.object(fv.Elem(), specByName(fs.Object), path, 0) // set: written even when empty
		}
		n, err := e.object(fv, specByName(fs.Object), path, 0)
		if err != nil || len(n.Content) == 0 {
			return nil, err
		}
		return n, nil
	case KObjectList:
		if fv.Kind() != reflect.Slice {
			return nil, fmt.Errorf("%s: %s is not a list", path, fv.Type())
		}
		if fv.Len() == 0 {
			return nil, nil
		}
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := range fv.Len() {
			ip := fmt.Sprintf("%s[%d]", path, i)
			item, err := e.object(fv.Index(i), specByName(fs.Object), ip, i)
			if err != nil {
				return nil, err
			}
			if slices.Contains(flowObjects, fs.Object) && e.fitsOnALine(item, ip) {
				item.Style = yaml.FlowStyle
			}
			if len(item.Content) > 0 && item.Content[0].HeadComment != "" {
				// above the "- ", not between it and the first key
				item.HeadComment, item.Content[0].HeadComment = item.Content[0].HeadComment, ""
			}
			e.itemComment(ip, item)
			seq.Content = append(seq.Content, item)
		}
		return seq, nil
	}
	if spec.Name == "resource" && fs.Key == "key" {
		// A Resource built in Go may name its key in Key alone.
		fv = reflect.ValueOf(parent.Addr().Interface().(*Resource).keyFields())
	}
	if e.omit(parent, fv, def, spec, fs, index) {
		return nil, nil
	}
	return scalar(fv, fs.Kind, path)
}

// omit says whether the key fs, holding fv, is left out: it holds the value
// Parse would fill in without it, or a zero value taken as unset.
func (e *encoder) omit(parent, fv, def reflect.Value, spec *ObjectSpec, fs *FieldSpec, index int) bool {
	id := spec.Name + "." + fs.Key
	if derive, ok := derivedKeys[id]; ok {
		return fv.IsZero() || reflect.DeepEqual(fv.Interface(), derive(e, parent, index))
	}
	if id == "field.scale" || id == "field.precision" {
		// Parse gives every field a scale and a precision but refuses them
		// written on any type but decimal, where a scale of 0 is a scale.
		if parent.Addr().Interface().(*Field).Type != TypeDecimal {
			return true
		}
		if fs.Key == "scale" {
			return fv.Int() == def.Int()
		}
	}
	return fv.IsZero() || reflect.DeepEqual(fv.Interface(), def.Interface())
}

// fitsOnALine says whether the list item at path can be written as one
// flow mapping: its values are scalars of one line or lists of them, and
// no comment is attached to one of its keys.
func (e *encoder) fitsOnALine(item *yaml.Node, path string) bool {
	for p := range e.comments {
		if strings.HasPrefix(p, path+".") {
			return false
		}
	}
	for i := 1; i < len(item.Content); i += 2 {
		switch v := item.Content[i]; v.Kind {
		case yaml.ScalarNode:
			if hasBreak(v.Value) {
				return false
			}
		case yaml.SequenceNode:
			for _, s := range v.Content {
				if s.Kind != yaml.ScalarNode {
					return false
				}
			}
		default:
			return false
		}
	}
	return true
}

func hasBreak(s string) bool { return strings.ContainsAny(s, "\r\n\u0085\u2028\u2029") }

// scalar writes a value of kind k: a string, number, boolean or list of
// strings.
func scalar(fv reflect.Value, k Kind, path string) (*yaml.Node, error) {
	if fv.Kind() == reflect.Pointer {
		fv = fv.Elem()
	}
	switch {
	case k == KNames && fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String && fv.Len() == 1:
		return stringNode(fv.Index(0).String(), path) // key: id
	case (k == KStrings || k == KNames) && fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for i := range fv.Len() {
			n, err := stringNode(fv.Index(i).String(), fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			seq.Content = append(seq.Content, n)
		}
		return seq, nil
	case k == KString && fv.Kind() == reflect.String:
		return stringNode(fv.String(), path)
	case k == KBool && fv.Kind() == reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(fv.Bool())}, nil
	case k == KInt && fv.CanInt():
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(fv.Int(), 10)}, nil
	case k == KNumber && fv.CanFloat():
		return numberNode(fv.Float(), path)
	}
	return nil, fmt.Errorf("%s: a %s cannot hold a key of kind %s", path, fv.Type(), k)
}

// numberNode writes f in decimal notation, or in exponent notation when
// that is much shorter; the tag is the one YAML resolves the text to, so
// that no explicit tag is written.
func numberNode(f float64, path string) (*yaml.Node, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%s: %v is not a number a recipe can hold", path, f)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e15) {
		s = strconv.FormatFloat(f, 'g', -1, 64)
	}
	tag := "!!int"
	if strings.ContainsAny(s, ".e") {
		tag = "!!float"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}, nil
}

// stringNode writes s as a string. The YAML library quotes it when, plain,
// it would read as another type (null, true, 1.0, 007) or not parse (": ",
// " #", a leading "*", "-" or "&", surrounding spaces); strings of several
// lines are written as literal blocks where the context allows, except
// when a line starts with a tab, which the library reads back as a
// misplaced indentation: such strings are double-quoted. Like
// yaml.Marshal, it also quotes what YAML 1.1 readers take for booleans
// (yes, no, on, off, y, n) or sexagesimal numbers (12:30), and "<<", a merge
// key to some readers, so that other tools read the file alike.
func stringNode(s, path string) (*yaml.Node, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%s: %q is not valid UTF-8", path, s)
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if yaml11Bool(s) || base60.MatchString(s) || s == "<<" || tabLine(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n, nil
}

// tabLine says whether s has several lines and one of them starts with a
// tab.
func tabLine(s string) bool {
	return strings.Contains(s, "\n") && (strings.HasPrefix(s, "\t") || strings.Contains(s, "\n\t"))
}

func yaml11Bool(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return true
	}
	return false
}

// base60 matches the sexagesimal numbers of YAML 1.1 (190:20:30).
var base60 = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)

// keyComment attaches the comment on the key at path, if any: one line
// after the value when the value starts on the key's line, else after the
// key; several lines above the key.
func (e *encoder) keyComment(path string, k, v *yaml.Node) {
	c, ok := e.comment(path)
	if !ok {
		return
	}
	switch {
	case strings.Contains(c, "\n"):
		k.HeadComment = joinComments(k.HeadComment, c, "\n")
	case v.Kind == yaml.ScalarNode || v.Style&yaml.FlowStyle != 0:
		v.LineComment = joinComments(v.LineComment, c, "; ")
	default:
		k.LineComment = joinComments(k.LineComment, c, "; ")
	}
}

// itemComment attaches the comment on the list item at path, if any. A
// comment of one line goes at the end of the item's first line: after a
// flow mapping, or after the first key of a block mapping (the YAML library
// writes no line comment on a block mapping itself).
func (e *encoder) itemComment(path string, item *yaml.Node) {
	c, ok := e.comment(path)
	if !ok {
		return
	}
	switch {
	case strings.Contains(c, "\n"):
		item.HeadComment = joinComments(c, item.HeadComment, "\n")
	case item.Style&yaml.FlowStyle != 0 || len(item.Content) == 0:
		item.LineComment = joinComments(item.LineComment, c, "; ")
	case item.Content[1].Kind == yaml.ScalarNode || item.Content[1].Style&yaml.FlowStyle != 0:
		item.Content[1].LineComment = joinComments(item.Content[1].LineComment, c, "; ")
	default:
		item.Content[0].LineComment = joinComments(item.Content[0].LineComment, c, "; ")
	}
}

// comment returns the comment on path, ready to write ("# ..." lines),
// and marks it written.
func (e *encoder) comment(path string) (string, bool) {
	text, ok := e.comments[path]
	if !ok {
		return "", false
	}
	e.used[path] = true
	c := commentText(text)
	return c, c != ""
}

// unused refuses comments on paths that name nothing written.
func (e *encoder) unused() error {
	var missing []string
	for p := range e.comments {
		if !e.used[p] {
			missing = append(missing, strconv.Quote(p))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("comments on %s: no key or list item is written there (a key holding its default is left out)", strings.Join(missing, ", "))
}

// commentText turns text into comment lines "# ...": each line break
// YAML knows ends a line, trailing empty lines are dropped, and characters
// a YAML file cannot hold, or that a reader would take for a line break,
// are written as Go escapes (\x00, \u2028), so that a comment never spills
// into the recipe.
func commentText(text string) string {
	lines := splitBreaks(text)
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteByte('#')
		if l = strings.TrimRight(escapeComment(l), " \t"); l != "" {
			b.WriteByte(' ')
			b.WriteString(l)
		}
	}
	return b.String()
}

// splitBreaks splits s at the line breaks of YAML: \r\n, \r and \n.
// NEL, LS and PS are escaped instead (escapeComment), so they are no
// breaks here.
func splitBreaks(s string) []string {
	return strings.Split(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"), "\n")
}

// escapeComment writes as Go escapes the characters of s that a YAML
// stream may not hold (control characters, the byte order mark, invalid
// UTF-8) or that a YAML reader takes for a line break (NEL, LS, PS).
func escapeComment(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && strings.HasPrefix(s[i:], "\ufffd"):
			b.WriteRune(r)
		case r == utf8.RuneError:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t' || (r >= 0x20 && r <= 0x7e) || (r >= 0xa0 && r <= 0xd7ff && r != 0x2028 && r != 0x2029) ||
			(r >= 0xe000 && r <= 0xfffd && r != 0xfeff) || r >= 0x10000:
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// joinComments joins two comments, either of which may be empty.
func joinComments(a, b, sep string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	if sep == "; " {
		b = strings.TrimPrefix(b, "# ")
	}
	return a + sep + b
}
