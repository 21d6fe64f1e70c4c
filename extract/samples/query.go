package samples

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Classes of query parameters (QueryParam.Class).
const (
	QueryFilter = "filter" // names a member of the answer objects
	QuerySort   = "sort"   // sort, order_by, ...: values name members
	QueryPage   = "page"   // limit, offset, page, cursor, ...
	QueryOther  = "other"
)

// Roles of page parameters (QueryParam.Role).
const (
	RoleLimit  = "limit"  // limit, per_page, page_size, size, take
	RoleOffset = "offset" // offset, skip, start
	RolePage   = "page"   // page, page_number
	RoleCursor = "cursor" // cursor, after, before, page_token, next
)

// QueryParam is one query parameter of an endpoint.
type QueryParam struct {
	// Name is the parameter as written, less an operator in brackets:
	// total for total[gte].
	Name string
	// Class is filter, sort, page or other.
	Class string
	// Role is a page parameter's role: limit, offset, page or cursor.
	Role string
	// Field is a filter's answer member, in snake_case.
	Field string
	// Ops are the operators seen with a filter, sorted: gte for total[gte]
	// or total_gte, min for min_total.
	Ops []string
	// Fields are the members a sort parameter's values name, in
	// snake_case, sorted: placed_at and total for ?sort=-placed_at,total.
	Fields []string
	// Values are the distinct values seen, sorted (as numbers when all are
	// integers), at most maxValues; Distinct counts them all.
	Values   []string
	Distinct int
	// Count is the number of records carrying the parameter.
	Count int
}

// maxValues bounds the values kept per parameter or path variable.
const maxValues = 20

// Names of sort and page parameters. A strong name is taken as such even
// when the answers have a member of that name; a weak one only when they
// have none.
var (
	strongSort = []string{"sort", "sort_by", "sortby", "order_by", "orderby", "ordering", "sort_order",
		"sort_dir", "sort_direction", "order_dir"}
	weakSort   = []string{"order", "dir", "direction"}
	strongPage = map[string]string{"limit": RoleLimit, "per_page": RoleLimit, "page_size": RoleLimit, "pagesize": RoleLimit,
		"offset": RoleOffset, "page": RolePage, "page_number": RolePage, "cursor": RoleCursor, "page_token": RoleCursor}
	weakPage = map[string]string{"size": RoleLimit, "take": RoleLimit, "count": RoleLimit, "skip": RoleOffset,
		"start": RoleOffset, "after": RoleCursor, "before": RoleCursor, "next": RoleCursor}
)

// filterOps are operators written in brackets (total[gte]) or, with an
// underscore, after or before the member's name (total_gte, min_total).
var (
	bracketOps = []string{"eq", "ne", "neq", "gt", "gte", "ge", "lt", "lte", "le", "like", "ilike", "in", "nin",
		"not", "contains", "from", "to", "min", "max", "before", "after", "since", "until"}
	suffixOps = []string{"gt", "gte", "lt", "lte", "ne", "min", "max", "from", "to", "after", "before", "since",
		"until", "like", "in"}
	prefixOps = []string{"min", "max", "from", "to"}
	// filterWrappers hold the member in brackets: filter[status].
	filterWrappers = []string{"filter", "filters", "where", "q"}
)

var bracketRe = regexp.MustCompile(`^([^\[\]]+)\[([^\[\]]*)\](?:\[([^\[\]]*)\])?$`)

// paramKey splits a written key into the parameter's name and the
// operator (total[gte] -> total, gte) or the member a wrapper names
// (filter[status] -> filter[status], status).
func paramKey(key string) (name, op, member string) {
	m := bracketRe.FindStringSubmatch(key)
	if m == nil {
		return key, "", ""
	}
	outer, inner, third := m[1], strings.ToLower(m[2]), strings.ToLower(m[3])
	if slices.Contains(filterWrappers, strings.ToLower(outer)) {
		if third != "" {
			return outer + "[" + m[2] + "]", third, SnakeName(m[2])
		}
		return key, "", SnakeName(m[2])
	}
	if third == "" && slices.Contains(bracketOps, inner) {
		return outer, inner, ""
	}
	return key, "", ""
}

// queryAcc gathers an endpoint's query parameters.
type queryAcc struct {
	params map[string]*paramAcc
}

type paramAcc struct {
	name   string
	ops    map[string]bool
	member string // the member named by a wrapper, filter[status]
	values map[string]bool
	count  int
}

