package compare

import (
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
)

// segKind is the kind of one step of a concrete path.
type segKind uint8

// The order of these constants is the order of diffs whose paths differ
// first in the kind of a step.
const (
	sIndex     segKind = iota // [3]
	sKeyed                    // [id=42]: the element of a keyed set whose key is 42
	sUnmatched                // [#3]: an element of a set matched with none
	sMember                   // .name
	sElem                     // any element of a set, while elements are matched (only [*] selects it)
	sAnyMember                // .* in a path given to Patterns.Match (only .* selects it)
)

// seg is one step of the path of a value.
type seg struct {
	kind segKind
	idx  int32
	name []byte // sMember: the member's name; sKeyed: the key field's name
	val  []byte // sKeyed: the canonical text of the key's value
}

// psegKind is the kind of one step of a pattern.
type psegKind uint8

const (
	pMember psegKind = iota
	pAnyMember
	pIndex
	pAnyElem
	pKeyed
	pUnmatched
)

// pseg is one step of a pattern; deep when written after "..": any number
// of steps, then this one.
type pseg struct {
	kind psegKind
	deep bool
	idx  int32
	name string
	val  string // pKeyed: canonical text of the key's value
}

func (p *pseg) match(s *seg) bool {
	switch p.kind {
	case pMember:
		return s.kind == sMember && string(s.name) == p.name
	case pAnyMember:
		return s.kind == sMember || s.kind == sAnyMember
	case pIndex:
		return s.kind == sIndex && s.idx == p.idx
	case pAnyElem:
		return s.kind == sIndex || s.kind == sKeyed || s.kind == sUnmatched || s.kind == sElem
	case pKeyed:
		return s.kind == sKeyed && string(s.name) == p.name && string(s.val) == p.val
	case pUnmatched:
		return s.kind == sUnmatched && s.idx == p.idx
	}
	return false
}

// targetKind is what a pattern or a diff path is about.
type targetKind uint8

const (
	tStatus targetKind = iota
	tHeader
	tBody // the body; segs select a part of a JSON body ("body" is "$")
)

type target struct {
	kind   targetKind
	header string // canonical
	segs   []pseg
}

// parseTarget reads a pattern: "status", "header:NAME", "body", or a JSON
// path from "$".
func parseTarget(s string) (target, error) {
	switch {
	case s == "":
		return target{}, errors.New("empty pattern")
	case s == "status":
		return target{kind: tStatus}, nil
	case s == "body":
		return target{kind: tBody}, nil
	case strings.HasPrefix(s, "header:"):
		name := s[len("header:"):]
		if !validHeaderName(name) {
			return target{}, fmt.Errorf("%q is not a header name", name)
		}
		return target{kind: tHeader, header: textproto.CanonicalMIMEHeaderKey(name)}, nil
	case s[0] != '$':
		return target{}, errors.New(`must start with "$" (or be status, body or header:NAME)`)
	}
	segs, end, err := parsePath(s, false)
	if err != nil {
		return target{}, err
	}
	if end != len(s) {
		return target{}, fmt.Errorf("unexpected %q at byte %d", s[end], end)
	}
	return target{kind: tBody, segs: segs}, nil
}

// parsePath reads the steps of the JSON path s, which starts with "$".
// With stopColon it stops at a ':' between steps and returns its index.
func parsePath(s string, stopColon bool) ([]pseg, int, error) {
	var segs []pseg
	i := 1
	for i < len(s) {
		c := s[i]
		deep := false
		switch {
		case c == ':' && stopColon:
			return segs, i, nil
		case c == '.':
			i++
			if i < len(s) && s[i] == '.' {
				deep = true
				i++
				if i >= len(s) {
					return nil, 0, errors.New(`".." at the end: a member or an element must follow`)
				}
				if s[i] == '[' {
					ps, n, err := parseBracket(s, i)
					if err != nil {
						return nil, 0, err
					}
					ps.deep = true
					segs = append(segs, ps)
					i = n
					continue
				}
			}
			if i < len(s) && s[i] == '*' {
				segs = append(segs, pseg{kind: pAnyMember, deep: deep})
				i++
				continue
			}
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			if j == i {
				if i >= len(s) {
					return nil, 0, errors.New(`"." at the end: a member name must follow`)
				}
				return nil, 0, fmt.Errorf("unexpected %q at byte %d: a member name must follow %q (quote others: [\"k y\"])", s[i], i, s[i-1])
			}
			segs = append(segs, pseg{kind: pMember, deep: deep, name: s[i:j]})
			i = j
		case c == '[':
			ps, n, err := parseBracket(s, i)
			if err != nil {
				return nil, 0, err
			}
			segs = append(segs, ps)
			i = n
		default:
			return nil, 0, fmt.Errorf("unexpected %q at byte %d", c, i)
		}
	}
	return segs, i, nil
}

