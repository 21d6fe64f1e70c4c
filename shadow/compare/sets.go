package compare

import (
	"bytes"
	"cmp"
	"hash/maphash"
	"slices"
)

// Sets are compared in two ways.
//
// An unkeyed set is a multiset: each element's canonical value (under the
// ignore and normalize rules and NullEqualsMissing, numbers exact, nested
// sets unordered) is hashed, elements of equal hashes are checked to be
// equal, and within each class of equal elements the first of A are
// matched with the first of B, in index order. An element left over is
// reported at [#i], i its index in its own array: missing when it is in
// A, added when in B. Swapping A and B swaps the reports.
//
// A keyed set matches elements by the canonical value of their key
// member. An element whose key is unique on both sides is compared with
// its match member by member at [key=value], or reported there missing
// or added. Elements that lack the key (or are not objects), and those
// whose key occurs more than once on either side, are compared as an
// unkeyed set among themselves, at [#i].

// hashIdx is one element of a set being matched.
type hashIdx struct {
	h       uint64
	i       int32 // the element's index in its array
	k       int32 // keyed: the key's value node; -1: no key
	cls     int32 // keyed: the class of the key within its hash group
	peer    int32 // keyed: the w.hs index of the element matched with; -1: none
	multi   bool  // keyed: compared as an unkeyed set
	matched bool
}

func cmpHashIdx(x, y hashIdx) int {
	if c := cmp.Compare(x.h, y.h); c != 0 {
		return c
	}
	return cmp.Compare(x.i, y.i)
}

// cmpKeyEntry orders the entries of a keyed set: by hash of the key, then
// index; entries without a key last.
func cmpKeyEntry(x, y hashIdx) int {
	if (x.k < 0) != (y.k < 0) {
		if x.k < 0 {
			return 1
		}
		return -1
	}
	return cmpHashIdx(x, y)
}

var hashSeed = maphash.MakeSeed()

func hashBytes(b []byte) uint64  { return maphash.Bytes(hashSeed, b) }
func hashString(s string) uint64 { return maphash.String(hashSeed, s) }

func mix(h, x uint64) uint64 {
	h ^= x
	h *= 0x9E3779B97F4A7C15
	return h ^ h>>29
}

// fmix spreads x before it is summed with others (MurmurHash3's
// finalizer).
func fmix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// Hashes of values that carry no data of their own.
const (
	hNull       = 0x6e756c6c
	hTrue       = 0x74727565
	hFalse      = 0x66616c73
	hIgnored    = 0x69676e
	hObject     = 0x6f626a
	hArray      = 0x617272
	hSet        = 0x736574
	hString     = 0x737472
	hRaw        = 0x726177
	hSetIgnored = 0x736967
)

// set compares two arrays under set rule r.
func (w *walker) set(na, nb node, r *setRule, lo, hi int) bool {
	ea := w.a.elems[na.a : na.a+na.b]
	eb := w.b.elems[nb.a : nb.a+nb.b]
	elo, ehi := w.step(lo, hi, &elemSeg)
	defer func() { w.th = w.th[:elo] }()
	if w.state(elo, ehi).ignored {
		return true
	}
	if len(r.key) == 0 || w.probe {
		// While probing a keyed set is compared as a multiset: it is
		// equal in exactly the same cases, and hashes the same way.
		return w.multiset(ea, eb, true, nil, nil, lo, hi, elo, ehi)
	}
	return w.keyed(ea, eb, r.key, lo, hi, elo, ehi)
}