func newQueryAcc() *queryAcc { return &queryAcc{params: map[string]*paramAcc{}} }

// observe adds the query string of one record; a parameter repeated in it
// counts once.
func (q *queryAcc) observe(raw string) {
	vals, _ := url.ParseQuery(raw) // what parses is kept
	seen := map[string]bool{}
	for _, key := range sortedKeys(vals) {
		name, op, member := paramKey(key)
		p := q.params[name]
		if p == nil {
			p = &paramAcc{name: name, ops: map[string]bool{}, member: member, values: map[string]bool{}}
			q.params[name] = p
		}
		if !seen[name] {
			p.count++
			seen[name] = true
		}
		if op != "" {
			p.ops[op] = true
		}
		for _, v := range vals[key] {
			if v != redacted {
				p.values[v] = true
			}
		}
	}
}

// classify names each parameter's class, given the snake_case names of the
// members of the endpoint's answer objects.
func (q *queryAcc) classify(fields map[string]bool) []QueryParam {
	out := make([]QueryParam, 0, len(q.params))
	for _, name := range sortedKeys(q.params) {
		p := q.params[name]
		qp := QueryParam{Name: p.name, Count: p.count}
		qp.Values, qp.Distinct = sortedValues(p.values)
		for op := range p.ops {
			qp.Ops = append(qp.Ops, op)
		}
		slices.Sort(qp.Ops)
		sn := SnakeName(p.name)
		switch {
		case p.member != "":
			qp.Class, qp.Field = QueryFilter, p.member
		case slices.Contains(strongSort, sn):
			qp.Class, qp.Fields = QuerySort, sortFields(p.values)
		case strongPage[sn] != "":
			qp.Class, qp.Role = QueryPage, strongPage[sn]
		case fields[sn]:
			qp.Class, qp.Field = QueryFilter, sn
		case slices.Contains(weakSort, sn):
			qp.Class, qp.Fields = QuerySort, sortFields(p.values)
		case weakPage[sn] != "":
			qp.Class, qp.Role = QueryPage, weakPage[sn]
		default:
			qp.Class = QueryOther
			if field, op := opAffix(sn, fields); field != "" {
				qp.Class, qp.Field = QueryFilter, field
				if !slices.Contains(qp.Ops, op) {
					qp.Ops = append(qp.Ops, op)
					slices.Sort(qp.Ops)
				}
			}
		}
		out = append(out, qp)
	}
	return out
}

// opAffix reads total_gte or min_total as a member and an operator.
func opAffix(sn string, fields map[string]bool) (field, op string) {
	for _, op := range suffixOps {
		if f, ok := strings.CutSuffix(sn, "_"+op); ok && fields[f] {
			return f, op
		}
	}
	for _, op := range prefixOps {
		if f, ok := strings.CutPrefix(sn, op+"_"); ok && fields[f] {
			return f, op
		}
	}
	return "", ""
}

// sortFields are the members sort values name: -placed_at,total ->
// placed_at, total; "total desc", "total:asc" and "total.desc" alike.
func sortFields(values map[string]bool) []string {
	set := map[string]bool{}
	for v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(part), "-+"))
			for _, sep := range []string{" ", ":", "."} {
				if f, dir, ok := strings.Cut(part, sep); ok {
					if d := strings.ToLower(dir); d == "asc" || d == "desc" {
						part = f
					}
				}
			}
			if l := strings.ToLower(part); part == "" || l == "asc" || l == "desc" {
				continue
			}
			set[SnakeName(part)] = true
		}
	}
	return sortedKeys(set)
}

// sortedValues are the values in order, as numbers when all are integers,
// cut at maxValues, and how many there are.
func sortedValues(set map[string]bool) ([]string, int) {
	vals := sortedKeys(set)
	numeric := len(vals) > 0
	for _, v := range vals {
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			numeric = false
			break
		}
	}
	if numeric {
		slices.SortFunc(vals, func(a, b string) int {
			x, _ := strconv.ParseInt(a, 10, 64)
			y, _ := strconv.ParseInt(b, 10, 64)
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return strings.Compare(a, b)
		})
	}
	n := len(vals)
	if n > maxValues {
		vals = vals[:maxValues]
	}
	return vals, n
}

// pageRoles maps the written keys of the page parameters to their roles.
func pageRoles(params []QueryParam) map[string]string {
	roles := map[string]string{}
	for _, p := range params {
		if p.Class == QueryPage {
			roles[p.Name] = p.Role
		}
	}
	return roles
}
