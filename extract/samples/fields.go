package samples

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stranglerfig/strangler/recipes"
)

// FieldObs is what the samples say of one member of the answer objects
// (or of request bodies, or of objects embedded in them).
type FieldObs struct {
	// JSON is the member's name as written.
	JSON string
	// Name is JSON in snake_case (SnakeName), to match a schema column.
	Name string
	// Type is the recipes field type the values fit: integer, number,
	// decimal, boolean, timestamp, date, uuid, string or json; "" for an
	// embedded related object (Nested is set) or a member only ever null.
	Type string
	// Format is how values of Type are written: for decimals "string"
	// ("12.50") or "number" (12.50); for booleans "bool", "int" (0/1) or
	// "string" ("true"); for timestamps and dates the Go layout
	// (time.RFC3339Nano where fractions vary; TimeLayout names it as
	// recipes do); for integers "string" when quoted ("42"); else "".
	Format string
	// Scale is the digits after the point of a decimal (the largest seen
	// where they vary).
	Scale int
	// Kinds counts the values by JSON kind: string, number, bool, null,
	// object, array.
	Kinds map[string]int
	// Examples holds up to three distinct scalar values as written (JSON),
	// the first seen, each cut at 60 characters.
	Examples []string
	// Present is the number of objects holding the member, Objects the
	// number of objects of its kind seen (answers, list items, embedded
	// objects).
	Present, Objects int
	// Nullable: null was written. Omitted: the member is absent from some
	// objects of its kind (Present < Objects), as APIs that leave nulls
	// out write it.
	Nullable, Omitted bool
	// Unstable: two answers to the same GET (method, path and query) held
	// different values: generated per answer (a request id, a clock) or
	// changed between the two requests.
	Unstable bool
	// Nested is the singular name of the related resource an embedded
	// object (or list of objects, Many) holding an id stands for: customer
	// for "customer": {...}, order for "orders": [...]. "" otherwise.
	Nested string
	Many   bool
	// Via is the snake_case name of the sibling member that holds the
	// embedded object's id in every answer (customer_id next to
	// customer), "" when none does.
	Via string
	// Fields are the members of the embedded objects.
	Fields []FieldObs
}

// maxExamples and maxExampleLen bound FieldObs.Examples.
const (
	maxExamples   = 3
	maxExampleLen = 60
	// maxFields bounds the distinct members kept per kind of object (an
	// object used as a map would otherwise add one per key).
	maxFields = 200
	// maxFieldDepth bounds the embedding followed into answers.
	maxFieldDepth = 6
	// giveUpTimes is how many strings of a member are tried as times
	// before, none having been one, the member is taken for text.
	giveUpTimes = 50
)

// objStats gathers the members of one kind of object: the answers of an
// endpoint (the items of a list), or the objects embedded under a member.
type objStats struct {
	objects  int
	order    []string // members in the order answers write them
	fields   map[string]*fieldStats
	overflow int // members not kept beyond maxFields
}

func newObjStats() *objStats { return &objStats{fields: map[string]*fieldStats{}} }

// field returns the stats of a member, adding it after the member that
// preceded it in the answer, so that the merged order follows the answers'.
func (s *objStats) field(name, after string) *fieldStats {
	if f, ok := s.fields[name]; ok {
		return f
	}
	if len(s.fields) >= maxFields {
		s.overflow++
		return nil
	}
	f := &fieldStats{json: name}
	s.fields[name] = f
	pos := 0
	if after != "" {
		pos = slices.Index(s.order, after) + 1
	}
	s.order = slices.Insert(s.order, pos, name)
	return f
}

// observe adds one object.
func (s *objStats) observe(v *value, depth int) {
	s.objects++
	prev := ""
	for i := range v.members {
		m := &v.members[i]
		f := s.field(m.name, prev)
		if f == nil {
			continue
		}
		prev = m.name
		f.observe(&m.val, depth)
	}
	// Which sibling holds the id of each embedded object.
	for i := range v.members {
		m := &v.members[i]
		f := s.fields[m.name]
		if f == nil || m.val.kind != jObject {
			continue
		}
		id, ok := objectID(&m.val)
		if !ok {
			continue
		}
		f.viaChecked++
		for j := range v.members {
			if t, ok := v.members[j].val.scalarText(); ok && j != i && t == id {
				if f.via == nil {
					f.via = map[string]int{}
				}
				f.via[v.members[j].name]++
			}
		}
	}
}

