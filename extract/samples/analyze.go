package samples

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stranglerfig/strangler/recipes"
)

// ActionUnknown is the action of an endpoint that maps onto none of
// recipes' actions (POST /orders/{id}/cancel).
const ActionUnknown = "unknown"

// maxExampleRecords bounds Endpoint.Examples.
const maxExampleRecords = 5

// Result is what a set of captured records says a recipe needs.
type Result struct {
	// Records is the number of records read.
	Records int
	// Endpoints are sorted by template, then method (GET, POST, PUT,
	// PATCH, DELETE, then others by name).
	Endpoints []Endpoint
	// Shape is the shape most answers of all endpoints follow.
	Shape Shape
	// Notes are where endpoints disagree with Shape, and fields a recipe
	// must describe on their own (json names, time formats).
	Notes []string
}

// Endpoint is the records of one method and path template.
type Endpoint struct {
	Method   string
	Template string // /api/customers/{customer_id}/orders
	// Resource is the singular name of the collection the endpoint serves
	// (order for /api/orders/{id}, for /api/customers/{customer_id}/orders
	// and for /api/orders/recent beside /api/orders/{id}); "" for query and
	// unknown actions.
	Resource string
	// Action is get, list, create, replace, patch, delete, query (a GET
	// answering one object at a path not ending in a variable) or unknown.
	Action string
	Vars   []Var
	Query  []QueryParam
	// Count is the number of records, Share their part of all records.
	Count int
	Share float64
	// Statuses counts the answers by status code.
	Statuses map[int]int
	// Routes are the facade routes the records were captured on, sorted.
	Routes []string
	// Examples are indexes of records in the input: the first of each
	// status, then the first ones, at most maxExampleRecords, sorted.
	Examples []int
	// Answer is what the successful JSON answers say; nil when there was
	// none.
	Answer *Answer
	// Body are the members of JSON request bodies (of POST, PUT, PATCH).
	Body []FieldObs
	// Notes are ambiguities and conflicts within the endpoint's samples.
	Notes []string
}

// Analyze reads captured records, in the order given, and says what a
// recipe needs of them. It reads nothing else and keeps nothing; the same
// records give the same result.
func Analyze(records []capture.Record) *Result {
	recs := make([]*rec, len(records))
	for i := range records {
		r := &records[i]
		x := &rec{idx: i, r: r, segs: splitPath(r.Request.Path), ok: r.Response.Status >= 200 && r.Response.Status < 300}
		if x.ok {
			x.body, x.state = decodeBody(r.Response.Body, r.Response.BodyBase64, r.Response.Header, r.Response.Truncated)
		}
		recs[i] = x
	}
	skels := skeletons(recs)
	res := &Result{Records: len(records), Endpoints: []Endpoint{}}
	shapes := make([]*votes, 0)
	for _, s := range skels {
		for _, m := range methods(s.recs) {
			ep, v := endpoint(s, m, skels, len(records))
			res.Endpoints = append(res.Endpoints, ep)
			shapes = append(shapes, v)
		}
	}
	order := make([]int, len(res.Endpoints))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := &res.Endpoints[a], &res.Endpoints[b]
		return cmp.Or(strings.Compare(x.Template, y.Template), compareMethods(x.Method, y.Method))
	})
	eps := make([]Endpoint, len(order))
	vs := make([]*votes, len(order))
	for i, j := range order {
		eps[i], vs[i] = res.Endpoints[j], shapes[j]
	}
	res.Endpoints = eps
	res.overall(vs)
	return res
}

// skeletons groups the records by template, in order of first record.
func skeletons(recs []*rec) []*skeleton {
	skel := templates(recs)
	byKey := map[string]*skeleton{}
	var out []*skeleton
	for _, r := range recs {
		segs := skel[r.idx]
		key := skeletonKey(segs)
		s := byKey[key]
		if s == nil {
			s = &skeleton{key: key, segs: segs}
			byKey[key] = s
			out = append(out, s)
		}
		s.recs = append(s.recs, r)
	}
	for _, s := range out {
		s.name()
	}
	return out
}

var methodOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

func compareMethods(a, b string) int {
	ra, rb := slices.Index(methodOrder, a), slices.Index(methodOrder, b)
	if ra < 0 {
		ra = len(methodOrder)
	}
	if rb < 0 {
		rb = len(methodOrder)
	}
	return cmp.Or(cmp.Compare(ra, rb), strings.Compare(a, b))
}

// methods are the methods of a template's records, in methodOrder.
func methods(recs []*rec) []string {
	var out []string
	for _, r := range recs {
		if !slices.Contains(out, r.r.Request.Method) {
			out = append(out, r.r.Request.Method)
		}
	}
	slices.SortFunc(out, compareMethods)
	return out
}

