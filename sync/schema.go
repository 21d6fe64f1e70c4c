package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/pgident"
)

// Zero-date and NUL-byte policies (config.Pipeline ZeroDates and NulBytes).
const (
	// ZeroDatesNull writes NULL for '0000-00-00' and partial zero dates
	// such as '2024-00-15'; NOT NULL date columns become nullable in the
	// target (the table map says so in Notes). The default.
	ZeroDatesNull = "null"
	// ZeroDatesError stops the pipeline with a *ValueError naming the row.
	ZeroDatesError = "error"
	// NulBytesError stops the pipeline with a *ValueError when a text value
	// holds a NUL byte, which PostgreSQL text cannot store. The default.
	NulBytesError = "error"
	// NulBytesStrip removes NUL bytes from text values.
	NulBytesStrip = "strip"
)

// Policies from the pipeline config: what to do with values PostgreSQL
// cannot store as they are.
type Policies struct {
	// ZeroDates is "null" or "error"; empty means "null".
	ZeroDates string
	// NulBytes is "strip" or "error"; empty means "error".
	NulBytes string
}

// PoliciesOf returns the policies of a pipeline, with defaults filled.
func PoliciesOf(p config.Pipeline) Policies {
	return Policies{ZeroDates: p.ZeroDates, NulBytes: p.NulBytes}.withDefaults()
}

func (p Policies) withDefaults() Policies {
	if p.ZeroDates == "" {
		p.ZeroDates = ZeroDatesNull
	}
	if p.NulBytes == "" {
		p.NulBytes = NulBytesError
	}
	return p
}

func (p Policies) validate() error {
	if p.ZeroDates != ZeroDatesNull && p.ZeroDates != ZeroDatesError {
		return fmt.Errorf("zero_dates policy %q: want %q or %q", p.ZeroDates, ZeroDatesNull, ZeroDatesError)
	}
	if p.NulBytes != NulBytesStrip && p.NulBytes != NulBytesError {
		return fmt.Errorf("nul_bytes policy %q: want %q or %q", p.NulBytes, NulBytesStrip, NulBytesError)
	}
	return nil
}

// Column is one source column and how it maps to its target column.
type Column struct {
	Name, Target string // source and target names
	SourceType   string // information_schema COLUMN_TYPE, e.g. "bigint(20) unsigned"
	DataType     string // DATA_TYPE, lower case, e.g. "bigint"
	TargetType   string // PostgreSQL type, e.g. "numeric(20,0)"
	Nullable     bool   // the target column accepts NULL
	Unsigned     bool   // an unsigned integer column
	Skip         bool   // excluded or generated: not copied
	Excluded     bool   // named in tables[].exclude
	Generated    bool   // a VIRTUAL or STORED generated column (never copied)
	Overridden   bool   // TargetType comes from tables[].types
	Charset      string // CHARACTER_SET_NAME of text columns, lower case ("utf8mb4", "latin1")
	Precision    int    // decimal precision, bit width
	Scale        int    // decimal scale
	FSP          int    // fractional second digits of datetime, timestamp and time
	Length       int64  // character length of char/varchar, bits of bit(n)
	Values       []string

	kind     kind
	bitAsInt bool // bit(1) with an integer override
	intMin   int64
	intMax   int64
	intCheck bool // the target integer type is narrower than the source's
	dec      decoder
	zeroNull bool // NOT NULL in the source, nullable in the target: zero dates are NULL there (zero_dates: null)
}

// TableMap is how one source table maps to its target table.
type TableMap struct {
	Schema, Name         string // source database and table
	TargetSchema, Target string // target schema ("public" unless tables[].target says schema.table) and table
	// Columns are every source column in ordinal order: binlog rows come
	// in this order, generated and excluded columns included.
	Columns []Column
	// Key are indexes into Columns of the key used for apply and verify:
	// the primary key, or the unique not-null key named in tables[].key.
	Key []int
	// Notes are the mapping decisions worth a log line: generated columns
	// skipped, NOT NULL date columns made nullable by the zero-date policy.
	Notes []string

	policies Policies
	copied   []int
}

