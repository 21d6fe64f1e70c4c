package samples

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stranglerfig/strangler/recipes"
)

// Values of Shape's members, as recipes' shape section spells them.
const (
	EnvelopeBare = "bare"
	EnvelopeData = "data"

	NullsNull = "null"
	NullsOmit = "omit"

	DecimalsString = "string"
	DecimalsNumber = "number"

	BooleansBool   = "bool"
	BooleansInt    = "int"
	BooleansString = "string"

	PaginationOffset = "offset"
	PaginationCursor = "cursor"
)

// Shape is how the legacy answers are written, member for member the shape
// section of a recipe (recipes.Shape). A member is "" (0, nil) where the
// samples do not show it; Recipe fills those with recipes' defaults.
type Shape struct {
	// Envelope is bare (the object or array alone) or data ({"data": ...}).
	Envelope string
	// DataKey and MetaKey name the envelope's members (data, meta, items,
	// pagination, ...).
	DataKey, MetaKey string
	// Meta lists, in the order lists write them, the members of meta that
	// recipes can write (total, limit, offset, next_cursor), in snake_case.
	// Nil where no list showed its meta; empty where lists had a meta with
	// none of those.
	Meta []string
	// Casing is snake, camel, pascal, kebab or as_is.
	Casing string
	// Nulls is null (written as null) or omit (members left out).
	Nulls string
	// Decimals is string ("12.50") or number (12.50).
	Decimals string
	// TimestampFormat and DateFormat are Go layouts as recipes take them
	// ("rfc3339" for time.RFC3339Nano).
	TimestampFormat, DateFormat string
	// Booleans is bool, int (1/0) or string ("true").
	Booleans string
	// Pagination is offset or cursor.
	Pagination string
	// DefaultLimit is the page size of lists asked without a limit that
	// were cut; MaxLimit the size a larger limit was cut to (or, when none
	// was, the largest limit honoured above recipes' default of 100).
	DefaultLimit, MaxLimit int
}

// recipeDefaults are recipes' defaults for the shape (recipes/spec.go).
var recipeDefaults = recipes.Shape{
	Envelope: EnvelopeData, DataKey: "data", MetaKey: "meta", Casing: CasingSnake, Nulls: NullsNull,
	Decimals: DecimalsNumber, TimestampFormat: RFC3339Recipe, DateFormat: time.DateOnly,
	Booleans: BooleansBool, Pagination: PaginationOffset, DefaultLimit: 20, MaxLimit: 100,
}

// Recipe is the shape as a recipe's shape section, recipes' defaults in
// place of what the samples do not show; the limits are made consistent
// (default_limit <= max_limit) and meta fits the pagination.
func (s Shape) Recipe() recipes.Shape {
	d := recipeDefaults
	pick := func(v, def string) string { return cmp.Or(v, def) }
	out := recipes.Shape{
		Envelope: pick(s.Envelope, d.Envelope), DataKey: pick(s.DataKey, d.DataKey), MetaKey: pick(s.MetaKey, d.MetaKey),
		Casing: pick(s.Casing, d.Casing), Nulls: pick(s.Nulls, d.Nulls), Decimals: pick(s.Decimals, d.Decimals),
		TimestampFormat: pick(s.TimestampFormat, d.TimestampFormat), DateFormat: pick(s.DateFormat, d.DateFormat),
		Booleans: pick(s.Booleans, d.Booleans), Pagination: pick(s.Pagination, d.Pagination),
		DefaultLimit: cmp.Or(s.DefaultLimit, d.DefaultLimit), MaxLimit: cmp.Or(s.MaxLimit, d.MaxLimit),
	}
	if out.DataKey == out.MetaKey {
		out.MetaKey = "meta"
		if out.DataKey == "meta" {
			out.MetaKey = "_meta"
		}
	}
	if out.DefaultLimit > out.MaxLimit {
		if s.MaxLimit > 0 {
			out.DefaultLimit = out.MaxLimit
		} else {
			out.MaxLimit = out.DefaultLimit
		}
	}
	for _, m := range s.Meta {
		if metaFits(m, out.Pagination) {
			out.Meta = append(out.Meta, m)
		}
	}
	switch {
	case s.Meta != nil && out.Meta == nil:
		out.Meta = []string{}
	case s.Meta == nil && out.Pagination == PaginationCursor:
		out.Meta = []string{"next_cursor", "limit"}
	case s.Meta == nil:
		out.Meta = []string{"total", "limit", "offset"}
	}
	return out
}

// recipeMeta are the meta members recipes write.
var recipeMeta = []string{"total", "limit", "offset", "next_cursor"}

func metaFits(m, pagination string) bool {
	switch m {
	case "limit":
		return true
	case "total", "offset":
		return pagination == PaginationOffset
	case "next_cursor":
		return pagination == PaginationCursor
	}
	return false
}

// votes are the evidence for each member of a Shape, counted in answers
// (envelope, keys, pagination), values (formats), members (nulls) or
// distinct names (casing).
type votes struct {
	envelope, dataKey, metaKey, casing, nulls map[string]int
	decimals, timestamps, dates, booleans     map[string]int
	pagination                                map[string]int
	defaults, caps                            map[int]int
	honoured                                  int
	meta                                      []string // recipe meta members in order, once each
	metaSeen                                  bool
}

func newVotes() *votes {
	return &votes{
		envelope: map[string]int{}, dataKey: map[string]int{}, metaKey: map[string]int{}, casing: map[string]int{},
		nulls: map[string]int{}, decimals: map[string]int{}, timestamps: map[string]int{}, dates: map[string]int{},
		booleans: map[string]int{}, pagination: map[string]int{}, defaults: map[int]int{}, caps: map[int]int{},
	}
}

