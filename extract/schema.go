package extract

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/sync"
)

// Table is what the legacy schema says of one table: sync's mapping of its
// columns (the one type mapper, so that the recipe, the DDL and the sync
// pipeline agree), and what only extract needs: defaults, comments,
// secondary indexes and foreign keys.
type Table struct {
	Name    string
	Comment string
	// Map is sync's mapping of the table; nil when it cannot be synced
	// (Problem says why: no primary key, a spatial column, ...).
	Map     *sync.TableMap
	Problem string
	// Columns holds, per column of Map.Columns (same order), what
	// information_schema says beyond the type.
	Columns     []ColumnInfo
	Indexes     []Index
	ForeignKeys []ForeignKey
}

// ColumnInfo is a column's default, comment and extras.
type ColumnInfo struct {
	Name          string
	Default       *string // COLUMN_DEFAULT as MariaDB writes it: 'new' (quoted), 0, current_timestamp(), NULL
	Comment       string
	AutoIncrement bool
}

// Index is a secondary index of a legacy table (not the primary key).
type Index struct {
	Name    string
	Columns []string
	Unique  bool
	Kind    string // BTREE, HASH, FULLTEXT or SPATIAL
}

// ForeignKey is a foreign key of a legacy table.
type ForeignKey struct {
	Name       string
	Columns    []string
	RefTable   string
	RefColumns []string
}

// Schema is what extract read of the legacy database.
type Schema struct {
	Database string
	Tables   []Table
	// Views and Triggers of the database, which extract does not carry
	// over; the report lists them.
	Views, Triggers []string
}

// ReadSchema reads the named tables of database (every base table when
// tables is empty) from information_schema.
func ReadSchema(ctx context.Context, db *sql.DB, database string, tables []string, p sync.Policies) (*Schema, error) {
	s := &Schema{Database: database}
	all, err := listNames(ctx, db, `SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`, database)
	if err != nil {
		return nil, fmt.Errorf("listing the tables of %s: %w", database, err)
	}
	base := map[string]bool{}
	for _, t := range all {
		if t[1] == "VIEW" {
			s.Views = append(s.Views, t[0])
		} else {
			base[t[0]] = true
		}
	}
	trg, err := listNames(ctx, db, `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME`, database)
	if err != nil {
		return nil, fmt.Errorf("listing the triggers of %s: %w", database, err)
	}
	for _, t := range trg {
		s.Triggers = append(s.Triggers, t[0]+" (on "+t[1]+")")
	}
	if len(tables) == 0 {
		for name := range base {
			tables = append(tables, name)
		}
		sort.Strings(tables)
	}
	for _, name := range tables {
		if !base[name] {
			if slices.Contains(s.Views, name) {
				return nil, fmt.Errorf("--table %s: is a view in %s; extract reads base tables", name, database)
			}
			return nil, fmt.Errorf("--table %s: no such table in %s", name, database)
		}
		t, err := readTable(ctx, db, database, name, p)
		if err != nil {
			return nil, err
		}
		s.Tables = append(s.Tables, *t)
	}
	return s, nil
}

func readTable(ctx context.Context, db *sql.DB, database, name string, p sync.Policies) (*Table, error) {
	t := &Table{Name: name}
	if err := db.QueryRowContext(ctx, `SELECT TABLE_COMMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
		database, name).Scan(&t.Comment); err != nil {
		return nil, fmt.Errorf("reading table %s: %w", name, err)
	}
	m, err := sync.LoadTableMap(ctx, db, database, config.Table{Name: name}, p)
	if err != nil {
		t.Problem = err.Error()
		for _, prefix := range []string{"table " + database + "." + name + ": ", "table " + name + ": "} {
			t.Problem = strings.TrimPrefix(t.Problem, prefix)
		}
	} else {
		t.Map = m
	}
	rows, err := db.QueryContext(ctx, `SELECT COLUMN_NAME, COLUMN_DEFAULT, COLUMN_COMMENT, EXTRA
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, database, name)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", name, err)
	}
	for rows.Next() {
		var c ColumnInfo
		var def sql.NullString
		var extra string
		if err := rows.Scan(&c.Name, &def, &c.Comment, &extra); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the columns of %s: %w", name, err)
		}
		if def.Valid {
			c.Default = &def.String
		}
		c.AutoIncrement = strings.Contains(strings.ToLower(extra), "auto_increment")
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", name, err)
	}

	rows, err = db.QueryContext(ctx, `SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE, INDEX_TYPE FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX`, database, name)
	if err != nil {
		return nil, fmt.Errorf("reading the indexes of %s: %w", name, err)
	}
	for rows.Next() {
		var idx, col, kind string
		var nonUnique int
		if err := rows.Scan(&idx, &col, &nonUnique, &kind); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the indexes of %s: %w", name, err)
		}
		if n := len(t.Indexes); n == 0 || t.Indexes[n-1].Name != idx {
			t.Indexes = append(t.Indexes, Index{Name: idx, Unique: nonUnique == 0, Kind: kind})
		}
		t.Indexes[len(t.Indexes)-1].Columns = append(t.Indexes[len(t.Indexes)-1].Columns, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the indexes of %s: %w", name, err)
	}

	rows, err = db.QueryContext(ctx, `SELECT CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION`, database, name)
	if err != nil {
		return nil, fmt.Errorf("reading the foreign keys of %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var fk, col, ref, refCol string
		if err := rows.Scan(&fk, &col, &ref, &refCol); err != nil {
			return nil, fmt.Errorf("reading the foreign keys of %s: %w", name, err)
		}
		if n := len(t.ForeignKeys); n == 0 || t.ForeignKeys[n-1].Name != fk {
			t.ForeignKeys = append(t.ForeignKeys, ForeignKey{Name: fk, RefTable: ref})
		}
		f := &t.ForeignKeys[len(t.ForeignKeys)-1]
		f.Columns = append(f.Columns, col)
		f.RefColumns = append(f.RefColumns, refCol)
	}
	return t, rows.Err()
}

// listNames returns the rows of a query of two text columns.
func listNames(ctx context.Context, db *sql.DB, q, database string) ([][2]string, error) {
	rows, err := db.QueryContext(ctx, q, database)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return nil, err
		}
		out = append(out, [2]string{a, b})
	}
	return out, rows.Err()
}

// column returns the mapped column and the extras of the column named name.
func (t *Table) column(name string) (*sync.Column, *ColumnInfo) {
	if t.Map == nil {
		return nil, nil
	}
	for i := range t.Map.Columns {
		if t.Map.Columns[i].Name == name {
			var info *ColumnInfo
			if i < len(t.Columns) {
				info = &t.Columns[i]
			}
			return &t.Map.Columns[i], info
		}
	}
	return nil, nil
}
