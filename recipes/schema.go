package recipes

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// JSONSchema returns the JSON Schema (2020-12) of the recipe format,
// generated from Spec. recipes/recipe.schema.json holds a copy that a test
// keeps current; editors can point their YAML support at it.
func JSONSchema() ([]byte, error) {
	defs := map[string]any{}
	for i := range Spec {
		if i == 0 {
			continue
		}
		defs[Spec[i].Name] = objectSchema(&Spec[i])
	}
	root := objectSchema(&Spec[0])
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://github.com/stranglerfig/strangler/recipes/recipe.schema.json"
	root["title"] = "strangler recipe"
	root["$defs"] = defs
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the recipe schema: %w", err)
	}
	return append(b, '\n'), nil
}

func objectSchema(o *ObjectSpec) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range o.Fields {
		f := &o.Fields[i]
		props[f.Key] = keySchema(f)
		if f.Required {
			required = append(required, f.Key)
		}
	}
	s := map[string]any{"type": "object", "description": o.Desc, "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func keySchema(f *FieldSpec) map[string]any {
	desc := f.Desc
	if f.Rule != "" {
		desc += " Rule: " + f.Rule + "."
	}
	if f.Derived {
		desc += " Default: " + f.Default + "."
	}
	s := map[string]any{"description": desc}
	switch f.Kind {
	case KString:
		s["type"] = "string"
	case KInt:
		s["type"] = "integer"
	case KNumber:
		s["type"] = "number"
	case KBool:
		s["type"] = "boolean"
	case KStrings:
		s["type"] = "array"
		s["items"] = map[string]any{"type": "string"}
	case KNames:
		s["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "minItems": 1}}
	case KObject:
		s["$ref"] = "#/$defs/" + f.Object
	case KObjectList:
		s["type"] = "array"
		s["items"] = map[string]any{"$ref": "#/$defs/" + f.Object}
	}
	if len(f.Enum) > 0 {
		s["enum"] = f.Enum
	}
	if f.Default != "" && !f.Derived {
		var v any
		if err := yaml.Unmarshal([]byte(f.Default), &v); err == nil {
			if f.Kind == KString {
				v = f.Default
			}
			s["default"] = v
		}
	}
	if f.Example != "" {
		var v any
		if err := yaml.Unmarshal([]byte(f.Example), &v); err == nil {
			if f.Kind == KString {
				v = f.Example
			}
			s["examples"] = []any{v}
		}
	}
	return s
}

// Reference returns the Markdown reference of the recipe format, one table
// per object, generated from Spec: the text of recipes/reference.md, which
// docs/recipes.md links; a test checks that the file is current.
func Reference() string {
	var b strings.Builder
	for i := range Spec {
		o := &Spec[i]
		fmt.Fprintf(&b, "#### `%s`\n\n%s\n\n", o.Name, o.Desc)
		b.WriteString("| key | type | default | description | rule |\n|---|---|---|---|---|\n")
		for j := range o.Fields {
			f := &o.Fields[j]
			typ := string(f.Kind)
			switch f.Kind {
			case KObject:
				typ = "`" + f.Object + "`"
			case KObjectList:
				typ = "list of `" + f.Object + "`"
			}
			if len(f.Enum) > 0 {
				typ += ": " + strings.Join(f.Enum, " \\| ")
			}
			def := "—"
			switch {
			case f.Required:
				def = "**required**"
			case f.Default != "" && f.Derived:
				def = f.Default
			case f.Default != "":
				def = "`" + f.Default + "`"
			}
			desc := f.Desc
			if f.Example != "" {
				desc += " Example: `" + f.Example + "`."
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Key, typ, def, cell(desc), cell(f.Rule))
		}
		b.WriteString("\n")
		if o.Name == "field" {
			typeReference(&b)
		}
	}
	return b.String()
}

// typeReference writes the table of field types, from Types.
func typeReference(b *strings.Builder) {
	b.WriteString("#### field types\n\nThe values of `type`: how a value is written in JSON, the column `--migrate` creates, " +
		"and the columns (information_schema data_type) a field of the type serves.\n\n")
	b.WriteString("| type | JSON | column created | columns served |\n|---|---|---|---|\n")
	for _, t := range Types {
		fmt.Fprintf(b, "| `%s` | %s | `%s` | %s |\n", t.Name, cell(t.JSON), t.Creates, "`"+strings.Join(t.Serves, "`, `")+"`")
	}
	b.WriteString("\n")
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
