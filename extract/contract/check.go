package contract

import (
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Check lists every change from the contract side (what clients rely on:
// the legacy API as observed, or the previous version) to the new side.
//
// A change is breaking when a client of the contract can fail on the new
// side. In answers that is: an endpoint, status, media type or field gone;
// a field's type changed or widened (string -> number, integer -> number);
// its format changed or dropped (date-time -> date, a decimal string ->
// number, a date-time no longer promised); a field that was always there
// becoming optional, or never null becoming nullable; an enum losing or
// gaining a member, or dropped. In requests it is the opposite direction:
// narrowing what is accepted breaks (a new required parameter or body
// field, a type or format the contract did not ask for, an enum member
// gone or an enum where there was none, null refused), widening does not.
// Everything else that differs is Info. Paths match by shape:
// /orders/{id} is /orders/{orderId}.
//
// Bounds (minLength, maximum, ...) and patterns other than decimal ones
// are not compared: an inferred contract cannot know them.
func Check(contract, next *Document) *Report {
	c := &checker{rep: &Report{Contract: contract.Name, New: next.Name, Changes: []Change{}}, views: newViews(), budget: maxCompared}
	olds, news := operations(contract.spec), operations(next.spec)
	seen := map[string]bool{}
	for _, o := range olds {
		n, ok := news.find(o.key)
		if !ok {
			c.add(Change{Severity: Breaking, Kind: EndpointRemoved, Method: o.method, Path: o.path, In: "endpoint",
				Message: "endpoint removed"})
			continue
		}
		seen[o.key] = true
		c.operation(o, n)
	}
	for _, n := range news {
		if !seen[n.key] {
			c.add(Change{Severity: Info, Kind: EndpointAdded, Method: n.method, Path: n.path, In: "endpoint",
				Message: "endpoint added"})
		}
	}
	for _, ch := range c.rep.Changes {
		if ch.Severity == Breaking {
			c.rep.Breaking++
		} else {
			c.rep.Info++
		}
	}
	return c.rep
}

type checker struct {
	rep    *Report
	views  *views
	budget int // schemas left to compare
}

func (c *checker) add(ch Change) { c.rep.Changes = append(c.rep.Changes, ch) }

// op is one operation of a document.
type op struct {
	key    string // METHOD shape
	method string
	path   string
	item   *openapi3.PathItem
	op     *openapi3.Operation
}

type opList []op

func (l opList) find(key string) (op, bool) {
	for _, o := range l {
		if o.key == key {
			return o, true
		}
	}
	return op{}, false
}

// methodOrder is the order operations of one path are listed in.
var methodOrder = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"}

func methodRank(m string) int {
	if i := slices.Index(methodOrder, m); i >= 0 {
		return i
	}
	return len(methodOrder)
}

// operations lists a document's operations by path and method; of two
// paths of one shape (an invalid document) the first in order counts.
func operations(spec *openapi3.T) opList {
	var out opList
	have := map[string]bool{}
	paths := spec.Paths.Map()
	for _, path := range sortedKeys(paths) {
		item := paths[path]
		if item == nil {
			continue
		}
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, strings.ToUpper(m))
		}
		slices.SortFunc(methods, func(a, b string) int {
			if d := methodRank(a) - methodRank(b); d != 0 {
				return d
			}
			return strings.Compare(a, b)
		})
		for _, m := range methods {
			key := m + " " + templateShape(path)
			if have[key] {
				continue
			}
			have[key] = true
			o := ops[m]
			if o == nil {
				o = ops[strings.ToLower(m)]
			}
			out = append(out, op{key: key, method: m, path: path, item: item, op: o})
		}
	}
	return out
}

// loc is where a change is, less the pointer.
type loc struct {
	method, path, newPath string
	in, status, name      string
}

func (l loc) change(sev Severity, kind Kind, ptr, oldV, newV, msg string) Change {
	return Change{Severity: sev, Kind: kind, Method: l.method, Path: l.path, NewPath: l.newPath, In: l.in,
		Status: l.status, Name: l.name, Pointer: ptr, Old: oldV, New: newV, Message: msg}
}

func (c *checker) operation(o, n op) {
	base := loc{method: o.method, path: o.path}
	if n.path != o.path {
		base.newPath = n.path
	}
	c.parameters(base, o, n)
	c.requestBody(base, o.op.RequestBody, n.op.RequestBody)
	c.responses(base, o.op.Responses, n.op.Responses)
}

