package sync

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stranglerfig/strangler/internal/pgident"
)

// This file classifies the DDL that changes names or indexes: RENAME
// COLUMN, DROP COLUMN, RENAME TABLE and index changes.

// alterOut collects what the specifications of one ALTER TABLE produce
// besides the statements of the position's transaction.
type alterOut struct {
	index []IndexChange
	kept  []string
}

// IndexChange is an index created or dropped on the target. The index
// name is pgident.Name(target table, source index name): bounded and
// unique by construction, the same name extract gives the table's indexes.
type IndexChange struct {
	// Index is the quoted, schema-qualified target index name.
	Index string
	// Create is true for CREATE INDEX, false for DROP INDEX.
	Create bool

	name  string // quoted, unqualified
	table string // quoted, qualified target table
	cols  string // quoted target columns
}

// SQL renders the change, CONCURRENTLY or not; both forms are idempotent.
func (ix IndexChange) SQL(concurrently bool) string {
	c := ""
	if concurrently {
		c = "CONCURRENTLY "
	}
	if ix.Create {
		return fmt.Sprintf("CREATE INDEX %sIF NOT EXISTS %s ON %s (%s)", c, ix.name, ix.table, ix.cols)
	}
	return fmt.Sprintf("DROP INDEX %sIF EXISTS %s", c, ix.Index)
}

func indexNames(m *TableMap, source string) (name, qualified string) {
	name = pgIdent(pgident.Name(m.Target, source))
	return name, pgIdent(m.TargetSchema) + "." + name
}

func dropIndex(m *TableMap, source string) IndexChange {
	name, q := indexNames(m, source)
	return IndexChange{Index: q, name: name, table: m.TargetTable()}
}

// indexAction is the action of CREATE INDEX / DROP INDEX ... ON: the index
// change alone, run concurrently.
func indexAction(key, stmt string, ix *IndexChange, note string) DDLAction {
	a := DDLAction{Table: key}
	if ix == nil {
		a.Reason = "no change to synced data (" + note + "): " + shorten(stmt)
		return a
	}
	a.Concurrent = []IndexChange{*ix}
	a.Reason = "applied to the target concurrently (" + note + "): " + shorten(stmt)
	return a
}

// readIndex reads "[USING x] (col[(len)] [ASC|DESC], ...) [options]" of an
// index named name of kind "", UNIQUE, FULLTEXT or SPATIAL. It returns nil
// and why when the index is not carried to the target: FULLTEXT and SPATIAL
// have no direct PostgreSQL equivalent, a prefix or expression part would
// index something else, and a column not copied has no target column.
// UNIQUE indexes are carried as plain indexes: the source enforces the
// uniqueness, and a unique index on the target could refuse an
// intermediate state of a batch (two rows swapping values) that the source
// passed through.
func readIndex(m *TableMap, kind, name string, p *tokens) (*IndexChange, string) {
	if p.accept("USING") {
		p.next()
	}
	if !p.peek().is("(") {
		p.skipToComma()
		return nil, "index " + name + " without a column list, not carried to the target"
	}
	p.next()
	var cols []string
	why := ""
	for !p.done() && !p.peek().is(")") {
		t := p.next()
		switch {
		case t.is(","):
			continue
		case t.is("("):
			why = "it indexes an expression"
			p.i--
			p.skipGroup()
			continue
		case !t.ident():
			why = "unexpected " + t.text
			continue
		}
		if name == "" {
			name = t.text // MySQL names an unnamed index after its first column
		}
		if p.peek().is("(") {
			why = "it indexes a prefix of " + t.text
			p.skipGroup()
		}
		p.accept("ASC")
		p.accept("DESC")
		i := m.columnIndex(t.text)
		switch {
		case i < 0:
			why = "column " + t.text + " is not in the synced table"
		case m.Columns[i].Skip:
			why = "column " + t.text + " is not copied"
		default:
			cols = append(cols, pgIdent(m.Columns[i].Target))
		}
	}
	p.accept(")")
	p.skipToComma()
	switch {
	case kind == "FULLTEXT" || kind == "SPATIAL":
		why = "PostgreSQL has no direct equivalent of a " + kind + " index"
	case len(cols) == 0 && why == "":
		why = "it has no columns"
	}
	if why != "" {
		return nil, "index " + name + " not carried to the target: " + why
	}
	n, q := indexNames(m, name)
	note := "index " + name + " added"
	if kind == "UNIQUE" {
		note = "unique index " + name + " added, as a plain index"
	}
	return &IndexChange{Index: q, Create: true, name: n, table: m.TargetTable(), cols: strings.Join(cols, ", ")}, note
}

