package recipes

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// OpenAPIVersion is the version of the OpenAPI documents generated.
const OpenAPIVersion = "3.1.0"

type obj = map[string]any

// OpenAPI generates the OpenAPI 3.1 document of a recipe: a schema per
// resource (as answered, as written in full, as patched), every endpoint
// with its parameters, bodies, answers and RFC 9457 problems.
//
// The result columns of named queries are typed once the service has
// described them to PostgreSQL (Service.Start); before that, and from this
// function, a query's row is any object.
func OpenAPI(r *Recipe) ([]byte, error) { return openAPI(r, nil) }

func openAPI(r *Recipe, cols map[string][]queryColumn) ([]byte, error) {
	g := &oaGen{r: r, schemas: obj{}, cols: cols}
	g.schemas["Problem"] = problemSchema()
	for i := range r.Resources {
		res := &r.Resources[i]
		g.schemas[schemaName(res.Name)] = g.resourceSchema(res, "out")
		g.schemas[schemaName(res.Name)+"Input"] = g.resourceSchema(res, "in")
		g.schemas[schemaName(res.Name)+"Patch"] = g.resourceSchema(res, "patch")
	}
	paths := obj{}
	for i := range r.Endpoints {
		e := &r.Endpoints[i]
		p := r.BasePath + e.Path
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		item[strings.ToLower(e.Method)] = g.operation(e)
	}
	title := r.Title
	if title == "" {
		title = r.Service
	}
	responses := obj{}
	for _, code := range []int{400, 404, 409, 413, 415, 422, 500} {
		responses[fmt.Sprint(code)] = obj{"description": problemText(code), "content": obj{
			"application/problem+json": obj{"schema": obj{"$ref": "#/components/schemas/Problem"}}}}
	}
	doc := obj{
		"openapi":    OpenAPIVersion,
		"info":       obj{"title": title, "version": r.Version},
		"paths":      paths,
		"components": obj{"schemas": g.schemas, "responses": responses},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the OpenAPI document: %w", err)
	}
	return b, nil
}

func problemText(code int) string {
	switch code {
	case 400:
		return "Malformed request: bad JSON or query parameters"
	case 404:
		return "Not found"
	case 409:
		return "Duplicate value, or the If-Match version is stale"
	case 413:
		return "Body too large"
	case 415:
		return "Body is not JSON"
	case 422:
		return "A field or rule is broken"
	default:
		return "Internal error"
	}
}

