package compare

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Kinds of Diff.
const (
	KindChanged = "changed" // two values of the same type differ
	KindType    = "type"    // two values of different JSON types
	KindMissing = "missing" // present in A, not in B
	KindAdded   = "added"   // present in B, not in A
	KindInvalid = "invalid" // a JSON body that does not parse (on one side; on both they are compared as text)
	KindText    = "text"    // two text bodies differ (the first differing line)
	KindBinary  = "binary"  // two binary bodies differ
	KindStatus  = "status"  // the status codes differ
	KindHeader  = "header"  // a compared header differs
)

// Response is one side's answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Diff is one difference. A is the first response's value, B the second's:
// compact JSON (strings quoted) for JSON values and headers, the status
// code, `line N: "text"` for text bodies, "sha256:HEX, N bytes" for binary
// ones; "" when missing on that side. Values are cut to 200 bytes and then
// end with "…".
type Diff struct {
	Path string
	Kind string
	A, B string
}

// Result lists the differences between two responses, sorted by path: the
// status, then headers by name, then the body. JSON paths are ordered step
// by step, a value before what is below it, array indexes by number,
// member names by their bytes. Only the first MaxDiffs are listed; More
// counts the others.
type Result struct {
	Diffs []Diff
	More  int
}

// Match says whether the two responses were found equal.
func (r Result) Match() bool { return len(r.Diffs) == 0 && r.More == 0 }

var walkers = sync.Pool{New: func() any { return new(walker) }}

// Compare compares a with b under the rules, extra naming more ignored
// paths (nil: none). Swapping a and b gives the same paths, with A and B
// swapped and missing and added exchanged.
func (c *Comparer) Compare(a, b Response, extra *Patterns) Result {
	if a.Status == b.Status && bytes.Equal(a.Body, b.Body) && c.sameHeaders(a.Header, b.Header) {
		return Result{}
	}
	w := walkers.Get().(*walker)
	w.c, w.extra = c, extra
	if a.Status != b.Status && !c.ignoredStatus(extra) {
		w.diffs = append(w.diffs, rawDiff{group: gStatus, kind: KindStatus, pre: true,
			ta: strconv.Itoa(a.Status), tb: strconv.Itoa(b.Status)})
	}
	for _, h := range c.headers {
		w.header(h, a.Header, b.Header)
	}
	if !bytes.Equal(a.Body, b.Body) && !c.ignoredBody(extra) {
		w.body(a, b)
	}
	res := w.result()
	w.release()
	return res
}

func (c *Comparer) sameHeaders(a, b http.Header) bool {
	for _, h := range c.headers {
		if !slices.Equal(a.Values(h), b.Values(h)) {
			return false
		}
	}
	return true
}

// release empties w and returns it to the pool, unless it grew large.
func (w *walker) release() {
	const big = 1 << 20
	if cap(w.a.nodes) > big || cap(w.b.nodes) > big || cap(w.a.buf) > 8*big || cap(w.b.buf) > 8*big || cap(w.dsegs) > big {
		return
	}
	w.a.reset(nil)
	w.b.reset(nil)
	w.c, w.extra = nil, nil
	w.th, w.path, w.diffs, w.dsegs, w.keys = w.th[:0], w.path[:0], w.diffs[:0], w.dsegs[:0], w.keys[:0]
	w.hs, w.sel = w.hs[:0], w.sel[:0]
	w.probe = false
	walkers.Put(w)
}

// header compares header name of both sides.
func (w *walker) header(name string, ha, hb http.Header) {
	va, vb := ha.Values(name), hb.Values(name)
	if slices.Equal(va, vb) || w.c.ignoredHeader(name, w.extra) {
		return
	}
	ja, jb := strings.Join(va, ", "), strings.Join(vb, ", ")
	if len(va) > 0 && len(vb) > 0 {
		if ja == jb {
			return
		}
		xa, applied := w.normalizeHeader(name, []byte(ja))
		if xb, _ := w.normalizeHeader(name, []byte(jb)); applied && bytes.Equal(xa, xb) {
			return
		}
	}
	d := rawDiff{group: gHeader, kind: KindHeader, header: name, pre: true}
	if len(va) > 0 {
		d.ta = cut(appendQuoted(nil, []byte(ja)))
	}
	if len(vb) > 0 {
		d.tb = cut(appendQuoted(nil, []byte(jb)))
	}
	w.diffs = append(w.diffs, d)
}

