package extract

import (
	"fmt"
	"strings"

	"github.com/stranglerfig/strangler/internal/pgident"
)

// DDL is the PostgreSQL DDL of the mapped tables: the tables as sync
// creates them (sync.TableMap.CreateTargetSQL, the one mapper) and the
// legacy secondary indexes carried over, so that the recipe's filters and
// sorts do not scan whole tables. Indexes PostgreSQL cannot take as they
// are (FULLTEXT, SPATIAL, or on a column not copied) are listed in notes.
func DDL(s *Schema) (string, []string) {
	var b strings.Builder
	var notes []string
	fmt.Fprintf(&b, "-- PostgreSQL DDL of %s, written by strangler extract.\n", s.Database)
	b.WriteString("-- The tables are created as strangler sync creates them; the indexes carry over the legacy ones.\n")
	for _, t := range s.Tables {
		if t.Map == nil {
			continue
		}
		b.WriteString("\n")
		if t.Comment != "" {
			fmt.Fprintf(&b, "-- %s: %s\n", t.Name, oneLine(t.Comment))
		}
		for _, stmt := range t.Map.CreateTargetSQL() {
			b.WriteString(stmt)
			b.WriteString(";\n")
		}
	next:
		for _, idx := range t.Indexes {
			if idx.Kind == "FULLTEXT" || idx.Kind == "SPATIAL" {
				notes = append(notes, fmt.Sprintf("%s: index %s is %s, which PostgreSQL has no direct equivalent of; not carried over", t.Name, idx.Name, idx.Kind))
				continue
			}
			var cols []string
			for _, c := range idx.Columns {
				mc, _ := t.column(c)
				if mc == nil || mc.Skip {
					notes = append(notes, fmt.Sprintf("%s: index %s covers %s, which is not copied; not carried over", t.Name, idx.Name, c))
					continue next
				}
				cols = append(cols, pgident.Quote(mc.Target))
			}
			unique := ""
			if idx.Unique {
				unique = "UNIQUE "
			}
			fmt.Fprintf(&b, "CREATE %sINDEX IF NOT EXISTS %s ON %s (%s);\n", unique,
				pgident.Quote(pgident.Name(t.Map.Target, idx.Name)), t.Map.TargetTable(), strings.Join(cols, ", "))
		}
	}
	return b.String(), notes
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
