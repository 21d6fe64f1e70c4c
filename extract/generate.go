package extract

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stranglerfig/strangler/extract/samples"
	"github.com/stranglerfig/strangler/recipes"
	"github.com/stranglerfig/strangler/sync"
)

// Group is one recipe to write: tables linked by relations, served
// together.
type Group struct {
	Service string
	Recipe  *recipes.Recipe
	Tables  []string
	// Comments are attached to the recipe file, by path
	// ("resources[0].fields[2]"), for what the schema and samples left
	// ambiguous.
	Comments map[string]string
	// Noise are, by endpoint name, the answer paths legacy wrote
	// differently in two answers to one request: the route's shadow.ignore.
	Noise map[string][]string
}

// resourceName is a table's resource name: the singular of its name.
func resourceName(table string) string { return samples.Singular(table) }

// fieldType is the recipe type serving a column sync maps.
func fieldType(c *sync.Column) (string, string) {
	switch c.Kind() {
	case "int", "year":
		return recipes.TypeInteger, ""
	case "uint":
		if strings.HasPrefix(c.TargetType, "numeric") {
			return recipes.TypeDecimal, "unsigned bigint beyond int64: served as a decimal with scale 0"
		}
		return recipes.TypeInteger, ""
	case "bool", "bit1":
		return recipes.TypeBoolean, ""
	case "decimal":
		return recipes.TypeDecimal, ""
	case "float", "double":
		return recipes.TypeNumber, ""
	case "date":
		return recipes.TypeDate, ""
	case "datetime", "timestamp":
		return recipes.TypeTimestamp, ""
	case "text", "enum":
		return recipes.TypeString, ""
	case "json":
		return recipes.TypeJSON, ""
	case "time":
		return recipes.TypeTime, ""
	case "bit":
		return recipes.TypeBits, ""
	case "binary":
		return recipes.TypeBinary, ""
	case "set":
		return recipes.TypeSet, ""
	}
	return "", "no recipe type serves " + c.SourceType
}

// legacyDefault turns a MariaDB COLUMN_DEFAULT into a recipe default:
// "" when there is none the recipe can state.
func legacyDefault(def *string, typ string) string {
	if def == nil {
		return ""
	}
	d := *def
	switch {
	case strings.EqualFold(d, "NULL"):
		return ""
	case strings.HasPrefix(strings.ToLower(d), "current_timestamp"):
		if typ == recipes.TypeTimestamp {
			return "now"
		}
		return ""
	case len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'':
		return strings.ReplaceAll(d[1:len(d)-1], "''", "'")
	case typ == recipes.TypeBoolean:
		switch d {
		case "0":
			return "false"
		case "1":
			return "true"
		}
		return ""
	}
	if _, err := strconv.ParseFloat(d, 64); err == nil {
		return d
	}
	return "" // an expression: left to the database
}

// resourceOf builds the resource of a mapped table; notes say what was
// left out and why.
func resourceOf(t *Table) (recipes.Resource, map[int]string, []string) {
	m := t.Map
	res := recipes.Resource{Name: resourceName(t.Name), Table: m.Target}
	comments := map[int]string{}
	var notes []string
	if len(m.Key) == 0 {
		return res, nil, []string{fmt.Sprintf("%s: the table has no key", t.Name)}
	}
	for _, k := range m.Key {
		res.Keys = append(res.Keys, m.Columns[k].Target)
	}
	res.Key = res.Keys[0]
	uniq := map[string]bool{}
	for _, idx := range t.Indexes {
		if idx.Unique && len(idx.Columns) == 1 {
			uniq[idx.Columns[0]] = true
		}
	}
	for i := range m.Columns {
		c := &m.Columns[i]
		if c.Skip {
			why := "excluded"
			if c.Generated {
				why = "a generated column: PostgreSQL gets no copy; compute it in the new service or add it as a generated column"
			}
			notes = append(notes, fmt.Sprintf("%s.%s: not served (%s)", t.Name, c.Name, why))
			continue
		}
		typ, note := fieldType(c)
		if typ == "" {
			notes = append(notes, fmt.Sprintf("%s.%s: not served (%s)", t.Name, c.Name, note))
			continue
		}
		var info ColumnInfo
		if i < len(t.Columns) {
			info = t.Columns[i]
		}
		f := recipes.Field{Name: c.Target, Type: typ, Nullable: c.Nullable, Doc: oneLine(info.Comment)}
		if c.Target != c.Name {
			f.Column = c.Target
		}
		switch c.Kind() {
		case "text":
			if strings.HasPrefix(c.TargetType, "varchar") && c.Length > 0 {
				n := int(c.Length)
				f.MaxLength = &n
			}
		case "enum", "set":
			f.Enum = append([]string(nil), c.Values...)
		case "decimal":
			f.Precision, f.Scale = c.Precision, c.Scale
		case "uint":
			if typ == recipes.TypeDecimal {
				f.Precision, f.Scale = 20, 0
			}
		case "bit":
			f.Length = int(c.Length)
		case "time":
			f.FSP = c.FSP
		}
		switch {
		case info.AutoIncrement && (typ == recipes.TypeInteger):
			f.Generated = true
		case info.AutoIncrement:
			notes = append(notes, fmt.Sprintf("%s.%s: AUTO_INCREMENT %s is served as %s, which the recipe runtime does not generate: new rows get their key from legacy through sync", t.Name, c.Name, c.SourceType, typ))
		}
		if d := legacyDefault(info.Default, typ); d != "" && !f.Generated {
			f.Default = d
		}
		if uniq[c.Name] && (len(m.Key) > 1 || i != m.Key[0]) { // one part of a composite key may be unique on its own
			f.Unique = true
		}
		if note != "" {
			comments[len(res.Fields)] = note
		}
		res.Fields = append(res.Fields, f)
	}
	for _, k := range m.Key {
		if c := &m.Columns[k]; !hasField(&res, c.Target) {
			res.Key, res.Keys = "", nil
			return res, nil, append([]string{fmt.Sprintf("%s: the key column %s is not served", t.Name, c.Name)}, notes...)
		}
	}
	return res, comments, notes
}