func (w *walker) normalizeHeader(name string, s []byte) ([]byte, bool) {
	applied := false
	for i := range w.c.norms {
		r := &w.c.norms[i]
		if r.global || r.header == name {
			s = r.apply(s)
			applied = true
		}
	}
	return s, applied
}

// mediaType returns the media type of a Content-Type header, without
// parameters.
func mediaType(h http.Header) string {
	v := h.Get("Content-Type")
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

func isJSONType(t string) bool {
	return strings.EqualFold(t, "application/json") || (len(t) > 5 && strings.EqualFold(t[len(t)-5:], "+json"))
}

func isText(t string, body []byte) bool {
	return (len(t) >= 5 && strings.EqualFold(t[:5], "text/")) || utf8.Valid(body)
}

// body compares two bodies that differ in bytes: as JSON when either side
// declares JSON, or neither declares a type and both parse; else as text
// when both are text (declared text/*, or UTF-8); else as binary.
func (w *walker) body(a, b Response) {
	ta, tb := mediaType(a.Header), mediaType(b.Header)
	declared := isJSONType(ta) || isJSONType(tb)
	if declared || (ta == "" && tb == "") {
		errA := w.a.parse(a.Body, w.c.maxDepth)
		errB := w.b.parse(b.Body, w.c.maxDepth)
		switch {
		case errA == nil && errB == nil:
			w.tree()
			return
		case declared && (errA == nil || errB == nil):
			d := rawDiff{group: gBody, bodyPath: true, kind: KindInvalid, pre: true}
			if errA != nil {
				d.ta = invalidText(a.Body, errA)
			} else {
				d.ta = valueText(&w.a, w.a.root, w.tmp)
			}
			if errB != nil {
				d.tb = invalidText(b.Body, errB)
			} else {
				d.tb = valueText(&w.b, w.b.root, w.tmp)
			}
			w.diffs = append(w.diffs, d)
			return
		}
	}
	if isText(ta, a.Body) && isText(tb, b.Body) {
		w.text(a.Body, b.Body)
		return
	}
	d := rawDiff{group: gBody, bodyPath: true, kind: KindBinary, pre: true, ta: binaryText(a.Body), tb: binaryText(b.Body)}
	w.diffs = append(w.diffs, d)
}

// invalidText describes a body that is not JSON: where it stops being
// JSON, and how it starts.
func invalidText(body []byte, err error) string {
	if len(body) == 0 {
		return "invalid JSON: empty body"
	}
	off := 0
	if se, ok := err.(*syntaxError); ok {
		off = se.off
	}
	prefix := body[:min(len(body), maxValue)]
	return cut(appendQuoted([]byte(fmt.Sprintf("invalid JSON at byte %d: ", off)), prefix))
}

func binaryText(b []byte) string {
	return fmt.Sprintf("sha256:%x, %d bytes", sha256.Sum256(b), len(b))
}

// tree compares two parsed JSON bodies.
func (w *walker) tree() {
	w.th = append(w.th[:0], w.c.root...)
	if w.extra != nil {
		for _, p := range w.extra.json {
			w.th = append(w.th, thread{p: p})
		}
	}
	w.eq(w.a.root, w.b.root, 0, len(w.th))
}

// lines yields the lines of a text body: split at "\n", without a final
// "\r"; a body always has one line more than it has "\n".
type lines struct {
	s    []byte
	done bool
}

func (l *lines) next() ([]byte, bool) {
	if l.done {
		return nil, false
	}
	line := l.s
	if i := bytes.IndexByte(l.s, '\n'); i >= 0 {
		line, l.s = l.s[:i], l.s[i+1:]
	} else {
		l.done = true
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, true
}

// text compares two text bodies line by line, after the normalize rules
// of the body, and records the first line that differs.
func (w *walker) text(a, b []byte) {
	la, lb := lines{s: a}, lines{s: b}
	for n := 1; ; n++ {
		xa, okA := la.next()
		xb, okB := lb.next()
		if !okA && !okB {
			return
		}
		if okA && okB {
			if bytes.Equal(xa, xb) {
				continue
			}
			na, applied := w.normalizeText(xa)
			if nb, _ := w.normalizeText(xb); applied && bytes.Equal(na, nb) {
				continue
			}
		}
		d := rawDiff{group: gBody, bodyPath: true, kind: KindText, pre: true}
		if okA {
			d.ta = lineText(n, xa)
		}
		if okB {
			d.tb = lineText(n, xb)
		}
		w.diffs = append(w.diffs, d)
		return
	}
}

func (w *walker) normalizeText(s []byte) ([]byte, bool) {
	applied := false
	for i := range w.c.norms {
		r := &w.c.norms[i]
		if r.global || r.body {
			s = r.apply(s)
			applied = true
		}
	}
	return s, applied
}

func lineText(n int, line []byte) string {
	b := strconv.AppendInt([]byte("line "), int64(n), 10)
	b = append(b, ": "...)
	return cut(appendQuoted(b, line[:min(len(line), maxValue)]))
}

// result sorts the recorded diffs and writes out the first MaxDiffs.
func (w *walker) result() Result {
	if len(w.diffs) == 0 {
		return Result{}
	}
	sort.Sort(byPath{w})
	n := min(len(w.diffs), w.c.maxDiffs)
	out := make([]Diff, n)
	for i := range out {
		x := &w.diffs[i]
		d := &out[i]
		d.Kind = x.kind
		switch {
		case x.group == gStatus:
			d.Path = "status"
		case x.group == gHeader:
			d.Path = "header:" + x.header
		case x.bodyPath:
			d.Path = "body"
		default:
			p := append(w.tmp[:0], '$')
			for j := x.lo; j < x.hi; j++ {
				p = appendSeg(p, &w.dsegs[j])
			}
			d.Path = string(p)
			w.tmp = p
		}
		if x.pre {
			d.A, d.B = x.ta, x.tb
		} else {
			d.A = valueText(&w.a, x.a, w.tmp)
			d.B = valueText(&w.b, x.b, w.tmp)
		}
	}
	return Result{Diffs: out, More: len(w.diffs) - n}
}

// byPath sorts the diffs of a walker (see Result).
type byPath struct{ w *walker }

func (s byPath) Len() int      { return len(s.w.diffs) }
func (s byPath) Swap(i, j int) { s.w.diffs[i], s.w.diffs[j] = s.w.diffs[j], s.w.diffs[i] }
func (s byPath) Less(i, j int) bool {
	return s.w.cmpDiff(&s.w.diffs[i], &s.w.diffs[j]) < 0
}

func (w *walker) cmpDiff(x, y *rawDiff) int {
	if x.group != y.group {
		return int(x.group) - int(y.group)
	}
	if x.group == gHeader {
		return strings.Compare(x.header, y.header)
	}
	if c := cmpSegs(w.dsegs[x.lo:x.hi], w.dsegs[y.lo:y.hi]); c != 0 {
		return c
	}
	// The same path: two elements of a set, one left over on each side.
	// Order them by their values, which is the same order either way
	// round.
	if c := bytes.Compare(w.presentValue(x), w.presentValue(y)); c != 0 {
		return c
	}
	return strings.Compare(x.kind, y.kind)
}

// presentValue is the whole compact text of the value of a diff: the side
// it is present on; for a change, both texts, the lesser first, so that
// it does not depend on which side is A.
func (w *walker) presentValue(x *rawDiff) []byte {
	if x.pre {
		return nil
	}
	var a, b []byte
	if x.a >= 0 {
		a = appendCompact(nil, &w.a, x.a, math.MaxInt)
	}
	if x.b >= 0 {
		b = appendCompact(nil, &w.b, x.b, math.MaxInt)
	}
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	return append(append(a, 0), b...)
}

func cmpSegs(a, b []seg) int {
	for i := range min(len(a), len(b)) {
		if c := cmpSeg(&a[i], &b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func cmpSeg(a, b *seg) int {
	if a.kind != b.kind {
		return int(a.kind) - int(b.kind)
	}
	switch a.kind {
	case sIndex, sUnmatched:
		return int(a.idx) - int(b.idx)
	case sKeyed:
		if c := bytes.Compare(a.name, b.name); c != 0 {
			return c
		}
		return bytes.Compare(a.val, b.val)
	default:
		return bytes.Compare(a.name, b.name)
	}
}
