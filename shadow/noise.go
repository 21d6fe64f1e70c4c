package shadow

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stranglerfig/strangler/shadow/compare"
	"github.com/stranglerfig/strangler/shadow/store"
)

// NoiseThreshold is how many times a path must be seen to differ between
// two answers of legacy to one request before it is silenced: a field that
// is random per answer reaches it at once, a one-off change of the data
// between the two requests does not. A pinned path is silenced at once.
const NoiseThreshold = 2

// noiseRefresh is how often the noise of every route is read back from the
// store, so that what other replicas learned, pinned or cleared is seen.
const noiseRefresh = 5 * time.Second

// noiseCache holds the compiled noise patterns of every route: what the
// store says, plus what this engine learned since it last read it.
type noiseCache struct {
	st  store.Store
	log *slog.Logger

	mu       sync.RWMutex
	counts   map[string]map[string]int64 // route -> path -> times seen (pinned: NoiseThreshold)
	compiled map[string]*compare.Patterns
}

func newNoiseCache(st store.Store, log *slog.Logger) *noiseCache {
	return &noiseCache{st: st, log: log, counts: map[string]map[string]int64{}, compiled: map[string]*compare.Patterns{}}
}

// patterns returns the silenced paths of route, or nil.
func (n *noiseCache) patterns(route string) *compare.Patterns {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.compiled[route]
}

// learned counts one more sighting of path on route.
func (n *noiseCache) learned(route, path string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.counts[route]
	if m == nil {
		m = map[string]int64{}
		n.counts[route] = m
	}
	m[path]++
	if m[path] == NoiseThreshold {
		n.compile(route)
	}
}

// refresh reads every route's noise from the store.
func (n *noiseCache) refresh(ctx context.Context) error {
	all, err := n.st.Noise(ctx, "")
	if err != nil {
		return err
	}
	counts := map[string]map[string]int64{}
	for _, x := range all {
		m := counts[x.Route]
		if m == nil {
			m = map[string]int64{}
			counts[x.Route] = m
		}
		m[x.Path] = x.Count
		if x.Pinned {
			m[x.Path] = max(x.Count, NoiseThreshold)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.counts = counts
	n.compiled = map[string]*compare.Patterns{}
	for route := range counts {
		n.compile(route)
	}
	return nil
}

// compile rebuilds the patterns of route; n.mu is held.
func (n *noiseCache) compile(route string) {
	var paths []string
	for p, c := range n.counts[route] {
		if c >= NoiseThreshold {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		delete(n.compiled, route)
		return
	}
	ps, err := compare.CompilePatterns(paths)
	if err != nil {
		n.log.Warn("learned noise paths do not compile; ignoring them", "route", route, "error", err.Error())
		delete(n.compiled, route)
		return
	}
	n.compiled[route] = ps
}

// run refreshes the cache until ctx is done.
func (n *noiseCache) run(ctx context.Context) {
	t := time.NewTicker(noiseRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.refresh(ctx); err != nil && ctx.Err() == nil {
				n.log.Warn("reading learned noise from the shadow store", "error", err.Error())
			}
		}
	}
}

// compilePath checks one noise path pattern.
func compilePath(p string) (*compare.Patterns, error) { return compare.CompilePatterns([]string{p}) }