// parseBracket reads the step "[...]" at s[i] and returns the index after it.
func parseBracket(s string, i int) (pseg, int, error) {
	open := i
	i++
	if i >= len(s) {
		return pseg{}, 0, errors.New("unclosed bracket")
	}
	var ps pseg
	switch c := s[i]; {
	case c == '*':
		ps.kind = pAnyElem
		i++
	case isDigit(c) || c == '#':
		ps.kind = pIndex
		if c == '#' {
			ps.kind = pUnmatched
			i++
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i {
			if j >= len(s) {
				return pseg{}, 0, errors.New("unclosed bracket")
			}
			return pseg{}, 0, fmt.Errorf("unexpected %q at byte %d: an index must follow \"#\"", s[j], j)
		}
		n, err := strconv.ParseInt(s[i:j], 10, 32)
		if err != nil {
			return pseg{}, 0, fmt.Errorf("index %s at byte %d is too large", s[i:j], i)
		}
		ps.idx = int32(n)
		i = j
	case c == '"':
		var d doc
		end, err := d.parseValueAt([]byte(s), i, 1)
		if err != nil || d.nodes[d.root].kind != kString {
			return pseg{}, 0, fmt.Errorf("invalid quoted name at byte %d", i)
		}
		ps.kind = pMember
		ps.name = string(d.stringValue(d.root, nil))
		i = end
	case isIdentByte(c):
		j := i
		for j < len(s) && isIdentByte(s[j]) {
			j++
		}
		ps.kind = pKeyed
		ps.name = s[i:j]
		i = j
		if i >= len(s) {
			return pseg{}, 0, errors.New("unclosed bracket")
		}
		if s[i] != '=' {
			return pseg{}, 0, fmt.Errorf("unexpected %q at byte %d: a bracket holds *, an index, #index, a quoted name or key=value", s[i], i)
		}
	default:
		return pseg{}, 0, fmt.Errorf("unexpected %q at byte %d: a bracket holds *, an index, #index, a quoted name or key=value", c, i)
	}
	if i < len(s) && s[i] == '=' && (ps.kind == pMember || ps.kind == pKeyed) {
		ps.kind = pKeyed
		var d doc
		end, err := d.parseValueAt([]byte(s), i+1, 64)
		if err != nil {
			if i+1 >= len(s) {
				return pseg{}, 0, errors.New("unclosed bracket")
			}
			return pseg{}, 0, fmt.Errorf("the key value at byte %d is not JSON (quote strings: [id=\"a-1\"])", i+1)
		}
		var scratch []byte
		ps.val = string(appendCanonical(nil, &d, d.root, &scratch))
		i = end
	}
	if i >= len(s) {
		return pseg{}, 0, errors.New("unclosed bracket")
	}
	if s[i] != ']' {
		return pseg{}, 0, fmt.Errorf("unexpected %q at byte %d in the bracket opened at byte %d", s[i], i, open)
	}
	return ps, i + 1, nil
}

func isIdentByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c) || c == '_' || c == '-'
}

// isIdent says whether a member name is written .name in a path (ASCII
// letters, digits, '_' and '-'); others are written ["k y"].
func isIdent[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
	}
	return true
}

// appendName appends the key field name of a keyed step: bare when it is
// an identifier that does not start with a digit (so that it does not read
// as an index), else quoted.
func appendName[T string | []byte](dst []byte, name T) []byte {
	if isIdent(name) && !isDigit(name[0]) {
		return append(dst, name...)
	}
	return appendQuoted(dst, []byte(name))
}

