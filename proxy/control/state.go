package control

import (
	"context"
	"errors"
	"time"

	"github.com/stranglerfig/strangler/proxy"
)

// Change asks for one or more routes to move. A rollback is a Change of the
// routes (or All) to mode legacy.
type Change struct {
	Routes []string `json:"routes"`         // the routes changed; empty with All
	All    bool     `json:"all,omitempty"`  // every route
	Mode   string   `json:"mode,omitempty"` // the new mode; empty with Reset
	// Reset drops the routes' run-time overrides: they run with the
	// project file's mode and percent again.
	Reset   bool     `json:"reset,omitempty"`
	Percent *float64 `json:"percent,omitempty"` // the new percent; nil keeps it
	// Hold, when set, is the rollout controller's mark the routes get
	// (see the Hold constants); with no Mode the routes keep their mode and
	// percent. Nil: a change by hand (Who is not RolloutWho) of a route with
	// a rollout pauses its controller; others keep no mark. Not on the wire:
	// the admin API sets it for pause, resume and promote.
	Hold   *string `json:"-"`
	Reason string  `json:"reason,omitempty"` // why, for the audit log
	Who    string  `json:"who,omitempty"`    // the token's name; set by the admin API
	// ExpectVersion, when non-zero, refuses the change (ErrVersionMismatch)
	// unless the state is at exactly this version.
	ExpectVersion uint64 `json:"expect_version,omitempty"`
}

// HistoryEntry is one line of the audit log: one route moved by one change.
type HistoryEntry struct {
	At      time.Time        `json:"at"`
	Version uint64           `json:"version"` // the state version the change produced
	Route   string           `json:"route"`
	From    proxy.RouteState `json:"from"`
	To      proxy.RouteState `json:"to"`
	Reason  string           `json:"reason,omitempty"`
	Who     string           `json:"who,omitempty"`
	// Reset marks the entry of a reset: To is the project file's mode, and
	// the route has no override from then on.
	Reset bool `json:"reset,omitempty"`
}

// ErrVersionMismatch refuses a change whose ExpectVersion is stale.
var ErrVersionMismatch = errors.New("route state version mismatch")

// Store keeps route state across restarts and, for several replicas, shares
// it between them. Implementations: a JSON file written atomically, and a
// PostgreSQL table announced with LISTEN/NOTIFY.
type Store interface {
	// Load returns the stored state; a store that holds nothing yet returns
	// the zero State (Version 0, no routes) and no error.
	Load(ctx context.Context) (proxy.State, error)
	// Apply validates nothing itself: it stores next, which must be at
	// version prev+1, and the history entries of the change, atomically.
	// It returns ErrVersionMismatch when the stored version is not prev.
	Apply(ctx context.Context, prev uint64, next proxy.State, entries []HistoryEntry) error
	// History returns the audit log, oldest first.
	History(ctx context.Context) ([]HistoryEntry, error)
	// Watch calls fn with the stored state whenever another writer (another
	// replica, another process) changes it, and once after each reconnect,
	// until ctx is done. It returns ctx.Err() or a fatal error.
	Watch(ctx context.Context, fn func(proxy.State)) error
	// Close releases the store.
	Close() error
}
