package recipes

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/stranglerfig/strangler/internal/yamlpos"
	"go.yaml.in/yaml/v3"
)

// FieldError is one mistake in a recipe.
type FieldError = yamlpos.FieldError

// Errors lists every mistake found in a recipe, in file order.
type Errors = yamlpos.Errors

// Load reads, decodes, defaults and validates the recipe at path.
func Load(path string) (*Recipe, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading recipe: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates a recipe held in memory; name is
// used in errors. A refusal is always an *Errors naming file:line.
func Parse(name string, data []byte) (*Recipe, error) {
	r := &Recipe{File: name, pos: positions{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlpos.SyntaxError(name, err)
	}
	d := &decoder{file: name, pos: r.pos}
	root := &yaml.Node{Kind: yaml.MappingNode, Line: 1}
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	if root.Kind == yaml.AliasNode {
		root = root.Alias
	}
	if root == nil || root.Kind != yaml.MappingNode {
		line := 1
		if root != nil {
			line = root.Line
		}
		return nil, &Errors{{File: name, Line: line, Msg: "a recipe must be a mapping of keys (service, resources, endpoints, ...)"}}
	}
	d.object(root, reflect.ValueOf(r).Elem(), specByName("recipe"), "", 0)
	if len(d.errs) > 0 {
		return nil, &d.errs
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// positions maps key paths (resources[0].fields[2].type) to their line.
type positions = yamlpos.Positions

// lineOf returns the line of path or of its closest ancestor in the file,
// and the first line when none is written.
func lineOf(p positions, path string) int {
	if l := p.Line(path); l > 0 {
		return l
	}
	return 1
}

// maxDepth bounds nesting so that a hostile file cannot exhaust the stack.
const maxDepth = 16

// decoder walks a yaml.Node tree into recipe structs as the Spec tables
// declare them: known keys, kinds, enums, required keys and defaults.
type decoder struct {
	file string
	pos  positions
	errs Errors
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: n.Line, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// structFields maps yaml keys of a struct type to field indexes.
func structFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			m[tag] = i
		}
	}
	return m
}

func (d *decoder) object(n *yaml.Node, v reflect.Value, spec *ObjectSpec, path string, depth int) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping (%s), found %s", spec.Name, yamlpos.Describe(n))
		return
	}
	if depth > maxDepth {
		d.fail(n, path, "nested too deeply")
		return
	}
	fields := structFields(v.Type())
	seen := map[string]bool{}
	present := map[string]bool{} // keys with a value: `key:` and `key: null` are as if absent
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := join(path, k.Value)
		if seen[k.Value] {
			d.fail(k, fp, "appears twice")
			continue
		}
		seen[k.Value] = true
		fs := findKey(spec, k.Value)
		if fs == nil {
			d.fail(k, fp, "unknown field%s", yamlpos.Suggest(k.Value, spec.keys()))
			continue
		}
		if isNull(val) {
			continue
		}
		present[k.Value] = true
		d.pos[fp] = k.Line
		d.value(val, v.Field(fields[fs.Key]), fs, fp, depth)
	}
	for i := range spec.Fields {
		fs := &spec.Fields[i]
		if present[fs.Key] {
			continue
		}
		if fs.Required {
			d.fail(n, path, "missing required field %q (%s)", fs.Key, fs.Desc)
			continue
		}
		if fv := v.Field(fields[fs.Key]); fs.Kind == KObject && fv.Kind() == reflect.Struct {
			d.object(&yaml.Node{Kind: yaml.MappingNode, Line: n.Line}, fv, specByName(fs.Object), join(path, fs.Key), depth+1)
			delete(d.pos, join(path, fs.Key))
			continue
		}
		if fs.Default != "" && !fs.Derived && fs.Kind != KObject && fs.Kind != KObjectList {
			var def yaml.Node
			if err := yaml.Unmarshal([]byte(fs.Default), &def); err == nil && len(def.Content) == 1 {
				d.value(def.Content[0], v.Field(fields[fs.Key]), fs, "", depth)
			}
		}
	}
}

// isNull reports whether n is YAML's null (`key:`, `key: null`, `key: ~`).
func isNull(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func findKey(spec *ObjectSpec, key string) *FieldSpec {
	for i := range spec.Fields {
		if spec.Fields[i].Key == key {
			return &spec.Fields[i]
		}
	}
	return nil
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, fs *FieldSpec, path string, depth int) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch fs.Kind {
	case KObject:
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		d.object(n, v, specByName(fs.Object), path, depth+1)
		return
	case KObjectList:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list of %ss, found %s", fs.Object, yamlpos.Describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			d.pos[ip] = item.Line
			d.object(item, s.Index(i), specByName(fs.Object), ip, depth+1)
		}
		v.Set(s)
		return
	case KNames:
		if n.Kind == yaml.ScalarNode {
			v.Set(reflect.ValueOf([]string{n.Value}))
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a name or a list of names, found %s", yamlpos.Describe(n))
			return
		}
		fallthrough
	case KStrings:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list of strings, found %s", yamlpos.Describe(n))
			return
		}
		out := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind == yaml.AliasNode {
				item = item.Alias
			}
			if item.Kind != yaml.ScalarNode {
				d.fail(item, path, "expected a string, found %s", yamlpos.Describe(item))
				return
			}
			out = append(out, item.Value)
		}
		v.Set(reflect.ValueOf(out))
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected %s, found %s", article(fs.Kind), yamlpos.Describe(n))
		return
	}
	target := v
	if v.Kind() == reflect.Pointer {
		target = reflect.New(v.Type().Elem()).Elem()
	}
	switch fs.Kind {
	case KString:
		if len(fs.Enum) > 0 && !slices.Contains(fs.Enum, n.Value) {
			d.fail(n, path, "%q is not one of %s", n.Value, strings.Join(fs.Enum, ", "))
			return
		}
		target.SetString(n.Value)
	case KInt:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil || n.Tag == "!!str" {
			d.fail(n, path, "%q is not an integer", n.Value)
			return
		}
		target.SetInt(i)
	case KNumber:
		f, err := strconv.ParseFloat(n.Value, 64)
		if err != nil || n.Tag == "!!str" {
			d.fail(n, path, "%q is not a number", n.Value)
			return
		}
		target.SetFloat(f)
	case KBool:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "%q is not true or false", n.Value)
			return
		}
		target.SetBool(b)
	}
	if v.Kind() == reflect.Pointer {
		v.Set(target.Addr())
	}
}

func article(k Kind) string {
	switch k {
	case KInt:
		return "an integer"
	case KBool:
		return "true or false"
	default:
		return "a " + string(k)
	}
}

// errorsOf returns the positioned errors of err, for tests and callers that
// list them.
func errorsOf(err error) []*FieldError {
	var es *Errors
	if errors.As(err, &es) {
		return *es
	}
	return nil
}

// keys lists the keys an object spec declares.
func (o *ObjectSpec) keys() []string {
	out := make([]string, len(o.Fields))
	for i, f := range o.Fields {
		out[i] = f.Key
	}
	return out
}
