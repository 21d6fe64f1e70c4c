package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/internal/yamlpos"
	"go.yaml.in/yaml/v3"
)

// Load reads, decodes, defaults and validates the project file at path,
// checking its database DSNs with dsns (see DSNParser).
func Load(path string, dsns DSNParser) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading project file: %w", err)
	}
	return Parse(path, data, dsns)
}

// Parse decodes, defaults and validates a project file held in memory; name
// is used in errors and to resolve relative paths. dsns checks its database
// DSNs (see DSNParser).
func Parse(name string, data []byte, dsns DSNParser) (*Config, error) {
	c := &Config{File: name, pos: positions{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(quoteTemplates(data), &doc); err != nil {
		return nil, yamlpos.SyntaxError(name, err)
	}
	d := &decoder{file: name, pos: c.pos}
	if len(doc.Content) > 0 {
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode && !(root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
			return nil, &Errors{{File: name, Line: root.Line, Msg: "the project file must be a mapping of keys (listen, legacy, routes, ...)"}}
		}
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	c.setDefaults()
	err := c.Validate(dsns)
	if len(d.errs) == 0 {
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	// Every mistake at once: the values that did not decode, then what
	// validation finds in the rest. A field that did not decode was left
	// zero, so what validation says of it (or of what lies under it) is
	// only an echo of the first error and is left out.
	all := d.errs
	var ve *Errors
	if errors.As(err, &ve) {
		for _, e := range *ve {
			if !slices.ContainsFunc(d.errs, func(de *FieldError) bool { return underField(e.Field, de.Field) }) {
				all = append(all, e)
			}
		}
	}
	slices.SortStableFunc(all, func(a, b *FieldError) int { return a.Line - b.Line })
	return nil, &all
}

// underField reports whether field is parent or lies under it
// (routes[0].match.path under routes[0].match).
func underField(field, parent string) bool {
	if parent == "" || field == parent {
		return true
	}
	return strings.HasPrefix(field, parent) && (field[len(parent)] == '.' || field[len(parent)] == '[')
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
type FieldError = yamlpos.FieldError

// Errors lists every mistake found in a project file, in file order.
type Errors = yamlpos.Errors

// positions maps field paths (routes[2].mode) to the line of their value.
type positions = yamlpos.Positions

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
			d.fail(n, path, "expected a list, found %s", yamlpos.Describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping, found %s", yamlpos.Describe(n))
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
			d.fail(n, path, "expected a single value, found %s", yamlpos.Describe(n))
			return
		}
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.fail(n, path, "%s", cleanYAMLError(err))
		}
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, found %s", yamlpos.Describe(n))
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
			if to, moved := movedKeys[v.Type().Name()+"."+k.Value]; moved {
				d.fail(k, fp, "has moved: write %s", to)
				continue
			}
			d.fail(k, fp, "unknown field%s", yamlpos.Suggest(k.Value, slices.Collect(maps.Keys(fields))))
			continue
		}
		d.decode(val, v.Field(idx), fp)
	}
}

// movedKeys are keys of earlier builds, by struct type and key, with where
// they went: refused with the new place named rather than as unknown.
var movedKeys = map[string]string{
	"Route.shadow_writes":      "shadow: {writes: true} on the route",
	"Proxy.shadow_queue":       "the top-level shadow.queue",
	"Proxy.shadow_queue_bytes": "the top-level shadow.queue_bytes",
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
		return fmt.Errorf("expected a duration such as 30s or 1m, found %s", yamlpos.Describe(n))
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

// UnmarshalYAML reads "instant" or a ramp's length ("2m").
func (a *Abort) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Value == AbortInstant {
		*a = 0
		return nil
	}
	var d Duration
	if err := d.UnmarshalYAML(n); err != nil {
		return fmt.Errorf("expected instant or a ramp's length such as 2m: %w", err)
	}
	*a = Abort(d)
	return nil
}

// MarshalYAML writes the abort back as the file does.
func (a Abort) MarshalYAML() (any, error) { return a.String(), nil }

// UnmarshalYAML reads a stage: a mode name or a canary percent.
func (s *Stage) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a mode or a percent, found %s", yamlpos.Describe(n))
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
