package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/proxy/capture"
)

// OpenAPIVersion is the version of the documents Infer writes.
const OpenAPIVersion = "3.1.0"

// Options tune Infer. The zero value is ready to use.
type Options struct {
	// Title is the document's info.title. Default "Legacy API (observed)".
	Title string
	// Version is the document's info.version. Default "observed".
	Version string
	// EnumMinSamples is the least number of times a string field must be
	// seen before it can become an enum. Zero means DefaultEnumMinSamples
	// (20); a negative value turns enums off.
	EnumMinSamples int
	// EnumMaxValues is the most distinct values an enum may have. Zero
	// means DefaultEnumMaxValues (8).
	EnumMaxValues int
}

func (o *Options) enumMinSamples() int {
	switch {
	case o.EnumMinSamples < 0:
		return int(^uint(0) >> 1)
	case o.EnumMinSamples == 0:
		return DefaultEnumMinSamples
	}
	return o.EnumMinSamples
}

func (o *Options) enumMaxValues() int {
	if o.EnumMaxValues <= 0 {
		return DefaultEnumMaxValues
	}
	return o.EnumMaxValues
}

// Result is an inferred document and what went into it.
type Result struct {
	// Document is the OpenAPI 3.1 document, indented JSON ending in a
	// newline: the same bytes for the same records.
	Document []byte
	// Endpoints is the number of operations (path and method) written.
	Endpoints int
	// Samples is the number of records read.
	Samples int
	// Skipped says which bodies were left out of the schemas and why
	// (truncated, not JSON), one line per endpoint and reason.
	Skipped []string
}

// Infer writes the OpenAPI 3.1 document of the legacy API as the capture
// records show it: a path template per endpoint (see the path rules in
// paths.go), its methods, the path and query parameters seen, the request
// bodies and the answers per status, with JSON Schemas inferred from the
// bodies. A field is required when every sample has it and nullable when
// a sample has it null; a string field has a format when all its values
// have it (date-time, date, uuid, email, a decimal pattern or a
// timestamp layout) and is an enum by the rule of DefaultEnumMinSamples;
// every scalar field has one real (redacted) value as its example, the
// first seen.
func Infer(recs []capture.Record, o Options) (*Result, error) {
	inf := &inference{shapes: map[string]*pathShape{}, skipped: map[string]int{}}
	for i := range recs {
		inf.add(&recs[i])
	}
	doc, n := inf.document(&o, len(recs))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encoding the inferred OpenAPI document: %w", err)
	}
	res := &Result{Document: buf.Bytes(), Endpoints: n, Samples: len(recs)}
	for k, c := range inf.skipped {
		res.Skipped = append(res.Skipped, fmt.Sprintf("%s (%d)", k, c))
	}
	slices.Sort(res.Skipped)
	return res, nil
}

// inference is the state of Infer: the endpoints seen, by path shape.
type inference struct {
	shapes   map[string]*pathShape
	skipped  map[string]int // "METHOD shape: reason" -> count
	from, to time.Time
	routes   map[string]bool
}

// pathShape is one path template, its variables' route names and the
// operations on it.
type pathShape struct {
	segs       []segment        // of the first path seen
	routeNames []map[string]int // per variable: route names seen, counted
	ops        map[string]*operation
}

// operation gathers the samples of one method on one path shape.
type operation struct {
	samples   int
	routes    map[string]bool
	pathVars  []*node
	query     map[string]*param
	bodies    int                 // samples with a request body
	request   map[string]*content // by media type
	responses map[int]*response
}

type param struct {
	count int // samples that had it
	multi bool
	value *node
}

type response struct {
	count   int
	content map[string]*content
}

// content is the bodies of one media type.
type content struct {
	count int
	json  bool
	body  *node // nil until a JSON body was read
}

