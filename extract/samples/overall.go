package samples

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stranglerfig/strangler/recipes"
)

// overall decides the shape of all endpoints together, from the sum of
// their votes, and notes the endpoints and fields that do not follow it.
func (res *Result) overall(vs []*votes) {
	n := noter{notes: &res.Notes}
	sum := newVotes()
	for _, v := range vs {
		sum.add(v)
	}
	res.Shape = sum.decide(n)
	g := res.Shape
	for _, d := range []struct {
		what string
		get  func(Shape) string
	}{
		{"envelope", func(s Shape) string { return s.Envelope }},
		{"data_key", func(s Shape) string { return s.DataKey }},
		{"meta_key", func(s Shape) string { return s.MetaKey }},
		{"casing", func(s Shape) string { return s.Casing }},
		{"nulls", func(s Shape) string { return s.Nulls }},
		{"decimals", func(s Shape) string { return s.Decimals }},
		{"timestamp_format", func(s Shape) string { return s.TimestampFormat }},
		{"date_format", func(s Shape) string { return s.DateFormat }},
		{"booleans", func(s Shape) string { return s.Booleans }},
		{"pagination", func(s Shape) string { return s.Pagination }},
	} {
		byValue := map[string][]string{}
		for i := range res.Endpoints {
			ep := &res.Endpoints[i]
			if ep.Answer == nil {
				continue
			}
			if v := d.get(ep.Answer.Shape); v != "" && v != d.get(g) {
				byValue[v] = append(byValue[v], ep.Method+" "+ep.Template)
			}
		}
		for _, v := range sortedKeys(byValue) {
			n.add("%s: %s in %s, %s overall", d.what, v, strings.Join(byValue[v], ", "), orNone(d.get(g)))
		}
	}
	res.fieldNotes(n)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// fieldNotes names the fields a recipe must describe on its own because
// they do not follow the overall shape: JSON names the casing does not
// produce (json:), times in another layout (format:), and decimals and
// booleans written otherwise (recipes write every one alike).
func (res *Result) fieldNotes(n noter) {
	g := res.Shape
	names := map[string]string{}
	layoutsOf := map[string]string{}
	decimals := map[string]bool{}
	booleans := map[string]bool{}
	for i := range res.Endpoints {
		ep := &res.Endpoints[i]
		if ep.Answer == nil {
			continue
		}
		for _, fs := range [][]FieldObs{ep.Answer.Fields, ep.Answer.Meta} {
			walkFields(fs, func(f *FieldObs) {
				if g.Casing != "" && g.Casing != CasingAsIs && ApplyCasing(g.Casing, f.Name) != f.JSON {
					names[f.JSON] = f.Name
				}
				switch f.Type {
				case recipes.TypeTimestamp:
					if g.TimestampFormat != "" && TimeLayout(f.Format) != g.TimestampFormat {
						layoutsOf[f.JSON] = f.Format
					}
				case recipes.TypeDate:
					if g.DateFormat != "" && f.Format != g.DateFormat {
						layoutsOf[f.JSON] = f.Format
					}
				case recipes.TypeDecimal:
					if g.Decimals != "" && f.Format != g.Decimals {
						decimals[f.JSON] = true
					}
				case recipes.TypeBoolean:
					if g.Booleans != "" && f.Format != g.Booleans {
						booleans[f.JSON] = true
					}
				}
			})
		}
	}
	if len(names) > 0 {
		parts := make([]string, 0, len(names))
		for _, j := range sortedKeys(names) {
			parts = append(parts, fmt.Sprintf("%s (%s)", j, names[j]))
		}
		n.add("names not written in %s casing (give their fields json:): %s", g.Casing, strings.Join(parts, ", "))
	}
	if len(layoutsOf) > 0 {
		parts := make([]string, 0, len(layoutsOf))
		for _, j := range sortedKeys(layoutsOf) {
			parts = append(parts, fmt.Sprintf("%s (%s)", j, layoutsOf[j]))
		}
		n.add("times written in another layout than the shape's (give their fields format:): %s", strings.Join(parts, ", "))
	}
	if len(decimals) > 0 {
		n.add("decimals not written as %s: %s; recipes write every decimal alike", g.Decimals, strings.Join(sortedKeys(decimals), ", "))
	}
	if len(booleans) > 0 {
		n.add("booleans not written as %s: %s; recipes write every boolean alike", g.Booleans, strings.Join(sortedKeys(booleans), ", "))
	}
}

// AllNotes are the result's notes followed by each endpoint's, prefixed
// with its method and template.
func (res *Result) AllNotes() []string {
	out := slices.Clone(res.Notes)
	for _, ep := range res.Endpoints {
		for _, note := range ep.Notes {
			out = append(out, ep.Method+" "+ep.Template+": "+note)
		}
	}
	return out
}
