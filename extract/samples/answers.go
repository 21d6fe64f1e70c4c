package samples

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stranglerfig/strangler/proxy/capture"
)

// Kinds of answer (Answer.Kind).
const (
	AnswerObject = "object"
	AnswerList   = "list"
)

// Answer is what an endpoint's successful (2xx) JSON answers say.
type Answer struct {
	// Answers is the number of successful answers read as JSON.
	Answers int
	// Kind is object or list, as most answers were; "" when the data was
	// always null.
	Kind string
	// Shape is what these answers alone say of the shape.
	Shape Shape
	// Fields are the members of the answer objects (of a list's items), in
	// the order the answers write them.
	Fields []FieldObs
	// Meta are the members of lists' meta object, or of members written
	// beside the data ({"orders": [...], "total": 9}).
	Meta []FieldObs
	// Extra are the JSON names of top-level members beside data and meta
	// ({"success": true, "data": ...}), sorted; recipes write none.
	Extra []string
	// Skipped counts successful answers not read: truncated (cut at
	// proxy.max_body_copy), not_json (HTML, text, an encoding other than
	// gzip), bad_json (looked like JSON, did not decode).
	Skipped map[string]int
}

// envelope is where an answer's data and meta are.
type envelope struct {
	kind             string
	dataKey, metaKey string // as written
	data, meta       *value
	side             []*member // members beside data and meta
}

// dataNames are the names a data member of an envelope goes by, in order
// of preference; the endpoint's collection name (orders, order) follows.
var dataNames = []string{"data", "items", "results", "result", "records", "rows", "payload", "content",
	"entries", "objects", "list", "response"}

// metaNames are the names of an envelope's meta object.
var metaNames = []string{"meta", "pagination", "paging", "page_info", "metadata", "page"}

// sideNames are the snake_case names of scalar members an envelope may
// hold beside its data: pagination, status and tracing members.
var sideNames = []string{"total", "total_count", "total_items", "total_results", "count", "limit", "offset",
	"page", "per_page", "page_size", "pages", "total_pages", "next_cursor", "next", "previous", "prev", "cursor",
	"has_more", "links", "status", "success", "ok", "message", "code", "request_id", "version", "took",
	"timestamp", "errors", "error", "warnings"}

// envelopeOf finds the data of an answer. An object is an envelope when one
// member is named as data is (dataNames, or collection in snake_case, or its
// singular) and holds an object, an array or null, and every other member
// is a meta object (metaNames) or a side member (sideNames); anything else
// is a bare answer.
func envelopeOf(v *value, collection string) envelope {
	bare := envelope{kind: EnvelopeBare, data: v}
	if v.kind != jObject {
		return bare
	}
	names := dataNames
	if collection != "" {
		names = append(slices.Clip(names), SnakeName(collection), Singular(collection))
	}
	best := -1
	for i := range v.members {
		m := &v.members[i]
		k := m.val.kind
		if k != jObject && k != jArray && k != jNull {
			continue
		}
		if r := slices.Index(names, SnakeName(m.name)); r >= 0 && (best < 0 || r < slices.Index(names, SnakeName(v.members[best].name))) {
			best = i
		}
	}
	if best < 0 {
		return bare
	}
	env := envelope{kind: EnvelopeData, dataKey: v.members[best].name, data: &v.members[best].val}
	for i := range v.members {
		m := &v.members[i]
		if i == best {
			continue
		}
		sn := SnakeName(m.name)
		switch {
		case env.meta == nil && m.val.kind == jObject && slices.Contains(metaNames, sn):
			env.metaKey, env.meta = m.name, &m.val
		case slices.Contains(sideNames, sn):
			env.side = append(env.side, m)
		default:
			return bare
		}
	}
	return env
}

// listPage is what one list answer says of pagination.
type listPage struct {
	n          int        // items
	query      url.Values // the request's query
	total      int        // meta total, X-Total-Count
	hasTotal   bool
	cursorSeen bool // a next cursor member or header, even null or empty
	more       bool // the answer says there is more after it
	offsetSeen bool // an offset or page member in meta
}

// answerAcc gathers the successful answers of one endpoint.
type answerAcc struct {
	collection string // the endpoint's collection segment, a data-key candidate
	answers    int
	objects    int
	lists      int
	nullData   int
	notObjects int // list elements that are not objects
	items      *objStats
	meta       *objStats
	extra      map[string]int
	skipped    map[string]int
	v          *votes
	pages      []listPage
	sideMeta   bool                         // meta members written beside the data
	firsts     map[string]map[string]string // GET request -> member -> first value
	unstable   map[string]int
}

