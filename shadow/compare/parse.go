package compare

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

// kind is the type of a parsed JSON value.
type kind uint8

const (
	kNull kind = iota
	kFalse
	kTrue
	kNumber
	kString
	kObject
	kArray
	kRaw // a container nested deeper than MaxDepth, kept as its compact text
)

// node is one value of a parsed document. Scalars keep their span in the
// source (a string without its quotes); a raw node its span in doc.buf; an
// object its members doc.members[a:a+b], an array its elements
// doc.elems[a:a+b].
type node struct {
	kind kind
	esc  bool // a string with escapes: decode before comparing bytes
	a, b int32
}

// member is one member of an object: its decoded name and value node.
// The members of an object are sorted by name, and a name given twice
// keeps its last value.
type member struct {
	key []byte
	val int32
}

// doc is a parsed JSON document: a flat arena of nodes, reused through the
// walker pool.
type doc struct {
	src     []byte
	nodes   []node
	members []member
	elems   []int32
	buf     []byte // decoded member names and the compact text of raw nodes
	tmpM    []member
	tmpE    []int32
	stack   []byte
	root    int32
}

// syntaxError says where a document stops being JSON.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg)
}

func (d *doc) reset(src []byte) {
	d.src = src
	d.nodes = d.nodes[:0]
	d.members = d.members[:0]
	d.elems = d.elems[:0]
	d.buf = d.buf[:0]
	d.tmpM = d.tmpM[:0]
	d.tmpE = d.tmpE[:0]
	d.stack = d.stack[:0]
	d.root = -1
}

// parse reads src as one JSON value (RFC 8259: surrounding whitespace only,
// no trailing commas, no comments, no byte-order mark). Containers nested
// deeper than maxDepth are validated without recursion and kept as raw
// nodes.
func (d *doc) parse(src []byte, maxDepth int) error {
	d.reset(src)
	if len(src) > math.MaxInt32 {
		return &syntaxError{0, "body too large"}
	}
	p := parser{d: d, s: src, maxDepth: maxDepth}
	p.ws()
	if p.i == len(src) {
		if len(src) == 0 {
			return &syntaxError{0, "empty body"}
		}
		return &syntaxError{p.i, "no value"}
	}
	root, err := p.value(0)
	if err != nil {
		return err
	}
	p.ws()
	if p.i != len(src) {
		return p.errf("unexpected %s after the value", p.char())
	}
	d.root = root
	return nil
}

// parseValueAt parses one JSON value of src starting at i (leading
// whitespace allowed) and returns the index just past it.
func (d *doc) parseValueAt(src []byte, i, maxDepth int) (int, error) {
	d.reset(src)
	p := parser{d: d, s: src, i: i, maxDepth: maxDepth}
	p.ws()
	if p.i == len(src) {
		return 0, p.errf("no value")
	}
	root, err := p.value(0)
	if err != nil {
		return 0, err
	}
	d.root = root
	return p.i, nil
}

type parser struct {
	d        *doc
	s        []byte
	i        int
	maxDepth int
}

func (p *parser) errf(format string, args ...any) error {
	return &syntaxError{p.i, fmt.Sprintf(format, args...)}
}

// char describes the byte at p.i for an error.
func (p *parser) char() string {
	if p.i >= len(p.s) {
		return "end of input"
	}
	return fmt.Sprintf("%q", p.s[p.i])
}

func (p *parser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) add(n node) int32 {
	p.d.nodes = append(p.d.nodes, n)
	return int32(len(p.d.nodes) - 1)
}

// value parses the value at p.i; depth is the number of containers around
// it.
func (p *parser) value(depth int) (int32, error) {
	if p.i >= len(p.s) {
		return 0, p.errf("unexpected end of input")
	}
	switch c := p.s[p.i]; c {
	case '{':
		if depth >= p.maxDepth {
			return p.raw()
		}
		return p.object(depth + 1)
	case '[':
		if depth >= p.maxDepth {
			return p.raw()
		}
		return p.array(depth + 1)
	case '"':
		start := p.i + 1
		end, esc, err := p.str()
		if err != nil {
			return 0, err
		}
		return p.add(node{kind: kString, esc: esc, a: int32(start), b: int32(end)}), nil
	case 't':
		return p.literal("true", kTrue)
	case 'f':
		return p.literal("false", kFalse)
	case 'n':
		return p.literal("null", kNull)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			start := p.i
			if err := p.number(); err != nil {
				return 0, err
			}
			return p.add(node{kind: kNumber, a: int32(start), b: int32(p.i)}), nil
		}
		return 0, p.errf("unexpected %s", p.char())
	}
}

