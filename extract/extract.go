package extract

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stranglerfig/strangler/recipes"
	"github.com/stranglerfig/strangler/sync"
)

// Options are what extract is asked to do.
type Options struct {
	Database string   // the legacy database (schema) name
	Tables   []string // the tables to extract; empty: every base table
	// Samples are captured requests and answers of legacy (redacted).
	Samples []capture.Record
	// RoutePrefix is the path prefix of the legacy API ("/api"): the
	// recipes' base_path, and the prefix of the routes written.
	RoutePrefix string
	// Listen is the address the first recipe is served on in the fragment
	// (default 127.0.0.1:9100; each further recipe the next port).
	Listen string
	// Policies are sync's mapping policies (zero: sync's defaults).
	Policies sync.Policies
}

// Result is everything extract writes, by file name, and its report.
type Result struct {
	Files  map[string][]byte
	Report Report
}

// Extract reads the legacy schema and the samples and writes the recipes,
// the DDL, the project-file fragment and the report.
func Extract(ctx context.Context, db *sql.DB, o Options) (*Result, error) {
	s, err := ReadSchema(ctx, db, o.Database, o.Tables, o.Policies)
	if err != nil {
		return nil, err
	}
	return Build(s, o)
}

// Build writes the files of a schema already read; it does no I/O, so two
// runs on the same input give byte-identical files.
func Build(s *Schema, o Options) (*Result, error) {
	rep := Report{Database: s.Database, Views: s.Views, Triggers: s.Triggers}
	res := map[string]*recipes.Resource{}
	comments := map[string]map[int]string{}
	var mapped []*Table
	for i := range s.Tables {
		t := &s.Tables[i]
		tr := TableReport{Name: t.Name}
		if t.Map == nil {
			tr.Problem = t.Problem
			rep.Tables = append(rep.Tables, tr)
			continue
		}
		r, cm, notes := resourceOf(t)
		rep.Notes = append(rep.Notes, notes...)
		if r.Key == "" {
			tr.Problem = strings.TrimPrefix(notes[0], t.Name+": ")
			rep.Tables = append(rep.Tables, tr)
			continue
		}
		tr.Columns, tr.Served = len(t.Map.Columns), len(r.Fields)
		rep.Tables = append(rep.Tables, tr)
		res[t.Name] = &r
		comments[t.Name] = cm
		mapped = append(mapped, t)
	}
	links, notes := relations(mapped, res)
	rep.Notes = append(rep.Notes, notes...)
	var names []string
	for _, t := range mapped {
		names = append(names, t.Name)
	}
	byName := map[string]*Table{}
	for _, t := range mapped {
		byName[t.Name] = t
	}

	var gs []*Group
	for _, g := range groups(names, links) {
		grp := &Group{Service: resourceName(g[0]), Tables: g, Comments: map[string]string{}, Noise: map[string][]string{}}
		rc := &recipes.Recipe{Service: grp.Service, Title: "Legacy " + strings.Join(g, ", "), Version: "1.0.0", BasePath: o.RoutePrefix}
		for i, name := range g {
			rc.Resources = append(rc.Resources, *res[name])
			for fi, c := range comments[name] {
				grp.Comments[fmt.Sprintf("resources[%d].fields[%d]", i, fi)] = c
			}
		}
		grp.Recipe = rc
		gs = append(gs, grp)
	}
	used := applySamples(gs, byName, o.Samples, o.RoutePrefix, &rep)
	for _, grp := range gs {
		if used[grp.Service] {
			continue
		}
		for i := range grp.Recipe.Resources {
			r := &grp.Recipe.Resources[i]
			grp.Recipe.Endpoints = append(grp.Recipe.Endpoints, defaultEndpoints(byName[r.Table], r)...)
		}
	}

	out := &Result{Files: map[string][]byte{}}
	for _, grp := range gs {
		b, err := recipes.EncodeWith(grp.Recipe, recipes.EncodeOptions{Header: header(grp), Comments: grp.Comments})
		if err != nil {
			return nil, fmt.Errorf("writing the recipe of %s: %w", grp.Service, err)
		}
		if _, err := recipes.Parse(grp.Service+".yaml", b); err != nil {
			return nil, fmt.Errorf("the recipe written for %s does not load: %w", grp.Service, err)
		}
		out.Files[grp.Service+".yaml"] = b
		if !used[grp.Service] {
			for _, e := range grp.Recipe.Endpoints {
				rep.Endpoints = append(rep.Endpoints, EndpointReport{Service: grp.Service, Method: e.Method, Path: o.RoutePrefix + e.Path})
			}
		}
	}
	ddl, ddlNotes := DDL(s)
	rep.Notes = append(rep.Notes, ddlNotes...)
	out.Files["schema.sql"] = []byte(ddl)
	out.Files["strangler.fragment.yaml"] = fragment(gs, o)
	sort.Strings(rep.Notes)
	out.Report = rep
	out.Files["report.txt"] = []byte(rep.String())
	return out, nil
}

func header(g *Group) string {
	return fmt.Sprintf("Written by strangler extract from the legacy tables %s.\nReview the comments, then serve it with `strangler serve`.", strings.Join(g.Tables, ", "))
}
