package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/proxy"
	"github.com/stranglerfig/strangler/proxy/control"
	"github.com/stranglerfig/strangler/recipes"
)

func (a *app) catalogCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "catalog [-o json]",
		Short: "Services, their routes, owners, tables and SLO standing",
		Long: `Print the service catalog of a running facade (GET /catalog of its admin API):
each service with its owner, recipe and the tables it depends on (and the sync
pipelines carrying them), the routes it serves with their modes, and each
service-level objective against the traffic of its window (met or missed);
then the routes legacy still answers, and the traffic no route matched.

Routes name their service, owner and slo in the project file (docs/catalog.md).`,
		Args: cobra.NoArgs,
	}
	out := c.Flags().StringP("output", "o", "text", "output format: text or json")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		var resp control.CatalogResponse
		raw, err := a.adminCall(cmd.Context(), http.MethodGet, "/catalog", nil, &resp)
		if err != nil {
			return err
		}
		if *out == "json" {
			_, err = a.stdout.Write(raw)
			return err
		}
		return printCatalog(a.stdout, resp)
	}
	return c
}

// buildCatalog builds the static part of the catalog from the project file
// and the recipes of its services: each service's name (services[].name,
// else its recipe's service), owner and objective, the tables its
// resources use and the sync pipelines that carry them, and the routes of
// each service. A recipe that cannot be read does not stop the facade
// (which serves no recipe): the service is listed with no tables, named
// after its file, and a warning is logged.
func (a *app) buildCatalog(cfg *config.Config) (*control.Catalog, error) {
	services := make([]control.CatalogService, len(cfg.Services))
	names := make([]string, len(cfg.Services))
	fromRecipe := false
	for i, s := range cfg.Services {
		cs := control.CatalogService{Name: s.Name, Owner: s.Owner, Recipe: s.Recipe, Listen: s.Listen, SLO: control.SLOFromConfig(s.SLO)}
		r, err := recipes.Load(cfg.Resolve(s.Recipe))
		switch {
		case err != nil:
			if cs.Name == "" {
				cs.Name = strings.TrimSuffix(filepath.Base(s.Recipe), filepath.Ext(s.Recipe))
				fromRecipe = true
			}
			a.log.Warn(fmt.Sprintf("catalog: services[%d] (%s): its tables are unknown: %v", i, cs.Name, err))
		default:
			if cs.Name == "" {
				cs.Name = r.Service
				fromRecipe = true
			}
			cs.Tables, cs.Sync = serviceTables(cfg, r)
		}
		for j := range i {
			if names[j] == cs.Name {
				return nil, fmt.Errorf("building the catalog: services[%d] and services[%d] are both named %q: give one of them a name", j, i, cs.Name)
			}
		}
		services[i], names[i] = cs, cs.Name
	}
	// The project file checked the routes' services against the names it
	// knew; those taken from the recipes are checked here.
	if fromRecipe {
		for _, w := range cfg.RouteServiceWarnings(names) {
			a.log.Warn("project file: " + w)
		}
	}
	routes := make([]control.CatalogRouteSpec, len(cfg.Routes))
	for i, r := range cfg.Routes {
		spec := control.CatalogRouteSpec{Name: r.Name, Service: r.Service, Owner: r.Owner, Path: r.Match.Path,
			Methods: r.Match.Methods, SLO: control.SLOFromConfig(r.SLO)}
		if r.Match.Prefix != "" {
			spec.Path = r.Match.Prefix + "*"
		}
		if r.Rollout != nil {
			spec.Window = r.Rollout.Window.D()
		}
		routes[i] = spec
	}
	cat, err := control.NewCatalog(services, routes)
	if err != nil {
		return nil, fmt.Errorf("building the catalog: %w", err)
	}
	return cat, nil
}

// serviceTables lists the tables a recipe's resources use (schema.table
// outside the public schema), in resource order, and the sync pipelines
// whose target tables are among them.
func serviceTables(cfg *config.Config, r *recipes.Recipe) ([]string, []control.TableSync) {
	var tables []string
	for _, res := range r.Resources {
		name := res.Table
		if res.Schema != "" && res.Schema != "public" {
			name = res.Schema + "." + res.Table
		}
		if !slices.Contains(tables, name) {
			tables = append(tables, name)
		}
	}
	var synced []control.TableSync
	for _, table := range tables {
		for _, p := range cfg.Sync {
			for _, t := range p.Tables {
				target := t.Target
				if target == "" {
					target = t.Name
				}
				if target == table || target == "public."+table {
					synced = append(synced, control.TableSync{Table: table, Pipeline: p.Name, Source: t.Name})
				}
			}
		}
	}
	return tables, synced
}