func (p *parser) literal(lit string, k kind) (int32, error) {
	if len(p.s)-p.i < len(lit) || string(p.s[p.i:p.i+len(lit)]) != lit {
		return 0, p.errf("unexpected %s", p.char())
	}
	p.i += len(lit)
	return p.add(node{kind: k}), nil
}

// str scans the string whose opening quote is at p.i. It returns the index
// of the closing quote and whether the string holds escapes, and leaves
// p.i after the closing quote.
func (p *parser) str() (end int, esc bool, err error) {
	s := p.s
	i := p.i + 1
	for {
		// Fast scan over plain bytes.
		for i < len(s) {
			c := s[i]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			i++
		}
		if i >= len(s) {
			p.i = i
			return 0, false, p.errf("unterminated string")
		}
		switch c := s[i]; {
		case c == '"':
			p.i = i + 1
			return i, esc, nil
		case c < 0x20:
			p.i = i
			return 0, false, p.errf("control character %q in string", c)
		}
		// A backslash.
		esc = true
		if i+1 >= len(s) {
			p.i = i + 1
			return 0, false, p.errf("unterminated string")
		}
		switch s[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if len(s)-i < 6 || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
				p.i = i
				return 0, false, p.errf(`invalid \u escape`)
			}
			i += 6
		default:
			p.i = i
			return 0, false, p.errf("invalid escape %q", s[i:i+2])
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at p.i.
func (p *parser) number() error {
	s := p.s
	i := p.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		p.i = i
		return p.errf("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			p.i = i
			return p.errf("invalid number: a digit must follow the point")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			p.i = i
			return p.errf("invalid number: a digit must follow the exponent")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	p.i = i
	return nil
}

func (p *parser) object(depth int) (int32, error) {
	d := p.d
	p.i++ // {
	mark := len(d.tmpM)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return p.finishObject(mark), nil
	}
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return 0, p.errf("expected a member name, found %s", p.char())
		}
		ks := p.i + 1
		ke, esc, err := p.str()
		if err != nil {
			return 0, err
		}
		key := p.s[ks:ke:ke]
		if esc {
			o := len(d.buf)
			d.buf = appendUnescaped(d.buf, key)
			key = d.buf[o:len(d.buf):len(d.buf)]
		}
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return 0, p.errf("expected ':' after a member name, found %s", p.char())
		}
		p.i++
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return 0, err
		}
		d.tmpM = append(d.tmpM, member{key: key, val: v})
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return p.finishObject(mark), nil
		}
		return 0, p.errf("expected ',' or '}' in an object, found %s", p.char())
	}
}

func cmpMember(a, b member) int { return bytes.Compare(a.key, b.key) }

// finishObject sorts the members parsed since mark by name, keeps the last
// of a name given twice, and moves them to d.members.
func (p *parser) finishObject(mark int) int32 {
	d := p.d
	ms := d.tmpM[mark:]
	sorted, dup := true, false
	for i := 1; i < len(ms); i++ {
		switch c := bytes.Compare(ms[i-1].key, ms[i].key); {
		case c > 0:
			sorted = false
		case c == 0:
			dup = true
		}
	}
	if !sorted {
		slices.SortStableFunc(ms, cmpMember)
		dup = true // unknown: check below
	}
	if dup {
		out := ms[:0]
		for i := range ms {
			if i+1 < len(ms) && bytes.Equal(ms[i].key, ms[i+1].key) {
				continue // a later member of the same name wins
			}
			out = append(out, ms[i])
		}
		ms = out
	}
	first := len(d.members)
	d.members = append(d.members, ms...)
	d.tmpM = d.tmpM[:mark]
	return p.add(node{kind: kObject, a: int32(first), b: int32(len(ms))})
}

func (p *parser) array(depth int) (int32, error) {
	d := p.d
	p.i++ // [
	mark := len(d.tmpE)
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return p.finishArray(mark), nil
	}
	for {
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return 0, err
		}
		d.tmpE = append(d.tmpE, v)
		p.ws()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return p.finishArray(mark), nil
		}
		return 0, p.errf("expected ',' or ']' in an array, found %s", p.char())
	}
}

func (p *parser) finishArray(mark int) int32 {
	d := p.d
	first := len(d.elems)
	d.elems = append(d.elems, d.tmpE[mark:]...)
	n := len(d.tmpE) - mark
	d.tmpE = d.tmpE[:mark]
	return p.add(node{kind: kArray, a: int32(first), b: int32(n)})
}