func (inf *inference) add(rec *capture.Record) {
	if inf.routes == nil {
		inf.routes = map[string]bool{}
	}
	if rec.Route != "" {
		inf.routes[rec.Route] = true
	}
	if !rec.At.IsZero() {
		if inf.from.IsZero() || rec.At.Before(inf.from) {
			inf.from = rec.At
		}
		if rec.At.After(inf.to) {
			inf.to = rec.At
		}
	}
	method := strings.ToUpper(rec.Request.Method)
	if method == "" {
		method = http.MethodGet
	}
	segs := splitPath(rec.Request.Path, rec.Request.Vars)
	key := shapeKey(segs)
	ps := inf.shapes[key]
	if ps == nil {
		ps = &pathShape{segs: segs, ops: map[string]*operation{}}
		inf.shapes[key] = ps
	}
	var values []string
	j := 0
	for _, s := range segs {
		if !s.isVar {
			continue
		}
		if j >= len(ps.routeNames) {
			ps.routeNames = append(ps.routeNames, map[string]int{})
		}
		if s.name != "" {
			ps.routeNames[j][s.name]++
		}
		values = append(values, s.text)
		j++
	}
	op := ps.ops[method]
	if op == nil {
		op = &operation{routes: map[string]bool{}, query: map[string]*param{}, request: map[string]*content{}, responses: map[int]*response{}}
		ps.ops[method] = op
	}
	op.samples++
	if rec.Route != "" {
		op.routes[rec.Route] = true
	}
	for i, v := range values {
		if i >= len(op.pathVars) {
			op.pathVars = append(op.pathVars, &node{})
		}
		op.pathVars[i].observeText(v)
	}
	where := method + " " + key
	if rec.Request.Query != "" {
		q, err := url.ParseQuery(rec.Request.Query)
		if err != nil {
			inf.skipped[where+": query string does not parse"]++
		}
		for name, vs := range q {
			if name == "" {
				inf.skipped[where+": query parameter without a name"]++
				continue
			}
			p := op.query[name]
			if p == nil {
				p = &param{value: &node{}}
				op.query[name] = p
			}
			p.count++
			p.multi = p.multi || len(vs) > 1
			for _, v := range vs {
				p.value.observeText(v)
			}
		}
	}
	if rec.Request.Body != "" || len(rec.Request.BodyBase64) > 0 {
		op.bodies++
		inf.body(op.request, where+" request", rec.Request.Header, rec.Request.Body, rec.Request.BodyBase64, rec.Request.Truncated)
	}
	r := op.responses[rec.Response.Status]
	if r == nil {
		r = &response{content: map[string]*content{}}
		op.responses[rec.Response.Status] = r
	}
	r.count++
	if rec.Response.Body != "" || len(rec.Response.BodyBase64) > 0 {
		inf.body(r.content, where+" "+strconv.Itoa(rec.Response.Status), rec.Response.Header, rec.Response.Body, rec.Response.BodyBase64, rec.Response.Truncated)
	}
}

// body adds one body to the contents of a request or an answer.
func (inf *inference) body(contents map[string]*content, where string, h http.Header, text string, raw []byte, truncated bool) {
	mt := ""
	if ct := h.Get("Content-Type"); ct != "" {
		if m, _, err := mime.ParseMediaType(ct); err == nil {
			mt = strings.ToLower(m)
		}
	}
	isJSON := isJSONMedia(mt)
	var v any
	parsed := false
	if raw == nil && !truncated && (isJSON || mt == "") {
		dec := json.NewDecoder(strings.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&v); err == nil && !dec.More() {
			parsed = true
			if mt == "" {
				mt, isJSON = "application/json", true
			}
		}
	}
	if mt == "" {
		mt = "application/octet-stream"
		if raw == nil {
			mt = "text/plain"
		}
	}
	c := contents[mt]
	if c == nil {
		c = &content{json: isJSON}
		contents[mt] = c
	}
	c.count++
	switch {
	case !isJSON:
	case truncated:
		inf.skipped[where+": body truncated by the capture"]++
	case !parsed:
		inf.skipped[where+": body is not JSON"]++
	default:
		if c.body == nil {
			c.body = &node{}
		}
		c.body.observe(v)
	}
}