// appendSeg appends the text of one step of a concrete path.
func appendSeg(dst []byte, s *seg) []byte {
	switch s.kind {
	case sMember:
		if isIdent(s.name) {
			dst = append(dst, '.')
			return append(dst, s.name...)
		}
		dst = append(dst, '[')
		dst = appendQuoted(dst, s.name)
		return append(dst, ']')
	case sIndex:
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(s.idx), 10)
		return append(dst, ']')
	case sUnmatched:
		dst = append(dst, "[#"...)
		dst = strconv.AppendInt(dst, int64(s.idx), 10)
		return append(dst, ']')
	case sKeyed:
		dst = append(dst, '[')
		dst = appendName(dst, s.name)
		dst = append(dst, '=')
		dst = append(dst, s.val...)
		return append(dst, ']')
	case sElem:
		return append(dst, "[*]"...)
	default:
		return append(dst, ".*"...)
	}
}

// appendPseg appends the text of one step of a pattern.
func appendPseg(dst []byte, p *pseg) []byte {
	if p.deep {
		dst = append(dst, '.')
	}
	switch p.kind {
	case pMember:
		if isIdent(p.name) {
			dst = append(dst, '.')
			return append(dst, p.name...)
		}
		if p.deep {
			dst = append(dst, '.')
		}
		dst = append(dst, '[')
		dst = appendQuoted(dst, []byte(p.name))
		return append(dst, ']')
	case pAnyMember:
		return append(dst, ".*"...)
	case pIndex:
		if p.deep {
			dst = append(dst, '.')
		}
		dst = append(dst, '[')
		dst = strconv.AppendInt(dst, int64(p.idx), 10)
		return append(dst, ']')
	case pUnmatched:
		if p.deep {
			dst = append(dst, '.')
		}
		dst = append(dst, "[#"...)
		dst = strconv.AppendInt(dst, int64(p.idx), 10)
		return append(dst, ']')
	case pKeyed:
		if p.deep {
			dst = append(dst, '.')
		}
		dst = append(dst, '[')
		dst = appendName(dst, p.name)
		dst = append(dst, '=')
		dst = append(dst, p.val...)
		return append(dst, ']')
	default: // pAnyElem
		if p.deep {
			dst = append(dst, '.')
		}
		return append(dst, "[*]"...)
	}
}

// Generalize returns path with every array step written [*]: the pattern
// of the same field in every element. "$.items[3].price" and
// "$.items[id=42].price" give "$.items[*].price", "$.a[#2]" gives
// "$.a[*]". Member names are kept; status, header and body paths, and
// text that is not a path, are returned unchanged.
func Generalize(path string) string {
	if path == "" || path[0] != '$' {
		return path
	}
	segs, end, err := parsePath(path, false)
	if err != nil || end != len(path) {
		return path
	}
	out := make([]byte, 0, len(path))
	out = append(out, '$')
	for i := range segs {
		switch segs[i].kind {
		case pIndex, pKeyed, pUnmatched:
			segs[i].kind = pAnyElem
		}
		out = appendPseg(out, &segs[i])
	}
	return string(out)
}

// Patterns is a compiled list of path patterns. The zero value and nil
// match nothing.
type Patterns struct {
	src     []string
	status  bool
	headers []string
	body    bool // "$" or "body": the whole body
	json    []*pattern
}

// pattern is one compiled JSON-path pattern and the rule it belongs to.
type pattern struct {
	segs []pseg
	role role
	rule int // index of the rule of its role
}

type role uint8

const (
	roleIgnore role = iota
	roleSet
	roleTol
	roleNorm
)

