package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// The catalog keys: who owns each route and service, which service answers
// a route, and its service-level objective. The catalog (`strangler
// catalog`, the admin API's GET /catalog) reads them; nothing on the
// request path does.

// SLO is a service-level objective: a share of requests answered without a
// server error and a latency, both judged over a window of recent traffic.
// At least one of the two is set.
type SLO struct {
	// Availability is the least share of requests, in percent, answered
	// without a server error (5xx, or a target failure no fallback
	// covered): above 0 and at most 100 (99.9). Zero: no availability
	// objective.
	Availability float64 `yaml:"availability"`
	// P99 is the longest 99th-percentile latency of the answers ("300ms").
	// Zero: no latency objective.
	P99 Duration `yaml:"p99"`
}

// MaxOwner is the longest owner, in bytes, the catalog accepts.
const MaxOwner = 200

// serviceName is what a catalog service name may hold: the recipe format's
// own rule for its service key, so that a recipe's name is always one.
var serviceName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// validateCatalog checks the catalog keys of routes and services and warns
// about a route naming a service the file does not serve. Validate calls
// it.
func (c *Config) validateCatalog(v *validator) {
	names := map[string]int{}
	for i, s := range c.Services {
		f := fmt.Sprintf("services[%d]", i)
		if s.Name != "" {
			if !serviceName.MatchString(s.Name) {
				v.fail(f+".name", "%q is not a service name (letters, digits, '-' and '_', starting with a letter)", s.Name)
			} else if j, dup := names[s.Name]; dup {
				v.fail(f+".name", "%q is also the name of services[%d]", s.Name, j)
			} else {
				names[s.Name] = i
			}
		}
		v.owner(f+".owner", s.Owner)
		v.slo(f+".slo", s.SLO)
	}
	for i, r := range c.Routes {
		f := fmt.Sprintf("routes[%d]", i)
		v.owner(f+".owner", r.Owner)
		if r.Service != "" && !serviceName.MatchString(r.Service) {
			v.fail(f+".service", "%q is not a service name (letters, digits, '-' and '_', starting with a letter)", r.Service)
		}
		v.slo(f+".slo", r.SLO)
	}
	// A service without a name takes its recipe's, which only the code
	// that reads recipes knows: it checks the routes then (see
	// RouteServiceWarnings).
	if len(c.Services) > 0 && len(names) == len(c.Services) {
		all := make([]string, len(c.Services))
		for i, s := range c.Services {
			all[i] = s.Name
		}
		c.Warnings = append(c.Warnings, c.RouteServiceWarnings(all)...)
	}
}

// RouteServiceWarnings returns a warning, naming the file, line and field,
// for each route whose service is none of names, the names of the
// services (parallel to Services, each a services[].name or its recipe's
// service name). A route may name a service run elsewhere, so this is
// not an error; nothing is said when the file lists no services.
func (c *Config) RouteServiceWarnings(names []string) []string {
	if len(c.Services) == 0 {
		return nil
	}
	var out []string
	for i, r := range c.Routes {
		if r.Service == "" || slices.Contains(names, r.Service) {
			continue
		}
		f := fmt.Sprintf("routes[%d].service", i)
		prefix := c.File
		if line := c.pos.Line(f); line > 0 {
			prefix = fmt.Sprintf("%s:%d", c.File, line)
		}
		out = append(out, fmt.Sprintf("%s: %s: %q is not the name of any of services[] (%s): the catalog lists it as a service run elsewhere",
			prefix, f, r.Service, strings.Join(names, ", ")))
	}
	return out
}

func (v *validator) owner(field, owner string) {
	switch {
	case len(owner) > MaxOwner:
		v.fail(field, "is %d bytes long; at most %d", len(owner), MaxOwner)
	case strings.ContainsFunc(owner, unicode.IsControl):
		v.fail(field, "%q holds a control character", owner)
	}
}

func (v *validator) slo(field string, s *SLO) {
	if s == nil {
		return
	}
	if s.Availability == 0 && s.P99 == 0 {
		v.fail(field, "names no objective: give availability (a percent, 99.9) or p99 (a duration, 300ms), or both")
		return
	}
	if a := s.Availability; math.IsNaN(a) || a < 0 || a > 100 {
		v.fail(field+".availability", "%v is not a percent above 0 and at most 100", a)
	}
}
