package sync

import (
	"fmt"
	"strings"
)

// DDLAction is what to do with a DDL statement seen while streaming.
type DDLAction struct {
	// Table is the source table the statement concerns.
	Table string
	// Apply are the PostgreSQL statements to run, in the same target
	// transaction as the position.
	Apply []string
	// Pause is true when the pipeline must stop: the change cannot be
	// applied automatically. Reason names the statement and what to do.
	Pause bool
	// Reason says what was decided and why, for the log and for
	// `strangler sync status`; it is set for every action.
	Reason string
	// Map is the table map after the change, to use for the binlog rows that
	// follow (columns added, renamed or dropped, types widened, the table
	// renamed: Map.Name is then the new source name); nil when Pause is
	// true or nothing changes. The maps passed to ClassifyDDL are never
	// modified.
	Map *TableMap
	// Concurrent are index changes to run outside a transaction
	// (CREATE/DROP INDEX CONCURRENTLY), before the transaction that moves
	// the position: each is idempotent (IF NOT EXISTS / IF EXISTS), so a
	// retry after a crash between the two is harmless. Set only when the
	// statement changes nothing else; otherwise its index changes are in
	// Apply, without CONCURRENTLY.
	Concurrent []IndexChange
	// Kept are the target columns of source columns the statement drops:
	// the target keeps them, nullable, and no longer writes them.
	Kept []string
}