// objectID is the text of an object's id member (id, ID, Id).
func objectID(v *value) (string, bool) {
	for i := range v.members {
		if SnakeName(v.members[i].name) == "id" {
			return v.members[i].val.scalarText()
		}
	}
	return "", false
}

// fieldStats gathers the values of one member.
type fieldStats struct {
	json     string
	present  int
	kinds    [len(kindNames)]int
	examples []string

	numScales map[int]int // numbers by digits after the point (-1 none, -2 exponent)
	zero, one int         // integers 0 and 1
	otherInt  int         // other integers

	numStrs   int         // strings holding a number
	strScales map[int]int // those by digits after the point (-1 none)
	uuids     int
	boolStrs  int // "true", "false"

	timeTried, timeMatched int
	timeHits               []int // per entry of layouts
	timeOffsets            []int // of those, values with a zone other than UTC

	nested        *objStats // members of embedded objects
	arrObjs       int       // objects in arrays
	arrOther      int       // other values in arrays
	via           map[string]int
	viaChecked    int
	unstable      int
	nestedSkipped bool // embedding deeper than maxFieldDepth
}

func (f *fieldStats) observe(v *value, depth int) {
	f.present++
	f.kinds[v.kind]++
	if len(f.examples) < maxExamples && v.kind != jObject && v.kind != jArray && v.kind != jNull {
		ex := cut(v.raw(), maxExampleLen)
		if !slices.Contains(f.examples, ex) {
			f.examples = append(f.examples, ex)
		}
	}
	switch v.kind {
	case jNumber:
		sc := numberScale(v.text)
		if f.numScales == nil {
			f.numScales = map[int]int{}
		}
		f.numScales[sc]++
		if sc == -1 {
			switch v.text {
			case "0":
				f.zero++
			case "1":
				f.one++
			default:
				f.otherInt++
			}
		}
	case jString:
		f.observeString(v.text)
	case jObject:
		f.embed(v, depth)
	case jArray:
		for i := range v.elems {
			if v.elems[i].kind == jObject {
				f.arrObjs++
				f.embed(&v.elems[i], depth)
			} else {
				f.arrOther++
			}
		}
	}
}

func (f *fieldStats) embed(v *value, depth int) {
	if depth >= maxFieldDepth {
		f.nestedSkipped = true
		return
	}
	if f.nested == nil {
		f.nested = newObjStats()
	}
	f.nested.observe(v, depth+1)
}

func (f *fieldStats) observeString(s string) {
	if ok, sc := numericString(s); ok {
		f.numStrs++
		if f.strScales == nil {
			f.strScales = map[int]int{}
		}
		f.strScales[sc]++
	}
	if isUUID(s) {
		f.uuids++
	}
	if s == "true" || s == "false" {
		f.boolStrs++
	}
	if f.timeTried >= giveUpTimes && f.timeMatched == 0 {
		return
	}
	matched := false
	hit := func(i int, offset bool) {
		if f.timeHits == nil {
			f.timeHits = make([]int, len(layouts))
			f.timeOffsets = make([]int, len(layouts))
		}
		f.timeHits[i]++
		if offset {
			f.timeOffsets[i]++
		}
		matched = true
	}
	// While every string has been a time, the layouts that read them all
	// are tried first; the others only when none of those reads this one.
	// Which layout reads every value is found all the same; the counts of
	// layouts that already failed one may fall short.
	if tried := f.timeTried; f.timeHits != nil && f.timeMatched == tried {
		matchLayouts(s, func(i int) bool { return f.timeHits[i] == tried }, hit)
	}
	if !matched {
		matchLayouts(s, nil, hit)
	}
	f.timeTried++
	if matched {
		f.timeMatched++
	}
}

// cut shortens s to at most n runes, marking the cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// noter appends notes to a list.
type noter struct {
	notes *[]string
}

func (n noter) add(format string, args ...any) {
	*n.notes = append(*n.notes, fmt.Sprintf(format, args...))
}