// endpoint reads the records of one method of a template.
func endpoint(s *skeleton, method string, all []*skeleton, total int) (Endpoint, *votes) {
	ep := Endpoint{Method: method, Template: s.path, Vars: slices.Clone(s.vars), Statuses: map[int]int{}}
	n := noter{notes: &ep.Notes}
	acc := newAnswerAcc(s.collection())
	body := newObjStats()
	qa := newQueryAcc()
	routes := map[string]bool{}
	var idxs []int
	for _, r := range s.recs {
		if r.r.Request.Method != method {
			continue
		}
		ep.Count++
		idxs = append(idxs, r.idx)
		ep.Statuses[r.r.Response.Status]++
		if r.r.Route != "" {
			routes[r.r.Route] = true
		}
		qa.observe(r.r.Request.Query)
		if r.ok {
			acc.observe(r.r, &r.body, r.state)
		}
		if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
			q := &r.r.Request
			if v, st := decodeBody(q.Body, q.BodyBase64, q.Header, q.Truncated); st == bodyJSON {
				if env := envelopeOf(&v, s.collection()); env.data.kind == jObject {
					body.observe(env.data, 0)
				}
			}
		}
	}
	if total > 0 {
		ep.Share = float64(ep.Count) / float64(total)
	}
	ep.Routes = sortedKeys(routes)
	ep.Examples = examples(idxs, s.recs, method)
	ans, v := acc.finish(n)
	if body.objects > 0 {
		ep.Body = body.obsList("body.", "bodies", n)
	}
	fields := map[string]bool{}
	for _, f := range ans.Fields {
		fields[f.Name] = true
	}
	if len(fields) == 0 {
		fields = siblingFields(s)
	}
	ep.Query = qa.classify(fields)
	acc.paginate(pageRoles(ep.Query), n)
	ans.Shape = v.decide(n)
	v.conflicts(ans.Shape, n)
	for _, f := range ans.Fields {
		if f.Unstable {
			n.add("%s differed between answers to the same request: made per answer (a request id, a clock) or changed meanwhile", f.JSON)
		}
	}
	if sk := ans.Skipped; len(sk) > 0 {
		parts := make([]string, 0, len(sk))
		for _, k := range sortedKeys(sk) {
			parts = append(parts, fmt.Sprintf("%d %s", sk[k], k))
		}
		n.add("successful answers not read: %s", joinAnd(parts))
	}
	if ans.Answers > 0 {
		ep.Answer = ans
	}
	ep.Action = action(method, s, ep.Answer, ep.Statuses[http.StatusCreated] > 0)
	ep.Resource = resource(ep.Action, s, all)
	return ep, v
}

// siblingFields are the answer members of the other methods' records of a
// template, for classifying the query parameters of an endpoint whose own
// answers hold none.
func siblingFields(s *skeleton) map[string]bool {
	fields := map[string]bool{}
	for _, r := range s.recs {
		if !r.ok || r.state != bodyJSON {
			continue
		}
		env := envelopeOf(&r.body, s.collection())
		obj := env.data
		if obj.kind == jArray && len(obj.elems) > 0 {
			obj = &obj.elems[0]
		}
		if obj.kind == jObject {
			for _, m := range obj.members {
				fields[SnakeName(m.name)] = true
			}
		}
	}
	return fields
}

// examples picks the first record of each status, then the first ones.
func examples(idxs []int, recs []*rec, method string) []int {
	byStatus := map[int]int{}
	var statuses []int
	for _, r := range recs {
		if r.r.Request.Method != method {
			continue
		}
		st := r.r.Response.Status
		if _, ok := byStatus[st]; !ok {
			byStatus[st] = r.idx
			statuses = append(statuses, st)
		}
	}
	slices.Sort(statuses)
	var out []int
	for _, st := range statuses {
		if len(out) < maxExampleRecords {
			out = append(out, byStatus[st])
		}
	}
	for _, i := range idxs {
		if len(out) >= maxExampleRecords {
			break
		}
		if !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// action maps a method and what it answered onto a recipe action. A POST
// creates when its path ends in a collection: a plural literal
// (/customers/{customer_id}/orders, not /orders/{id}/cancel or /login), or
// one that answered 201 Created.
func action(method string, s *skeleton, ans *Answer, created bool) string {
	lastVar := len(s.segs) > 0 && s.segs[len(s.segs)-1].isVar
	kind := ""
	if ans != nil {
		kind = ans.Kind
	}
	switch method {
	case http.MethodGet:
		switch {
		case kind == AnswerList:
			return recipes.ActionList
		case lastVar:
			return recipes.ActionGet
		case kind == AnswerObject:
			return recipes.ActionQuery
		}
	case http.MethodPost:
		if lastVar || kind == AnswerList || len(s.segs) == 0 {
			break
		}
		if lit := s.segs[len(s.segs)-1].lit; created || Singular(lit) != SnakeName(lit) {
			return recipes.ActionCreate
		}
	case http.MethodPut:
		if lastVar {
			return recipes.ActionReplace
		}
	case http.MethodPatch:
		if lastVar {
			return recipes.ActionPatch
		}
	case http.MethodDelete:
		if lastVar {
			return recipes.ActionDelete
		}
	}
	return ActionUnknown
}

// resource is the singular name of the collection an endpoint serves: the
// literal before a final variable; the last literal of a path that ends in
// one, or the literal before it where the same prefix also has a variable
// there (/orders/recent beside /orders/{id}).
func resource(act string, s *skeleton, all []*skeleton) string {
	if act == recipes.ActionQuery || act == ActionUnknown || len(s.segs) == 0 {
		return ""
	}
	last := len(s.segs) - 1
	if s.segs[last].isVar {
		if last > 0 && !s.segs[last-1].isVar {
			return Singular(s.segs[last-1].lit)
		}
		return ""
	}
	if last > 0 && !s.segs[last-1].isVar {
		sib := append(slices.Clone(s.segs[:last]), seg{isVar: true})
		key := skeletonKey(sib)
		for _, o := range all {
			if o.key == key {
				return Singular(s.segs[last-1].lit)
			}
		}
	}
	return Singular(s.segs[last].lit)
}
