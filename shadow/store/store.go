// Package store keeps the results of shadow comparisons: counters per route
// and per differing path, learned noise, and a bounded number of example
// records (diffs and errors) for reports and replay. Two implementations: a
// local file store (one facade) and a PostgreSQL store that several facade
// replicas share, so that they report together.
//
// Everything a store keeps is already redacted by the caller (the engine
// stores proxy.ShadowCopy.Redacted(), never the copy it sent).
package store

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Result is the outcome of one comparison.
type Result string

// The results a comparison can have, as in
// strangler_shadow_comparisons_total{result}. Dropped copies are counted
// through Store.Dropped, never recorded.
const (
	ResultMatch Result = "match" // the two answers are equal under the route's rules
	ResultDiff  Result = "diff"  // at least one path differs
	ResultError Result = "error" // no comparison: a side failed to answer (timeout, refused, breaker open, body over the limit)
)

// Sides of a comparison.
const (
	SideLegacy = "legacy"
	SideNew    = "new"
)

// ErrNotFound is returned by Get for an id the store does not hold (never
// stored, or gone by retention).
var ErrNotFound = errors.New("no such shadow record")

// Record is one comparison, as stored: the redacted request and both
// redacted answers. Records of results ResultDiff and ResultError are kept as examples
// (bounded by Retention); a Match is only counted.
type Record struct {
	ID        string    `json:"id"`         // unique; set by the engine (random, URL-safe)
	Route     string    `json:"route"`      // the route's name
	At        time.Time `json:"at"`         // when the client's request arrived
	RequestID string    `json:"request_id"` // X-Request-Id of the client's request
	Result    Result    `json:"result"`
	Primary   string    `json:"primary"` // the side that answered the client: SideLegacy or SideNew
	Request   Request   `json:"request"`
	Legacy    *Answer   `json:"legacy,omitempty"`     // nil: legacy gave no answer (ResultError)
	New       *Answer   `json:"new,omitempty"`        // nil: the new service gave no answer (ResultError)
	Diffs     []Diff    `json:"diffs,omitempty"`      // ResultDiff: every differing path
	More      int       `json:"more_diffs,omitempty"` // differing paths beyond those listed
	Error     string    `json:"error,omitempty"`      // ResultError: why
	Noise     []string  `json:"noise,omitempty"`      // learned-noise paths that differed and were silenced
}

// Request is the request as both sides received it (redacted).
type Request struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`             // the path legacy received
	Target string      `json:"target,omitempty"` // the path the new service received, when rewritten
	Query  string      `json:"query,omitempty"`
	Header http.Header `json:"header,omitempty"`
	Body   Body        `json:"body,omitzero"`
}

// Answer is one side's answer (redacted).
type Answer struct {
	Status     int         `json:"status"`
	Header     http.Header `json:"header,omitempty"`
	Body       Body        `json:"body,omitzero"`
	DurationMS float64     `json:"duration_ms"`
}

// Body is a request or response body: Text when it is valid UTF-8,
// otherwise Base64. Truncated says the body was longer than what is kept.
type Body struct {
	Text      string `json:"text,omitempty"`
	Base64    string `json:"base64,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
}

// Diff is one differing path, with both values as JSON text (or a text or
// hash excerpt for non-JSON bodies), each at most a few hundred bytes.
type Diff struct {
	Path   string `json:"path"`   // e.g. $.data.items[3].price, header:Content-Type, status, body
	Kind   string `json:"kind"`   // changed, type, missing, added, invalid, text, binary, status, header
	Legacy string `json:"legacy"` // legacy's value; "" when missing there
	New    string `json:"new"`    // the new service's value; "" when missing there
}

// Retention bounds the example records a store keeps: at most Max records
// and none older than Age. Counters and noise are not bounded by it. A
// record older than Age is never returned; the file store lets its records
// grow a quarter over Max (and over Age) before it rewrites its file.
type Retention struct {
	Max int           // default 100000
	Age time.Duration // default 168h
}

// Defaults of Retention.
const (
	DefaultMax = 100000
	DefaultAge = 168 * time.Hour
)

