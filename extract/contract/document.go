package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/stranglerfig/strangler/recipes"
)

// Document is one side of a check: an OpenAPI 3 document, read from a
// file of its own or generated from a recipe.
type Document struct {
	// Name is the file the document came from.
	Name string
	// FromRecipe says that the document was generated from a recipe
	// (recipes.OpenAPI).
	FromRecipe bool
	spec       *openapi3.T
}

// OpenAPI is the document as kin-openapi loaded it, references resolved.
func (d *Document) OpenAPI() *openapi3.T { return d.spec }

// ErrNotADocument is the cause of a refused input that is neither an
// OpenAPI 3 document nor a recipe.
var ErrNotADocument = errors.New("neither an OpenAPI 3 document nor a recipe")

// LoadFile reads an OpenAPI 3 document (JSON or YAML) or a recipe from
// path. Errors name the file.
func LoadFile(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse reads an OpenAPI 3 document or a recipe held in memory; name is
// used in errors. A mapping with an openapi key is an OpenAPI document; one
// with a service, resources or endpoints key is a recipe, loaded and
// validated by recipes.Parse and turned into its document with
// recipes.OpenAPI.
func Parse(name string, data []byte) (*Document, error) {
	var top map[string]any
	var err error
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		err = json.Unmarshal(data, &top) // JSON allows what YAML refuses (control characters)
	} else {
		err = yaml.Unmarshal(data, &top)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrNotADocument, err)
	}
	switch {
	case top["openapi"] != nil:
		return parseOpenAPI(name, data)
	case top["swagger"] != nil:
		return nil, fmt.Errorf("%s: %w: swagger %v (OpenAPI 2) is not read; convert it to OpenAPI 3", name, ErrNotADocument, top["swagger"])
	case top["service"] != nil || top["resources"] != nil || top["endpoints"] != nil:
		r, err := recipes.Parse(name, data)
		if err != nil {
			return nil, fmt.Errorf("loading recipe %s: %w", name, err)
		}
		doc, err := recipes.OpenAPI(r)
		if err != nil {
			return nil, fmt.Errorf("recipe %s: %w", name, err)
		}
		d, err := parseOpenAPI(name, doc)
		if err != nil {
			return nil, err
		}
		d.FromRecipe = true
		return d, nil
	}
	return nil, fmt.Errorf("%s: %w (no openapi key, no service key)", name, ErrNotADocument)
}

func parseOpenAPI(name string, data []byte) (*Document, error) {
	loader := openapi3.NewLoader() // external references stay refused
	spec, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable OpenAPI document: %w", name, err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		return nil, fmt.Errorf("%s: %w: openapi %q (3.x is read)", name, ErrNotADocument, spec.OpenAPI)
	}
	if spec.Paths == nil {
		spec.Paths = openapi3.NewPaths()
	}
	return &Document{Name: name, spec: spec}, nil
}