// relations links the resources by foreign keys, and by columns named
// after another extracted table's resource (customer_id -> customers)
// where no foreign key says so.
func relations(tables []*Table, res map[string]*recipes.Resource) ([][2]string, []string) {
	var links [][2]string
	var notes []string
	byResource := map[string]*Table{}
	for _, t := range tables {
		byResource[resourceName(t.Name)] = t
	}
	for _, t := range tables {
		r := res[t.Name]
		if r == nil {
			continue
		}
		linked := map[string]bool{}
		add := func(col, refTable, how string) {
			parent := res[refTable]
			if parent == nil || linked[col] {
				return
			}
			if len(parent.Keys) > 1 {
				notes = append(notes, fmt.Sprintf("%s.%s -> %s: not linked: the key of %s has %d columns, and a relation needs a single-column key", t.Name, col, refTable, refTable, len(parent.Keys)))
				return
			}
			linked[col] = true
			r.Relations = append(r.Relations, recipes.Relation{Name: parent.Name, Resource: parent.Name, Field: col, Kind: "one"})
			parent.Relations = append(parent.Relations, recipes.Relation{Name: t.Name, Resource: r.Name, Field: col, Kind: "many"})
			links = append(links, [2]string{t.Name, refTable})
			if how != "" {
				notes = append(notes, fmt.Sprintf("%s.%s -> %s: %s", t.Name, col, refTable, how))
			}
		}
		for _, fk := range t.ForeignKeys {
			if len(fk.Columns) == 1 {
				add(fk.Columns[0], fk.RefTable, "")
			}
		}
		for _, f := range r.Fields {
			if !strings.HasSuffix(f.Name, "_id") || (len(r.Keys) == 1 && f.Name == r.Key) {
				continue
			}
			if pt := byResource[strings.TrimSuffix(f.Name, "_id")]; pt != nil && pt.Name != t.Name {
				add(f.Name, pt.Name, "no foreign key; related by the column's name")
			}
		}
	}
	return links, notes
}

// groups splits the tables into connected groups by their links, each
// sorted, the groups ordered by their first table.
func groups(names []string, links [][2]string) [][]string {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == "" || parent[x] == x {
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	for _, n := range names {
		parent[n] = n
	}
	for _, l := range links {
		a, b := find(l[0]), find(l[1])
		if a != b {
			if a < b {
				parent[b] = a
			} else {
				parent[a] = b
			}
		}
	}
	byRoot := map[string][]string{}
	for _, n := range names {
		r := find(n)
		byRoot[r] = append(byRoot[r], n)
	}
	var out [][]string
	for _, g := range byRoot {
		sort.Strings(g)
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// defaultEndpoints are the reads of a resource when no sample says which
// endpoints legacy has: list and get.
func defaultEndpoints(t *Table, r *recipes.Resource) []recipes.Endpoint {
	var filters []string
	seen := map[string]bool{}
	for _, idx := range t.Indexes {
		if idx.Kind == "FULLTEXT" || idx.Kind == "SPATIAL" {
			continue
		}
		if mc, _ := t.column(idx.Columns[0]); mc != nil && !mc.Skip && !seen[mc.Target] && hasField(r, mc.Target) {
			seen[mc.Target] = true
			filters = append(filters, mc.Target)
		}
	}
	for _, f := range r.Fields {
		if len(f.Enum) > 0 && f.Type == recipes.TypeString && !seen[f.Name] {
			seen[f.Name] = true
			filters = append(filters, f.Name)
		}
	}
	sort.Strings(filters)
	base := "/" + t.Name
	item := base
	for _, k := range r.Keys {
		item += "/{" + k + "}"
	}
	title := upperFirst(camel(r.Name))
	return []recipes.Endpoint{
		{Name: "list" + upperFirst(camel(t.Name)), Method: "GET", Path: base, Resource: r.Name, Action: recipes.ActionList, Filters: filters, Sort: slices.Clone(r.Keys)},
		{Name: "get" + title, Method: "GET", Path: item, Resource: r.Name, Action: recipes.ActionGet},
	}
}

func hasField(r *recipes.Resource, name string) bool {
	for _, f := range r.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// camel writes a snake_case name in camelCase.
func camel(s string) string { return recipes.ApplyCasing("camel", s) }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
