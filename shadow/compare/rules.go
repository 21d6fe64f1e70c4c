package compare

import (
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
)

// Defaults and bounds of Rules.
const (
	DefaultMaxDepth = 256
	DefaultMaxDiffs = 100
	// MaxMaxDepth bounds Rules.MaxDepth: deeper comparison recurses that
	// deep.
	MaxMaxDepth = 10000
)

// Rules say how two answers are compared. The zero value compares the
// status and the whole body, exactly by meaning. Patterns are described
// in the package documentation.
type Rules struct {
	// Ignore are patterns of what is not compared: JSON paths ("$.meta",
	// "$.items[*].etag", "$..updated_at"), "status", "header:NAME", or
	// "body". What a pattern matches is ignored with everything below it.
	Ignore []string
	// Sets are JSON-path patterns of arrays compared as sets: "$.data.tags"
	// as a multiset of values, "$.data.items:id" with elements matched by
	// their member id. A set pattern selects the arrays it matches
	// exactly, not what is below them.
	Sets []string
	// Tolerance maps a JSON-path pattern to the absolute difference
	// allowed between two numbers it covers (>= 0; the largest wins where
	// several cover a number). Empty: numbers compare exactly.
	Tolerance map[string]float64
	// Normalize are rewrites of string values (and text bodies and
	// compared headers) applied to both sides before comparing, in order.
	Normalize []Normalize
	// Headers are the response headers compared, beside the status; names
	// in any case. Empty: none.
	Headers []string
	// NullEqualsMissing makes a member whose value is null equal to the
	// member being absent. Default false.
	NullEqualsMissing bool
	// MaxDepth is how many containers deep a JSON body is compared member
	// by member; a container nested deeper is compared by its compact
	// text (no rule applies inside it). Zero: DefaultMaxDepth (256); at
	// most MaxMaxDepth (10000).
	MaxDepth int
	// MaxDiffs is how many diffs a Result lists, the first by path; the
	// others are counted in Result.More. Zero: DefaultMaxDiffs (100).
	MaxDiffs int
}

// Normalize is one rewrite of string values before comparison.
type Normalize struct {
	// Path is the pattern of the values rewritten: a JSON path, "body" (a
	// JSON body's strings, or a text body line by line) or "header:NAME".
	// Empty: every string, text body line and compared header.
	Path string
	// Pattern is a Go regular expression (regexp syntax), or one of the
	// names "uuid", "timestamp" (RFC 3339 / ISO 8601 date-times) and
	// "number".
	Pattern string
	// Replace replaces each match; $1 and ${name} expand to groups.
	// Empty: "<uuid>", "<timestamp>" or "<number>" for the named
	// patterns, "<normalized>" for others.
	Replace string
}

// named are the patterns Normalize.Pattern may name, and their default
// replacements.
var named = map[string]struct{ re, replace string }{
	"uuid": {`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`, "<uuid>"},
	"timestamp": {`\b\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?` +
		`|\b\d{8}T\d{6}(?:[.,]\d+)?(?:Z|[+-]\d{4})?`, "<timestamp>"},
	"number": {`-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?`, "<number>"},
}

// RuleError is a rule that does not compile. Rule names it as the rules
// are written: `ignore[2] "$.a["`, `sets[1] "$.x:"`, `tolerance "$.x"`,
// `normalize[0].pattern`, `headers[3] "a b"`.
type RuleError struct {
	Rule string
	Err  error
}

func (e *RuleError) Error() string { return e.Rule + ": " + e.Err.Error() }
func (e *RuleError) Unwrap() error { return e.Err }

// Comparer compares pairs of answers under compiled rules. It is immutable
// and safe for concurrent use.
type Comparer struct {
	maxDepth, maxDiffs int
	nullEqMissing      bool

	ignore  *Patterns
	sets    []setRule
	tols    []float64
	norms   []normRule
	headers []string // canonical names, sorted

	root []thread // the JSON patterns of the rules, at the root
}

type setRule struct {
	key []byte // the key field; empty: an unkeyed multiset
}

type normRule struct {
	re      *regexp.Regexp
	replace []byte
	literal bool   // replace holds no $: no template to expand
	global  bool   // Path "": everywhere
	body    bool   // Path "$" or "body": every string of the body, text bodies too
	header  string // Path "header:NAME": that header
}

