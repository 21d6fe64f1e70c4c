// Package proxy is the facade's request path: the route table, matching,
// modes, sticky canaries, breakers and fallback, ingress normalisation,
// metrics and capture. Its control plane (route state stores, the admin API
// and its wire types) is package proxy/control, which drives a Facade
// through Apply; nothing here imports a database driver.
package proxy

// RouteState is the part of a route that changes at run time: its mode and
// canary percent. Everything else comes from the project file.
type RouteState struct {
	Mode    string  `json:"mode"`    // legacy | shadow | canary | new
	Percent float64 `json:"percent"` // canary share, 0-100
	// Hold is the rollout controller's mark on the route, which the facade
	// ignores: "" (the controller may move it), "paused" (by hand),
	// "aborting" (being ramped down after a breach) or "aborted" (rolled
	// back by the controller). See proxy/control's Hold constants.
	Hold string `json:"hold,omitempty"`
}

// State is the run-time state of every route, with the version that every
// change increments (strangler_route_version).
type State struct {
	Version uint64                `json:"version"`
	Routes  map[string]RouteState `json:"routes"`
}

// Clone returns a deep copy of s.
func (s State) Clone() State {
	out := State{Version: s.Version, Routes: make(map[string]RouteState, len(s.Routes))}
	for k, v := range s.Routes {
		out.Routes[k] = v
	}
	return out
}

// Of is the mode and percent route name runs with under s: its run-time
// state, else file (the project file's).
func (s State) Of(name string, file RouteState) RouteState {
	if r, ok := s.Routes[name]; ok {
		return r
	}
	return file
}
