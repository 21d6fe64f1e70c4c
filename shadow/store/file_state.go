package store

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// stateVersion is the version of state.json this build writes and reads.
const stateVersion = 1

// maxRoutePaths bounds the distinct paths a file store counts per route
// (state.json is rewritten whole): answers keyed by data (ids as object
// keys) would otherwise grow it without end. Further paths are counted
// under otherPaths.
const maxRoutePaths = 1000

// otherPaths counts a route's differing paths beyond maxRoutePaths.
const otherPaths = "(other paths)"

// fileState is the content of state.json: everything but the records.
type fileState struct {
	Version int                              `json:"version"`
	Routes  map[string]*routeState           `json:"routes"`
	Noise   map[string]map[string]*noiseItem `json:"noise,omitempty"` // route -> path
}

// routeState is what the file store knows of one route.
type routeState struct {
	Matched  int64                 `json:"matched,omitempty"`
	Differed int64                 `json:"differed,omitempty"`
	Errors   int64                 `json:"errors,omitempty"`
	Drops    map[string]int64      `json:"drops,omitempty"`
	Paths    map[string]*pathState `json:"paths,omitempty"`
	Recent   []ErrorExample        `json:"recent_errors,omitempty"` // newest first, at most keptErrors
	First    time.Time             `json:"first,omitzero"`
	Last     time.Time             `json:"last,omitzero"`
}

// pathState counts one generalised path of a route.
type pathState struct {
	N        int64       `json:"n"`
	Examples []exampleAt `json:"examples,omitempty"` // newest first, at most keptExamples
}

// exampleAt is an example with the time of its record, for expiry.
type exampleAt struct {
	Example
	At time.Time `json:"at"`
}

// noiseItem is one noise path of a route.
type noiseItem struct {
	Count  int64     `json:"count"`
	Pinned bool      `json:"pinned,omitempty"`
	Since  time.Time `json:"since"`
}

func newFileState() *fileState {
	return &fileState{Version: stateVersion, Routes: map[string]*routeState{}, Noise: map[string]map[string]*noiseItem{}}
}

// parseState decodes state.json.
func parseState(data []byte) (*fileState, error) {
	st := newFileState()
	if err := json.Unmarshal(data, st); err != nil {
		return nil, err
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("version %d, this build reads version %d", st.Version, stateVersion)
	}
	if st.Routes == nil {
		st.Routes = map[string]*routeState{}
	}
	if st.Noise == nil {
		st.Noise = map[string]map[string]*noiseItem{}
	}
	for name, rs := range st.Routes {
		if rs == nil {
			delete(st.Routes, name)
		}
	}
	return st, nil
}

// route returns the state of name, created when absent.
func (st *fileState) route(name string) *routeState {
	rs := st.Routes[name]
	if rs == nil {
		rs = &routeState{}
		st.Routes[name] = rs
	}
	return rs
}

// touch widens the route's first and last times to at.
func (rs *routeState) touch(at time.Time) {
	if rs.First.IsZero() || at.Before(rs.First) {
		rs.First = at
	}
	if at.After(rs.Last) {
		rs.Last = at
	}
}

// path returns the counter of p, created when absent; beyond
// maxRoutePaths, new paths share otherPaths. overflow reports that.
func (rs *routeState) path(p string) (ps *pathState, overflow bool) {
	if ps = rs.Paths[p]; ps != nil {
		return ps, false
	}
	if rs.Paths == nil {
		rs.Paths = map[string]*pathState{}
	}
	if len(rs.Paths) >= maxRoutePaths {
		p, overflow = otherPaths, true
		if ps = rs.Paths[p]; ps != nil {
			return ps, true
		}
	}
	ps = &pathState{}
	rs.Paths[p] = ps
	return ps, overflow
}

// addExample keeps ex when it is among the newest keptExamples.
func (ps *pathState) addExample(ex exampleAt) {
	ps.Examples = insertNewest(ps.Examples, ex, keptExamples, func(e exampleAt) time.Time { return e.At })
}

// addError keeps e when it is among the newest keptErrors.
func (rs *routeState) addError(e ErrorExample) {
	rs.Recent = insertNewest(rs.Recent, e, keptErrors, func(e ErrorExample) time.Time { return e.At })
}