// ClassifyDDL classifies a statement of a binlog QueryEvent against the
// synced tables. maps is keyed by source table name ("orders") or by
// "schema.table"; an unqualified name in the statement matches either.
// It returns concerns=false for statements that touch no synced table
// (including BEGIN, COMMIT and DML).
//
// Decisions:
//   - ALTER TABLE ... ADD [COLUMN]: applied (ALTER TABLE ... ADD COLUMN IF
//     NOT EXISTS), at the position the statement names in the map. A NOT
//     NULL column gets MySQL's default for existing rows (the literal
//     DEFAULT, or MySQL's implicit 0, empty string or first enum member); a default
//     expression such as CURRENT_TIMESTAMP pauses, because the existing rows
//     would get a different value on each side. Generated columns are added
//     to the map as not copied.
//   - MODIFY/CHANGE without a rename, when the new type holds every value of
//     the old one (integer to a wider integer, varchar(n) to varchar(m>=n)
//     or text, decimal(p,s) to decimal with no fewer integer and fraction
//     digits, float to double, more fractional seconds, enum or set members
//     appended, blob/text to a longer blob/text, NOT NULL to NULL, another
//     supported character set): applied (ALTER COLUMN TYPE / DROP NOT NULL
//     / the enum CHECK replaced).
//   - RENAME COLUMN, and CHANGE with a rename (and the same or a widening
//     type): applied (RENAME COLUMN, the enum CHECK renamed); the map
//     follows. A column whose target name comes from tables[].rename keeps
//     it.
//   - DROP COLUMN of a non-key column: the target keeps it, made nullable;
//     the map drops it; Kept names it.
//   - TRUNCATE: applied (TRUNCATE TABLE) in the position's transaction.
//   - ADD/CREATE/DROP/RENAME INDEX: carried to the target as plain indexes
//     named pgident.Name(target, index); in Concurrent when the statement
//     changes nothing else, else in Apply. FULLTEXT, SPATIAL, prefix and
//     expression indexes are not carried.
//   - RENAME TABLE / ALTER TABLE ... RENAME TO within the database: the
//     map takes the new name (Map.Name); the target table keeps its own.
//   - foreign keys, checks, default, comment, engine, checksum, key-block
//     and similar options: no change to synced data; Reason says so;
//     nothing is applied.
//   - everything else on a synced table (narrowing, type family changes,
//     primary key changes, dropping a key column, moving a column, DROP
//     TABLE, a rename to another database or onto a synced name, CREATE
//     TABLE over a synced name, partitioning, statements that cannot be
//     parsed): Pause, with the statement in Reason.
func ClassifyDDL(stmt string, maps map[string]*TableMap) (DDLAction, bool, error) {
	toks, err := lexSQL(stmt)
	if err != nil {
		// A statement we cannot even split: pause if it names a synced table.
		for key, m := range maps {
			if strings.Contains(stmt, m.Name) {
				return pause(key, stmt, "statement cannot be parsed: "+err.Error()), true, nil
			}
		}
		return DDLAction{}, false, nil
	}
	p := &tokens{t: toks}
	lookup := func(schema, name string) (string, *TableMap) {
		if schema != "" {
			if m, ok := maps[schema+"."+name]; ok {
				return schema + "." + name, m
			}
			if m, ok := maps[name]; ok && (m.Schema == "" || m.Schema == schema) {
				return name, m
			}
			return "", nil
		}
		if m, ok := maps[name]; ok {
			return name, m
		}
		for key, m := range maps {
			if m.Name == name {
				return key, m
			}
		}
		return "", nil
	}
	// tablesAfter finds synced tables named in a list of names.
	firstSynced := func() (string, *TableMap) {
		for !p.done() {
			if s, n, ok := p.tableName(); ok {
				if key, m := lookup(s, n); m != nil {
					return key, m
				}
			}
			if !p.done() {
				p.next()
			}
		}
		return "", nil
	}
	switch {
	case p.accept("ALTER"):
		p.accept("ONLINE")
		p.accept("IGNORE")
		if !p.accept("TABLE") {
			return classifyOther(stmt, toks, lookup)
		}
		p.accept("IF", "EXISTS")
		s, n, ok := p.tableName()
		if !ok {
			return DDLAction{}, false, nil
		}
		key, m := lookup(s, n)
		if m == nil {
			return DDLAction{}, false, nil
		}
		a := classifyAlter(stmt, key, m, p)
		if a.Map != nil && a.Map.Name != m.Name {
			if _, taken := lookup(a.Map.Schema, a.Map.Name); taken != nil {
				return pause(key, stmt, "the table is renamed to the name of another synced table"), true, nil
			}
		}
		return a, true, nil
	case p.accept("TRUNCATE"):
		p.accept("TABLE")
		s, n, ok := p.tableName()
		if !ok {
			return DDLAction{}, false, nil
		}
		key, m := lookup(s, n)
		if m == nil {
			return DDLAction{}, false, nil
		}
		if !p.done() {
			return pause(key, stmt, "TRUNCATE with more than a table name"), true, nil
		}
		return DDLAction{Table: key, Apply: []string{"TRUNCATE TABLE " + m.TargetTable()}, Map: m.clone(),
			Reason: "applied to the target (table truncated): " + shorten(stmt)}, true, nil
	case p.accept("RENAME", "TABLE"):
		return classifyRenameTable(stmt, p, lookup, maps)
	case p.accept("DROP", "TABLE"), p.accept("DROP", "TEMPORARY", "TABLE"):
		p.accept("IF", "EXISTS")
		if key, m := firstSynced(); m != nil {
			return pause(key, stmt, "the statement removes or renames the synced table"), true, nil
		}
		return DDLAction{}, false, nil
	case p.accept("CREATE"):
		replace := p.accept("OR", "REPLACE")
		switch {
		case p.accept("TABLE"), p.accept("TEMPORARY", "TABLE"):
			p.accept("IF", "NOT", "EXISTS")
			s, n, ok := p.tableName()
			if key, m := lookup(s, n); ok && m != nil {
				return pause(key, stmt, "the statement creates a table named like a synced table"), true, nil
			}
			return DDLAction{}, false, nil
		}
		p.accept("ONLINE")
		p.accept("OFFLINE")
		kind := ""
		for _, k := range []string{"UNIQUE", "FULLTEXT", "SPATIAL"} {
			if p.accept(k) {
				kind = k
			}
		}
		if p.accept("INDEX") {
			p.accept("IF", "NOT", "EXISTS")
			name := p.next()
			for !p.done() && !p.peek().is("ON") {
				p.next()
			}
			p.accept("ON")
			s, n, ok := p.tableName()
			key, m := lookup(s, n)
			if !ok || m == nil {
				return DDLAction{}, false, nil
			}
			ix, note := readIndex(m, kind, name.text, p)
			a := indexAction(key, stmt, ix, note)
			if replace && ix != nil {
				// OR REPLACE: IF NOT EXISTS alone would keep the old definition.
				a.Concurrent = []IndexChange{dropIndex(m, name.text), *ix}
			}
			return a, true, nil
		}
		return DDLAction{}, false, nil
	case p.accept("DROP", "INDEX"):
		p.accept("ONLINE")
		p.accept("OFFLINE")
		p.accept("IF", "EXISTS")
		name := p.next()
		for !p.done() && !p.peek().is("ON") {
			p.next()
		}
		p.accept("ON")
		s, n, ok := p.tableName()
		key, m := lookup(s, n)
		if !ok || m == nil {
			return DDLAction{}, false, nil
		}
		if strings.EqualFold(name.text, "PRIMARY") {
			return pause(key, stmt, "the primary key is dropped"), true, nil
		}
		ix := dropIndex(m, name.text)
		return indexAction(key, stmt, &ix, "index "+name.text+" dropped"), true, nil
	}
	return classifyOther(stmt, toks, lookup)
}

