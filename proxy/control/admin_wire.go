package control

import (
	"fmt"
	"time"

	"github.com/stranglerfig/strangler/internal/wire"
	"github.com/stranglerfig/strangler/proxy"
)

// The admin API's wire types: what the server writes and its clients (the
// CLI) read. Both sides use these and nothing else.

// AdminService is the service name GET /version answers with; a client
// checks it before it sends its token.
const AdminService = "strangler-admin"

// AdminAPIVersion is the version of the admin API's wire format. It grows
// only when a change would break a client of the previous one.
const AdminAPIVersion = 1

// VersionResponse is the body of GET /version, answered without a token.
type VersionResponse struct {
	Service string `json:"service"` // always AdminService
	API     int    `json:"api"`     // AdminAPIVersion
	Version string `json:"version"` // the strangler build: module version, "(devel)" for a source build
}

// CheckIdentity reports whether v identifies a strangler admin API that
// speaks AdminAPIVersion, and what it is otherwise.
func (v VersionResponse) CheckIdentity() error {
	if v.Service != AdminService {
		return fmt.Errorf("service is %q, not %q", v.Service, AdminService)
	}
	if v.API != AdminAPIVersion {
		return fmt.Errorf("it speaks admin API version %d, this client speaks %d", v.API, AdminAPIVersion)
	}
	return nil
}

// RouteView is one route as the admin API lists it: as the facade runs it,
// and where its mode comes from.
type RouteView struct {
	proxy.RouteInfo
	// Source is SourceFile when the route runs with the project file's mode
	// and percent, SourceOverride when a run-time change set them; an
	// override outlives restarts and edits of the file until
	// `strangler routes reset`.
	Source string `json:"source"`
	// File is the project file's mode and percent of the route.
	File proxy.RouteState `json:"file"`
	// Override is the change that set the override (absent for the file).
	Override *OverrideView `json:"override,omitempty"`
	// Hold is the rollout controller's mark on the route: paused,
	// aborting or aborted; absent when the controller may move it or the
	// route has no rollout.
	Hold string `json:"hold,omitempty"`
}

// Sources of a route's mode.
const (
	SourceFile     = "file"
	SourceOverride = "override"
)

// OverrideView is the change that set a route's override.
type OverrideView struct {
	At      time.Time `json:"at"`
	Version uint64    `json:"version"`
	Who     string    `json:"who,omitempty"`
	Reason  string    `json:"reason,omitempty"`
}

// RoutesResponse is the body of GET /routes and of a successful change.
type RoutesResponse struct {
	Version uint64      `json:"version"`           // the route state version
	Changed *int        `json:"changed,omitempty"` // routes moved by the change (changes only)
	Routes  []RouteView `json:"routes"`
}

// HistoryResponse is the body of GET /history.
type HistoryResponse struct {
	History []HistoryEntry `json:"history"`
}

// RouteChangeRequest is the body of POST /routes/{name}.
type RouteChangeRequest struct {
	Mode          *string  `json:"mode"`                     // required: legacy | shadow | canary | new
	Percent       *float64 `json:"percent,omitempty"`        // canary share 0-100; absent keeps it
	Reason        string   `json:"reason,omitempty"`         // why, for the audit log
	ExpectVersion *uint64  `json:"expect_version,omitempty"` // refuse unless the state is at this version
}

// ResetRequest is the body of POST /reset: the routes whose run-time
// overrides are dropped, so that they run with the project file's modes.
type ResetRequest struct {
	Routes        []string `json:"routes,omitempty"`
	All           bool     `json:"all,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	ExpectVersion *uint64  `json:"expect_version,omitempty"`
}

// RollbackRequest is the body of POST /rollback.
type RollbackRequest struct {
	Routes        []string `json:"routes,omitempty"`         // the routes to send back to legacy
	All           bool     `json:"all,omitempty"`            // or every route
	Reason        string   `json:"reason,omitempty"`         // why, for the audit log
	ExpectVersion *uint64  `json:"expect_version,omitempty"` // refuse unless the state is at this version
}

// ProblemContentType is the media type of every refusal.
const ProblemContentType = wire.ProblemContentType

// FieldProblem names one invalid field of a request.
type FieldProblem = wire.FieldProblem

// Problem is the body of every refused request: RFC 9457 problem details,
// the same shape the recipe runtime answers with, the fields at fault
// listed in errors.
type Problem = wire.Problem
