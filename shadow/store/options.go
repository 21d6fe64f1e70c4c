package store

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Option configures a FileStore or a PostgresStore.
type Option func(*options)

// options are the settings both stores share.
type options struct {
	log *slog.Logger
	now func() time.Time // the clock: record expiry, noise times, retention timing
}

// WithLogger sets the store's logger (flush failures, skipped lines,
// dropped bodies). Default slog.Default(); nil keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

func buildOptions(opts []Option) options {
	o := options{log: slog.Default(), now: time.Now}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// flushInterval is how often a store's background flusher writes what
// Add and Dropped buffered.
const flushInterval = 500 * time.Millisecond

// Bounds of what a store holds in memory before it is written. Beyond
// them a comparison is still counted, but its record (the body kept as an
// example) is dropped and the drop logged.
const (
	maxHeldRecords = 10000
	maxHeldBytes   = 128 << 20
)

// Examples and errors a store keeps per path and per route for reports.
const (
	keptExamples = 3 // example records per differing path, newest first
	keptErrors   = 5 // ResultError records listed per route, newest first
)

// Report defaults.
const (
	defaultTopPaths = 10
	defaultExamples = keptExamples
)

// errClosed is returned by a store's methods after Close.
var errClosed = errors.New("shadow store: closed")

// withDefaults returns r with zero fields set to their defaults, or an
// error naming a negative field.
func (r Retention) withDefaults() (Retention, error) {
	if r.Max < 0 {
		return r, fmt.Errorf("shadow store: retention.max %d: must not be negative (0 means %d)", r.Max, DefaultMax)
	}
	if r.Age < 0 {
		return r, fmt.Errorf("shadow store: retention.age %s: must not be negative (0 means %s)", r.Age, DefaultAge)
	}
	if r.Max == 0 {
		r.Max = DefaultMax
	}
	if r.Age == 0 {
		r.Age = DefaultAge
	}
	return r, nil
}

// limits returns the report's path and example limits, defaults applied.
// Examples cannot exceed what a store keeps per path.
func (o ReportOptions) limits() (top, examples int) {
	top, examples = o.TopPaths, o.Examples
	if top <= 0 {
		top = defaultTopPaths
	}
	if examples <= 0 {
		examples = defaultExamples
	}
	return top, min(examples, keptExamples)
}

// checkRecord refuses a record a store cannot count or keep.
func checkRecord(r *Record) error {
	if r == nil {
		return errors.New("shadow store: adding a record: nil")
	}
	switch r.Result {
	case ResultMatch:
	case ResultDiff, ResultError:
		if r.ID == "" {
			return fmt.Errorf("shadow store: adding a %s record of route %q: it has no id", r.Result, r.Route)
		}
	default:
		return fmt.Errorf("shadow store: adding record %s of route %q: unknown result %q", r.ID, r.Route, r.Result)
	}
	return nil
}

// checkDropped refuses a negative drop count.
func checkDropped(route, reason string, n int64) error {
	if n < 0 {
		return fmt.Errorf("shadow store: counting drops of route %q (%s): negative count %d", route, reason, n)
	}
	return nil
}

// maxNoisePath bounds a noise path (a PostgreSQL btree entry must stay
// under 2,700 bytes).
const maxNoisePath = 2048

// checkNoise refuses a noise path a store cannot keep, and a negative
// count.
func checkNoise(route, path string, n int64) error {
	switch {
	case path == "":
		return fmt.Errorf("shadow store: noise of route %q: no path given", route)
	case len(path) > maxNoisePath:
		return fmt.Errorf("shadow store: noise of route %q: the path is %d bytes long, over the %d kept", route, len(path), maxNoisePath)
	case n < 0:
		return fmt.Errorf("shadow store: noise %s of route %q: negative count %d", path, route, n)
	}
	return nil
}

// matchRate is 100 * matched / compared, or 0.
func matchRate(matched, compared int64) float64 {
	if compared == 0 {
		return 0
	}
	return 100 * float64(matched) / float64(compared)
}

// countAt is the time a record counts at: when its request arrived, or
// now when the record has no time.
func countAt(r *Record, now time.Time) time.Time {
	if r.At.IsZero() {
		return now
	}
	return r.At
}

// logEvery limits how often a repeated failure is logged.
const logEvery = 30 * time.Second

// failureLog logs the first of a run of failures, then one every logEvery,
// and the recovery. Its owner serialises the calls.
type failureLog struct {
	failing bool
	last    time.Time
	count   int
}

func (f *failureLog) failed(log *slog.Logger, now time.Time, msg string, args ...any) {
	f.count++
	if f.failing && now.Sub(f.last) < logEvery {
		return
	}
	f.failing, f.last = true, now
	log.Warn(msg, append(args, "failures", f.count)...)
}

func (f *failureLog) ok(log *slog.Logger, msg string) {
	if f.failing {
		log.Info(msg, "failures", f.count)
	}
	*f = failureLog{}
}