// ValueError is a value that cannot be converted to its target type; the
// pipeline pauses with it. Key holds the row's key values when known
// (see TableMap.WithKey).
type ValueError struct {
	Table, Column string
	Key           string // key values of the row, "id=7" or "a=1,b=x"; "" when not known
	Value         string // the offending value, quoted and shortened
	Reason        string
}

// Error says which table, row, column and value, and why.
func (e *ValueError) Error() string {
	key := ""
	if e.Key != "" {
		key = " key " + e.Key
	}
	return fmt.Sprintf("table %s%s: column %s: value %s: %s", e.Table, key, e.Column, e.Value, e.Reason)
}

// ErrNoKey is returned (wrapped) by LoadTableMap for a table without a
// primary key and without tables[].key.
var ErrNoKey = errors.New("no primary key")

// WithKey fills the Key of a *ValueError from the row it came from and
// returns err; other errors come back as they are. row holds the values of
// m.Columns in source order (binlog) or nil entries where not known.
func (m *TableMap) WithKey(err error, row []any) error {
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Key != "" {
		return err
	}
	var b strings.Builder
	for i, k := range m.Key {
		if k >= len(row) {
			return err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.Columns[k].Name)
		b.WriteByte('=')
		switch v := row[k].(type) {
		case []byte:
			b.WriteString(string(v))
		case nil:
			b.WriteString("NULL")
		default:
			fmt.Fprint(&b, v)
		}
	}
	ve.Key = b.String()
	return err
}

// LoadTableMap reads the definition of one source table from
// information_schema and maps every column. It refuses, with an error naming
// the table and column, spatial and unknown types that are not excluded,
// tables without a primary key unless tables[].key names a unique not-null
// key, and keys that include excluded or generated columns.
func LoadTableMap(ctx context.Context, db *sql.DB, schema string, t config.Table, p Policies) (*TableMap, error) {
	cols, err := ReadColumns(ctx, db, schema, t.Name)
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s.%s: not found in the source database", schema, t.Name)
	}
	keys, err := readKeys(ctx, db, schema, t.Name)
	if err != nil {
		return nil, err
	}
	return buildTableMap(schema, t, cols, keys, p)
}

// indexInfo is one unique index of a source table.
type indexInfo struct {
	Name    string
	Columns []string
}

// ReadColumns reads the columns of one source table from information_schema,
// in ordinal order, for MapColumn: COLUMNS, and CHECK_CONSTRAINTS to find
// MariaDB's JSON columns (a server without that table has none). A table
// that does not exist has no columns: the result is empty, not an error.
func ReadColumns(ctx context.Context, db *sql.DB, schema, table string) ([]SourceColumn, error) {
	const q = `SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COALESCE(CHARACTER_SET_NAME, ''),
	COALESCE(CHARACTER_MAXIMUM_LENGTH, 0), COALESCE(NUMERIC_PRECISION, 0), COALESCE(NUMERIC_SCALE, 0),
	COALESCE(DATETIME_PRECISION, 0), EXTRA
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`
	rows, err := db.QueryContext(ctx, q, schema, table)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var out []SourceColumn
	for rows.Next() {
		var c SourceColumn
		var nullable, extra string
		if err := rows.Scan(&c.Name, &c.ColumnType, &c.DataType, &nullable, &c.Charset, &c.CharLen,
			&c.Precision, &c.Scale, &c.FSP, &extra); err != nil {
			return nil, fmt.Errorf("reading the columns of %s.%s: %w", schema, table, err)
		}
		c.Nullable = nullable == "YES"
		c.Generated = strings.Contains(strings.ToUpper(extra), "GENERATED")
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the columns of %s.%s: %w", schema, table, err)
	}
	// MariaDB's JSON is a longtext with CHECK (json_valid(`col`)).
	jr, err := db.QueryContext(ctx, `SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?`, schema, table)
	if err != nil {
		return out, nil //nolint:nilerr // servers without CHECK_CONSTRAINTS have no such columns
	}
	defer jr.Close()
	for jr.Next() {
		var clause string
		if err := jr.Scan(&clause); err != nil {
			return nil, fmt.Errorf("reading the checks of %s.%s: %w", schema, table, err)
		}
		for i := range out {
			if strings.EqualFold(strings.ReplaceAll(clause, " ", ""), "json_valid(`"+out[i].Name+"`)") {
				out[i].JSON = true
			}
		}
	}
	return out, jr.Err()
}

