package sync

import (
	"fmt"
	"strings"

	"github.com/stranglerfig/strangler/internal/config"
)

// PauseTodo says what the operator does on the target before resuming a
// pipeline paused on stmt (a source DDL statement): the PostgreSQL
// statement when the source statement maps onto a known one (MODIFY or
// CHANGE of a column's type, without a rename: ALTER TABLE ... ALTER
// COLUMN ... TYPE ...), otherwise "apply the equivalent of STATEMENT to
// TABLE". It reads the statement and the pipeline's config only.
func PauseTodo(stmt string, p config.Pipeline) string {
	toks, err := lexSQL(stmt)
	if err == nil {
		t := &tokens{t: toks}
		if tc, ok := alteredTable(t, p); ok {
			if s, ok := alterTodo(t, tc, PoliciesOf(p)); ok {
				return s
			}
		}
	}
	where := "the target"
	if tc, ok := namedTable(stmt, p); ok {
		where = targetTableOf(tc)
	}
	return fmt.Sprintf("apply the equivalent of %s to %s", shorten(stmt), where)
}

// valueTodo says what to do about a value the target cannot hold.
func valueTodo(reverse bool) string {
	if reverse {
		return "make the legacy MySQL column hold the value (ALTER TABLE ... MODIFY), or correct the row in PostgreSQL"
	}
	return "correct the value in the legacy row, or change the project file (zero_dates, nul_bytes, types) and restart sync run"
}

// alteredTable reads "ALTER [ONLINE] [IGNORE] TABLE [IF EXISTS] name" and
// returns the synced table it names.
func alteredTable(t *tokens, p config.Pipeline) (config.Table, bool) {
	if !t.accept("ALTER") {
		return config.Table{}, false
	}
	t.accept("ONLINE")
	t.accept("IGNORE")
	if !t.accept("TABLE") {
		return config.Table{}, false
	}
	t.accept("IF", "EXISTS")
	_, name, ok := t.tableName()
	if !ok {
		return config.Table{}, false
	}
	return configTable(name, p)
}

// alterTodo maps an ALTER TABLE whose every specification is a MODIFY or a
// CHANGE without a rename onto ALTER COLUMN ... TYPE; false for anything
// else. The cursor is after the table name.
func alterTodo(t *tokens, tc config.Table, pol Policies) (string, bool) {
	var specs []string
	for !t.done() {
		if t.peek().is(",") {
			t.next()
			continue
		}
		var name string
		switch {
		case t.accept("MODIFY"):
			t.accept("COLUMN")
			t.accept("IF", "EXISTS")
			name = t.next().text
		case t.accept("CHANGE"):
			t.accept("COLUMN")
			t.accept("IF", "EXISTS")
			old := t.next().text
			name = t.next().text
			if !strings.EqualFold(old, name) {
				return "", false
			}
		default:
			return "", false
		}
		if name == "" || containsFold(tc.Exclude, name) {
			return "", false
		}
		if _, ok := lookupFold(tc.Types, name); ok {
			return "", false // the override decides the target type
		}
		d, err := readColumnDef(name, t)
		if err != nil || d.position != "" || d.ci.Generated {
			return "", false
		}
		c, err := MapColumn(tc.Name, d.ci, "", pol)
		if err != nil {
			return "", false
		}
		target := name
		if r, ok := lookupFold(tc.Rename, name); ok {
			target = r
		}
		specs = append(specs, fmt.Sprintf("ALTER COLUMN %s TYPE %s", pgIdent(target), c.TargetType))
	}
	if len(specs) == 0 {
		return "", false
	}
	return fmt.Sprintf("ALTER TABLE %s %s", targetTableOf(tc), strings.Join(specs, ", ")), true
}

// namedTable returns the first synced table whose name the statement
// mentions.
func namedTable(stmt string, p config.Pipeline) (config.Table, bool) {
	toks, err := lexSQL(stmt)
	if err != nil {
		return config.Table{}, false
	}
	for _, tok := range toks {
		if !tok.ident() {
			continue
		}
		if tc, ok := configTable(tok.text, p); ok {
			return tc, true
		}
	}
	return config.Table{}, false
}

func configTable(name string, p config.Pipeline) (config.Table, bool) {
	for _, tc := range p.Tables {
		if tc.Name == name {
			return tc, true
		}
	}
	for _, tc := range p.Tables {
		if strings.EqualFold(tc.Name, name) {
			return tc, true
		}
	}
	return config.Table{}, false
}

// targetTableOf is the quoted target table of a configured table, as
// TableMap.TargetTable names it.
func targetTableOf(tc config.Table) string {
	schema, name := "public", tc.Target
	if name == "" {
		name = tc.Name
	}
	if s, n, ok := strings.Cut(name, "."); ok {
		schema, name = s, n
	}
	return pgIdent(schema) + "." + pgIdent(name)
}

func lookupFold(m map[string]string, key string) (string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