// CompilePatterns compiles path patterns (the syntax of Rules.Ignore). The
// error joins a *RuleError for each bad pattern, naming it
// (`patterns[1] "$.a[": unclosed bracket`).
func CompilePatterns(ps []string) (*Patterns, error) {
	p := &Patterns{}
	var errs []error
	for i, s := range ps {
		if err := p.add(s, i); err != nil {
			errs = append(errs, &RuleError{Rule: fmt.Sprintf("patterns[%d] %q", i, s), Err: err})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (p *Patterns) add(s string, i int) error {
	t, err := parseTarget(s)
	if err != nil {
		return err
	}
	p.src = append(p.src, s)
	switch {
	case t.kind == tStatus:
		p.status = true
	case t.kind == tHeader:
		p.headers = append(p.headers, t.header)
	case len(t.segs) == 0:
		p.body = true
	default:
		p.json = append(p.json, &pattern{segs: t.segs, role: roleIgnore, rule: i})
	}
	return nil
}

// Len returns the number of patterns.
func (p *Patterns) Len() int {
	if p == nil {
		return 0
	}
	return len(p.src)
}

// Strings returns the patterns as they were given.
func (p *Patterns) Strings() []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), p.src...)
}

func (p *Patterns) header(name string) bool {
	if p == nil {
		return false
	}
	for _, h := range p.headers {
		if h == name {
			return true
		}
	}
	return false
}

// Match says whether a diff path (as Compare writes them) is covered by one
// of the patterns: matched by it, or below a path it matches. A pattern
// "$" or "body" covers the whole body. Nil matches nothing.
func (p *Patterns) Match(path string) bool {
	if p == nil || len(p.src) == 0 {
		return false
	}
	t, err := parseTarget(path)
	if err != nil {
		return false
	}
	switch t.kind {
	case tStatus:
		return p.status
	case tHeader:
		return p.header(t.header)
	}
	if p.body {
		return true
	}
	segs := make([]seg, len(t.segs))
	for i, ps := range t.segs {
		if ps.deep {
			return false
		}
		s := &segs[i]
		s.idx = ps.idx
		switch ps.kind {
		case pMember:
			s.kind, s.name = sMember, []byte(ps.name)
		case pAnyMember:
			s.kind = sAnyMember
		case pIndex:
			s.kind = sIndex
		case pAnyElem:
			s.kind = sElem
		case pKeyed:
			s.kind, s.name, s.val = sKeyed, []byte(ps.name), []byte(ps.val)
		case pUnmatched:
			s.kind = sUnmatched
		}
	}
	for _, pt := range p.json {
		if pt.covers(segs) {
			return true
		}
	}
	return false
}

// covers says whether the pattern matches segs or a prefix of them.
func (pt *pattern) covers(segs []seg) bool {
	// The positions in pt.segs reached after each step, as a set.
	pos := []int{0}
	next := make([]int, 0, 4)
	for i := range segs {
		next = next[:0]
		for _, q := range pos {
			if q == len(pt.segs) {
				return true
			}
			ps := &pt.segs[q]
			if ps.deep {
				next = appendUnique(next, q)
			}
			if ps.match(&segs[i]) {
				next = appendUnique(next, q+1)
			}
		}
		if len(next) == 0 {
			return false
		}
		pos, next = next, pos
	}
	for _, q := range pos {
		if q == len(pt.segs) {
			return true
		}
	}
	return false
}

func appendUnique(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// validHeaderName says whether s is an HTTP field name (an RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isIdentByte(c) || strings.IndexByte("!#$%&'*+.^`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// Names returns the names along a diff path: the header's name of
// "header:NAME", the member names (decoded) and key field names of a JSON
// path. It is nil for "status", "body" and a path it cannot read. A caller
// that keeps diffs uses it to find values under a secret name.
func Names(path string) []string {
	t, err := parseTarget(path)
	if err != nil {
		return nil
	}
	switch t.kind {
	case tHeader:
		return []string{t.header}
	case tStatus:
		return nil
	}
	var names []string
	for _, s := range t.segs {
		if (s.kind == pMember || s.kind == pKeyed) && s.name != "" {
			names = append(names, s.name)
		}
	}
	return names
}

// Member is the path step of the member name as Compare writes it:
// ".name", or `["k y"]` when name is not an identifier. A caller that
// builds ignore patterns from member names uses it.
func Member(name string) string {
	if isIdent(name) {
		return "." + name
	}
	return "[" + string(appendQuoted(nil, []byte(name))) + "]"
}
