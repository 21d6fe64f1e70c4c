package compare

import (
	"bytes"
	"math"
	"strconv"
)

// thread is a pattern partway matched along the current path: pos steps
// of it are matched. A pattern whose steps are all matched is complete at
// this value; an ignore, tolerance or normalize pattern stays complete
// below it, a set pattern only at it.
type thread struct {
	p   *pattern
	pos int32
}

// nodeState is what the complete patterns say of one value.
type nodeState struct {
	ignored bool
	tol     float64 // the largest tolerance; -1: none
	set     int     // the first set rule; -1: none
}

// walker holds the state of one comparison; walkers are pooled.
type walker struct {
	c     *Comparer
	extra *Patterns
	a, b  doc

	th    []thread // the threads of every value on the path, a stack
	path  []seg
	diffs []rawDiff
	dsegs []seg  // the paths of diffs
	keys  []byte // the canonical texts of keys on paths

	numA, numB, strA, strB, tmp []byte
	hs                          []hashIdx
	sel                         []int32
	reps                        []int32
	cnt                         []int32

	// probe: only say whether two values are equal, record nothing, and
	// compare numbers exactly. Set while the elements of a set are matched.
	probe bool
}

// Groups of diffs, in their order.
const (
	gStatus uint8 = iota
	gHeader
	gBody
)

// rawDiff is a difference before it is sorted and written out.
type rawDiff struct {
	group    uint8
	bodyPath bool // path "body" (not a JSON path)
	pre      bool // values in ta and tb; else nodes a and b (-1: none)
	kind     string
	header   string
	lo, hi   int32 // the path: w.dsegs[lo:hi]
	a, b     int32
	ta, tb   string
}

var elemSeg = seg{kind: sElem}

// step returns the threads of the child reached by s from the value with
// threads w.th[lo:hi], pushed on w.th.
func (w *walker) step(lo, hi int, s *seg) (int, int) {
	nlo := len(w.th)
	for i := lo; i < hi; i++ {
		t := w.th[i]
		segs := t.p.segs
		if int(t.pos) == len(segs) {
			if t.p.role != roleSet {
				w.addThread(nlo, t)
			}
			continue
		}
		ps := &segs[t.pos]
		if ps.deep {
			w.addThread(nlo, t)
		}
		if ps.match(s) {
			w.addThread(nlo, thread{p: t.p, pos: t.pos + 1})
		}
	}
	return nlo, len(w.th)
}

func (w *walker) addThread(nlo int, t thread) {
	for _, u := range w.th[nlo:] {
		if u == t {
			return
		}
	}
	w.th = append(w.th, t)
}

// down enters the child s: it extends the path and returns the child's
// threads. up(nlo) leaves it.
func (w *walker) down(s seg, lo, hi int) (int, int) {
	w.path = append(w.path, s)
	return w.step(lo, hi, &w.path[len(w.path)-1])
}

func (w *walker) up(nlo int) {
	w.th = w.th[:nlo]
	w.path = w.path[:len(w.path)-1]
}

func (w *walker) state(lo, hi int) nodeState {
	st := nodeState{tol: -1, set: -1}
	for i := lo; i < hi; i++ {
		t := &w.th[i]
		if int(t.pos) != len(t.p.segs) {
			continue
		}
		switch t.p.role {
		case roleIgnore:
			st.ignored = true
			return st
		case roleTol:
			if tol := w.c.tols[t.p.rule]; tol > st.tol {
				st.tol = tol
			}
		case roleSet:
			if st.set < 0 || t.p.rule < st.set {
				st.set = t.p.rule
			}
		}
	}
	return st
}

// complete says whether rule of role is complete among w.th[lo:hi].
func (w *walker) complete(lo, hi int, r role, rule int) bool {
	for i := lo; i < hi; i++ {
		t := &w.th[i]
		if t.p.role == r && t.p.rule == rule && int(t.pos) == len(t.p.segs) {
			return true
		}
	}
	return false
}

// emit records a difference at the current path.
func (w *walker) emit(kind string, a, b int32) {
	if w.probe {
		return
	}
	lo := len(w.dsegs)
	w.dsegs = append(w.dsegs, w.path...)
	w.diffs = append(w.diffs, rawDiff{group: gBody, kind: kind, lo: int32(lo), hi: int32(len(w.dsegs)), a: a, b: b})
}

func isBool(k kind) bool { return k == kTrue || k == kFalse }

// eq compares value a of w.a with value b of w.b, at the current path with
// threads w.th[lo:hi]. It reports whether they are equal and, unless
// probing, records every difference.
func (w *walker) eq(a, b int32, lo, hi int) bool {
	st := w.state(lo, hi)
	if st.ignored {
		return true
	}
	na, nb := w.a.nodes[a], w.b.nodes[b]
	if na.kind != nb.kind {
		k := KindType
		if isBool(na.kind) && isBool(nb.kind) {
			k = KindChanged
		}
		w.emit(k, a, b)
		return false
	}
	switch na.kind {
	case kNull, kTrue, kFalse:
		return true
	case kNumber:
		if w.numEq(na, nb, st.tol) {
			return true
		}
	case kString:
		if w.strEq(na, nb, lo, hi) {
			return true
		}
	case kRaw:
		if bytes.Equal(w.a.buf[na.a:na.b], w.b.buf[nb.a:nb.b]) {
			return true
		}
	case kObject:
		return w.object(na, nb, lo, hi)
	case kArray:
		if st.set >= 0 {
			return w.set(na, nb, &w.c.sets[st.set], lo, hi)
		}
		return w.array(na, nb, lo, hi)
	}
	w.emit(KindChanged, a, b)
	return false
}