func newAnswerAcc(collection string) *answerAcc {
	return &answerAcc{collection: collection, items: newObjStats(), meta: newObjStats(), extra: map[string]int{},
		skipped: map[string]int{}, v: newVotes(), firsts: map[string]map[string]string{}, unstable: map[string]int{}}
}

var stateNames = map[bodyState]string{bodyTruncated: "truncated", bodyNotJSON: "not_json", bodyBad: "bad_json"}

// observe adds one successful answer.
func (a *answerAcc) observe(rec *capture.Record, body *value, state bodyState) {
	if state != bodyJSON {
		if name, ok := stateNames[state]; ok {
			a.skipped[name]++
		}
		return
	}
	env := envelopeOf(body, a.collection)
	a.answers++
	a.v.envelope[env.kind]++
	if env.kind == EnvelopeData {
		a.v.dataKey[env.dataKey]++
		if env.meta != nil {
			a.v.metaKey[env.metaKey]++
		}
	}
	for _, m := range env.side {
		a.extra[m.name]++
	}
	switch env.data.kind {
	case jObject:
		a.objects++
		a.items.observe(env.data, 0)
		if rec.Request.Method == http.MethodGet {
			a.checkStable(rec, env.data)
		}
	case jArray:
		a.lists++
		for i := range env.data.elems {
			if e := &env.data.elems[i]; e.kind == jObject {
				a.items.observe(e, 0)
			} else {
				a.notObjects++
			}
		}
		a.pages = append(a.pages, a.page(rec, &env))
	default:
		a.nullData++
	}
}

// checkStable compares the scalar members of an answer with the first
// answer to the same request.
func (a *answerAcc) checkStable(rec *capture.Record, data *value) {
	key := rec.Request.Path + "?" + rec.Request.Query
	first, seen := a.firsts[key]
	if !seen {
		first = map[string]string{}
		for _, m := range data.members {
			if t, ok := m.val.scalarText(); ok {
				first[m.name] = m.val.kind.String() + ":" + t
			}
		}
		a.firsts[key] = first
		return
	}
	for _, m := range data.members {
		t, ok := m.val.scalarText()
		if was, had := first[m.name]; ok && had && was != m.val.kind.String()+":"+t {
			a.unstable[m.name]++
		}
	}
}

// totalNames and cursorNames are the snake_case names of meta members
// holding a list's total and its next cursor.
var (
	totalNames  = []string{"total", "total_count", "total_items", "total_results"}
	cursorNames = []string{"next_cursor", "cursor", "next", "next_page_token", "after"}
	// pageNames are all the members that say something of pagination.
	pageNames = append(append([]string{"limit", "offset", "page", "per_page", "page_size", "pages", "total_pages",
		"has_more", "count", "previous", "prev"}, totalNames...), cursorNames...)
)

// page reads what a list answer says of pagination: meta (or the members
// beside the data) and the headers X-Total-Count, X-Next-Cursor and Link.
func (a *answerAcc) page(rec *capture.Record, env *envelope) listPage {
	q, _ := url.ParseQuery(rec.Request.Query)
	p := listPage{n: len(env.data.elems), query: q}
	members := env.side
	if env.meta != nil {
		a.meta.observe(env.meta, 0)
		a.v.metaSeen = true
		for i := range env.meta.members {
			m := &env.meta.members[i]
			members = append(members, m)
			if sn := SnakeName(m.name); slices.Contains(recipeMeta, sn) && !slices.Contains(a.v.meta, sn) {
				a.v.meta = append(a.v.meta, sn)
			}
		}
	}
	side := value{kind: jObject}
	for _, m := range env.side {
		if slices.Contains(pageNames, SnakeName(m.name)) {
			side.members = append(side.members, *m)
		}
	}
	if len(side.members) > 0 {
		if env.meta == nil {
			a.meta.observe(&side, 0)
		}
		a.sideMeta = true
	}
	for _, m := range members {
		sn := SnakeName(m.name)
		switch {
		case slices.Contains(totalNames, sn):
			if t, err := strconv.Atoi(m.val.text); err == nil && (m.val.kind == jNumber || m.val.kind == jString) {
				p.total, p.hasTotal = t, true
			}
		case slices.Contains(cursorNames, sn):
			p.cursorSeen = true
			if m.val.kind == jString && m.val.text != "" {
				p.more = true
				if strings.Contains(m.val.text, "page=") || strings.Contains(m.val.text, "offset=") {
					p.cursorSeen, p.offsetSeen = false, true // a link to the next page by number
				}
			}
		case sn == "offset" || sn == "page":
			p.offsetSeen = true
		case sn == "has_more" && m.val.kind == jBool:
			p.more = p.more || m.val.text == "true"
		}
	}
	h := rec.Response.Header
	if t, err := strconv.Atoi(h.Get("X-Total-Count")); err == nil {
		p.total, p.hasTotal = t, true
	}
	if _, ok := h["X-Next-Cursor"]; ok {
		p.cursorSeen = true
		p.more = p.more || h.Get("X-Next-Cursor") != ""
	}
	for _, l := range h.Values("Link") {
		if strings.Contains(l, `rel="next"`) || strings.Contains(l, "rel=next") {
			p.more = true
		}
	}
	return p
}