func readKeys(ctx context.Context, db *sql.DB, schema, table string) ([]indexInfo, error) {
	const q = `SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`
	rows, err := db.QueryContext(ctx, q, schema, table)
	if err != nil {
		return nil, fmt.Errorf("reading the keys of %s.%s: %w", schema, table, err)
	}
	defer rows.Close()
	var out []indexInfo
	for rows.Next() {
		var name, col string
		if err := rows.Scan(&name, &col); err != nil {
			return nil, fmt.Errorf("reading the keys of %s.%s: %w", schema, table, err)
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, indexInfo{Name: name})
		}
		out[len(out)-1].Columns = append(out[len(out)-1].Columns, col)
	}
	return out, rows.Err()
}

// buildTableMap maps a table from what information_schema said; it does no
// I/O so that the mapping rules are tested without a server. Each column
// goes through MapColumn; the table adds exclusions, renames and the key.
func buildTableMap(schema string, t config.Table, cols []SourceColumn, keys []indexInfo, p Policies) (*TableMap, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.Name, err)
	}
	m := &TableMap{Schema: schema, Name: t.Name, TargetSchema: "public", Target: t.Target, policies: p}
	if m.Target == "" {
		m.Target = t.Name
	}
	if s, n, ok := strings.Cut(m.Target, "."); ok {
		m.TargetSchema, m.Target = s, n
	}
	known := map[string]int{}
	for i, ci := range cols {
		known[ci.Name] = i
	}
	for _, list := range [][]string{t.Exclude, t.Key, mapKeys(t.Rename), mapKeys(t.Types)} {
		for _, n := range list {
			if _, ok := known[n]; !ok {
				return nil, fmt.Errorf("table %s: column %s named in the pipeline config does not exist", t.Name, n)
			}
		}
	}
	for _, ci := range cols {
		excluded := slices.Contains(t.Exclude, ci.Name)
		var c Column
		if excluded {
			c = Column{Name: ci.Name, Target: ci.Name, SourceType: ci.ColumnType, DataType: strings.ToLower(ci.DataType),
				Nullable: ci.Nullable, Skip: true, Excluded: true, Generated: ci.Generated}
		} else {
			var err error
			c, err = MapColumn(t.Name, ci, t.Types[ci.Name], p)
			if err != nil {
				return nil, err
			}
			switch {
			case c.Generated:
				m.Notes = append(m.Notes, fmt.Sprintf("column %s: generated column, not copied; define it in the target if needed", c.Name))
			case c.Nullable && !ci.Nullable:
				m.Notes = append(m.Notes, fmt.Sprintf("column %s: NOT NULL %s made nullable in the target: zero dates become NULL (zero_dates: null)", c.Name, c.DataType))
			}
		}
		if r, ok := t.Rename[ci.Name]; ok {
			c.Target = r
		}
		m.Columns = append(m.Columns, c)
	}
	if err := m.checkTargetNames(); err != nil {
		return nil, err
	}
	keyCols := t.Key
	if len(keyCols) == 0 {
		if len(keys) == 0 || keys[0].Name != "PRIMARY" {
			return nil, fmt.Errorf("table %s: %w; name the columns of a unique not-null key with tables[].key", t.Name, ErrNoKey)
		}
		keyCols = keys[0].Columns
	} else if !isUniqueKey(keyCols, keys) {
		return nil, fmt.Errorf("table %s: key (%s) named in tables[].key is not a unique index of the table", t.Name, strings.Join(keyCols, ", "))
	}
	for _, n := range keyCols {
		i := known[n]
		c := m.Columns[i]
		switch {
		case c.Skip:
			return nil, fmt.Errorf("table %s: key column %s is excluded or generated; a key column must be copied", t.Name, n)
		case cols[i].Nullable:
			return nil, fmt.Errorf("table %s: key column %s is nullable; name a unique key of NOT NULL columns", t.Name, n)
		case c.kind == kindFloat || c.kind == kindDouble || c.kind == kindJSON:
			return nil, fmt.Errorf("table %s: key column %s of type %s cannot be used as a key", t.Name, n, c.SourceType)
		}
		m.Columns[i].Nullable = false
		m.Key = append(m.Key, i)
	}
	for i, c := range m.Columns {
		if !c.Skip {
			m.copied = append(m.copied, i)
		}
	}
	if len(m.copied) == 0 {
		return nil, fmt.Errorf("table %s: every column is excluded", t.Name)
	}
	return m, nil
}