// printCatalog writes the catalog as text: a block per service, then the
// routes legacy still answers, then the unmatched traffic.
func printCatalog(w io.Writer, resp control.CatalogResponse) error {
	for i, s := range resp.Services {
		if i > 0 {
			fmt.Fprintln(w)
		}
		name := s.Name
		if name == "" {
			name = "(none)"
		}
		var about []string
		if s.Owner != "" {
			about = append(about, "owner "+s.Owner)
		}
		switch {
		case s.Recipe != "":
			about = append(about, "recipe "+s.Recipe)
		case s.Name != "":
			about = append(about, "run elsewhere")
		default:
			about = append(about, "routes that name no service")
		}
		if s.Listen != "" {
			about = append(about, "listen "+s.Listen)
		}
		fmt.Fprintf(w, "%s (%s)\n", name, strings.Join(about, ", "))
		if s.Recipe != "" {
			fmt.Fprintf(w, "  tables: %s\n", tablesText(s))
		}
		if s.SLO != nil {
			fmt.Fprintf(w, "  slo:    %s over %s: %s\n", sloTarget(s.SLO), s.SLO.Window, s.SLO.Detail)
		}
		if len(s.Routes) == 0 {
			fmt.Fprintln(w, "  no routes")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ROUTE\tMODE\tENDPOINT\tOWNER\tSLO\tMEASURED\tSTANDING")
		for _, r := range s.Routes {
			target, measured, standing := "-", "-", "-"
			if r.SLO != nil {
				target, measured, standing = sloTarget(r.SLO), sloMeasured(r.SLO), sloStanding(r.SLO)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, modeText(proxy.RouteState{Mode: r.Mode, Percent: r.Percent}),
				endpoint(r.Methods, r.Path), dash(r.Owner), target, measured, standing)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(resp.Left) == 0 {
		fmt.Fprintln(w, "legacy still answers: no route (every route is in mode new)")
	} else {
		fmt.Fprintln(w, "legacy still answers:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ROUTE\tSERVICE\tMODE\tLEGACY SHARE\tENDPOINT")
		for _, l := range resp.Left {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%g%%\t%s\n", l.Route, dash(l.Service), modeText(proxy.RouteState{Mode: l.Mode, Percent: 100 - l.Percent}),
				l.Percent, endpoint(l.Methods, l.Path))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	u := resp.Unmatched
	fmt.Fprintf(w, "\nunmatched traffic (legacy answers it), last %s: %d requests, %d errors (%.2f%%), %.2f req/s, p50 %s, p99 %s\n",
		resp.Window, u.Requests, u.Errors, u.Rate, u.RPS, msText(u.P50), msText(u.P99))
	return nil
}

func tablesText(s control.ServiceView) string {
	if len(s.Tables) == 0 {
		return "none known"
	}
	out := make([]string, len(s.Tables))
	for i, t := range s.Tables {
		var by []string
		for _, ts := range s.Sync {
			if ts.Table == t {
				by = append(by, ts.Pipeline)
			}
		}
		out[i] = t
		if len(by) > 0 {
			out[i] += " (sync " + strings.Join(by, ", ") + ")"
		}
	}
	return strings.Join(out, ", ")
}

// sloTarget writes an objective: "99.9%, p99 300ms".
func sloTarget(s *control.SLOStanding) string {
	var parts []string
	if s.Availability > 0 {
		parts = append(parts, fmt.Sprintf("%g%%", s.Availability))
	}
	if s.P99Ms > 0 {
		parts = append(parts, "p99 "+msText(s.P99Ms))
	}
	return strings.Join(parts, ", ")
}

// sloMeasured writes what the window held: "99.95% of 2000, p99 12ms".
func sloMeasured(s *control.SLOStanding) string {
	if s.Requests == 0 {
		return "no requests in " + s.Window
	}
	var parts []string
	if a := s.MeasuredAvailability; a != nil {
		// Cut, not rounded: 99.9996% is not the 100% it would round to.
		parts = append(parts, fmt.Sprintf("%s%% of %d", strconv.FormatFloat(math.Floor(*a*1000)/1000, 'f', -1, 64), s.Requests))
	}
	if p := s.MeasuredP99Ms; p != nil {
		parts = append(parts, "p99 "+msText(*p))
	}
	return strings.Join(parts, ", ") + " in " + s.Window
}

func sloStanding(s *control.SLOStanding) string {
	switch {
	case s.Met == nil:
		return "-"
	case *s.Met:
		return "met"
	}
	return "MISSED"
}

// msText writes milliseconds as a duration: "300ms", "1.19ms", "59µs".
func msText(ms float64) string {
	if ms == 0 {
		return "-"
	}
	d := config.Duration(ms * 1e6)
	return d.D().Round(d.D() / 100).String()
}

func endpoint(methods []string, path string) string {
	if path == "" {
		return "-"
	}
	if len(methods) == 0 {
		return path
	}
	return strings.Join(methods, ",") + " " + path
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