// isJSONMedia says whether a media type holds JSON.
func isJSONMedia(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

type obj = map[string]any

// document assembles the OpenAPI document; it returns the number of
// operations written.
func (inf *inference) document(o *Options, samples int) (obj, int) {
	paths := obj{}
	n := 0
	for _, ps := range inf.shapes {
		names := nameVars(ps.segs, ps.pickRouteNames())
		item := obj{}
		for method, op := range ps.ops {
			item[strings.ToLower(method)] = op.operation(o, names)
			n++
		}
		paths[template(ps.segs, names)] = item
	}
	title := o.Title
	if title == "" {
		title = "Legacy API (observed)"
	}
	version := o.Version
	if version == "" {
		version = "observed"
	}
	observed := obj{"samples": samples}
	if !inf.from.IsZero() {
		observed["from"] = inf.from.UTC().Format(time.RFC3339Nano)
		observed["to"] = inf.to.UTC().Format(time.RFC3339Nano)
	}
	if len(inf.routes) > 0 {
		observed["routes"] = sortedKeys(inf.routes)
	}
	return obj{
		"openapi": OpenAPIVersion,
		"info": obj{"title": title, "version": version,
			"description": fmt.Sprintf("Inferred by strangler contract infer from %d captured samples of legacy traffic: what was seen, not what the legacy API allows.", samples)},
		"paths":                paths,
		"x-strangler-observed": observed,
	}, n
}

// pickRouteNames is, per variable, the route name seen most often (the
// first in order on a tie), or "".
func (ps *pathShape) pickRouteNames() []string {
	out := make([]string, len(ps.routeNames))
	for i, m := range ps.routeNames {
		best := 0
		for _, name := range sortedKeys(m) {
			if m[name] > best {
				out[i], best = name, m[name]
			}
		}
	}
	return out
}

func (op *operation) operation(o *Options, names []string) obj {
	var params []any
	for i, name := range names {
		s := obj{"type": "string"}
		if i < len(op.pathVars) {
			s = op.pathVars[i].schema(o)
			delete(s, "enum") // an id, whatever the samples held
		}
		params = append(params, obj{"name": name, "in": "path", "required": true, "schema": s})
	}
	for _, name := range sortedKeys(op.query) {
		p := op.query[name]
		s := p.value.schema(o)
		if p.multi {
			s = obj{"type": "array", "items": s}
		}
		params = append(params, obj{"name": name, "in": "query", "required": p.count == op.samples, "schema": s})
	}
	out := obj{"x-strangler-samples": op.samples}
	if len(op.routes) > 0 {
		out["x-strangler-routes"] = sortedKeys(op.routes)
	}
	if len(params) > 0 {
		out["parameters"] = params
	}
	if op.bodies > 0 {
		out["requestBody"] = obj{"required": op.bodies == op.samples, "content": contents(o, op.request)}
	}
	responses := obj{}
	codes := make([]int, 0, len(op.responses))
	for code := range op.responses {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		r := op.responses[code]
		key := strconv.Itoa(code)
		if code < 100 || code > 599 {
			key = "default" // not an HTTP status: the first such one stands for all
			if _, ok := responses[key]; ok {
				continue
			}
		}
		desc := http.StatusText(code)
		if desc == "" {
			desc = "Status " + key
		}
		resp := obj{"description": fmt.Sprintf("%s (%d samples)", desc, r.count)}
		if len(r.content) > 0 {
			resp["content"] = contents(o, r.content)
		}
		responses[key] = resp
	}
	out["responses"] = responses
	return out
}

func contents(o *Options, cs map[string]*content) obj {
	out := obj{}
	for mt, c := range cs {
		s := obj{}
		switch {
		case c.body != nil:
			s = c.body.schema(o)
		case !c.json && strings.HasPrefix(mt, "text/"):
			s = obj{"type": "string"}
		}
		out[mt] = obj{"schema": s}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