func isUniqueKey(cols []string, keys []indexInfo) bool {
	for _, k := range keys {
		if len(k.Columns) != len(cols) {
			continue
		}
		same := true
		for _, c := range cols {
			if !slices.Contains(k.Columns, c) {
				same = false
			}
		}
		if same {
			return true
		}
	}
	return false
}

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// LogNotes writes the mapping decisions of Notes to l, one line each.
func (m *TableMap) LogNotes(l *slog.Logger) {
	for _, n := range m.Notes {
		l.Info("sync mapping", "table", m.Name, "note", n)
	}
}

// Copied returns the indexes of the copied columns (neither excluded nor
// generated), in target column order, which is the source ordinal order.
func (m *TableMap) Copied() []int { return m.copied }

// Policies returns the policies the map converts values with.
func (m *TableMap) Policies() Policies { return m.policies }

// checkTargetNames refuses target names that PostgreSQL would cut: MySQL
// keeps 64 bytes, PostgreSQL 63, and two cut names can be one table or
// column.
func (m *TableMap) checkTargetNames() error {
	what := fmt.Sprintf("table %s: the target", m.Name)
	if err := pgident.Check(what+" schema", m.TargetSchema); err != nil {
		return fmt.Errorf("%w; name a shorter one with tables[].target", err)
	}
	if err := pgident.Check(what+" table name", m.Target); err != nil {
		return fmt.Errorf("%w; name a shorter one with tables[].target", err)
	}
	for _, c := range m.Columns {
		if c.Skip {
			continue
		}
		if err := pgident.Check(fmt.Sprintf("%s name of column %s", what, c.Name), c.Target); err != nil {
			return fmt.Errorf("%w; name a shorter one with tables[].rename", err)
		}
	}
	return nil
}

// TargetTable is the quoted, schema-qualified target table name.
func (m *TableMap) TargetTable() string { return pgIdent(m.TargetSchema) + "." + pgIdent(m.Target) }

// SourceTable is the backquoted, schema-qualified source table name.
func (m *TableMap) SourceTable() string { return myIdent(m.Schema) + "." + myIdent(m.Name) }

// CreateTargetSQL returns the statements that create the target table if
// it does not exist: copied columns in source order with their target
// types, NOT NULL where the source says so (except date columns under the
// zero-date null policy), CHECK constraints of enum members, and the
// PRIMARY KEY on the key columns.
func (m *TableMap) CreateTargetSQL() []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", m.TargetTable())
	for n, i := range m.copied {
		c := m.Columns[i]
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.columnDef())
		if chk := c.checkSQL(m.Target); chk != "" {
			b.WriteString(" ")
			b.WriteString(chk)
		}
	}
	b.WriteString(", PRIMARY KEY (")
	for n, i := range m.Key {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgIdent(m.Columns[i].Target))
	}
	b.WriteString("))")
	return []string{b.String()}
}