// multiset matches the elements of ea and eb (all, or those at the
// indexes selA and selB) by canonical value and records those left over.
// Elements are hashed and compared with threads w.th[elo:ehi]; the set's
// own threads are w.th[lo:hi].
func (w *walker) multiset(ea, eb []int32, all bool, selA, selB []int32, lo, hi, elo, ehi int) bool {
	mark := len(w.hs)
	defer func() { w.hs = w.hs[:mark] }()
	nA, nB := len(selA), len(selB)
	if all {
		nA, nB = len(ea), len(eb)
	}
	for x := range nA {
		i := int32(x)
		if !all {
			i = selA[x]
		}
		h := w.hash(&w.a, ea[i], elo, ehi)
		w.hs = append(w.hs, hashIdx{h: h, i: i})
	}
	mid := len(w.hs)
	for x := range nB {
		i := int32(x)
		if !all {
			i = selB[x]
		}
		h := w.hash(&w.b, eb[i], elo, ehi)
		w.hs = append(w.hs, hashIdx{h: h, i: i})
	}
	end := len(w.hs)
	slices.SortFunc(w.hs[mark:mid], cmpHashIdx)
	slices.SortFunc(w.hs[mid:end], cmpHashIdx)

	for x, y := mark, mid; x < mid && y < end; {
		h := w.hs[x].h
		switch hy := w.hs[y].h; {
		case h < hy:
			x++
			continue
		case h > hy:
			y++
			continue
		}
		gx, gy := x, y
		for gx < mid && w.hs[gx].h == h {
			gx++
		}
		for gy < end && w.hs[gy].h == h {
			gy++
		}
		first := y // the first element of B's group not yet matched
		for p := x; p < gx; p++ {
			for first < gy && w.hs[first].matched {
				first++
			}
			for q := first; q < gy; q++ {
				if w.hs[q].matched {
					continue
				}
				if w.probeEq(ea[w.hs[p].i], eb[w.hs[q].i], elo, ehi) {
					w.hs[p].matched = true
					w.hs[q].matched = true
					break
				}
			}
		}
		x, y = gx, gy
	}

	equal := true
	for p := mark; p < end; p++ {
		e := w.hs[p]
		if e.matched {
			continue
		}
		if w.probe {
			return false
		}
		inA := p < mid
		var n int32
		if inA {
			n = ea[e.i]
		} else {
			n = eb[e.i]
		}
		if !w.single(seg{kind: sUnmatched, idx: e.i}, n, lo, hi, inA) {
			equal = false
		}
	}
	return equal
}

// probeEq says whether a and b are equal, recording nothing.
func (w *walker) probeEq(a, b int32, lo, hi int) bool {
	was := w.probe
	w.probe = true
	ok := w.eq(a, b, lo, hi)
	w.probe = was
	return ok
}

// keyed compares two arrays as a set keyed by member key.
func (w *walker) keyed(ea, eb []int32, key []byte, lo, hi, elo, ehi int) bool {
	mark := len(w.hs)
	defer func() { w.hs = w.hs[:mark] }()
	for i, e := range ea {
		w.hs = append(w.hs, w.keyEntry(&w.a, e, int32(i), key))
	}
	mid := len(w.hs)
	for i, e := range eb {
		w.hs = append(w.hs, w.keyEntry(&w.b, e, int32(i), key))
	}
	end := len(w.hs)
	slices.SortFunc(w.hs[mark:mid], cmpKeyEntry)
	slices.SortFunc(w.hs[mid:end], cmpKeyEntry)
	w.classify(mark, mid, end)

	equal := true
	for p := mark; p < end; p++ {
		e := w.hs[p]
		inA := p < mid
		if e.k < 0 || e.multi || (!inA && e.peer >= 0) {
			continue // compared as a multiset below, or with its peer from A
		}
		d := &w.a
		if !inA {
			d = &w.b
		}
		o := len(w.keys)
		w.keys = appendCanonical(w.keys, d, e.k, &w.tmp)
		s := seg{kind: sKeyed, name: key, val: w.keys[o:len(w.keys):len(w.keys)]}
		var ok bool
		switch {
		case e.peer >= 0:
			nlo, nhi := w.down(s, lo, hi)
			ok = w.eq(ea[e.i], eb[w.hs[e.peer].i], nlo, nhi)
			w.up(nlo)
		case inA:
			ok = w.single(s, ea[e.i], lo, hi, true)
		default:
			ok = w.single(s, eb[e.i], lo, hi, false)
		}
		if !ok {
			equal = false
		}
	}

	m0 := len(w.sel)
	for p := mark; p < mid; p++ {
		if e := w.hs[p]; e.k < 0 || e.multi {
			w.sel = append(w.sel, e.i)
		}
	}
	m1 := len(w.sel)
	for p := mid; p < end; p++ {
		if e := w.hs[p]; e.k < 0 || e.multi {
			w.sel = append(w.sel, e.i)
		}
	}
	m2 := len(w.sel)
	if m2 > m0 {
		selA, selB := w.sel[m0:m1:m1], w.sel[m1:m2:m2]
		if !w.multiset(ea, eb, false, selA, selB, lo, hi, elo, ehi) {
			equal = false
		}
	}
	w.sel = w.sel[:m0]
	return equal
}

// keyEntry describes element e (index i) of a keyed set.
func (w *walker) keyEntry(d *doc, e, i int32, key []byte) hashIdx {
	k := d.memberValue(e, key)
	if k < 0 {
		return hashIdx{h: 0, i: i, k: -1, peer: -1}
	}
	return hashIdx{h: w.canonHash(d, k), i: i, k: k, peer: -1}
}