// params are the parameters of an operation with those of its path item,
// keyed by "in name" (header names in lower case; path parameters by
// their place in the template: "path #0").
func params(x op) (map[string]*openapi3.Parameter, []string) {
	vars := templateVars(x.path)
	out := map[string]*openapi3.Parameter{}
	for _, list := range []openapi3.Parameters{x.item.Parameters, x.op.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			p := ref.Value
			key := p.In + " " + p.Name
			switch p.In {
			case openapi3.ParameterInPath:
				i := slices.Index(vars, p.Name)
				if i < 0 {
					continue // not in the template: never sent
				}
				key = "path #" + strconv.Itoa(i)
			case openapi3.ParameterInHeader:
				key = p.In + " " + strings.ToLower(p.Name)
			}
			out[key] = p
		}
	}
	return out, sortedParamKeys(out)
}

var inOrder = map[string]int{"path": 0, "query": 1, "header": 2, "cookie": 3}

func sortedParamKeys(m map[string]*openapi3.Parameter) []string {
	keys := sortedKeys(m)
	slices.SortStableFunc(keys, func(a, b string) int { return inOrder[m[a].In] - inOrder[m[b].In] })
	return keys
}

func (c *checker) parameters(base loc, o, n op) {
	ops, okeys := params(o)
	nps, nkeys := params(n)
	for _, k := range okeys {
		p := ops[k]
		l := base
		l.in, l.name = p.In, p.Name
		np := nps[k]
		if np == nil {
			if p.In != openapi3.ParameterInPath {
				c.add(l.change(Breaking, ParameterRemoved, "", "", "", p.In+" parameter no longer declared: the new side ignores or refuses it"))
			}
			continue
		}
		switch {
		case !p.Required && np.Required:
			c.add(l.change(Breaking, BecameRequired, "", "", "", "became required"))
		case p.Required && !np.Required:
			c.add(l.change(Info, BecameOptional, "", "", "", "became optional"))
		}
		c.schema(l, "$", p.Schema, np.Schema, dirParam)
	}
	for _, k := range nkeys {
		if _, ok := ops[k]; ok {
			continue
		}
		p := nps[k]
		l := base
		l.in, l.name = p.In, p.Name
		if p.In == openapi3.ParameterInPath {
			continue
		}
		if p.Required {
			c.add(l.change(Breaking, ParameterAdded, "", "", "", "new required "+p.In+" parameter"))
		} else {
			c.add(l.change(Info, ParameterAdded, "", "", "", "new optional "+p.In+" parameter"))
		}
	}
}

func (c *checker) requestBody(base loc, oref, nref *openapi3.RequestBodyRef) {
	l := base
	l.in = "request"
	var ob, nb *openapi3.RequestBody
	if oref != nil {
		ob = oref.Value
	}
	if nref != nil {
		nb = nref.Value
	}
	switch {
	case ob == nil && nb == nil:
		return
	case ob == nil:
		if nb.Required {
			c.add(l.change(Breaking, BodyAdded, "", "", "", "a request body is now required"))
		} else {
			c.add(l.change(Info, BodyAdded, "", "", "", "an optional request body is now read"))
		}
		return
	case nb == nil:
		c.add(l.change(Breaking, BodyRemoved, "", "", "", "the request body is no longer read"))
		return
	}
	if !ob.Required && nb.Required {
		c.add(l.change(Breaking, BecameRequired, "", "", "", "the request body became required"))
	}
	for _, mt := range sortedKeys(ob.Content) {
		ml := l
		ml.name = mt
		nmt, ok := matchMedia(mt, nb.Content, false)
		if !ok {
			c.add(ml.change(Breaking, MediaTypeRemoved, "", mt, "", "content type "+mt+" no longer accepted"))
			continue
		}
		c.schema(ml, "$", ob.Content[mt].Schema, nb.Content[nmt].Schema, dirRequest)
	}
	for _, mt := range sortedKeys(nb.Content) {
		if _, ok := matchMedia(mt, ob.Content, false); !ok {
			ml := l
			ml.name = mt
			c.add(ml.change(Info, MediaTypeAdded, "", "", mt, "content type "+mt+" also accepted"))
		}
	}
}