// columnDef is "name type [NOT NULL]".
func (c Column) columnDef() string {
	s := pgIdent(c.Target) + " " + c.TargetType
	if !c.Nullable {
		s += " NOT NULL"
	}
	return s
}

// checkName is the quoted name of the CHECK constraint of an enum column.
func (c Column) checkName(table string) string {
	return pgIdent(pgident.Name(table, c.Target, "enum"))
}

// legacyCheckName is the name earlier versions gave the CHECK constraint of
// an enum column whose name did not fit: the first 63 bytes. "" when it is
// the same as checkName (or could not have been created).
func (c Column) legacyCheckName(table string) string {
	s := table + "_" + c.Target + "_enum"
	if len(s) <= pgident.MaxLen || !utf8.ValidString(s[:pgident.MaxLen]) {
		return ""
	}
	return pgIdent(s[:pgident.MaxLen])
}

// checkSQL is the CHECK constraint of an enum column ("" for others). The
// empty string is always allowed: MySQL stores it for invalid values
// outside strict mode.
func (c Column) checkSQL(table string) string {
	if c.kind != kindEnum || c.Overridden {
		return ""
	}
	var b strings.Builder
	b.WriteString("CONSTRAINT " + c.checkName(table) + " CHECK (" + pgIdent(c.Target) + " IN (''")
	for _, v := range c.Values {
		b.WriteString(", ")
		b.WriteString(pgString(v))
	}
	b.WriteString("))")
	return b.String()
}

// SelectSQL is the SELECT of the copied columns for snapshot reading, in
// Copied order, without WHERE or ORDER BY (the caller adds its chunk
// predicate). Some columns are read through an expression whose text form
// AppendCopyText decodes exactly: bit as LPAD(BIN(c), n, '0'), float as
// c + 0e0 (MariaDB prints FLOAT with 6 digits otherwise), date and time
// types as CAST(c AS CHAR) (text even with parseTime). The session must
// use time_zone '+00:00' (SourceSessionSQL) so that timestamps are UTC.
func (m *TableMap) SelectSQL() string {
	var b strings.Builder
	b.WriteString("SELECT ")
	for n, i := range m.copied {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.Columns[i].selectExpr())
	}
	b.WriteString(" FROM ")
	b.WriteString(m.SourceTable())
	return b.String()
}

// SourceSessionSQL are the statements a source session runs before reading
// a snapshot: timestamps in UTC, text in utf8mb4.
var SourceSessionSQL = []string{"SET time_zone = '+00:00'", "SET NAMES utf8mb4"}

func (c Column) selectExpr() string {
	q := myIdent(c.Name)
	switch c.kind {
	case kindBit:
		return fmt.Sprintf("LPAD(BIN(%s), %d, '0')", q, c.Length)
	case kindBitBool:
		return q + " + 0"
	case kindFloat:
		return q + " + 0e0"
	case kindDate, kindDatetime, kindTimestamp:
		// As text whatever the DSN's parseTime says, zero dates included.
		return "CAST(" + q + " AS CHAR)"
	}
	return q
}

// KeyColumns are the source names of the key columns.
func (m *TableMap) KeyColumns() []string {
	out := make([]string, len(m.Key))
	for n, i := range m.Key {
		out[n] = m.Columns[i].Name
	}
	return out
}

// TargetColumns are the quoted target names of the copied columns, comma
// separated, in Copied order (for COPY and INSERT column lists).
func (m *TableMap) TargetColumns() string {
	names := make([]string, len(m.copied))
	for n, i := range m.copied {
		names[n] = pgIdent(m.Columns[i].Target)
	}
	return strings.Join(names, ", ")
}

// pgIdent quotes a PostgreSQL identifier.
func pgIdent(s string) string { return pgident.Quote(s) }

// myIdent backquotes a MySQL identifier.
func myIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// pgString is a PostgreSQL string literal.
func pgString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