// obsList turns the stats into observations in answer order. label
// prefixes notes ("customer." for an embedded object); noun names what the
// objects are (answers, items, objects, bodies).
func (s *objStats) obsList(label, noun string, n noter) []FieldObs {
	out := make([]FieldObs, 0, len(s.order))
	for _, name := range s.order {
		out = append(out, s.fields[name].obs(s.objects, label, noun, n))
	}
	if s.overflow > 0 {
		n.add("%smembers beyond the first %d were not followed (%d seen): an object used as a map?", label, maxFields, s.overflow)
	}
	return out
}

func (f *fieldStats) obs(objects int, label, noun string, n noter) FieldObs {
	o := FieldObs{
		JSON: f.json, Name: SnakeName(f.json), Kinds: map[string]int{},
		Examples: slices.Clone(f.examples), Present: f.present, Objects: objects,
		Nullable: f.kinds[jNull] > 0, Omitted: f.present < objects, Unstable: f.unstable > 0,
	}
	for k, c := range f.kinds {
		if c > 0 {
			o.Kinds[kindNames[k]] = c
		}
	}
	where := label + f.json
	main := f.mainKind(where, noun, n)
	switch main {
	case jNull:
		n.add("%s is null in every one of %d %s: its type is not known", where, f.present, noun)
	case jBool:
		o.Type, o.Format = recipes.TypeBoolean, BooleansBool
	case jNumber:
		f.numberType(&o)
	case jString:
		f.stringType(&o, where, n)
	case jObject, jArray:
		f.embeddedType(&o, main, where, n)
	}
	return o
}

// mainKind is the kind most values have, noting a member written in
// several kinds (null aside).
func (f *fieldStats) mainKind(where, noun string, n noter) jkind {
	type kc struct {
		k jkind
		c int
	}
	var seen []kc
	for k, c := range f.kinds {
		if c > 0 && jkind(k) != jNull {
			seen = append(seen, kc{jkind(k), c})
		}
	}
	if len(seen) == 0 {
		return jNull
	}
	// Most values first; on a tie, string, number, bool, object, array.
	rank := map[jkind]int{jString: 0, jNumber: 1, jBool: 2, jObject: 3, jArray: 4}
	slices.SortFunc(seen, func(a, b kc) int {
		if a.c != b.c {
			return b.c - a.c
		}
		return rank[a.k] - rank[b.k]
	})
	if len(seen) > 1 {
		parts := make([]string, len(seen))
		for i, s := range seen {
			parts[i] = fmt.Sprintf("%s %s in %d", article(s.k), s.k, s.c)
			if i == 0 {
				parts[i] += " " + noun
			}
		}
		n.add("%s is %s", where, joinAnd(parts))
	}
	return seen[0].k
}

func article(k jkind) string {
	if k == jObject || k == jArray {
		return "an"
	}
	return "a"
}

// joinAnd writes a, b and c.
func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// boolWords are names that hold a flag when their values are 0 and 1.
var boolPrefixes = []string{"is_", "has_", "can_", "should_", "allow_", "allows_", "was_", "use_", "show_"}
var boolWords = []string{"active", "enabled", "disabled", "deleted", "visible", "hidden", "published",
	"archived", "verified", "confirmed", "paid", "flag", "locked", "default", "primary"}

func boolName(name string) bool {
	for _, p := range boolPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	last := name[strings.LastIndexByte(name, '_')+1:]
	return slices.Contains(boolWords, last)
}

func (f *fieldStats) numberType(o *FieldObs) {
	nums := f.kinds[jNumber]
	if f.numScales[-1] == nums {
		if f.otherInt == 0 && ((f.zero > 0 && f.one > 0) || boolName(o.Name)) {
			o.Type, o.Format = recipes.TypeBoolean, BooleansInt
			return
		}
		o.Type = recipes.TypeInteger
		return
	}
	var scales []int
	for sc := range f.numScales {
		scales = append(scales, sc)
	}
	slices.Sort(scales)
	if len(scales) == 1 && scales[0] > 0 {
		o.Type, o.Format, o.Scale = recipes.TypeDecimal, DecimalsNumber, scales[0]
		return
	}
	o.Type = recipes.TypeNumber
}

