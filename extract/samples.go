package extract

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stranglerfig/strangler/recipes"
)

// servedActions are the endpoint actions a recipe serves on a resource.
var servedActions = map[string]bool{recipes.ActionGet: true, recipes.ActionList: true, recipes.ActionCreate: true,
	recipes.ActionReplace: true, recipes.ActionPatch: true, recipes.ActionDelete: true}

// applySamples gives the groups the endpoints and the answer shape the
// captured samples show: one endpoint per method and path template legacy
// answered, its filters, sorts and embedded relations, field names where
// they differ from the casing, fields legacy never writes made write-only.
// It returns the services it gave endpoints to.
func applySamples(gs []*Group, tables map[string]*Table, recs []capture.Record, prefix string, rep *Report) map[string]bool {
	rep.Samples = len(recs)
	used := map[string]bool{}
	if len(recs) == 0 {
		return used
	}
	an := samples.Analyze(recs)
	rep.Notes = append(rep.Notes, an.AllNotes()...)
	shape := an.Shape.Recipe()
	type place struct {
		g *Group
		i int
	}
	byResource := map[string]place{}
	for _, g := range gs {
		g.Recipe.Shape = shape
		for i, r := range g.Recipe.Resources {
			byResource[r.Name] = place{g, i}
		}
	}
	seen := map[string]map[string]bool{} // resource -> answer members (snake_case) legacy writes
	for _, e := range an.Endpoints {
		where := fmt.Sprintf("%s %s (%d samples, %.1f%%)", e.Method, e.Template, e.Count, 100*e.Share)
		p, ok := byResource[e.Resource]
		switch {
		case e.Answer == nil && e.Method == "GET":
			rep.Unmatched = append(rep.Unmatched, where+": no JSON answer (HTML, text or only errors); not generated")
			continue
		case !ok:
			rep.Unmatched = append(rep.Unmatched, where+": no extracted table serves it")
			continue
		case !servedActions[e.Action]:
			rep.Unmatched = append(rep.Unmatched, where+": action "+e.Action+" is not generated; write a named query for it")
			continue
		case prefix != "" && !strings.HasPrefix(e.Template, prefix+"/"):
			rep.Unmatched = append(rep.Unmatched, where+": outside --route-prefix "+prefix)
			continue
		}
		r := &p.g.Recipe.Resources[p.i]
		ep := recipes.Endpoint{Method: e.Method, Resource: r.Name, Action: e.Action,
			Path: renameVars(strings.TrimPrefix(e.Template, prefix), e, r)}
		ep.Name = endpointName(e.Action, r.Name, ep.Path)
		for _, q := range e.Query {
			switch q.Class {
			case "filter":
				switch {
				case !hasField(r, q.Field) || slices.Contains(ep.Filters, q.Field):
				case q.Name != samples.ApplyCasing(shape.Casing, q.Field):
					rep.Notes = append(rep.Notes, fmt.Sprintf("%s %s: query parameter %s is not a filter the recipe runtime reads (it reads %s); not generated",
						e.Method, e.Template, q.Name, samples.ApplyCasing(shape.Casing, q.Field)))
				default:
					ep.Filters = append(ep.Filters, q.Field)
				}
			case "sort":
				for _, f := range q.Fields {
					if hasField(r, f) && !slices.Contains(ep.Sort, f) {
						ep.Sort = append(ep.Sort, f)
					}
				}
			}
		}
		sort.Strings(ep.Filters)
		sort.Strings(ep.Sort)
		if e.Answer != nil {
			if seen[r.Name] == nil {
				seen[r.Name] = map[string]bool{}
			}
			for _, fo := range e.Answer.Fields {
				if fo.Nested != "" {
					for _, rel := range r.Relations {
						if rel.Resource == fo.Nested && (rel.Kind == "many") == fo.Many && !slices.Contains(ep.Embed, rel.Name) {
							ep.Embed = append(ep.Embed, rel.Name)
							setRelationJSON(r, rel.Name, fo.JSON, shape.Casing)
						}
					}
					continue
				}
				seen[r.Name][fo.Name] = true
				nameField(p.i, r, fo, shape, p.g, rep)
			}
		}
		if noise := endpointNoise(e); len(noise) > 0 {
			p.g.Noise[ep.Name] = noise
		}
		p.g.Recipe.Endpoints = append(p.g.Recipe.Endpoints, ep)
		used[p.g.Service] = true
		rep.Endpoints = append(rep.Endpoints, EndpointReport{Service: p.g.Service, Method: e.Method, Path: e.Template, Samples: e.Count, Share: 100 * e.Share})
	}
	// A column legacy never writes in an answer is not written by the new
	// service either: write-only.
	for _, g := range gs {
		if !used[g.Service] {
			continue
		}
		for i := range g.Recipe.Resources {
			r := &g.Recipe.Resources[i]
			if seen[r.Name] == nil {
				continue
			}
			for j := range r.Fields {
				f := &r.Fields[j]
				if !seen[r.Name][f.Name] && !slices.Contains(r.Keys, f.Name) && f.Name != r.Key {
					f.WriteOnly = true
					g.Comments[fmt.Sprintf("resources[%d].fields[%d]", i, j)] = "no captured answer holds it: written, never shown"
				}
			}
		}
	}
	return used
}