type oaGen struct {
	r       *Recipe
	schemas obj
	cols    map[string][]queryColumn // result columns of named queries, by endpoint
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

func schemaName(resource string) string {
	return applyCasing("pascal", nonWord.ReplaceAllString(resource, "_"))
}

func problemSchema() obj {
	return obj{"type": "object", "required": []string{"type", "title", "status"}, "example": obj{
		"type": "about:blank", "title": "Unprocessable Entity", "status": 422, "detail": "the order breaks the rules",
		"instance": "/orders", "errors": []obj{{"field": "total", "message": "must be at least 0"}}}, "properties": obj{
		"type":     obj{"type": "string"},
		"title":    obj{"type": "string"},
		"status":   obj{"type": "integer"},
		"detail":   obj{"type": "string"},
		"instance": obj{"type": "string"},
		"errors": obj{"type": "array", "items": obj{"type": "object", "required": []string{"message"}, "properties": obj{
			"field": obj{"type": "string"}, "message": obj{"type": "string"}}}},
	}}
}

// fieldSchema is the JSON Schema of a field's value in the recipe's shape.
func (g *oaGen) fieldSchema(f *Field) obj {
	sh := &g.r.Shape
	s := obj{}
	typ, words := "", ""
	switch f.Type {
	case TypeString:
		typ = "string"
		if len(f.Enum) > 0 {
			s["enum"] = f.Enum
		}
		if f.MinLength != nil {
			s["minLength"] = *f.MinLength
		}
		if f.MaxLength != nil {
			s["maxLength"] = *f.MaxLength
		}
		if f.Pattern != "" {
			s["pattern"] = f.Pattern
		}
	case TypeUUID:
		typ, s["format"] = "string", "uuid"
	case TypeInteger:
		typ, s["format"] = "integer", "int64"
	case TypeNumber:
		typ, s["format"] = "number", "double"
	case TypeDecimal:
		if sh.Decimals == "string" {
			typ = "string"
			s["pattern"] = decimalPattern(f.Scale)
		} else {
			typ = "number"
		}
	case TypeBoolean:
		switch sh.Booleans {
		case "int":
			typ, s["enum"] = "integer", []int{0, 1}
		case "string":
			typ, s["enum"] = "string", []string{"true", "false"}
		default:
			typ = "boolean"
		}
	case TypeTime:
		typ, s["pattern"] = "string", timePattern
		words = fmt.Sprintf("MySQL TIME from -838:59:59 to 838:59:59, written [-]HH:MM:SS%s", fractionWords(f.FSP))
	case TypeBits:
		typ = "string"
		if f.Length > 0 {
			s["pattern"] = fmt.Sprintf("^[01]{%d}$", f.Length)
			s["minLength"], s["maxLength"] = f.Length, f.Length
			words = fmt.Sprintf("bit(%d): %d bits, 0 or 1, most significant first", f.Length, f.Length)
		} else {
			s["pattern"] = "^[01]*$"
		}
	case TypeBinary:
		typ, s["format"], s["contentEncoding"] = "string", "byte", "base64"
	case TypeSet:
		typ, s["uniqueItems"] = "array", true
		items := obj{"type": "string"}
		if len(f.Enum) > 0 {
			items["enum"] = f.Enum
			words = "members of " + strings.Join(f.Enum, ", ") + ", each at most once, written in that order"
		}
		s["items"] = items
	case TypeTimestamp, TypeDate:
		typ = "string"
		switch layout := f.timeLayout(sh); {
		case f.Type == TypeTimestamp && layout == "2006-01-02T15:04:05.999999999Z07:00":
			s["format"] = "date-time"
		case f.Type == TypeDate && layout == "2006-01-02":
			s["format"] = "date"
		default:
			// A layout of its own: what the runtime reads, in a pattern
			// and in words, besides the layout itself.
			s["x-go-time-layout"] = layout
			s["pattern"] = layoutPattern(f.timeLayouts(sh))
			words = f.timeDescription(sh)
		}
	}
	if f.Type == TypeInteger || f.Type == TypeNumber || (f.Type == TypeDecimal && sh.Decimals != "string") {
		if f.Minimum != nil {
			s["minimum"] = *f.Minimum
		}
		if f.Maximum != nil {
			s["maximum"] = *f.Maximum
		}
	}
	if typ != "" {
		if f.Nullable {
			s["type"] = []string{typ, "null"}
		} else {
			s["type"] = typ
		}
	}
	switch {
	case f.Doc != "" && words != "":
		s["description"] = f.Doc + "; " + words
	case f.Doc != "":
		s["description"] = f.Doc
	case words != "":
		s["description"] = words
	}
	if ex := g.example(f); ex != nil {
		s["example"] = ex
	}
	if f.ReadOnly {
		s["readOnly"] = true
	}
	if f.WriteOnly {
		s["writeOnly"] = true
	}
	return s
}

// example is a field's example as answers write it, or nil. A field that
// is not a recipe's own (a query parameter) has its example derived here.
func (g *oaGen) example(f *Field) json.RawMessage {
	v := f.example
	if v == nil {
		var err error
		if v, _, err = f.exampleValue(&g.r.Shape); err != nil || v == nil {
			return nil
		}
	}
	return exampleJSON(f, v, &g.r.Shape)
}

// timePattern accepts what a time field reads: 1 to 3 hour digits and up
// to 6 fractional digits (the range and fsp are checked by the service).
const timePattern = `^-?[0-9]{1,3}:[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$`

func fractionWords(fsp int) string {
	if fsp == 0 {
		return ""
	}
	return fmt.Sprintf(".%s (%d fractional digits)", strings.Repeat("f", fsp), fsp)
}

func decimalPattern(scale int) string {
	if scale == 0 {
		return `^-?[0-9]+$`
	}
	return fmt.Sprintf(`^-?[0-9]+\.[0-9]{%d}$`, scale)
}

// resourceSchema is a resource as answered (out), as written by create and
// replace (in), or as patched (patch).
func (g *oaGen) resourceSchema(res *Resource, mode string) obj {
	props, example := obj{}, obj{}
	var required []string
	for i := range res.Fields {
		f := &res.Fields[i]
		switch mode {
		case "out":
			if f.WriteOnly {
				continue
			}
			if !f.Nullable || g.r.Shape.Nulls == "null" {
				required = append(required, f.JSON)
			}
		case "in", "patch":
			if f.ReadOnly {
				continue
			}
			if mode == "in" && !f.Nullable && f.Default == "" {
				required = append(required, f.JSON)
			}
		}
		props[f.JSON] = g.fieldSchema(f)
		if ex := g.example(f); ex != nil {
			example[f.JSON] = ex
		}
	}
	if mode == "out" {
		for _, rel := range res.Relations {
			if rel.Kind == "many" {
				props[rel.JSON] = obj{"type": "array", "items": obj{"$ref": "#/components/schemas/" + schemaName(rel.Resource)},
					"description": "the related " + rel.Resource + " rows, present where the endpoint embeds them"}
				continue
			}
			props[rel.JSON] = obj{"anyOf": []obj{{"$ref": "#/components/schemas/" + schemaName(rel.Resource)}, {"type": "null"}},
				"description": "the related " + rel.Resource + ", present where the endpoint embeds it"}
		}
	}
	s := obj{"type": "object", "properties": props, "example": example}
	if len(required) > 0 {
		s["required"] = required
	}
	if mode != "out" && len(res.Relations) == 0 {
		s["additionalProperties"] = false // a body may echo embedded objects back; they are ignored
	}
	return s
}

func (g *oaGen) envelope(data obj, meta obj) obj {
	sh := &g.r.Shape
	if sh.Envelope != "data" {
		return data
	}
	props := obj{sh.DataKey: data}
	req := []string{sh.DataKey}
	if meta != nil {
		props[sh.MetaKey] = meta
		req = append(req, sh.MetaKey)
	}
	return obj{"type": "object", "required": req, "properties": props}
}

func (g *oaGen) metaSchema() obj {
	sh := &g.r.Shape
	if len(sh.Meta) == 0 {
		return nil
	}
	props := obj{}
	var req []string
	for _, m := range sh.Meta {
		name := applyCasing(sh.Casing, m)
		req = append(req, name)
		if m == "next_cursor" {
			props[name] = obj{"type": []string{"string", "null"}}
		} else {
			props[name] = obj{"type": "integer", "minimum": 0}
		}
	}
	return obj{"type": "object", "required": req, "properties": props}
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func problemRefs(codes ...int) obj {
	out := obj{}
	for _, c := range codes {
		out[fmt.Sprint(c)] = obj{"$ref": fmt.Sprintf("#/components/responses/%d", c)}
	}
	return out
}

func jsonContent(schema obj) obj { return obj{"application/json": obj{"schema": schema}} }

func (g *oaGen) operation(e *Endpoint) obj {
	op := obj{"operationId": e.Name}
	if e.Doc != "" {
		op["summary"] = e.Doc
	}
	var params []obj
	var res *Resource
	if e.Resource != "" {
		res = g.r.resource(e.Resource)
		op["tags"] = []string{e.Resource}
	}
	for _, name := range e.params {
		var s obj
		if e.Action == ActionQuery {
			s = g.paramSchema(e.Query, name)
		} else {
			f := res.fieldByParam(name)
			fc := *f
			fc.Nullable = false
			s = g.fieldSchema(&fc)
			delete(s, "readOnly")
		}
		params = append(params, obj{"name": name, "in": "path", "required": true, "schema": s})
	}
	etag := obj{"ETag": obj{"description": "Version of the row, for If-Match", "schema": obj{"type": "string"}}}
	ifMatch := obj{"name": "If-Match", "in": "header", "required": false, "schema": obj{"type": "string", "example": "*"},
		"description": "Write only if the row is still at this version (its ETag); a stale version gets 409."}
	shadow := obj{"name": HeaderShadow, "in": "header", "required": false, "schema": obj{"type": "string", "enum": []string{"1"}, "example": "1"},
		"description": "1: run the write and roll it back (dry run); no event is emitted."}
	var responses obj
	switch e.Action {
	case ActionList:
		params = append(params, g.listParams(e, res)...)
		data := obj{"type": "array", "items": ref(schemaName(res.Name))}
		responses = problemRefs(400, 404, 500)
		headers := obj{}
		if g.r.Shape.Pagination == "cursor" {
			headers["X-Next-Cursor"] = obj{"description": "cursor of the next page; absent on the last", "schema": obj{"type": "string"}}
		} else if slices.Contains(g.r.Shape.Meta, "total") {
			headers["X-Total-Count"] = obj{"description": "rows matching the filters", "schema": obj{"type": "integer"}}
		}
		responses["200"] = obj{"description": "A page of " + res.Name, "headers": headers, "content": jsonContent(g.envelope(data, g.metaSchema()))}
	case ActionGet:
		responses = problemRefs(404, 500)
		responses["200"] = obj{"description": "The " + res.Name, "headers": etag, "content": jsonContent(g.envelope(ref(schemaName(res.Name)), nil))}
		responses["304"] = obj{"description": "Not modified (If-None-Match)"}
	case ActionCreate, ActionReplace, ActionPatch:
		body, ct := schemaName(res.Name)+"Input", []string{"application/json"}
		if e.Action == ActionPatch {
			body, ct = schemaName(res.Name)+"Patch", []string{"application/json", "application/merge-patch+json"}
		}
		content := obj{}
		for _, c := range ct {
			content[c] = obj{"schema": ref(body)}
		}
		op["requestBody"] = obj{"required": true, "content": content}
		params = append(params, shadow)
		code, desc := "200", "The "+res.Name+" as written"
		responses = problemRefs(400, 404, 409, 413, 415, 422, 500)
		if e.Action == ActionCreate {
			code, desc = "201", "The "+res.Name+" created"
			delete(responses, "404")
		} else {
			params = append(params, ifMatch)
		}
		responses[code] = obj{"description": desc, "headers": etag, "content": jsonContent(g.envelope(ref(schemaName(res.Name)), nil))}
	case ActionDelete:
		params = append(params, ifMatch, shadow)
		responses = problemRefs(404, 409, 500)
		responses["204"] = obj{"description": "Deleted"}
	case ActionQuery:
		for _, prm := range e.Query.Params {
			if !containsString(e.params, prm.Name) {
				params = append(params, obj{"name": prm.Name, "in": "query", "required": prm.Required, "schema": g.paramSchema(e.Query, prm.Name)})
			}
		}
		row := g.queryRowSchema(e)
		data := row
		if !e.Query.Single {
			data = obj{"type": "array", "items": row}
		}
		responses = problemRefs(400, 404, 500)
		responses["200"] = obj{"description": "The result of the query", "content": jsonContent(g.envelope(data, nil))}
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	op["responses"] = responses
	return op
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (g *oaGen) paramSchema(q *Query, name string) obj {
	for _, p := range q.Params {
		if p.Name == name {
			f := p.field()
			s := g.fieldSchema(&f)
			if p.Type == TypeDecimal {
				ex := p.Default
				if ex == "" {
					ex = "1.5"
				}
				s = obj{"type": "string", "pattern": `^-?[0-9]+(\.[0-9]+)?$`, "example": ex}
			}
			return s
		}
	}
	return obj{"type": "string"}
}

func (g *oaGen) listParams(e *Endpoint, res *Resource) []obj {
	sh := &g.r.Shape
	out := []obj{{"name": "limit", "in": "query", "schema": obj{"type": "integer", "minimum": 1, "maximum": sh.MaxLimit, "default": sh.DefaultLimit, "example": sh.DefaultLimit}}}
	if sh.Pagination == "offset" {
		out = append(out, obj{"name": "offset", "in": "query", "schema": obj{"type": "integer", "minimum": 0, "default": 0, "example": 0}})
	} else {
		cursor := obj{"type": "string"}
		if ex := keyExample(res); ex != nil {
			cursor["example"] = newTable(res).cursorOf(row{vals: ex}) // as a page ending at the key's example
		}
		out = append(out, obj{"name": "cursor", "in": "query", "schema": cursor, "description": "next_cursor of the previous page"})
	}
	if len(e.Sort) > 0 {
		var names []string
		for _, s := range e.Sort {
			names = append(names, res.field(s).JSON)
		}
		out = append(out, obj{"name": "sort", "in": "query", "schema": obj{"type": "string", "example": "-" + names[0]},
			"description": "comma-separated fields, '-' for descending: " + strings.Join(names, ", ")})
	}
	for _, name := range e.Filters {
		f := res.field(name)
		for _, op := range []string{"", "ne", "gt", "gte", "lt", "lte"} {
			pname := f.JSON
			if op != "" {
				pname += "[" + op + "]"
			}
			fc := *f
			fc.Nullable, fc.ReadOnly, fc.Doc = false, false, ""
			s := g.fieldSchema(&fc)
			if f.Type == TypeBoolean {
				s = obj{"type": "string", "enum": []string{"true", "false", "1", "0"}, "example": "true"}
			}
			if f.Type == TypeDecimal {
				s = obj{"type": "string", "pattern": `^-?[0-9]+(\.[0-9]+)?$`}
				if d, ok := f.example.(decimal); ok {
					s["example"] = string(d)
				}
			}
			delete(s, "minimum")
			delete(s, "maximum")
			out = append(out, obj{"name": pname, "in": "query", "required": false, "schema": s})
		}
	}
	return out
}

// keyExample is a row holding the examples of the key fields, or nil when
// one of them has none.
func keyExample(res *Resource) []any {
	vals := make([]any, len(res.Fields))
	for _, name := range res.keyFields() {
		i := slices.IndexFunc(res.Fields, func(f Field) bool { return f.Name == name })
		if i < 0 || res.Fields[i].example == nil {
			return nil
		}
		vals[i] = res.Fields[i].example
	}
	return vals
}