// add adds o's counts to v.
func (v *votes) add(o *votes) {
	for _, p := range [][2]map[string]int{{v.envelope, o.envelope}, {v.dataKey, o.dataKey}, {v.metaKey, o.metaKey},
		{v.casing, o.casing}, {v.nulls, o.nulls}, {v.decimals, o.decimals}, {v.timestamps, o.timestamps},
		{v.dates, o.dates}, {v.booleans, o.booleans}, {v.pagination, o.pagination}} {
		for k, c := range p[1] {
			p[0][k] += c
		}
	}
	for k, c := range o.defaults {
		v.defaults[k] += c
	}
	for k, c := range o.caps {
		v.caps[k] += c
	}
	v.honoured = max(v.honoured, o.honoured)
	for _, m := range o.meta {
		if !slices.Contains(v.meta, m) {
			v.meta = append(v.meta, m)
		}
	}
	v.metaSeen = v.metaSeen || o.metaSeen
}

// fieldVotes counts the evidence in observations: formats weighted by the
// values written in them, nulls by members, casing by distinct names.
func (v *votes) fieldVotes(fs []FieldObs) {
	names := map[string]bool{}
	walkFields(fs, func(f *FieldObs) {
		names[f.JSON] = true
		values := 0
		for k, c := range f.Kinds {
			if k != "null" {
				values += c
			}
		}
		switch f.Type {
		case recipes.TypeDecimal:
			v.decimals[f.Format] += values
		case recipes.TypeTimestamp:
			v.timestamps[f.Format] += values
		case recipes.TypeDate:
			v.dates[f.Format] += values
		case recipes.TypeBoolean:
			v.booleans[f.Format] += values
		}
		if f.Nullable {
			v.nulls[NullsNull]++
		}
		if f.Omitted {
			v.nulls[NullsOmit]++
		}
	})
	v.nameVotes(names)
}

func (v *votes) nameVotes(names map[string]bool) {
	for name := range names {
		if c := nameCasing(name); c != "" {
			v.casing[c]++
		}
	}
}

// winner is the key with the most votes; ties go to the key first in
// prefer, then to the smaller key. "" when there are no votes.
func winner(m map[string]int, prefer ...string) string {
	best, bestN := "", 0
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		if i := slices.Index(prefer, k); i >= 0 {
			return i
		}
		return len(prefer)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range keys {
		if m[k] > bestN {
			best, bestN = k, m[k]
		}
	}
	return best
}

// intWinner is the most frequent value of m, the larger on a tie; 0 when
// m is empty.
func intWinner(m map[int]int) int {
	best, bestN := 0, 0
	for k, c := range m {
		if c > bestN || (c == bestN && k > best) {
			best, bestN = k, c
		}
	}
	return best
}

// decide reads a Shape off the votes, noting where they disagree.
func (v *votes) decide(n noter) Shape {
	s := Shape{
		Envelope: winner(v.envelope, EnvelopeData), DataKey: winner(v.dataKey, "data"), MetaKey: winner(v.metaKey, "meta"),
		Nulls: winner(v.nulls, NullsNull), Decimals: winner(v.decimals, DecimalsString),
		TimestampFormat: TimeLayout(winner(v.timestamps)), DateFormat: winner(v.dates, time.DateOnly),
		Booleans: winner(v.booleans, BooleansBool), Pagination: winner(v.pagination, PaginationOffset),
		DefaultLimit: intWinner(v.defaults), MaxLimit: intWinner(v.caps),
	}
	// A casing when the names show one; as_is only when names no casing
	// writes outnumber every casing.
	c := map[string]int{}
	for k, x := range v.casing {
		if k != CasingAsIs {
			c[k] = x
		}
	}
	s.Casing = winner(c, CasingSnake, CasingCamel)
	if v.casing[CasingAsIs] > c[s.Casing] {
		s.Casing = CasingAsIs
	}
	if s.Envelope == EnvelopeBare {
		s.DataKey, s.MetaKey = "", ""
	}
	if v.metaSeen {
		s.Meta = []string{}
		for _, m := range v.meta {
			if s.Pagination == "" || metaFits(m, s.Pagination) {
				s.Meta = append(s.Meta, m)
			}
		}
	}
	if s.MaxLimit == 0 && v.honoured > recipeDefaults.MaxLimit {
		s.MaxLimit = v.honoured
		n.add("max_limit: no list was cut below the limit asked; %d is the largest limit honoured", v.honoured)
	}
	return s
}

// conflicts notes the members of the shape the votes disagree on.
func (v *votes) conflicts(s Shape, n noter) {
	for _, d := range []struct {
		what string
		m    map[string]int
		won  string
	}{{"envelope", v.envelope, s.Envelope}, {"nulls", v.nulls, s.Nulls}, {"decimals", v.decimals, s.Decimals},
		{"booleans", v.booleans, s.Booleans}, {"pagination", v.pagination, s.Pagination},
		{"timestamp_format", v.timestamps, winner(v.timestamps)}, {"date_format", v.dates, s.DateFormat}} {
		if len(d.m) > 1 {
			n.add("%s: %s", d.what, tally(d.m, d.won))
		}
	}
	if len(v.defaults) > 1 {
		n.add("default_limit: lists were cut at %s items", intTally(v.defaults))
	}
	if len(v.caps) > 1 {
		n.add("max_limit: larger limits were cut to %s items", intTally(v.caps))
	}
}

// tally writes votes as "omit in 3, null in 1 (omit taken)".
func tally(m map[string]int, won string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s in %d", k, m[k])
	}
	return joinAnd(parts) + fmt.Sprintf(" (%s taken)", won)
}

func intTally(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d (%d lists)", k, m[k])
	}
	return joinAnd(parts)
}