// matchMedia finds media type mt in content: the same type, else a range
// that holds it (application/*, */*). With anyJSON, a JSON media type
// also matches another JSON one (application/json, application/problem+json).
func matchMedia(mt string, content openapi3.Content, anyJSON bool) (string, bool) {
	if _, ok := content[mt]; ok {
		return mt, true
	}
	if major, _, ok := strings.Cut(mt, "/"); ok {
		if _, ok := content[major+"/*"]; ok {
			return major + "/*", true
		}
	}
	if _, ok := content["*/*"]; ok {
		return "*/*", true
	}
	if anyJSON && isJSONMedia(mt) {
		for _, k := range sortedKeys(content) {
			if isJSONMedia(k) {
				return k, true
			}
		}
	}
	return "", false
}

// statusOrder sorts status keys: 100..599, then ranges (1XX..5XX), then
// default.
func statusRank(s string) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if len(s) == 3 && strings.HasSuffix(strings.ToUpper(s), "XX") {
		return 1000 + int(s[0])
	}
	return 2000
}

func sortedStatuses(m map[string]*openapi3.ResponseRef) []string {
	keys := sortedKeys(m)
	slices.SortStableFunc(keys, func(a, b string) int { return statusRank(a) - statusRank(b) })
	return keys
}

// matchStatus finds the answer that stands for status in the new side:
// the same key, else its range (4XX), else default.
func matchStatus(status string, m map[string]*openapi3.ResponseRef) (string, bool) {
	if _, ok := m[status]; ok {
		return status, true
	}
	if _, err := strconv.Atoi(status); err == nil {
		for _, k := range []string{status[:1] + "XX", status[:1] + "xx"} {
			if _, ok := m[k]; ok {
				return k, true
			}
		}
	}
	if _, ok := m["default"]; ok {
		return "default", true
	}
	return "", false
}

func (c *checker) responses(base loc, o, n *openapi3.Responses) {
	om, nm := map[string]*openapi3.ResponseRef{}, map[string]*openapi3.ResponseRef{}
	if o != nil {
		om = o.Map()
	}
	if n != nil {
		nm = n.Map()
	}
	matched := map[string]bool{}
	for _, status := range sortedStatuses(om) {
		l := base
		l.in, l.status = "response", status
		ns, ok := matchStatus(status, nm)
		if !ok {
			c.add(l.change(Breaking, ResponseRemoved, "", "", "", "response "+status+" no longer documented"))
			continue
		}
		matched[ns] = true
		c.response(l, om[status], nm[ns])
	}
	for _, status := range sortedStatuses(nm) {
		if matched[status] {
			continue
		}
		if _, ok := om[status]; ok {
			continue
		}
		l := base
		l.in, l.status = "response", status
		c.add(l.change(Info, ResponseAdded, "", "", "", "response "+status+" added"))
	}
}

func (c *checker) response(l loc, oref, nref *openapi3.ResponseRef) {
	if oref == nil || oref.Value == nil || len(oref.Value.Content) == 0 {
		return // no body promised
	}
	ob := oref.Value
	var nc openapi3.Content
	if nref != nil && nref.Value != nil {
		nc = nref.Value.Content
	}
	if len(nc) == 0 {
		c.add(l.change(Breaking, BodyRemoved, "", "", "", "the answer no longer has a body"))
		return
	}
	matched := map[string]bool{}
	for _, mt := range sortedKeys(ob.Content) {
		ml := l
		ml.name = mt
		nmt, ok := matchMedia(mt, nc, true)
		if !ok {
			c.add(ml.change(Breaking, MediaTypeRemoved, "", mt, strings.Join(sortedKeys(nc), ", "),
				"content type "+mt+" no longer answered"))
			continue
		}
		matched[nmt] = true
		if nmt != mt && !strings.Contains(nmt, "*") {
			c.add(ml.change(Breaking, MediaTypeRemoved, "", mt, nmt, "content type "+mt+" -> "+nmt))
		}
		c.schema(ml, "$", ob.Content[mt].Schema, nc[nmt].Schema, dirResponse)
	}
	for _, mt := range sortedKeys(nc) {
		if _, ok := ob.Content[mt]; !ok && !matched[mt] {
			ml := l
			ml.name = mt
			c.add(ml.change(Info, MediaTypeAdded, "", "", mt, "content type "+mt+" also answered"))
		}
	}
}

// describe is a value list as text, for Old and New.
func describe(vs []string) string {
	if len(vs) == 0 {
		return "(none)"
	}
	return strings.Join(vs, ", ")
}