// object compares two objects member by member: their members are sorted
// by name, so one pass over both finds those on one side only.
func (w *walker) object(na, nb node, lo, hi int) bool {
	ma := w.a.members[na.a : na.a+na.b]
	mb := w.b.members[nb.a : nb.a+nb.b]
	equal := true
	i, j := 0, 0
	for i < len(ma) || j < len(mb) {
		var c int
		switch {
		case i == len(ma):
			c = 1
		case j == len(mb):
			c = -1
		default:
			c = bytes.Compare(ma[i].key, mb[j].key)
		}
		var ok bool
		switch {
		case c == 0:
			nlo, nhi := w.down(seg{kind: sMember, name: ma[i].key}, lo, hi)
			ok = w.eq(ma[i].val, mb[j].val, nlo, nhi)
			w.up(nlo)
			i++
			j++
		case c < 0:
			ok = w.alone(&w.a, ma[i].key, ma[i].val, lo, hi, true)
			i++
		default:
			ok = w.alone(&w.b, mb[j].key, mb[j].val, lo, hi, false)
			j++
		}
		if !ok {
			equal = false
			if w.probe {
				return false
			}
		}
	}
	return equal
}

// alone handles member key of d present on its side only: equal when
// null and NullEqualsMissing, or when ignored; else missing or added.
func (w *walker) alone(d *doc, key []byte, val int32, lo, hi int, inA bool) bool {
	if w.c.nullEqMissing && d.nodes[val].kind == kNull {
		return true
	}
	return w.single(seg{kind: sMember, name: key}, val, lo, hi, inA)
}

// single records value n, present on one side only at child s, unless it
// is ignored; it reports whether it was ignored.
func (w *walker) single(s seg, n int32, lo, hi int, inA bool) bool {
	nlo, nhi := w.down(s, lo, hi)
	ign := w.state(nlo, nhi).ignored
	if !ign {
		if inA {
			w.emit(KindMissing, n, -1)
		} else {
			w.emit(KindAdded, -1, n)
		}
	}
	w.up(nlo)
	return ign
}

// array compares two arrays in order; the longer one's tail is missing or
// added.
func (w *walker) array(na, nb node, lo, hi int) bool {
	ea := w.a.elems[na.a : na.a+na.b]
	eb := w.b.elems[nb.a : nb.a+nb.b]
	equal := true
	n := min(len(ea), len(eb))
	for k := range n {
		nlo, nhi := w.down(seg{kind: sIndex, idx: int32(k)}, lo, hi)
		ok := w.eq(ea[k], eb[k], nlo, nhi)
		w.up(nlo)
		if !ok {
			equal = false
			if w.probe {
				return false
			}
		}
	}
	for k := n; k < len(ea); k++ {
		if !w.single(seg{kind: sIndex, idx: int32(k)}, ea[k], lo, hi, true) {
			equal = false
			if w.probe {
				return false
			}
		}
	}
	for k := n; k < len(eb); k++ {
		if !w.single(seg{kind: sIndex, idx: int32(k)}, eb[k], lo, hi, false) {
			equal = false
			if w.probe {
				return false
			}
		}
	}
	return equal
}

// numEq compares two numbers by exact decimal value, then within tol
// (unless probing; -1: no tolerance).
func (w *walker) numEq(na, nb node, tol float64) bool {
	ra, rb := w.a.src[na.a:na.b], w.b.src[nb.a:nb.b]
	if bytes.Equal(ra, rb) {
		return true
	}
	var da, db decimal
	da, w.numA = parseDecimal(ra, w.numA[:0])
	db, w.numB = parseDecimal(rb, w.numB[:0])
	if da.equal(&db) {
		return true
	}
	if tol < 0 || w.probe {
		return false
	}
	fa, _ := strconv.ParseFloat(string(ra), 64)
	fb, _ := strconv.ParseFloat(string(rb), 64)
	return math.Abs(fa-fb) <= tol
}

// strEq compares two strings by decoded value, then after the normalize
// rules that apply.
func (w *walker) strEq(na, nb node, lo, hi int) bool {
	ra, rb := w.a.src[na.a:na.b], w.b.src[nb.a:nb.b]
	if bytes.Equal(ra, rb) {
		return true
	}
	sa, sb := ra, rb
	if na.esc {
		w.strA = appendUnescaped(w.strA[:0], ra)
		sa = w.strA
	}
	if nb.esc {
		w.strB = appendUnescaped(w.strB[:0], rb)
		sb = w.strB
	}
	if bytes.Equal(sa, sb) {
		return true
	}
	if len(w.c.norms) == 0 {
		return false
	}
	xa, applied := w.normalize(sa, lo, hi)
	if !applied {
		return false
	}
	xb, _ := w.normalize(sb, lo, hi)
	return bytes.Equal(xa, xb)
}

// normalize rewrites a string of the JSON body by the normalize rules that
// apply at the current value, in order; it reports whether any applied.
func (w *walker) normalize(s []byte, lo, hi int) ([]byte, bool) {
	applied := false
	for i := range w.c.norms {
		r := &w.c.norms[i]
		if r.header != "" || !(r.global || r.body || w.complete(lo, hi, roleNorm, i)) {
			continue
		}
		s = r.apply(s)
		applied = true
	}
	return s, applied
}