// insertNewest inserts x into s (newest first) and cuts s to n.
func insertNewest[T any](s []T, x T, n int, at func(T) time.Time) []T {
	i, _ := slices.BinarySearchFunc(s, at(x), func(e T, t time.Time) int { return t.Compare(at(e)) })
	if i >= n {
		return s
	}
	s = slices.Insert(s, i, x)
	if len(s) > n {
		s = s[:n]
	}
	return s
}

// prune drops the examples and errors whose record keep says is gone.
func (st *fileState) prune(keep func(id string) bool) {
	for _, rs := range st.Routes {
		for _, ps := range rs.Paths {
			ps.Examples = slices.DeleteFunc(ps.Examples, func(e exampleAt) bool { return !keep(e.ID) })
		}
		rs.Recent = slices.DeleteFunc(rs.Recent, func(e ErrorExample) bool { return !keep(e.ID) })
	}
}

// report builds the report of one route; visible says whether a record
// can still be read (held and not expired).
func (rs *routeState) report(name string, top, examples int, noise []Noise, visible func(id string, at time.Time) bool) RouteReport {
	rep := RouteReport{
		Route: name, Matched: rs.Matched, Differed: rs.Differed, Errors: rs.Errors,
		First: rs.First, Last: rs.Last, Noise: noise,
	}
	rep.Compared = rep.Matched + rep.Differed + rep.Errors
	rep.MatchRate = matchRate(rep.Matched, rep.Compared)
	if len(rs.Drops) > 0 {
		rep.Drops = maps.Clone(rs.Drops)
		for _, n := range rs.Drops {
			rep.Dropped += n
		}
	}
	paths := make([]PathStat, 0, len(rs.Paths))
	for p, ps := range rs.Paths {
		paths = append(paths, PathStat{Path: p, Count: ps.N})
	}
	slices.SortFunc(paths, func(a, b PathStat) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Path, b.Path))
	})
	if len(paths) > top {
		paths = paths[:top]
	}
	for i := range paths {
		for _, ex := range rs.Paths[paths[i].Path].Examples {
			if len(paths[i].Examples) == examples {
				break
			}
			if visible(ex.ID, ex.At) {
				paths[i].Examples = append(paths[i].Examples, ex.Example)
			}
		}
	}
	if len(paths) > 0 {
		rep.Paths = paths
	}
	for _, e := range rs.Recent {
		if visible(e.ID, e.At) {
			rep.RecentErrors = append(rep.RecentErrors, e)
		}
	}
	return rep
}

// noiseOf lists the noise of route ("" for every route), sorted by route
// then path.
func (st *fileState) noiseOf(route string) []Noise {
	out := []Noise{}
	for r := range st.Noise {
		if route == "" || r == route {
			out = st.appendNoise(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Noise) int { return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Path, b.Path)) })
	return out
}

// routeNoise lists the noise of the route named route, sorted by path, or
// nil.
func (st *fileState) routeNoise(route string) []Noise {
	out := st.appendNoise(nil, route)
	slices.SortFunc(out, func(a, b Noise) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

func (st *fileState) appendNoise(out []Noise, route string) []Noise {
	for p, n := range st.Noise[route] {
		out = append(out, Noise{Route: route, Path: p, Count: n.Count, Pinned: n.Pinned, Since: n.Since})
	}
	return out
}

// noiseItem returns the noise entry of route and path, created (at now)
// when absent.
func (st *fileState) noiseItem(route, path string, now time.Time) *noiseItem {
	paths := st.Noise[route]
	if paths == nil {
		paths = map[string]*noiseItem{}
		st.Noise[route] = paths
	}
	n := paths[path]
	if n == nil {
		n = &noiseItem{Since: now}
		paths[path] = n
	}
	return n
}

// clearNoise forgets path of route, or every unpinned path for "".
func (st *fileState) clearNoise(route, path string) {
	paths := st.Noise[route]
	if path != "" {
		delete(paths, path)
	} else {
		maps.DeleteFunc(paths, func(_ string, n *noiseItem) bool { return !n.Pinned })
	}
	if len(paths) == 0 {
		delete(st.Noise, route)
	}
}