// classifyOther handles statements that are not recognised DDL: those that
// are not DDL at all (BEGIN, COMMIT, DML in statement format, SET, GRANT)
// do not concern synced tables; DDL verbs naming a synced table pause.
func classifyOther(stmt string, toks []token, lookup func(string, string) (string, *TableMap)) (DDLAction, bool, error) {
	if len(toks) == 0 {
		return DDLAction{}, false, nil
	}
	switch strings.ToUpper(toks[0].text) {
	case "ALTER", "DROP", "CREATE", "RENAME", "TRUNCATE":
	default:
		return DDLAction{}, false, nil
	}
	for i, t := range toks {
		if !t.ident() {
			continue
		}
		schema := ""
		if i >= 2 && toks[i-1].is(".") && toks[i-2].ident() {
			schema = toks[i-2].text
		}
		if key, m := lookup(schema, t.text); m != nil {
			return pause(key, stmt, "DDL that cannot be applied automatically"), true, nil
		}
	}
	return DDLAction{}, false, nil
}

func pause(table, stmt, why string) DDLAction {
	return DDLAction{Table: table, Pause: true, Reason: fmt.Sprintf("%s: %s; apply the change to the target by hand, update the pipeline config if needed, then resume", why, shorten(stmt))}
}

func shorten(stmt string) string {
	s := strings.Join(strings.Fields(stmt), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// classifyAlter classifies the specifications of ALTER TABLE m; the cursor
// is after the table name.
func classifyAlter(stmt, key string, m *TableMap, p *tokens) DDLAction {
	nm := m.clone()
	var apply, notes []string
	out := &alterOut{}
	for !p.done() {
		if p.peek().is(",") {
			p.next()
			continue
		}
		st, note, why := alterSpec(nm, p, out)
		if why != "" {
			return pause(key, stmt, why)
		}
		apply = append(apply, st...)
		if note != "" {
			notes = append(notes, note)
		}
	}
	if err := nm.reindex(); err != nil {
		return pause(key, stmt, err.Error())
	}
	a := DDLAction{Table: key, Apply: apply, Map: nm, Kept: out.kept}
	if len(apply) == 0 && len(out.index) > 0 {
		a.Concurrent = out.index
	} else {
		for _, ix := range out.index {
			a.Apply = append(a.Apply, ix.SQL(false))
		}
	}
	switch {
	case len(a.Apply) > 0:
		a.Reason = "applied to the target (" + strings.Join(notes, "; ") + "): " + shorten(stmt)
	case len(a.Concurrent) > 0:
		a.Reason = "applied to the target concurrently (" + strings.Join(notes, "; ") + "): " + shorten(stmt)
	default:
		a.Reason = "no change to synced data (" + strings.Join(notes, "; ") + "): " + shorten(stmt)
	}
	return a
}

// alterSpec reads one ALTER TABLE specification, changing nm. It returns the
// PostgreSQL statements, a note, or why the pipeline must pause.
func alterSpec(nm *TableMap, p *tokens, out *alterOut) (apply []string, note, why string) {
	tbl := nm.TargetTable()
	switch {
	case p.accept("ADD"):
		switch {
		case p.peek().is("INDEX"), p.peek().is("KEY"), p.peek().is("FULLTEXT"), p.peek().is("SPATIAL"),
			p.peek().is("UNIQUE"), p.peek().is("CONSTRAINT"), p.peek().is("FOREIGN"), p.peek().is("CHECK"):
			return addIndex(nm, p, out)
		case p.peek().is("PRIMARY"):
			return nil, "", "the primary key changes"
		case p.peek().is("PARTITION"):
			return nil, "", "partitioning changes"
		}
		p.accept("COLUMN")
		p.accept("IF", "NOT", "EXISTS")
		if p.peek().is("(") {
			p.next()
			for !p.done() && !p.peek().is(")") {
				st, n, w := addColumn(nm, tbl, p)
				if w != "" {
					return nil, "", w
				}
				apply, note = append(apply, st...), n
				p.accept(",")
			}
			p.accept(")")
			return apply, note, ""
		}
		return addColumn(nm, tbl, p)
	case p.accept("MODIFY"):
		p.accept("COLUMN")
		p.accept("IF", "EXISTS")
		name := p.next()
		return modifyColumn(nm, tbl, name.text, name.text, p)
	case p.accept("CHANGE"):
		p.accept("COLUMN")
		p.accept("IF", "EXISTS")
		old := p.next()
		name := p.next()
		if strings.EqualFold(old.text, name.text) {
			return modifyColumn(nm, tbl, old.text, name.text, p)
		}
		pre, n1, w := renameColumn(nm, old.text, name.text)
		if w != "" {
			return nil, "", w
		}
		st, n2, w := modifyColumn(nm, tbl, name.text, name.text, p)
		if w != "" {
			return nil, "", w
		}
		return append(pre, st...), n1 + "; " + n2, ""
	case p.accept("ALTER"):
		p.accept("COLUMN")
		p.next()
		if p.peek().is("SET") || p.peek().is("DROP") {
			p.skipToComma()
			return nil, "column default changed", ""
		}
		return nil, "", "ALTER COLUMN that is not a default change"
	case p.accept("DROP"):
		switch {
		case p.accept("INDEX"), p.accept("KEY"):
			p.accept("IF", "EXISTS")
			name := p.next()
			if strings.EqualFold(name.text, "PRIMARY") {
				return nil, "", "the primary key is dropped"
			}
			out.index = append(out.index, dropIndex(nm, name.text))
			p.skipToComma()
			return nil, "index " + name.text + " dropped", ""
		case p.accept("FOREIGN", "KEY"), p.accept("CONSTRAINT"), p.accept("CHECK"):
			p.skipToComma()
			return nil, "constraint dropped", ""
		case p.peek().is("PRIMARY"):
			return nil, "", "the primary key is dropped"
		case p.peek().is("PARTITION"):
			return nil, "", "partitioning changes"
		}
		p.accept("COLUMN")
		p.accept("IF", "EXISTS")
		return dropColumn(nm, p, out)
	case p.accept("RENAME"):
		switch {
		case p.accept("INDEX"), p.accept("KEY"):
			return renameIndex(nm, p)
		case p.accept("COLUMN"):
			old := p.next()
			if !p.accept("TO") {
				return nil, "", "RENAME COLUMN without TO"
			}
			name := p.next()
			return renameColumn(nm, old.text, name.text)
		}
		if !p.accept("TO") {
			p.accept("AS")
		}
		s, n, ok := p.tableName()
		if !ok {
			return nil, "", "RENAME without a new table name"
		}
		if s != "" && s != nm.Schema {
			return nil, "", "the table moves to another database"
		}
		old := nm.Name
		nm.Name = n
		return nil, "table " + old + " renamed to " + n + "; the target table keeps its name", ""
	}
	t := p.peek()
	switch strings.ToUpper(t.text) {
	case "ENGINE", "COMMENT", "AUTO_INCREMENT", "ROW_FORMAT", "KEY_BLOCK_SIZE", "CHECKSUM", "STATS_PERSISTENT",
		"STATS_AUTO_RECALC", "STATS_SAMPLE_PAGES", "PACK_KEYS", "DELAY_KEY_WRITE", "ALGORITHM", "LOCK",
		"FORCE", "ENABLE", "DISABLE", "PAGE_CHECKSUM", "TRANSACTIONAL", "MIN_ROWS", "MAX_ROWS", "AVG_ROW_LENGTH",
		"NOWAIT", "WAIT", "ORDER":
		p.skipToComma()
		return nil, "table option " + strings.ToLower(t.text), ""
	case "DEFAULT", "CHARACTER", "CHARSET", "COLLATE":
		// A new default character set applies to columns added later only;
		// CONVERT TO CHARACTER SET is handled below.
		p.skipToComma()
		return nil, "default character set", ""
	case "CONVERT":
		// Every text column changes charset; the text stays the same.
		p.next()
		start := p.i
		p.skipToComma()
		for i := start; i < p.i; i++ {
			if (p.t[i].is("SET") || p.t[i].is("CHARSET")) && i+1 < p.i {
				cs := strings.ToLower(p.t[i+1].text)
				d, err := charsetDecoder(cs)
				if err != nil {
					return nil, "", err.Error()
				}
				for k := range nm.Columns {
					c := &nm.Columns[k]
					if c.Charset != "" && (c.kind == kindText || c.kind == kindEnum || c.kind == kindSet || c.kind == kindJSON) {
						c.Charset, c.dec = cs, d
					}
				}
				return nil, "text columns converted to " + cs, ""
			}
		}
		return nil, "", "CONVERT without a character set"
	}
	return nil, "", "unsupported ALTER TABLE specification " + t.text
}

// colDef is a column definition read from DDL.
type colDef struct {
	ci         SourceColumn
	hasDefault bool
	defLiteral *token // nil: NULL or an expression
	defExpr    bool
	position   string // "", "FIRST" or the column after which it goes
}

// readColumnDef reads "type attributes... [FIRST|AFTER col]" for column name.
func readColumnDef(name string, p *tokens) (colDef, error) {
	d := colDef{ci: SourceColumn{Name: name, Nullable: true}}
	t := p.next()
	if t.kind != tokWord {
		return d, fmt.Errorf("column %s: no type", name)
	}
	dt := strings.ToLower(t.text)
	switch dt {
	case "bool", "boolean":
		dt = "tinyint"
		d.ci.ColumnType = "tinyint(1)"
	case "integer":
		dt = "int"
	case "dec", "fixed", "numeric":
		dt = "decimal"
	case "real":
		dt = "double"
	case "character":
		dt = "char"
	}
	if dt == "double" {
		p.accept("PRECISION")
	}
	if dt == "char" && p.accept("VARYING") {
		dt = "varchar"
	}
	d.ci.DataType = dt
	ct := dt
	var args []string
	if p.peek().is("(") {
		p.next()
		var raw []string
		for !p.done() && !p.peek().is(")") {
			a := p.next()
			if a.kind == tokString {
				raw = append(raw, "'"+strings.ReplaceAll(a.text, "'", "''")+"'")
			} else if !a.is(",") {
				raw = append(raw, a.text)
			}
			if a.kind != tokPunct {
				args = append(args, a.text)
			}
		}
		p.accept(")")
		ct += "(" + strings.Join(raw, ",") + ")"
	}
	if d.ci.ColumnType == "" {
		d.ci.ColumnType = ct
	}
	num := func(i int) int {
		if i < len(args) {
			n := 0
			fmt.Sscan(args[i], &n)
			return n
		}
		return 0
	}
	switch dt {
	case "decimal":
		d.ci.Precision, d.ci.Scale = num(0), num(1)
		if len(args) == 0 {
			d.ci.Precision = 10
		}
	case "bit":
		d.ci.Precision = max(num(0), 1)
	case "datetime", "timestamp", "time":
		d.ci.FSP = num(0)
	case "char", "binary":
		d.ci.CharLen = int64(max(num(0), 1))
	case "varchar", "varbinary":
		d.ci.CharLen = int64(num(0))
	}
	for !p.done() && !p.peek().is(",") && !p.peek().is(")") {
		switch {
		case p.accept("UNSIGNED"):
			d.ci.ColumnType += " unsigned"
		case p.accept("ZEROFILL"), p.accept("SIGNED"), p.accept("BINARY"):
		case p.accept("CHARACTER", "SET"), p.accept("CHARSET"):
			d.ci.Charset = strings.ToLower(p.next().text)
		case p.accept("COLLATE"):
			p.next()
		case p.accept("NOT", "NULL"):
			d.ci.Nullable = false
		case p.accept("NULL"):
			d.ci.Nullable = true
		case p.accept("DEFAULT"):
			d.hasDefault = true
			v := p.next()
			switch {
			case v.is("NULL"):
			case v.kind == tokString || v.kind == tokNumber:
				d.defLiteral = &v
			case v.is("-") && p.peek().kind == tokNumber:
				n := p.next()
				n.text = "-" + n.text
				d.defLiteral = &n
			case v.is("TRUE"), v.is("FALSE"):
				n := token{kind: tokNumber, text: map[bool]string{true: "1", false: "0"}[v.is("TRUE")]}
				d.defLiteral = &n
			default:
				d.defExpr = true
				if p.peek().is("(") {
					p.skipGroup()
				}
			}
		case p.accept("GENERATED", "ALWAYS"), p.accept("AS"):
			p.accept("AS")
			if p.peek().is("(") {
				p.skipGroup()
			}
			d.ci.Generated = true
		case p.accept("ON", "UPDATE"):
			p.next()
			if p.peek().is("(") {
				p.skipGroup()
			}
		case p.accept("COMMENT"):
			p.next()
		case p.accept("CHECK"), p.accept("REFERENCES"):
			p.skipToComma()
		case p.accept("FIRST"):
			d.position = "FIRST"
		case p.accept("AFTER"):
			d.position = p.next().text
		case p.accept("PRIMARY", "KEY"):
			return d, fmt.Errorf("column %s: the primary key changes", name)
		default:
			// AUTO_INCREMENT, UNIQUE, KEY, VIRTUAL, STORED, PERSISTENT,
			// INVISIBLE, COLUMN_FORMAT x, STORAGE x, and the like.
			p.next()
		}
	}
	return d, nil
}