// classify groups the keyed entries w.hs[mark:mid] (A) and w.hs[mid:end]
// (B), sorted by hash, into classes of equal keys; it pairs the entries of
// a class that has one element on each side, and marks multi the
// entries of a class with more than one on a side.
func (w *walker) classify(mark, mid, end int) {
	x, y := mark, mid
	for x < mid || y < end {
		// The next hash group, on either side.
		var h uint64
		switch {
		case x < mid && w.hs[x].k < 0:
			x++
			continue
		case y < end && w.hs[y].k < 0:
			y++
			continue
		case x < mid && y < end:
			h = min(w.hs[x].h, w.hs[y].h)
		case x < mid:
			h = w.hs[x].h
		default:
			h = w.hs[y].h
		}
		gx, gy := x, y
		for gx < mid && w.hs[gx].k >= 0 && w.hs[gx].h == h {
			gx++
		}
		for gy < end && w.hs[gy].k >= 0 && w.hs[gy].h == h {
			gy++
		}
		w.reps = w.reps[:0]
		w.cnt = w.cnt[:0]
		for p := x; p < gx; p++ {
			w.assignClass(p, mid)
		}
		for p := y; p < gy; p++ {
			w.assignClass(p, mid)
		}
		for p := x; p < gx; p++ {
			cls := w.hs[p].cls
			if w.cnt[2*cls] > 1 || w.cnt[2*cls+1] > 1 {
				w.hs[p].multi = true
				continue
			}
			for q := y; q < gy; q++ {
				if w.hs[q].cls == cls {
					w.hs[p].peer, w.hs[q].peer = int32(q), int32(p)
				}
			}
		}
		for q := y; q < gy; q++ {
			cls := w.hs[q].cls
			if w.cnt[2*cls] > 1 || w.cnt[2*cls+1] > 1 {
				w.hs[q].multi = true
			}
		}
		x, y = gx, gy
	}
}

// assignClass gives entry p the class of the first representative of the
// current hash group whose key equals its key, or a new class.
func (w *walker) assignClass(p, mid int) {
	d, inA := &w.a, p < mid
	if !inA {
		d = &w.b
	}
	cls := -1
	for r, rp := range w.reps {
		rd := &w.a
		if int(rp) >= mid {
			rd = &w.b
		}
		if w.canonEqual(rd, w.hs[rp].k, d, w.hs[p].k) {
			cls = r
			break
		}
	}
	if cls < 0 {
		cls = len(w.reps)
		w.reps = append(w.reps, int32(p))
		w.cnt = append(w.cnt, 0, 0)
	}
	w.hs[p].cls = int32(cls)
	if inA {
		w.cnt[2*cls]++
	} else {
		w.cnt[2*cls+1]++
	}
}

// memberValue returns the value of member key of object n, or -1.
func (d *doc) memberValue(n int32, key []byte) int32 {
	nd := &d.nodes[n]
	if nd.kind != kObject {
		return -1
	}
	ms := d.members[nd.a : nd.a+nd.b]
	i, found := slices.BinarySearchFunc(ms, key, func(m member, k []byte) int { return bytes.Compare(m.key, k) })
	if !found {
		return -1
	}
	return ms[i].val
}

