package extract

import (
	"fmt"
	"strings"
)

// Report says what extract mapped and what it did not, and why.
type Report struct {
	Database  string           `json:"database"`
	Tables    []TableReport    `json:"tables"`
	Endpoints []EndpointReport `json:"endpoints"`
	// Unmatched are captured requests no endpoint covers, by method and path.
	Unmatched []string `json:"unmatched,omitempty"`
	Views     []string `json:"views,omitempty"`
	Triggers  []string `json:"triggers,omitempty"`
	Notes     []string `json:"notes,omitempty"`
	Samples   int      `json:"samples"`
}

// TableReport is one legacy table.
type TableReport struct {
	Name    string `json:"name"`
	Columns int    `json:"columns"`
	Served  int    `json:"served"`            // columns served as fields
	Problem string `json:"problem,omitempty"` // why the table is not served
}

// EndpointReport is one endpoint written.
type EndpointReport struct {
	Service string  `json:"service"`
	Method  string  `json:"method"`
	Path    string  `json:"path"`
	Samples int     `json:"samples"`
	Share   float64 `json:"share"` // percent of the captured requests it covers
}

// String is the report as text.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "strangler extract: %s\n\ntables:\n", r.Database)
	for _, t := range r.Tables {
		if t.Problem != "" {
			fmt.Fprintf(&b, "  %-24s not served: %s\n", t.Name, t.Problem)
			continue
		}
		fmt.Fprintf(&b, "  %-24s %d of %d columns served\n", t.Name, t.Served, t.Columns)
	}
	b.WriteString("\nendpoints:\n")
	for _, e := range r.Endpoints {
		if r.Samples > 0 {
			fmt.Fprintf(&b, "  %-7s %-40s %-12s %5d samples (%.1f%%)\n", e.Method, e.Path, e.Service, e.Samples, e.Share)
		} else {
			fmt.Fprintf(&b, "  %-7s %-40s %s (no samples: the reads of the table)\n", e.Method, e.Path, e.Service)
		}
	}
	if len(r.Unmatched) > 0 {
		b.WriteString("\ncaptured requests no endpoint serves:\n")
		for _, u := range r.Unmatched {
			fmt.Fprintf(&b, "  %s\n", u)
		}
	}
	if len(r.Views) > 0 {
		fmt.Fprintf(&b, "\nviews, not carried over: %s\n", strings.Join(r.Views, ", "))
	}
	if len(r.Triggers) > 0 {
		fmt.Fprintf(&b, "triggers, not carried over: %s\n", strings.Join(r.Triggers, ", "))
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	return b.String()
}
