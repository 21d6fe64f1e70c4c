package control

import (
	"time"

	"github.com/stranglerfig/strangler/proxy"
)

// Wire types of the rollout controller, the traffic figures and the live
// dashboard feed: what the admin API writes and the CLI and the dashboard
// read.

// ShadowCounts are one route's shadow comparisons over a window.
type ShadowCounts struct {
	Compared int64 `json:"compared"` // matched, differing or failed
	Matched  int64 `json:"matched"`
	Diffs    int64 `json:"diffs"`
	Errors   int64 `json:"errors"`  // the target's answer could not be had or compared
	Dropped  int64 `json:"dropped"` // copies not compared (queue full, too large)
	// MatchRate is Matched per Compared, in percent; absent without
	// comparisons.
	MatchRate *float64 `json:"match_rate,omitempty"`
}

// RouteStatsView is one route's traffic over a window, as GET /stats and
// the dashboard show it.
type RouteStatsView struct {
	proxy.RouteStats
	Breaker string       `json:"breaker"` // closed | half-open | open
	Shadow  ShadowCounts `json:"shadow"`
}

// StatsResponse is the body of GET /stats?window=1m.
type StatsResponse struct {
	At     time.Time        `json:"at"`
	Window string           `json:"window"` // the span the figures cover ("1m0s")
	Routes []RouteStatsView `json:"routes"`
}

// Rollout statuses: what the controller is doing with a route.
const (
	RolloutWaiting  = "waiting"  // the stage has not lasted a window yet; the gates hold so far
	RolloutThin     = "thin"     // too little traffic in the window to judge: holding
	RolloutHolding  = "holding"  // a gate that does not roll back (breaker half-open, figures unknown) holds the stage
	RolloutAdvance  = "advance"  // every gate held for the window: the next stage is due
	RolloutBreached = "breached" // a gate broke: rolling back
	RolloutAborting = "aborting" // ramping the target's share down after a breach
	RolloutAborted  = "aborted"  // rolled back by the controller; `routes resume` starts again
	RolloutPaused   = "paused"   // paused by hand (`routes pause`, or a manual change)
	RolloutDone     = "done"     // in the last stage; still watched, and rolled back on a breach
)

// Holds: the controller's mark on a route's state (proxy.RouteState.Hold).
const (
	HoldNone     = ""
	HoldPaused   = "paused"   // by hand; the controller leaves the route alone
	HoldAborting = "aborting" // the controller is ramping the route down
	HoldAborted  = "aborted"  // the controller rolled the route back
)

// RolloutWho is the Who of the changes the rollout controller makes.
const RolloutWho = "rollout"

// GateView is one gate of a route's current stage, judged over the window.
type GateView struct {
	Gate string `json:"gate"` // match_rate | error_rate | p99_ratio | breaker | sync_lag | min_requests
	// Value is the figure over the window (percent, ratio, seconds or
	// requests); absent when it could not be had.
	Value *float64 `json:"value,omitempty"`
	// Threshold is the configured limit, in the same unit as Value.
	Threshold float64 `json:"threshold"`
	// OK reports whether the gate holds; a gate that cannot be judged yet
	// (no figures) is not OK and not Broken.
	OK bool `json:"ok"`
	// Broken reports a breach: the route is rolled back.
	Broken bool   `json:"broken,omitempty"`
	Detail string `json:"detail,omitempty"` // in plain words: "412 requests, 3 failed"
}

// RolloutView is one route's rollout, as GET /rollout lists it.
type RolloutView struct {
	Route  string   `json:"route"`
	Stages []string `json:"stages"` // as the project file writes them: shadow, 5%, new
	// Stage is the index of the current stage in Stages, -1 before the
	// first one (the route is in legacy).
	Stage   int        `json:"stage"`
	Status  string     `json:"status"`  // one of the Rollout* statuses
	Message string     `json:"message"` // what the controller is doing and why, in plain words
	Since   time.Time  `json:"since"`   // when the current stage began
	Window  string     `json:"window"`  // the gates' window ("1m0s")
	Abort   string     `json:"abort"`   // instant, or the ramp's length
	Gates   []GateView `json:"gates"`
}

// RolloutResponse is the body of GET /rollout.
type RolloutResponse struct {
	// Leader reports whether this replica's controller is the one acting;
	// the others judge the same gates on their own traffic but change
	// nothing.
	Leader bool          `json:"leader"`
	Routes []RolloutView `json:"routes"`
}

// RolloutRequest is the body of POST /routes/{name}/pause, /resume and
// /promote.
type RolloutRequest struct {
	Reason string `json:"reason,omitempty"` // why, for the audit log
}

// Snapshot is one event of GET /events (server-sent events, event name
// "snapshot"): everything the dashboard's tables show, sent once a second
// and at once after each route change.
type Snapshot struct {
	At      time.Time        `json:"at"`
	Version uint64           `json:"version"` // the route state version
	Routes  []RouteView      `json:"routes"`
	Stats   []RouteStatsView `json:"stats"`  // over StatsWindow
	Window  string           `json:"window"` // the span of Stats
	Rollout *RolloutResponse `json:"rollout,omitempty"`
}