// finish turns the gathered answers into an Answer and the votes they
// cast for the shape (pagination is counted by paginate).
func (a *answerAcc) finish(n noter) (*Answer, *votes) {
	ans := &Answer{Answers: a.answers, Skipped: a.skipped}
	noun := "answers"
	switch {
	case a.lists > a.objects:
		ans.Kind, noun = AnswerList, "items"
	case a.objects > 0:
		ans.Kind = AnswerObject
	}
	if a.lists > 0 && a.objects > 0 {
		n.add("answers are lists in %d answers and single objects in %d", a.lists, a.objects)
	}
	if a.notObjects > 0 {
		n.add("lists hold %d elements that are not objects", a.notObjects)
	}
	for name, c := range a.unstable {
		if f := a.items.fields[name]; f != nil {
			f.unstable = c
		}
	}
	ans.Fields = a.items.obsList("", noun, n)
	ans.Meta = a.meta.obsList("meta.", "lists", n)
	for name := range a.extra {
		ans.Extra = append(ans.Extra, name)
	}
	slices.Sort(ans.Extra)
	if len(ans.Extra) > 0 && a.v.envelope[EnvelopeData] > 0 {
		n.add("answers hold members beside the data and meta: %s; recipes write none", strings.Join(ans.Extra, ", "))
	}
	var unknownMeta []string
	for _, f := range ans.Meta {
		if !slices.Contains(recipeMeta, f.Name) {
			unknownMeta = append(unknownMeta, f.JSON)
		}
	}
	if len(unknownMeta) > 0 {
		n.add("meta members %s have no recipe equivalent (recipes write total, limit, offset, next_cursor)", strings.Join(unknownMeta, ", "))
	}
	a.v.fieldVotes(ans.Fields)
	metaNames := map[string]bool{}
	for _, f := range ans.Meta {
		metaNames[f.JSON] = true
	}
	a.v.nameVotes(metaNames)
	return ans, a.v
}

// paginate counts the pagination evidence of the lists, once their query
// parameters are classified (roles maps a parameter to its page role).
func (a *answerAcc) paginate(roles map[string]string, n noter) {
	pageNumbers := false
	for _, p := range a.pages {
		limit, offset, hasLimit := 0, 0, false
		var cursorAsked, offsetAsked bool
		for _, name := range sortedKeys(p.query) {
			vals := p.query[name]
			if len(vals) == 0 {
				continue
			}
			iv, err := strconv.Atoi(vals[0])
			switch roles[name] {
			case RoleLimit:
				if err == nil {
					limit, hasLimit = iv, true
				}
			case RoleOffset:
				offsetAsked = true
				if err == nil {
					offset = iv
				}
			case RolePage:
				offsetAsked, pageNumbers = true, true
			case RoleCursor:
				cursorAsked = true
			}
		}
		if page := pageNumber(p.query, roles); page > 1 && hasLimit {
			offset = (page - 1) * limit
		}
		switch {
		case cursorAsked || p.cursorSeen:
			a.v.pagination[PaginationCursor]++
		case offsetAsked || p.hasTotal || p.offsetSeen:
			a.v.pagination[PaginationOffset]++
		}
		more := p.more || (p.hasTotal && p.total > offset+p.n)
		switch {
		case !hasLimit && more:
			a.v.defaults[p.n]++
		case hasLimit && p.n < limit && more:
			a.v.caps[p.n]++
		case hasLimit && p.n == limit:
			a.v.honoured = max(a.v.honoured, limit)
		}
	}
	if pageNumbers {
		n.add("lists are paged by page number; recipes page by offset and limit")
	}
	if a.sideMeta {
		n.add("lists write their meta members beside the data, not under a meta key; recipes write them under meta_key")
	}
}

// pageNumber is the value of the page parameter, 0 when there is none.
func pageNumber(q url.Values, roles map[string]string) int {
	for _, name := range sortedKeys(q) {
		if vals := q[name]; roles[name] == RolePage && len(vals) > 0 {
			if v, err := strconv.Atoi(vals[0]); err == nil {
				return v
			}
		}
	}
	return 0
}

// sortedKeys are the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
