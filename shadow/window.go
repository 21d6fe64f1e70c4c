package shadow

import (
	"sync"
	"time"

	"github.com/stranglerfig/strangler/internal/config"
)

// Counts are one route's comparisons over a window.
type Counts struct {
	Compared int64 `json:"compared"` // matched, differing or failed
	Matched  int64 `json:"matched"`
	Diffs    int64 `json:"diffs"`
	Errors   int64 `json:"errors"`  // the target's answer could not be had or compared
	Dropped  int64 `json:"dropped"` // copies not compared (queue full, too large)
}

// The engine keeps each route's recent results in a ring of slots, so that
// the rollout controller can judge a match rate over a sliding window.
const windowSlots = 120

type resultWindow struct {
	width time.Duration

	mu    sync.Mutex
	slots [windowSlots + 1]countSlot
}

type countSlot struct {
	at int64
	c  Counts
}

func (w *resultWindow) add(now time.Time, result string) {
	at := now.UnixNano() / int64(w.width)
	w.mu.Lock()
	s := &w.slots[at%int64(len(w.slots))]
	if s.at != at {
		*s = countSlot{at: at}
	}
	switch result {
	case resultDropped:
		s.c.Dropped++
	case "match":
		s.c.Compared++
		s.c.Matched++
	case "diff":
		s.c.Compared++
		s.c.Diffs++
	default:
		s.c.Compared++
		s.c.Errors++
	}
	w.mu.Unlock()
}

func (w *resultWindow) read(now time.Time, span time.Duration) Counts {
	n := min(int64(span/w.width), windowSlots)
	last := now.UnixNano() / int64(w.width)
	var out Counts
	w.mu.Lock()
	defer w.mu.Unlock()
	for at := last - n + 1; at <= last; at++ {
		s := &w.slots[at%int64(len(w.slots))]
		if s.at != at {
			continue
		}
		out.Compared += s.c.Compared
		out.Matched += s.c.Matched
		out.Diffs += s.c.Diffs
		out.Errors += s.c.Errors
		out.Dropped += s.c.Dropped
	}
	return out
}

// windows holds a resultWindow per route of the project file.
type windows struct {
	longest time.Duration
	routes  map[string]*resultWindow
}

func newWindows(cfg *config.Config) *windows {
	w := &windows{longest: cfg.StatsWindow(), routes: map[string]*resultWindow{}}
	width := max(w.longest/windowSlots, 100*time.Millisecond)
	for _, r := range cfg.Routes {
		w.routes[r.Name] = &resultWindow{width: width}
	}
	return w
}

func (w *windows) add(route, result string) {
	if rw := w.routes[route]; rw != nil {
		rw.add(time.Now(), result)
	}
}

// Window returns the route's comparisons over the last span (at most the
// project file's longest window, see config.Config.StatsWindow); zero
// counts for a route the project file does not define.
func (e *Engine) Window(route string, span time.Duration) Counts {
	rw := e.windows.routes[route]
	if rw == nil {
		return Counts{}
	}
	return rw.read(time.Now(), min(span, e.windows.longest))
}
