package samples

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stranglerfig/strangler/proxy/capture"
)

// Var is one variable segment of an endpoint's path template.
type Var struct {
	// Name is the variable's name in the template: the key member it is
	// tied to, or id, for the last segment; <singular>_id (customer_id
	// after customers) for the others, or the member it is tied to when
	// that is not id.
	Name string
	// Segment is the variable's index among the path's segments.
	Segment int
	// Kind is the class of its values: integer, uuid, hex, code, slug,
	// word, other, redacted, or mixed.
	Kind string
	// Resource is the singular of the literal segment before it (order
	// after orders), "" when a variable precedes it.
	Resource string
	// Key is the snake_case name of the answer member whose value equals
	// the segment in at least 80% of the answers checked (id for GET
	// /orders/123 answering {"id":123}; customer_id for the items of GET
	// /customers/7/orders), "" when none does. Matched of Checked answers
	// agreed.
	Key              string
	Matched, Checked int
	// Values are the distinct values seen, sorted (as numbers when all
	// are integers), at most maxValues; Distinct counts them all.
	Values   []string
	Distinct int
}

// rec is one record with what the analysis reads from it.
type rec struct {
	idx   int
	r     *capture.Record
	segs  []string
	ok    bool // a 2xx answer
	body  value
	state bodyState

	scalars map[string]bool // the answer's top-level scalar values, built on first use
}

// splitPath cuts a path into its segments; empty segments (//, a trailing
// slash) are dropped, as the facade's path normalisation merges slashes.
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// maxScalarItems bounds the list items whose values are looked at.
const maxScalarItems = 200

// answerHas reports whether the record's successful JSON answer could be
// looked at (checked) and whether one of its top-level scalar values (of
// the object, or of a list's items) is s.
func (r *rec) answerHas(s string) (checked, has bool) {
	if !r.ok || r.state != bodyJSON {
		return false, false
	}
	if r.scalars == nil {
		r.scalars = map[string]bool{}
		env := envelopeOf(&r.body, "")
		add := func(o *value) {
			for _, m := range o.members {
				if t, ok := m.val.scalarText(); ok {
					r.scalars[strings.ToLower(t)] = true
				}
			}
		}
		switch env.data.kind {
		case jObject:
			add(env.data)
		case jArray:
			for i := range env.data.elems[:min(len(env.data.elems), maxScalarItems)] {
				if e := &env.data.elems[i]; e.kind == jObject {
					add(e)
				}
			}
		}
	}
	if len(r.scalars) == 0 {
		return false, false
	}
	return true, r.scalars[strings.ToLower(s)]
}

// seg is one segment of a template: a literal or a variable.
type seg struct {
	lit   string
	isVar bool
}

// skeletonKey names a template's shape; a segment holds no "/" and the
// variable mark cannot be a segment, so distinct shapes have distinct keys.
func skeletonKey(segs []seg) string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		parts[i] = s.lit
		if s.isVar {
			parts[i] = "\x00"
		}
	}
	return strings.Join(parts, "/")
}

// templater assigns each record the template its path belongs to.
type templater struct {
	skel map[int][]seg // record index -> template segments
}

// templates builds a tree of the paths, level by level, deciding at each
// level which segment values are one variable (see variables) and merging
// their subtrees.
func templates(recs []*rec) map[int][]seg {
	t := &templater{skel: map[int][]seg{}}
	t.split(recs, 0, nil)
	return t.skel
}

func (t *templater) split(group []*rec, depth int, prefix []seg) {
	byVal := map[string][]*rec{}
	for _, r := range group {
		if len(r.segs) == depth {
			t.skel[r.idx] = prefix
			continue
		}
		byVal[r.segs[depth]] = append(byVal[r.segs[depth]], r)
	}
	if len(byVal) == 0 {
		return
	}
	vars := variables(byVal, depth)
	var merged []*rec
	for _, v := range sortedKeys(byVal) {
		if vars[v] {
			merged = append(merged, byVal[v]...)
			continue
		}
		t.split(byVal[v], depth+1, append(slices.Clip(prefix), seg{lit: v}))
	}
	if len(merged) > 0 {
		slices.SortFunc(merged, func(a, b *rec) int { return a.idx - b.idx })
		t.split(merged, depth+1, append(slices.Clip(prefix), seg{isVar: true}))
	}
}