// addIndex reads ADD [CONSTRAINT [sym]] {INDEX|KEY|UNIQUE|FULLTEXT|SPATIAL|
// PRIMARY KEY|FOREIGN KEY|CHECK} ...; the cursor is after ADD.
func addIndex(nm *TableMap, p *tokens, out *alterOut) (apply []string, note, why string) {
	sym := ""
	if p.accept("CONSTRAINT") {
		if t := p.peek(); t.ident() && !t.is("PRIMARY") && !t.is("UNIQUE") && !t.is("FOREIGN") && !t.is("CHECK") {
			sym = p.next().text
		}
	}
	kind := ""
	switch {
	case p.peek().is("PRIMARY"):
		return nil, "", "the primary key changes"
	case p.accept("FOREIGN"), p.accept("CHECK"):
		p.skipToComma()
		return nil, "constraint added", ""
	case p.accept("UNIQUE"):
		kind = "UNIQUE"
	case p.accept("FULLTEXT"):
		kind = "FULLTEXT"
	case p.accept("SPATIAL"):
		kind = "SPATIAL"
	}
	if !p.accept("INDEX") {
		p.accept("KEY")
	}
	p.accept("IF", "NOT", "EXISTS")
	name := sym
	if t := p.peek(); t.ident() && !t.is("USING") {
		name = p.next().text
	}
	ix, note := readIndex(nm, kind, name, p)
	if ix != nil {
		out.index = append(out.index, *ix)
	}
	return nil, note, ""
}

// renameIndex reads "old TO new" of RENAME INDEX.
func renameIndex(nm *TableMap, p *tokens) (apply []string, note, why string) {
	old := p.next()
	if !p.accept("TO") {
		return nil, "", "RENAME INDEX without TO"
	}
	name := p.next()
	_, q := indexNames(nm, old.text)
	n, _ := indexNames(nm, name.text)
	return []string{fmt.Sprintf("ALTER INDEX IF EXISTS %s RENAME TO %s", q, n)}, "index " + old.text + " renamed to " + name.text, ""
}

// renameColumn renames source column old to name in nm. A column whose
// target name is its source name is renamed on the target too; one renamed
// by tables[].rename keeps its target name (the project file chose it; its
// rename key must then name the new source column before the next start).
func renameColumn(nm *TableMap, old, name string) (apply []string, note, why string) {
	i := nm.columnIndex(old)
	if i < 0 {
		return nil, "", "column " + old + " is not in the synced table"
	}
	if j := nm.columnIndex(name); j >= 0 && j != i {
		return nil, "", "column " + name + " exists already"
	}
	c := &nm.Columns[i]
	if c.Target != c.Name || c.Skip {
		note = fmt.Sprintf("column %s renamed to %s; the target column %s keeps its name (rename the column in the pipeline's tables[] entries of the project file before the next start)", old, name, c.Target)
		c.Name = name
		return nil, note, ""
	}
	if err := pgident.Check("the target name of column "+name, name); err != nil {
		return nil, "", err.Error()
	}
	oc := *c
	c.Name, c.Target = name, name
	tbl := nm.TargetTable()
	apply = []string{fmt.Sprintf("ALTER TABLE %s RENAME COLUMN %s TO %s", tbl, pgIdent(oc.Target), pgIdent(c.Target))}
	if oc.checkSQL(nm.Target) != "" {
		if o, n := oc.checkName(nm.Target), c.checkName(nm.Target); o != n {
			apply = append(apply, fmt.Sprintf("ALTER TABLE %s RENAME CONSTRAINT %s TO %s", tbl, o, n))
		}
	}
	return apply, "column " + old + " renamed to " + name, ""
}