// raw validates the container at p.i without recursion and keeps its text,
// without the whitespace between tokens, in d.buf.
func (p *parser) raw() (int32, error) {
	d := p.d
	start := len(d.buf)
	stack := d.stack[:0]
	defer func() { d.stack = stack[:0] }()
	s := p.s
	// The states of the scan: a value is expected, a member name is
	// expected, or a value just ended.
	const (
		wantValue = iota
		wantKey
		afterValue
	)
	state := wantValue
	for {
		p.ws()
		switch state {
		case wantValue:
			if p.i >= len(s) {
				return 0, p.errf("unexpected end of input")
			}
			switch c := s[p.i]; c {
			case '{', '[':
				stack = append(stack, c)
				d.buf = append(d.buf, c)
				p.i++
				p.ws()
				if p.i < len(s) && s[p.i] == closer(c) {
					d.buf = append(d.buf, s[p.i])
					p.i++
					stack = stack[:len(stack)-1]
					state = afterValue
				} else if c == '{' {
					state = wantKey
				}
			case '"':
				st := p.i
				if _, _, err := p.str(); err != nil {
					return 0, err
				}
				d.buf = append(d.buf, s[st:p.i]...)
				state = afterValue
			case 't', 'f', 'n':
				lit := "null"
				switch c {
				case 't':
					lit = "true"
				case 'f':
					lit = "false"
				}
				if len(s)-p.i < len(lit) || string(s[p.i:p.i+len(lit)]) != lit {
					return 0, p.errf("unexpected %s", p.char())
				}
				d.buf = append(d.buf, lit...)
				p.i += len(lit)
				state = afterValue
			default:
				if c != '-' && !isDigit(c) {
					return 0, p.errf("unexpected %s", p.char())
				}
				st := p.i
				if err := p.number(); err != nil {
					return 0, err
				}
				d.buf = append(d.buf, s[st:p.i]...)
				state = afterValue
			}
		case wantKey:
			if p.i >= len(s) || s[p.i] != '"' {
				return 0, p.errf("expected a member name, found %s", p.char())
			}
			st := p.i
			if _, _, err := p.str(); err != nil {
				return 0, err
			}
			d.buf = append(d.buf, s[st:p.i]...)
			p.ws()
			if p.i >= len(s) || s[p.i] != ':' {
				return 0, p.errf("expected ':' after a member name, found %s", p.char())
			}
			d.buf = append(d.buf, ':')
			p.i++
			state = wantValue
		case afterValue:
			if len(stack) == 0 {
				return p.add(node{kind: kRaw, a: int32(start), b: int32(len(d.buf))}), nil
			}
			top := stack[len(stack)-1]
			if p.i >= len(s) {
				return 0, p.errf("unexpected end of input")
			}
			switch c := s[p.i]; {
			case c == ',':
				d.buf = append(d.buf, ',')
				p.i++
				if top == '{' {
					state = wantKey
				} else {
					state = wantValue
				}
			case c == closer(top):
				d.buf = append(d.buf, c)
				p.i++
				stack = stack[:len(stack)-1]
			default:
				if top == '{' {
					return 0, p.errf("expected ',' or '}' in an object, found %s", p.char())
				}
				return 0, p.errf("expected ',' or ']' in an array, found %s", p.char())
			}
		}
	}
}

func closer(open byte) byte {
	if open == '{' {
		return '}'
	}
	return ']'
}

// appendUnescaped appends the decoded form of the validated string body s.
// A \u escape of a lone surrogate is kept as that code unit, in the
// three-byte form UTF-8 would give it (WTF-8), so that it compares equal
// only to the same lone surrogate, on either side.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...)
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		switch c := s[i+1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if r >= 0xD800 && r < 0xDC00 && len(s)-i >= 6 && s[i] == '\\' && s[i+1] == 'u' {
				if r2 := hex4(s[i+2 : i+6]); r2 >= 0xDC00 && r2 < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
					i += 6
				}
			}
			dst = appendWTF8(dst, r)
			continue
		default: // " \ /
			dst = append(dst, c)
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// appendWTF8 appends r in UTF-8, a surrogate code point included.
func appendWTF8(dst []byte, r rune) []byte {
	if r >= 0xD800 && r < 0xE000 {
		return append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
	return utf8.AppendRune(dst, r)
}