// Compile checks and compiles rules. The error joins a *RuleError for each
// bad rule.
func Compile(r Rules) (*Comparer, error) {
	c := &Comparer{maxDepth: DefaultMaxDepth, maxDiffs: DefaultMaxDiffs, nullEqMissing: r.NullEqualsMissing, ignore: &Patterns{}}
	var errs []error
	bad := func(rule string, err error) { errs = append(errs, &RuleError{Rule: rule, Err: err}) }

	switch {
	case r.MaxDepth < 0:
		bad(fmt.Sprintf("max_depth %d", r.MaxDepth), errors.New("must be >= 0"))
	case r.MaxDepth > MaxMaxDepth:
		bad(fmt.Sprintf("max_depth %d", r.MaxDepth), fmt.Errorf("must be at most %d", MaxMaxDepth))
	case r.MaxDepth > 0:
		c.maxDepth = r.MaxDepth
	}
	switch {
	case r.MaxDiffs < 0:
		bad(fmt.Sprintf("max_diffs %d", r.MaxDiffs), errors.New("must be >= 0"))
	case r.MaxDiffs > 0:
		c.maxDiffs = r.MaxDiffs
	}

	for i, s := range r.Ignore {
		if err := c.ignore.add(s, i); err != nil {
			bad(fmt.Sprintf("ignore[%d] %q", i, s), err)
		}
	}
	for _, p := range c.ignore.json {
		c.root = append(c.root, thread{p: p})
	}

	for i, s := range r.Sets {
		segs, key, err := parseSet(s)
		if err != nil {
			bad(fmt.Sprintf("sets[%d] %q", i, s), err)
			continue
		}
		c.sets = append(c.sets, setRule{key: key})
		c.root = append(c.root, thread{p: &pattern{segs: segs, role: roleSet, rule: len(c.sets) - 1}})
	}

	paths := make([]string, 0, len(r.Tolerance))
	for p := range r.Tolerance {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		tol := r.Tolerance[p]
		name := fmt.Sprintf("tolerance %q", p)
		t, err := parseTarget(p)
		switch {
		case err != nil:
			bad(name, err)
			continue
		case t.kind != tBody || p == "body":
			bad(name, errors.New(`must be a JSON path ("$...")`))
			continue
		case !(tol >= 0): // NaN too
			bad(name, errors.New("must be >= 0"))
			continue
		}
		c.tols = append(c.tols, tol)
		c.root = append(c.root, thread{p: &pattern{segs: t.segs, role: roleTol, rule: len(c.tols) - 1}})
	}

	for i, n := range r.Normalize {
		nr := normRule{global: n.Path == ""}
		var segs []pseg
		ok := true
		if n.Path != "" {
			t, err := parseTarget(n.Path)
			switch {
			case err != nil:
				bad(fmt.Sprintf("normalize[%d].path %q", i, n.Path), err)
				ok = false
			case t.kind == tStatus:
				bad(fmt.Sprintf("normalize[%d].path %q", i, n.Path), errors.New("the status is not a string"))
				ok = false
			case t.kind == tHeader:
				nr.header = t.header
			case len(t.segs) == 0:
				nr.body = true
			default:
				segs = t.segs
			}
		}
		expr, replace := n.Pattern, "<normalized>"
		if nm, found := named[n.Pattern]; found {
			expr, replace = nm.re, nm.replace
		}
		if n.Replace != "" {
			replace = n.Replace
		}
		var err error
		switch {
		case n.Pattern == "":
			err = errors.New(`empty: a regular expression, or uuid, timestamp or number`)
		default:
			nr.re, err = regexp.Compile(expr)
		}
		if err != nil {
			bad(fmt.Sprintf("normalize[%d].pattern", i), err)
			ok = false
		}
		if !ok {
			continue
		}
		nr.replace = []byte(replace)
		nr.literal = !strings.Contains(replace, "$")
		c.norms = append(c.norms, nr)
		if segs != nil {
			c.root = append(c.root, thread{p: &pattern{segs: segs, role: roleNorm, rule: len(c.norms) - 1}})
		}
	}

	for i, h := range r.Headers {
		if !validHeaderName(h) {
			bad(fmt.Sprintf("headers[%d] %q", i, h), errors.New("not a header name"))
			continue
		}
		h = textproto.CanonicalMIMEHeaderKey(h)
		if !slices.Contains(c.headers, h) {
			c.headers = append(c.headers, h)
		}
	}
	slices.Sort(c.headers)

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// parseSet reads a set rule: a JSON-path pattern, then optionally ':' and
// the key field's name (bare, or JSON-quoted).
func parseSet(s string) ([]pseg, []byte, error) {
	if s == "" {
		return nil, nil, errors.New("empty pattern")
	}
	if s[0] != '$' {
		return nil, nil, errors.New(`must be a JSON path ("$...")`)
	}
	segs, end, err := parsePath(s, true)
	if err != nil {
		return nil, nil, err
	}
	if end == len(s) {
		return segs, nil, nil
	}
	k := s[end+1:]
	switch {
	case k == "":
		return nil, nil, errors.New(`empty key field after ":"`)
	case isIdent(k):
		return segs, []byte(k), nil
	case k[0] == '"':
		var d doc
		n, err := d.parseValueAt([]byte(k), 0, 1)
		if err != nil || n != len(k) || d.nodes[d.root].kind != kString {
			return nil, nil, fmt.Errorf("invalid quoted key field %s", k)
		}
		key := d.stringValue(d.root, nil)
		if len(key) == 0 {
			return nil, nil, errors.New(`empty key field after ":"`)
		}
		return segs, append([]byte(nil), key...), nil
	default:
		return nil, nil, fmt.Errorf("key field %q: quote a name that is not letters, digits, '_' and '-' (\"k y\")", k)
	}
}

// ignoredStatus says whether the status is ignored.
func (c *Comparer) ignoredStatus(extra *Patterns) bool {
	return c.ignore.status || (extra != nil && extra.status)
}

func (c *Comparer) ignoredHeader(name string, extra *Patterns) bool {
	return c.ignore.header(name) || extra.header(name)
}

func (c *Comparer) ignoredBody(extra *Patterns) bool {
	return c.ignore.body || (extra != nil && extra.body)
}

// apply rewrites s by the rule.
func (r *normRule) apply(s []byte) []byte {
	if r.literal {
		return r.re.ReplaceAllLiteral(s, r.replace)
	}
	return r.re.ReplaceAll(s, r.replace)
}