// hash hashes the canonical value of n under the rules, with threads
// w.th[lo:hi]: values equal while probing hash the same.
func (w *walker) hash(d *doc, n int32, lo, hi int) uint64 {
	st := w.state(lo, hi)
	if st.ignored {
		return hIgnored
	}
	nd := d.nodes[n]
	switch nd.kind {
	case kNull:
		return hNull
	case kTrue:
		return hTrue
	case kFalse:
		return hFalse
	case kNumber:
		var dec decimal
		dec, w.tmp = parseDecimal(d.src[nd.a:nd.b], w.tmp[:0])
		return dec.hash()
	case kString:
		s := d.src[nd.a:nd.b]
		if nd.esc {
			w.tmp = appendUnescaped(w.tmp[:0], s)
			s = w.tmp
		}
		if len(w.c.norms) > 0 {
			s, _ = w.normalize(s, lo, hi)
		}
		return mix(hashBytes(s), hString)
	case kRaw:
		return mix(hashBytes(d.buf[nd.a:nd.b]), hRaw)
	case kObject:
		h := uint64(hObject)
		for _, m := range d.members[nd.a : nd.a+nd.b] {
			if w.c.nullEqMissing && d.nodes[m.val].kind == kNull {
				continue
			}
			nlo, nhi := w.down(seg{kind: sMember, name: m.key}, lo, hi)
			if !w.state(nlo, nhi).ignored {
				h = mix(h, hashBytes(m.key))
				h = mix(h, w.hash(d, m.val, nlo, nhi))
			}
			w.up(nlo)
		}
		return h
	default:
		es := d.elems[nd.a : nd.a+nd.b]
		if st.set >= 0 {
			elo, ehi := w.step(lo, hi, &elemSeg)
			defer func() { w.th = w.th[:elo] }()
			if w.state(elo, ehi).ignored {
				return hSetIgnored
			}
			var sum uint64
			for _, e := range es {
				sum += fmix(w.hash(d, e, elo, ehi))
			}
			return mix(hSet, sum)
		}
		h := uint64(hArray)
		for k, e := range es {
			nlo, nhi := w.down(seg{kind: sIndex, idx: int32(k)}, lo, hi)
			if !w.state(nlo, nhi).ignored {
				h = mix(mix(h, uint64(k)), w.hash(d, e, nlo, nhi))
			}
			w.up(nlo)
		}
		return h
	}
}

// canonHash hashes the canonical value of n without rules (the value of a
// set's key).
func (w *walker) canonHash(d *doc, n int32) uint64 {
	nd := d.nodes[n]
	switch nd.kind {
	case kNull:
		return hNull
	case kTrue:
		return hTrue
	case kFalse:
		return hFalse
	case kNumber:
		var dec decimal
		dec, w.tmp = parseDecimal(d.src[nd.a:nd.b], w.tmp[:0])
		return dec.hash()
	case kString:
		s := d.src[nd.a:nd.b]
		if nd.esc {
			w.tmp = appendUnescaped(w.tmp[:0], s)
			s = w.tmp
		}
		return mix(hashBytes(s), hString)
	case kRaw:
		return mix(hashBytes(d.buf[nd.a:nd.b]), hRaw)
	case kObject:
		h := uint64(hObject)
		for _, m := range d.members[nd.a : nd.a+nd.b] {
			h = mix(h, hashBytes(m.key))
			h = mix(h, w.canonHash(d, m.val))
		}
		return h
	default:
		h := uint64(hArray)
		for k, e := range d.elems[nd.a : nd.a+nd.b] {
			h = mix(mix(h, uint64(k)), w.canonHash(d, e))
		}
		return h
	}
}

// canonEqual says whether value a of da equals value b of db without
// rules.
func (w *walker) canonEqual(da *doc, a int32, db *doc, b int32) bool {
	na, nb := da.nodes[a], db.nodes[b]
	if na.kind != nb.kind {
		return false
	}
	switch na.kind {
	case kNull, kTrue, kFalse:
		return true
	case kNumber:
		ra, rb := da.src[na.a:na.b], db.src[nb.a:nb.b]
		if bytes.Equal(ra, rb) {
			return true
		}
		var x, y decimal
		x, w.numA = parseDecimal(ra, w.numA[:0])
		y, w.numB = parseDecimal(rb, w.numB[:0])
		return x.equal(&y)
	case kString:
		ra, rb := da.src[na.a:na.b], db.src[nb.a:nb.b]
		if bytes.Equal(ra, rb) {
			return true
		}
		if na.esc {
			w.strA = appendUnescaped(w.strA[:0], ra)
			ra = w.strA
		}
		if nb.esc {
			w.strB = appendUnescaped(w.strB[:0], rb)
			rb = w.strB
		}
		return bytes.Equal(ra, rb)
	case kRaw:
		return bytes.Equal(da.buf[na.a:na.b], db.buf[nb.a:nb.b])
	case kObject:
		if na.b != nb.b {
			return false
		}
		ma, mb := da.members[na.a:na.a+na.b], db.members[nb.a:nb.a+nb.b]
		for i := range ma {
			if !bytes.Equal(ma[i].key, mb[i].key) || !w.canonEqual(da, ma[i].val, db, mb[i].val) {
				return false
			}
		}
		return true
	default:
		if na.b != nb.b {
			return false
		}
		ea, eb := da.elems[na.a:na.a+na.b], db.elems[nb.a:nb.a+nb.b]
		for i := range ea {
			if !w.canonEqual(da, ea[i], db, eb[i]) {
				return false
			}
		}
		return true
	}
}