// Store keeps comparison results. Its methods are safe for concurrent use.
// Add and Dropped buffer and must not wait on I/O for long: they are called
// from the engine's workers; Flush makes everything added visible to
// Report and Get (of this and, for a shared store, every other replica).
type Store interface {
	// Add counts one comparison under its route and result, counts each
	// differing path in its generalised form (array indexes as [*], keyed
	// set elements as [*]: see the caller's paths), and keeps r as an
	// example when its result is ResultDiff or ResultError.
	Add(ctx context.Context, r *Record) error
	// Dropped counts n copies of route that were not compared, by reason
	// (queue_full, queue_bytes, too_large, unsafe_method, closing, ...).
	Dropped(ctx context.Context, route, reason string, n int64) error
	// Report returns one RouteReport per route with any count, sorted by
	// route name; route "" means every route, otherwise only that one (an
	// empty slice when it has no count).
	Report(ctx context.Context, route string, opt ReportOptions) ([]RouteReport, error)
	// Get returns a kept record, or ErrNotFound.
	Get(ctx context.Context, id string) (*Record, error)

	// Noise returns the noise paths of route (every route for ""), sorted
	// by route then path.
	Noise(ctx context.Context, route string) ([]Noise, error)
	// LearnNoise records that path of route differed between two answers of
	// legacy to the same request, n times more.
	LearnNoise(ctx context.Context, route, path string, n int64) error
	// PinNoise marks path as noise of route for good: ClearNoise without a
	// path leaves it; it is created when it was not learned.
	PinNoise(ctx context.Context, route, path string) error
	// ClearNoise forgets path of route (pinned or not); with path "" it
	// forgets every learned, unpinned path of route.
	ClearNoise(ctx context.Context, route, path string) error

	// Flush writes what is buffered.
	Flush(ctx context.Context) error
	// Close flushes and releases the store.
	Close() error
}

// ReportOptions shape a report.
type ReportOptions struct {
	TopPaths int // differing paths listed per route, most frequent first; default 10
	Examples int // example record ids per path, newest first; default 3, also the most a store keeps
}

// RouteReport is what a store knows of one route.
type RouteReport struct {
	Route string `json:"route"`
	// Compared is Matched + Differed + Errors.
	Compared int64 `json:"compared"`
	Matched  int64 `json:"matched"`
	Differed int64 `json:"differed"`
	Errors   int64 `json:"errors"`
	Dropped  int64 `json:"dropped"`
	// MatchRate is 100 * Matched / Compared, or 0 when nothing was compared.
	MatchRate float64          `json:"match_rate"`
	Drops     map[string]int64 `json:"drops,omitempty"` // Dropped by reason
	Paths     []PathStat       `json:"paths,omitempty"` // top differing paths
	Noise     []Noise          `json:"noise,omitempty"` // the route's noise paths
	// RecentErrors are the newest kept ResultError records' messages.
	RecentErrors []ErrorExample `json:"recent_errors,omitempty"`
	First        time.Time      `json:"first,omitzero"` // the first count
	Last         time.Time      `json:"last,omitzero"`  // the latest count
}

// PathStat is one differing path of a route.
type PathStat struct {
	Path     string    `json:"path"`  // generalised: $.items[*].price
	Count    int64     `json:"count"` // comparisons in which it differed
	Examples []Example `json:"examples,omitempty"`
}

// Example is a kept record in which a path differed, with both values.
type Example struct {
	ID     string `json:"id"`
	Path   string `json:"path"` // the concrete path: $.items[3].price
	Legacy string `json:"legacy"`
	New    string `json:"new"`
}

// ErrorExample is a kept ResultError record.
type ErrorExample struct {
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	Error string    `json:"error"`
}

// Noise is a path whose values differ between two answers of legacy to the
// same request: silenced in comparisons of its route.
type Noise struct {
	Route  string    `json:"route"`
	Path   string    `json:"path"`
	Count  int64     `json:"count"`  // times it was seen to differ between legacy's answers
	Pinned bool      `json:"pinned"` // kept by ClearNoise without a path
	Since  time.Time `json:"since"`
}