// variables decides which of the values seen at one position of the paths
// (after the same literal prefix) are values of a variable, by the rules
// the package documentation gives under "Path templates": by class first
// (versions literal; integers, UUIDs, hex, codes variable), then by the
// successful answers (a value an answer holds is variable, one its answers
// do not hold literal), then by frequency.
func variables(byVal map[string][]*rec, depth int) map[string]bool {
	vars := map[string]bool{}
	if depth == 0 {
		return vars
	}
	var rest []string
	n := 0
	for _, v := range sortedKeys(byVal) {
		switch k := segmentKind(v); {
		case k == KindVersion:
		case alwaysVariable(k):
			vars[v] = true
		default:
			rest = append(rest, v)
			n += len(byVal[v])
		}
	}
	type evidence struct{ checked, tied bool }
	ev := map[string]evidence{}
	anyChecked, anyTied := false, false
	for _, v := range rest {
		var e evidence
		for _, r := range byVal[v] {
			c, has := r.answerHas(v)
			e.checked = e.checked || c
			if has {
				e.tied = true
				break
			}
		}
		ev[v] = e
		anyChecked = anyChecked || e.checked
		anyTied = anyTied || e.tied
	}
	frequent := func(v string) bool { c := len(byVal[v]); return c >= 3 && 4*c >= n }
	var open []string
	openRecs := 0
	for _, v := range rest {
		e := ev[v]
		switch {
		case e.tied:
			vars[v] = true
		case e.checked:
		case anyTied:
			vars[v] = !frequent(v)
		case anyChecked:
		case !frequent(v):
			open = append(open, v)
			openRecs += len(byVal[v])
		}
	}
	if len(open) >= 3 && 2*len(open) >= openRecs {
		for _, v := range open {
			vars[v] = true
		}
	}
	return vars
}

// skeleton is one template with its records.
type skeleton struct {
	key  string
	segs []seg
	recs []*rec
	vars []Var
	path string // the template, variables named
}

// collection is the literal segment an endpoint's answers are a
// collection of: the last literal before a final variable, or the last
// segment.
func (s *skeleton) collection() string {
	for i := len(s.segs) - 1; i >= 0; i-- {
		if !s.segs[i].isVar {
			return s.segs[i].lit
		}
	}
	return ""
}

// name works out the variables of a template: their values, the answer
// member each is tied to, and their names.
func (s *skeleton) name() {
	used := map[string]bool{}
	last := len(s.segs) - 1
	for i, sg := range s.segs {
		if !sg.isVar {
			continue
		}
		v := Var{Segment: i}
		if i > 0 && !s.segs[i-1].isVar {
			v.Resource = Singular(s.segs[i-1].lit)
		}
		values := map[string]bool{}
		kinds := map[string]bool{}
		for _, r := range s.recs {
			values[r.segs[i]] = true
		}
		for val := range values {
			if k := segmentKind(val); k != KindRedacted || len(values) == 1 {
				kinds[k] = true
			}
		}
		v.Values, v.Distinct = sortedValues(values)
		v.Kind = KindMixed
		if len(kinds) == 1 {
			for k := range kinds {
				v.Kind = k
			}
		}
		s.tie(&v)
		switch {
		case i == last && v.Key != "":
			v.Name = v.Key
		case i == last:
			v.Name = "id"
		case v.Key != "" && v.Key != "id":
			v.Name = v.Key
		case v.Resource != "":
			v.Name = v.Resource + "_id"
		default:
			v.Name = "p" + strconv.Itoa(i)
		}
		base := v.Name
		for k := 2; used[v.Name]; k++ {
			v.Name = fmt.Sprintf("%s_%d", base, k)
		}
		used[v.Name] = true
		s.vars = append(s.vars, v)
	}
	var b strings.Builder
	vi := 0
	for _, sg := range s.segs {
		b.WriteByte('/')
		if sg.isVar {
			b.WriteString("{" + s.vars[vi].Name + "}")
			vi++
			continue
		}
		b.WriteString(sg.lit)
	}
	s.path = cmp.Or(b.String(), "/")
}

// tie finds the answer member whose value is the variable's: in an
// object answer, a top-level member equal to the segment; in a list, a
// member equal to it in every item.
func (s *skeleton) tie(v *Var) {
	counts := map[string]int{}
	coll := s.collection()
	for _, r := range s.recs {
		val := r.segs[v.Segment]
		if !r.ok || r.state != bodyJSON || val == redacted {
			continue
		}
		env := envelopeOf(&r.body, coll)
		switch env.data.kind {
		case jObject:
			v.Checked++
			for _, m := range env.data.members {
				if t, ok := m.val.scalarText(); ok && strings.EqualFold(t, val) {
					counts[m.name]++
				}
			}
		case jArray:
			var objs []*value
			for i := range env.data.elems {
				if e := &env.data.elems[i]; e.kind == jObject {
					objs = append(objs, e)
				}
			}
			if len(objs) == 0 {
				continue
			}
			v.Checked++
			for _, m := range objs[0].members {
				all := true
				for _, o := range objs {
					x, ok := o.get(m.name)
					t, scalar := "", false
					if ok {
						t, scalar = x.scalarText()
					}
					if !scalar || !strings.EqualFold(t, val) {
						all = false
						break
					}
				}
				if all {
					counts[m.name]++
				}
			}
		}
	}
	names := sortedKeys(counts)
	rank := func(name string) int {
		switch sn := SnakeName(name); {
		case sn == "id":
			return 0
		case strings.HasSuffix(sn, "_id"):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(names, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return rank(a) - rank(b)
	})
	if len(names) > 0 && 5*counts[names[0]] >= 4*v.Checked {
		v.Key, v.Matched = SnakeName(names[0]), counts[names[0]]
	}
}
