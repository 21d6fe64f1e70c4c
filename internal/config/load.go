package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Load reads, decodes, defaults and validates the project file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading project file: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates a project file held in memory; name
// is used in errors and to resolve relative paths.
func Parse(name string, data []byte) (*Config, error) {
	c := &Config{File: name, pos: positions{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(quoteTemplates(data), &doc); err != nil {
		return nil, syntaxError(name, err)
	}
	d := &decoder{file: name, pos: c.pos}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode && !(root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
			return nil, &Errors{{File: name, Line: root.Line, Msg: "the project file must be a mapping of keys (listen, legacy, routes, ...)"}}
		}
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	if len(d.errs) > 0 {
		return nil, &d.errs
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// templateValue finds an unquoted path template with {variables} as the value
// of a key: "path: /api/orders/{id}" (a variable may carry a pattern with one
// level of braces, {id:[0-9]{3}}).
var templateValue = regexp.MustCompile(`((?:^|[\s{,])(?:path|prefix|rewrite)[ \t]*:[ \t]*)(/(?:[^\s,{}\[\]"'#]|\{(?:[^{}]|\{[^{}]*\})*\})*\{(?:[^{}]|\{[^{}]*\})*\}(?:[^\s,{}\[\]"'#]|\{(?:[^{}]|\{[^{}]*\})*\})*)`)

// quoteTemplates quotes path templates in the file before it is parsed. In a
// YAML flow mapping, `match: {path: /api/orders/{id}, methods: [GET]}`, the
// braces of the template are flow indicators and the line does not parse,
// yet that is the most natural way to write a route. Quoting keeps every
// line where it was, so positions in errors stay true.
func quoteTemplates(data []byte) []byte {
	if !bytes.Contains(data, []byte("{")) {
		return data
	}
	return templateValue.ReplaceAllFunc(data, func(m []byte) []byte {
		sub := templateValue.FindSubmatch(m)
		return append(append(append(append([]byte{}, sub[1]...), '\''), bytes.ReplaceAll(sub[2], []byte("'"), []byte("''"))...), '\'')
	})
}

// FieldError is one mistake in the project file.
type FieldError struct {
	File  string // the project file
	Line  int    // 1-based; 0 when unknown
	Field string // path of the field: routes[2].mode
	Msg   string // what is wrong, with the value
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors lists every mistake found in a project file, in file order.
type Errors []*FieldError

func (es *Errors) Error() string {
	lines := make([]string, len(*es))
	for i, e := range *es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each FieldError to errors.As.
func (es *Errors) Unwrap() []error {
	out := make([]error, len(*es))
	for i, e := range *es {
		out[i] = e
	}
	return out
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxError(name string, err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if parserError(m[2]) {
			n++ // yaml.v3 counts lines from 0 for parser (not scanner) errors
		}
		return &Errors{{File: name, Line: n, Msg: "invalid YAML: " + m[2]}}
	}
	return &Errors{{File: name, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
}

// parserError reports the messages of yaml.v3's parser, as opposed to its
// scanner: they carry a 0-based line.
func parserError(msg string) bool {
	for _, p := range []string{"did not find expected <document start>", "did not find expected node content",
		"did not find expected key", "did not find expected '-' indicator", "did not find expected ',' or",
		"found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// positions maps field paths (routes[2].mode) to the line of their value.
type positions map[string]int

// line returns the line of path or of its closest ancestor present in the
// file (a missing field is reported at the object that lacks it).
func (p positions) line(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// scalarForm is implemented by struct types that may also be written as a
// single scalar in the file (a table given by its name).
type scalarForm interface {
	fromScalar(n *yaml.Node) error
}

// decoder walks a yaml.Node tree into Go values, recording the line of every
// field and refusing unknown keys, so that each error names its field.
type decoder struct {
	file string
	pos  positions
	errs Errors
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	scalarFormType  = reflect.TypeFor[scalarForm]()
)

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.pos[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // leave the zero value: defaults fill it
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if n.Kind == yaml.ScalarNode && reflect.PointerTo(v.Type()).Implements(scalarFormType) {
		if err := v.Addr().Interface().(scalarForm).fromScalar(n); err != nil {
			d.fail(n, path, "%v", err)
		}
		return
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, path, "%s", cleanYAMLError(err))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, found %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, found %s", describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, path+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
		v.Set(m)
	default:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "expected a single value, found %s", describe(n))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, path, "%s", cleanYAMLError(err))
		}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, found %s", describe(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := k.Value
		if path != "" {
			fp = path + "." + k.Value
		}
		if seen[k.Value] {
			d.fail(k, fp, "appears twice")
			continue
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, fp, "unknown field%s", suggest(k.Value, fields))
			continue
		}
		d.decode(val, v.Field(idx), fp)
	}
}

// yamlFields maps the yaml keys of a struct type to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "-" || tag == "" {
			continue
		}
		m[tag] = i
	}
	return m
}

// suggest names the known key closest to an unknown one, or lists them.
func suggest(key string, fields map[string]int) string {
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
		if dd := editDistance(key, name); dd < bestD {
			best, bestD = name, dd
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	slices.Sort(names)
	return " (known: " + strings.Join(names, ", ") + ")"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

var yamlErrPrefix = regexp.MustCompile(`^(yaml: unmarshal errors:\s*)?(line \d+: )?`)

func cleanYAMLError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return yamlErrPrefix.ReplaceAllString(strings.TrimSpace(te.Errors[0]), "")
	}
	return yamlErrPrefix.ReplaceAllString(err.Error(), "")
}

// UnmarshalYAML reads "1m30s"; a bare number is refused because its unit
// would be a guess.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 30s or 1m, found %s", describe(n))
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30s or 1m", n.Value)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", n.Value)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML reads a stage: a mode name or a canary percent.
func (s *Stage) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a mode or a percent, found %s", describe(n))
	}
	if p, err := strconv.ParseFloat(strings.TrimSuffix(n.Value, "%"), 64); err == nil {
		*s = Stage{Mode: ModeCanary, Percent: p}
		return nil
	}
	*s = Stage{Mode: n.Value}
	return nil
}

// MarshalYAML writes a stage back in its short form.
func (s Stage) MarshalYAML() (any, error) {
	if s.Mode == ModeCanary {
		return s.Percent, nil
	}
	return s.Mode, nil
}

func (t *Table) fromScalar(n *yaml.Node) error {
	t.Name = n.Value
	return nil
}

// Resolve makes a path from the project file relative to its directory.
func (c *Config) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || c.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
