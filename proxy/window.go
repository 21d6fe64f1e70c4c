package proxy

import (
	"math"
	"sync"
	"time"
)

// The facade keeps, besides its Prometheus metrics (which only grow), a
// sliding window of every route's recent traffic per backend: requests,
// errors and a latency histogram in slots of one second (or longer for long
// windows). The rollout controller judges its gates on it and the catalog
// its SLOs; both read it through Facade.Stats.

// statsSlots is the number of slots the longest window is cut into, each
// at least minSlotWidth long.
const (
	statsSlots   = 120
	minSlotWidth = 100 * time.Millisecond
)

// Latency buckets: four per doubling from 50us to 52s, the last one open.
// A quantile is read as the bucket's upper bound, so within 19% of the
// truth.
const (
	latencyBuckets  = 80
	latencyBase     = 50 * time.Microsecond
	latencyPerOctet = 4
)

// latencyBucket is the bucket of a duration.
func latencyBucket(d time.Duration) int {
	if d <= latencyBase {
		return 0
	}
	b := int(math.Ceil(math.Log2(float64(d)/float64(latencyBase)) * latencyPerOctet))
	return min(b, latencyBuckets-1)
}

// latencyBound is the upper bound of bucket b.
func latencyBound(b int) time.Duration {
	return time.Duration(float64(latencyBase) * math.Exp2(float64(b)/latencyPerOctet))
}

// BackendStats is one backend's traffic of a route over a window.
type BackendStats struct {
	Requests int64 `json:"requests"` // answered by this backend, plus failed target attempts
	// Errors are 5xx answers and, for the target, attempts that failed and
	// were answered by legacy instead (fallback).
	Errors int64   `json:"errors"`
	RPS    float64 `json:"rps"`        // Requests per second over the window
	P50    float64 `json:"p50_ms"`     // median latency of the answers, in milliseconds; 0 without answers
	P99    float64 `json:"p99_ms"`     // 99th percentile latency, in milliseconds; 0 without answers
	Rate   float64 `json:"error_rate"` // Errors per Requests, in percent; 0 without requests
}

// RouteStats is one route's traffic over a window.
type RouteStats struct {
	Route  string        `json:"route"`
	Window time.Duration `json:"window_ns"`
	Legacy BackendStats  `json:"legacy"`
	New    BackendStats  `json:"new"`
	// Fallbacks are requests legacy answered after the target failed or its
	// breaker refused them.
	Fallbacks int64 `json:"fallbacks"`
}

// window is one backend's ring of slots.
type window struct {
	width time.Duration // of one slot

	mu    sync.Mutex
	slots []statsSlot // nil until the first request
}

type statsSlot struct {
	at       int64 // slot number (time / width) the counts belong to
	n, errs  uint32
	answered uint32 // requests with a latency in hist
	fellBack uint32
	hist     [latencyBuckets]uint32
}

func (w *window) slot(now time.Time) *statsSlot {
	if w.slots == nil {
		w.slots = make([]statsSlot, statsSlots+1)
	}
	at := now.UnixNano() / int64(w.width)
	s := &w.slots[at%int64(len(w.slots))]
	if s.at != at {
		*s = statsSlot{at: at}
	}
	return s
}

// add records one request answered in d (d < 0: no answer, a failed
// attempt only).
func (w *window) add(now time.Time, d time.Duration, failed, fellBack bool) {
	w.mu.Lock()
	s := w.slot(now)
	s.n++
	if failed {
		s.errs++
	}
	if fellBack {
		s.fellBack++
	}
	if d >= 0 {
		s.answered++
		s.hist[latencyBucket(d)]++
	}
	w.mu.Unlock()
}

// read sums the slots of the last span before now into st and returns the
// requests that fell back.
func (w *window) read(now time.Time, span time.Duration) (st BackendStats, fellBack int64) {
	n := min(int64(span/w.width), statsSlots)
	last := now.UnixNano() / int64(w.width)
	var hist [latencyBuckets]int64
	var answered int64
	w.mu.Lock()
	if w.slots != nil {
		for at := last - n + 1; at <= last; at++ {
			s := &w.slots[at%int64(len(w.slots))]
			if s.at != at {
				continue
			}
			st.Requests += int64(s.n)
			st.Errors += int64(s.errs)
			fellBack += int64(s.fellBack)
			answered += int64(s.answered)
			for i, c := range s.hist {
				hist[i] += int64(c)
			}
		}
	}
	w.mu.Unlock()
	if secs := (time.Duration(n) * w.width).Seconds(); secs > 0 {
		st.RPS = float64(st.Requests) / secs
	}
	if st.Requests > 0 {
		st.Rate = 100 * float64(st.Errors) / float64(st.Requests)
	}
	st.P50 = quantileMillis(hist[:], answered, 0.50)
	st.P99 = quantileMillis(hist[:], answered, 0.99)
	return st, fellBack
}

func quantileMillis(hist []int64, total int64, q float64) float64 {
	if total == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for b, c := range hist {
		seen += c
		if seen >= rank {
			return float64(latencyBound(b)) / float64(time.Millisecond)
		}
	}
	return float64(latencyBound(len(hist)-1)) / float64(time.Millisecond)
}

// routeWindows are one route's two rings.
type routeWindows struct {
	legacy, new window
}

func newRouteWindows(longest time.Duration) *routeWindows {
	width := max(longest/statsSlots, minSlotWidth)
	return &routeWindows{legacy: window{width: width}, new: window{width: width}}
}

// record records one finished exchange: the backend that answered, its
// status and time (negative: not counted in latencies), and whether a target attempt failed before legacy
// answered.
func (rw *routeWindows) record(now time.Time, b backend, status int, elapsed time.Duration, targetFailed bool) {
	failed := status >= 500
	if b == backendNew {
		rw.new.add(now, elapsed, failed, false)
		return
	}
	rw.legacy.add(now, elapsed, failed, targetFailed)
	if targetFailed {
		rw.new.add(now, -1, true, false)
	}
}

func (rw *routeWindows) read(name string, now time.Time, span time.Duration) RouteStats {
	rs := RouteStats{Route: name, Window: span}
	rs.Legacy, rs.Fallbacks = rw.legacy.read(now, span)
	rs.New, _ = rw.new.read(now, span)
	return rs
}