// renameVars names an endpoint's path variables as the recipe runtime
// binds them: the last ones of a get, replace, patch or delete after the
// resource's key fields (one per field, in key order), the others after
// the field they match.
func renameVars(path string, e samples.Endpoint, r *recipes.Resource) string {
	segs := strings.Split(path, "/")
	vi := 0
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		name := strings.Trim(s, "{}")
		if vi < len(e.Vars) && e.Vars[vi].Key != "" {
			name = e.Vars[vi].Key
		}
		keys := r.Keys
		if len(keys) == 0 {
			keys = []string{r.Key}
		}
		if part := vi - (len(e.Vars) - len(keys)); part >= 0 && part < len(keys) && e.Action != recipes.ActionList && e.Action != recipes.ActionCreate {
			name = keys[part]
		}
		segs[i] = "{" + name + "}"
		vi++
	}
	return strings.Join(segs, "/")
}

// endpointName is getOrder, listOrders, listCustomerOrders, createOrder...
func endpointName(action, resource, path string) string {
	noun := upperFirst(camel(resource))
	if action == recipes.ActionList {
		noun += "s"
		// Nested lists name their parent: /customers/{customer_id}/orders.
		segs := strings.Split(strings.Trim(path, "/"), "/")
		for i := len(segs) - 2; i >= 1; i-- {
			if strings.HasPrefix(segs[i], "{") {
				noun = upperFirst(camel(resourceName(segs[i-1]))) + noun
				break
			}
		}
	}
	return action + noun
}

// nameField gives a field the JSON name legacy writes when the casing does
// not produce it, and its time format when it differs from the shape's.
// Where the samples and the schema disagree on a field's type, the field
// gets a comment and the report a line.
func nameField(ri int, r *recipes.Resource, fo samples.FieldObs, shape recipes.Shape, g *Group, rep *Report) {
	for i := range r.Fields {
		f := &r.Fields[i]
		if f.Name != fo.Name {
			continue
		}
		if fo.Type != "" && fo.Type != f.Type && !(fo.Type == recipes.TypeInteger && (f.Type == recipes.TypeDecimal || f.Type == recipes.TypeNumber)) {
			msg := fmt.Sprintf("the samples show %s values (%s); the column says %s", fo.Type, strings.Join(fo.Examples, ", "), f.Type)
			g.Comments[fmt.Sprintf("resources[%d].fields[%d]", ri, i)] = msg
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s.%s: %s", r.Table, f.Name, msg))
		}
		if samples.ApplyCasing(shape.Casing, f.Name) != fo.JSON {
			f.JSON = fo.JSON
		}
		switch {
		case f.Type == recipes.TypeTimestamp && fo.Format != "" && samples.TimeLayout(fo.Format) != shape.TimestampFormat,
			f.Type == recipes.TypeDate && fo.Format != "" && samples.TimeLayout(fo.Format) != shape.DateFormat:
			f.Format = samples.TimeLayout(fo.Format)
		}
		return
	}
}

// setRelationJSON gives an embedded relation the name legacy writes.
func setRelationJSON(r *recipes.Resource, rel, json, casing string) {
	for i := range r.Relations {
		if r.Relations[i].Name == rel && samples.ApplyCasing(casing, rel) != json {
			r.Relations[i].JSON = json
		}
	}
}