func (f *fieldStats) stringType(o *FieldObs, where string, n noter) {
	strs := f.kinds[jString]
	switch {
	case f.numStrs == strs:
		var scales []int
		for sc := range f.strScales {
			scales = append(scales, sc)
		}
		slices.Sort(scales)
		top := scales[len(scales)-1]
		if top < 0 {
			o.Type, o.Format = recipes.TypeInteger, "string"
			n.add("%s holds integers written as strings (%s); recipes write integers as numbers", where, strings.Join(o.Examples, ", "))
			return
		}
		o.Type, o.Format, o.Scale = recipes.TypeDecimal, DecimalsString, top
		if len(scales) > 1 {
			parts := make([]string, 0, len(scales))
			for i := len(scales) - 1; i >= 0; i-- {
				sc := scales[i]
				d := fmt.Sprintf("%d digits after the point", max(sc, 0))
				if sc < 0 {
					d = "no point"
				}
				parts = append(parts, fmt.Sprintf("%s in %d", d, f.strScales[sc]))
			}
			n.add("%s is written with %s; recipes write every value with the scale (%d)", where, joinAnd(parts), top)
		}
	case f.uuids == strs:
		o.Type = recipes.TypeUUID
	case f.boolStrs == strs:
		o.Type, o.Format = recipes.TypeBoolean, BooleansString
	case f.timeMatched == strs && f.timeTried == strs:
		f.timeType(o, where, n)
	default:
		o.Type = recipes.TypeString
	}
}

// timeType picks the layout of a member whose every string is a time.
func (f *fieldStats) timeType(o *FieldObs, where string, n noter) {
	strs := f.kinds[jString]
	best, bestHits := -1, 0
	for i, h := range f.timeHits {
		if h == strs {
			best = i
			break
		}
		if h > bestHits {
			best, bestHits = i, h
		}
	}
	l := layouts[best]
	o.Type, o.Format = recipes.TypeTimestamp, l.layout
	if l.date {
		o.Type = recipes.TypeDate
	}
	if off := f.timeOffsets[best]; off > 0 && zoned(l.layout) {
		n.add("%s carries a zone other than UTC in %d values; recipes write times in UTC", where, off)
	}
	if f.timeHits[best] < strs {
		n.add("%s is written in several layouts: %s in %d of %d values, the others in other layouts", where, l.layout, f.timeHits[best], strs)
		return
	}
	if twin := dayMonthTwin(l.layout); twin != "" {
		for i, t := range layouts {
			if t.layout == twin && f.timeHits[i] == strs {
				n.add("%s reads as %s and as %s (no day above 12 seen); %s assumed", where, l.layout, twin, l.layout)
			}
		}
	}
}

func (f *fieldStats) embeddedType(o *FieldObs, main jkind, where string, n noter) {
	if f.nested != nil {
		o.Fields = f.nested.obsList(where+".", "objects", n)
	}
	if f.nestedSkipped {
		n.add("%s is embedded deeper than %d levels; its members were not followed", where, maxFieldDepth)
	}
	hasID := false
	for _, sub := range o.Fields {
		if sub.Name == "id" {
			hasID = true
		}
	}
	switch {
	case main == jObject && hasID:
		o.Nested = Singular(o.Name)
	case main == jArray && hasID && f.arrOther == 0:
		o.Nested, o.Many = Singular(o.Name), true
	default:
		o.Type = recipes.TypeJSON
		return
	}
	// The sibling holding the embedded object's id in every answer; the
	// conventional <name>_id first.
	var cands []string
	for sib, c := range f.via {
		if c == f.viaChecked {
			cands = append(cands, sib)
		}
	}
	want := o.Nested + "_id"
	slices.SortFunc(cands, func(a, b string) int {
		if (SnakeName(a) == want) != (SnakeName(b) == want) {
			if SnakeName(a) == want {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	if len(cands) > 0 && f.viaChecked > 0 {
		o.Via = SnakeName(cands[0])
	}
}

// walkFields calls fn for every observation of a tree, parents first.
func walkFields(fs []FieldObs, fn func(*FieldObs)) {
	for i := range fs {
		fn(&fs[i])
		walkFields(fs[i].Fields, fn)
	}
}