// dropColumn reads the column name of DROP COLUMN. The target keeps the
// column, made nullable, and the map no longer has it: later binlog rows
// do not carry it, and new target rows get NULL (or the column's default).
func dropColumn(nm *TableMap, p *tokens, out *alterOut) (apply []string, note, why string) {
	name := p.next()
	if !name.ident() {
		return nil, "", "DROP without a column name"
	}
	p.accept("RESTRICT")
	p.accept("CASCADE")
	i := nm.columnIndex(name.text)
	if i < 0 {
		return nil, "", "column " + name.text + " is not in the synced table"
	}
	if slices.Contains(nm.Key, i) {
		return nil, "", "key column " + name.text + " is dropped"
	}
	c := nm.Columns[i]
	nm.Columns = slices.Delete(nm.Columns, i, i+1)
	for k := range nm.Key {
		if nm.Key[k] > i {
			nm.Key[k]--
		}
	}
	if c.Skip {
		return nil, "column " + c.Name + " dropped; it was not copied", ""
	}
	out.kept = append(out.kept, c.Target)
	if !c.Nullable {
		apply = []string{fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", nm.TargetTable(), pgIdent(c.Target))}
	}
	return apply, "column " + c.Name + " dropped; the target keeps " + c.Target + ", nullable, no longer written", ""
}

// classifyRenameTable reads "a TO b [, c TO d]..." of RENAME TABLE. One pair
// that renames a synced table within its database is followed: the map
// takes the new source name, and the target table keeps its name (routes
// and recipes read it). A statement whose pairs touch more than one synced
// name (a swap, a rename over a synced table) or that moves a synced table
// to another database pauses.
func classifyRenameTable(stmt string, p *tokens, lookup func(string, string) (string, *TableMap), maps map[string]*TableMap) (DDLAction, bool, error) {
	var key, newName string
	var m *TableMap
	touched := 0
	for !p.done() {
		s1, n1, ok := p.tableName()
		if !ok || !p.accept("TO") {
			break
		}
		s2, n2, ok := p.tableName()
		if !ok {
			break
		}
		k1, m1 := lookup(s1, n1)
		k2, m2 := lookup(s2, n2)
		if m1 != nil || m2 != nil {
			touched++
			if m1 == nil {
				key, m = k2, m2
				continue
			}
			key, m = k1, m1
			if m2 != nil || (s2 != "" && s2 != m1.Schema) {
				touched++
			}
			newName = n2
		}
		p.accept(",")
	}
	if m == nil {
		if k := mentionsKey(stmt, maps); k != "" {
			return pause(k, stmt, "RENAME TABLE that cannot be parsed"), true, nil
		}
		return DDLAction{}, false, nil
	}
	if touched > 1 || newName == "" {
		return pause(key, stmt, "the statement renames or replaces more than one synced table, or moves one to another database"), true, nil
	}
	nm := m.clone()
	old := nm.Name
	nm.Name = newName
	return DDLAction{Table: key, Map: nm,
		Reason: fmt.Sprintf("table %s renamed to %s; the target table %s keeps its name (name the table %s with target %s in the project file before the next start): %s",
			old, newName, m.TargetTable(), newName, m.Target, shorten(stmt))}, true, nil
}

func mentionsKey(stmt string, maps map[string]*TableMap) string {
	low := strings.ToLower(stmt)
	for k, m := range maps {
		if strings.Contains(low, strings.ToLower(m.Name)) {
			return k
		}
	}
	return ""
}
