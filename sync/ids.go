package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stranglerfig/strangler/internal/pgident"
)

// Generated keys while both sides take writes: the "interleave" strategy.
//
// MySQL hands out AUTO_INCREMENT values off, off+inc, off+2*inc, ... when
// the operator sets auto_increment_increment = inc (>= 2) and
// auto_increment_offset = off; every such value is off mod inc (the legacy
// residue). SetupIDs gives the target column a PostgreSQL generator with the
// same increment and another residue, (off + 1) mod inc (the new residue),
// starting above every id either side already holds. The two sides then
// never hand out the same id, whatever order they write in, and the sync
// copies explicit ids both ways without touching either counter's series.
// See docs/ids.md.

// IDSetup is what SetupIDs did, or found already done, for one table; it
// is meant for status output and logs.
type IDSetup struct {
	Table  string `json:"table"`            // source table
	Column string `json:"column,omitempty"` // source name of the AUTO_INCREMENT column; "" when the table has none
	Target string `json:"target,omitempty"` // quoted target table
	// Interleaved is true when the target column's generator and MySQL's
	// AUTO_INCREMENT hand out disjoint ids (set up now or before).
	Interleaved bool `json:"interleaved"`
	// Increment is MySQL's @@GLOBAL.auto_increment_increment, which the
	// PostgreSQL generator also steps by. Zero when not interleaved.
	Increment int64 `json:"increment,omitempty"`
	// LegacyResidue is what every id MySQL generates is, modulo Increment
	// (auto_increment_offset mod auto_increment_increment).
	LegacyResidue int64 `json:"legacy_residue"`
	// NewResidue is what every id PostgreSQL generates is, modulo
	// Increment; never LegacyResidue.
	NewResidue int64 `json:"new_residue"`
	// Next is the next value the PostgreSQL generator hands out.
	Next int64 `json:"next,omitempty"`
	// Changed is true when SetupIDs changed the target column's generator.
	Changed bool `json:"changed"`
	// Statements are the PostgreSQL statements SetupIDs ran (none when
	// nothing changed).
	Statements []string `json:"statements,omitempty"`
	// Note says what was found: "no AUTO_INCREMENT column: ...",
	// "already interleaved", or what was changed.
	Note string `json:"note,omitempty"`
}

// IDError is a table whose generated ids could collide and that SetupIDs
// cannot set up by itself; Fix says what the operator does.
type IDError struct {
	Table, Column string // source table and column
	Problem       string // what is wrong: "MySQL auto_increment_increment is 1"
	Fix           string // the statements or config lines that fix it
}

// Error names the table, the column, the problem and the fix.
func (e *IDError) Error() string {
	return fmt.Sprintf("table %s: column %s: %s; fix: %s", e.Table, e.Column, e.Problem, e.Fix)
}

// idLockTimeout bounds how long SetupIDs waits for the lock on a target
// table that other sessions are writing.
const idLockTimeout = "10s"

// SetupIDs interleaves the generated ids of the tables: for each table with
// an AUTO_INCREMENT integer column (read from information_schema of the
// source database db), the target column gets a PostgreSQL generator (an
// identity, or a sequence for numeric columns) stepping by MySQL's
// auto_increment_increment, on the residue (auto_increment_offset + 1) mod
// auto_increment_increment, starting above every id of both sides. Tables
// without an AUTO_INCREMENT column are reported and left alone, and so is
// a generator that already interleaves. It never changes MySQL: it refuses,
// with an *IDError naming the statements, when MySQL's increment is below 2.
//
// Every table is read and judged before any is changed, so a refusal
// changes nothing; each table is then changed in one transaction that locks
// the target table against writes while it reads its highest id. An error
// in that phase returns the setups done so far with it.
func SetupIDs(ctx context.Context, src *sql.DB, dst *pgx.Conn, db string, tables []*TableMap) ([]IDSetup, error) {
	g, err := readIDGlobals(ctx, src)
	if err != nil {
		return nil, err
	}
	states := make([]idState, len(tables))
	for i, m := range tables {
		st, err := readIDState(ctx, src, dst, db, m, g)
		if err != nil {
			return nil, err
		}
		if _, _, err := planIDs(st); err != nil {
			return nil, err
		}
		states[i] = st
	}
	out := make([]IDSetup, 0, len(tables))
	for i, m := range tables {
		if states[i].Skip != "" {
			s, _, _ := planIDs(states[i])
			out = append(out, s)
			continue
		}
		s, err := setupTableIDs(ctx, src, dst, db, m, states[i])
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// setupTableIDs reads the target side again under a lock and applies the
// plan, in one transaction.
func setupTableIDs(ctx context.Context, src *sql.DB, dst *pgx.Conn, db string, m *TableMap, st idState) (IDSetup, error) {
	what := fmt.Sprintf("setting up the ids of table %s column %s", st.Table, st.Column)
	tx, err := dst.Begin(ctx)
	if err != nil {
		return IDSetup{}, fmt.Errorf("%s: %w", what, err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, s := range []string{
		"SET LOCAL lock_timeout = '" + idLockTimeout + "'",
		// Blocks writers (and another SetupIDs), not readers.
		"LOCK TABLE " + st.TargetTable + " IN SHARE ROW EXCLUSIVE MODE",
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return IDSetup{}, fmt.Errorf("%s: %s: %w", what, s, err)
		}
	}
	st.clearTarget()
	if err := readTargetIDs(ctx, tx, &st); err != nil {
		return IDSetup{}, err
	}
	if err := readResidueMax(ctx, src, tx, db, m, &st); err != nil {
		return IDSetup{}, err
	}
	setup, stmts, err := planIDs(st)
	if err != nil {
		return IDSetup{}, err
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return IDSetup{}, fmt.Errorf("%s: %s: %w", what, s, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return IDSetup{}, fmt.Errorf("%s: committing: %w", what, err)
	}
	return setup, nil
}

// CheckIDs checks, for `strangler doctor`, that the generated ids of the
// tables of a both-ways pipeline cannot collide: one check per table with
// an AUTO_INCREMENT column. A check fails when MySQL's
// auto_increment_increment is below 2 (or its offset is outside 1..inc),
// when the target column has no generator (the new service would have to
// pick ids itself), when the generator's increment is not MySQL's, when its
// residue is MySQL's, or when its next value is not above every id of its
// residue on both sides. The error is for a server that cannot be asked.
func CheckIDs(ctx context.Context, src *sql.DB, dst *pgx.Conn, db string, tables []*TableMap) ([]Check, error) {
	g, err := readIDGlobals(ctx, src)
	if err != nil {
		return nil, err
	}
	var out []Check
	for _, m := range tables {
		var exists bool
		if err := dst.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, m.TargetTable()).Scan(&exists); err != nil {
			return nil, fmt.Errorf("looking up the target table %s: %w", m.TargetTable(), err)
		}
		if !exists {
			// The pipeline creates it, and sets up its generator at start:
			// only MySQL's side can be judged now.
			if c, ok := checkIDsBeforeTarget(ctx, src, db, m, g); ok {
				out = append(out, c)
			}
			continue
		}
		st, err := readIDState(ctx, src, dst, db, m, g)
		if err != nil {
			return nil, err
		}
		if st.Skip != "" {
			continue
		}
		if err := readResidueMax(ctx, src, dst, db, m, &st); err != nil {
			return nil, err
		}
		out = append(out, evalIDs(st))
	}
	return out, nil
}

// checkIDsBeforeTarget judges a table whose target does not exist yet by
// MySQL's settings alone; ok is false for a table without AUTO_INCREMENT.
func checkIDsBeforeTarget(ctx context.Context, src *sql.DB, db string, m *TableMap, g idGlobals) (Check, bool) {
	var col sql.NullString
	err := src.QueryRowContext(ctx, `SELECT MAX(COLUMN_NAME) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA LIKE '%auto_increment%'`, db, m.Name).Scan(&col)
	if err != nil || !col.Valid {
		return Check{}, false
	}
	c := Check{Name: fmt.Sprintf("ids of %s.%s never collide", m.Name, col.String)}
	obs := fmt.Sprintf("MySQL auto_increment_increment=%d auto_increment_offset=%d; the target table %s does not exist yet: the pipeline creates it and gives its key a generator on the other residue at start",
		g.Increment, g.Offset, m.TargetTable())
	if p := mysqlIDProblem(g.Increment, g.Offset); p != "" {
		c.Observed, c.Fix = p+" ("+obs+")", mysqlIDFix
		return c, true
	}
	c.OK, c.Observed = true, obs
	return c, true
}

// idGlobals are MySQL's AUTO_INCREMENT settings for new sessions.
type idGlobals struct {
	Increment, Offset int64
}

// idState is what SetupIDs and CheckIDs read about one table; planIDs and
// evalIDs judge it without I/O.
type idState struct {
	Table, Column             string // source table and AUTO_INCREMENT column ("" when none)
	TargetTable, TargetColumn string // quoted target table, target column name (unquoted)
	TargetSchema, Target      string // unquoted target schema and table, for a new sequence's name
	// Skip says why the table needs no setup; "" when it does.
	Skip string
	// Mapping is a problem of the column's mapping that makes it unusable
	// as an interleaved key: "" when none.
	Mapping string

	Increment, Offset int64 // MySQL @@GLOBAL.auto_increment_increment, _offset
	AutoIncrement     int64 // information_schema.TABLES.AUTO_INCREMENT: MySQL's next id; 0 unknown
	MySQLMax          int64 // MAX(column) in MySQL; 0 for an empty table

	PGType   string // format_type of the target column: "bigint", "numeric(20,0)"
	Identity string // pg_attribute.attidentity: "" none, "a" always, "d" by default
	Default  string // the column default's expression; "" none
	// Sequence is the quoted, qualified name of the sequence that feeds the
	// column (an identity's, an owned serial one or the one its default
	// calls); "" when none.
	Sequence     string
	SeqIncrement int64
	SeqMin       int64
	SeqMax       int64
	SeqLast      int64 // last_value
	SeqCalled    bool  // is_called: SeqLast was handed out
	SeqCycle     bool
	PGMax        int64 // max(column) in PostgreSQL; 0 for an empty table

	// ResidueRead is true when MySQLResMax and PGResMax hold the highest
	// id whose residue is the generator's, on each side; they are read
	// only when the generator's next value is not above MySQLMax and PGMax.
	ResidueRead           bool
	MySQLResMax, PGResMax int64
}

// clearTarget forgets what was read from PostgreSQL, before it is read
// again in a transaction.
func (st *idState) clearTarget() {
	st.PGType, st.Identity, st.Default, st.Sequence = "", "", "", ""
	st.SeqIncrement, st.SeqMin, st.SeqMax, st.SeqLast, st.PGMax = 0, 0, 0, 0, 0
	st.SeqCalled, st.SeqCycle = false, false
	st.ResidueRead, st.MySQLResMax, st.PGResMax = false, 0, 0
}

// legacyResidue is what every id MySQL generates is modulo inc.
func legacyResidue(inc, off int64) int64 { return off % inc }

// newResidue is the residue SetupIDs gives PostgreSQL: the one after
// MySQL's, so that with increment 2 and offset 1 MySQL makes odd ids and
// PostgreSQL even ones.
func newResidue(inc, off int64) int64 { return (legacyResidue(inc, off) + 1) % inc }

// firstAbove is the smallest value above floor that is r modulo inc.
func firstAbove(floor, inc, r int64) int64 {
	v := floor + 1
	if v < 1 {
		v = 1
	}
	d := (r - v%inc + inc) % inc
	return v + d
}

// next is the value the generator hands out next; ok is false without one.
func (st idState) next() (int64, bool) {
	if st.Sequence == "" {
		return 0, false
	}
	if !st.SeqCalled {
		return st.SeqLast, true
	}
	return st.SeqLast + st.SeqIncrement, true
}

// mysqlIDFix is the fix for MySQL settings that do not interleave.
const mysqlIDFix = "SET GLOBAL auto_increment_increment = 2, auto_increment_offset = 1; and " +
	"`auto_increment_increment = 2` and `auto_increment_offset = 1` under [mysqld] in my.cnf " +
	"(so that it survives a restart); then make the monolith's connection pools reconnect: " +
	"a global change reaches new sessions only, and a session that keeps increment 1 hands out ids PostgreSQL may also use"

// mysqlIDProblem is what is wrong with MySQL's settings; "" when none.
func mysqlIDProblem(inc, off int64) string {
	switch {
	case inc < 2:
		return fmt.Sprintf("MySQL auto_increment_increment is %d: MySQL may hand out every id, so PostgreSQL has none of its own", inc)
	case off < 1 || off > inc:
		return fmt.Sprintf("MySQL auto_increment_offset %d is outside 1..%d (auto_increment_increment), where MySQL ignores it", off, inc)
	}
	return ""
}

// pgTypeMax is the largest value a generator of the column's type may
// hand out; ok is false for a type that cannot hold generated integers.
// numeric columns (bigint unsigned) get a bigint sequence.
func pgTypeMax(t string) (limit int64, identity, ok bool) {
	switch {
	case t == "smallint":
		return math.MaxInt16, true, true
	case t == "integer":
		return math.MaxInt32, true, true
	case t == "bigint":
		return math.MaxInt64, true, true
	case t == "numeric" || (strings.HasPrefix(t, "numeric(") && strings.HasSuffix(t, ",0)")):
		return math.MaxInt64, false, true
	}
	return 0, false, false
}

// idProblems are the reasons the target column's generator could hand out
// an id that is, or will be, taken; none means it interleaves. MySQL's
// settings must be valid.
func idProblems(st idState) []string {
	next, ok := st.next()
	if !ok {
		if st.Default != "" {
			return []string{fmt.Sprintf("default %s is not a sequence", st.Default)}
		}
		return []string{"no generator: the new service would have to pick ids itself"}
	}
	var out []string
	legacy := legacyResidue(st.Increment, st.Offset)
	if st.Identity == "a" {
		out = append(out, "identity GENERATED ALWAYS: the sync cannot write the ids MySQL hands out")
	}
	if st.SeqIncrement != st.Increment {
		out = append(out, fmt.Sprintf("generator increment %d is not MySQL's %d", st.SeqIncrement, st.Increment))
	} else if next%st.Increment == legacy {
		out = append(out, fmt.Sprintf("generator's ids are %d mod %d, as MySQL's are", legacy, st.Increment))
	}
	if st.SeqCycle {
		out = append(out, "generator cycles: it would hand out old ids again")
	}
	floor, where := max(st.MySQLMax, st.PGMax), "every id"
	if st.ResidueRead {
		floor, where = max(st.MySQLResMax, st.PGResMax), fmt.Sprintf("every id that is %d mod %d", next%max(st.Increment, 1), st.Increment)
	}
	if next <= floor {
		out = append(out, fmt.Sprintf("next value %d is not above %s (%d in MySQL or PostgreSQL)", next, where, floor))
	}
	return out
}

// planIDs judges one table and returns what SetupIDs reports and the
// statements it runs (none when nothing changes), or an *IDError when it
// cannot set the table up. It does no I/O.
func planIDs(st idState) (IDSetup, []string, error) {
	s := IDSetup{Table: st.Table, Column: st.Column, Target: st.TargetTable}
	if st.Skip != "" {
		s.Note = st.Skip
		return s, nil, nil
	}
	refuse := func(problem, fix string) (IDSetup, []string, error) {
		return IDSetup{}, nil, &IDError{Table: st.Table, Column: st.Column, Problem: problem, Fix: fix}
	}
	if p := mysqlIDProblem(st.Increment, st.Offset); p != "" {
		return refuse(p, mysqlIDFix)
	}
	if st.Mapping != "" {
		return refuse(st.Mapping, fmt.Sprintf("map column %s to bigint with tables[].types (types: {%s: bigint})", st.Column, st.Column))
	}
	col := st.TargetTable + "." + pgIdent(st.TargetColumn)
	typeMax, identity, ok := pgTypeMax(st.PGType)
	if !ok {
		return refuse(fmt.Sprintf("target column %s is %s, which cannot take generated ids", col, st.PGType),
			fmt.Sprintf("map column %s to an integer type with tables[].types, or ALTER TABLE %s ALTER COLUMN %s TYPE bigint",
				st.Column, st.TargetTable, pgIdent(st.TargetColumn)))
	}
	if st.Default != "" && st.Sequence == "" {
		return refuse(fmt.Sprintf("target column %s has default %s, which is not a sequence", col, st.Default),
			fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT; then run the setup again, which adds an identity",
				st.TargetTable, pgIdent(st.TargetColumn)))
	}
	inc := st.Increment
	s.Interleaved = true
	s.Increment = inc
	s.LegacyResidue = legacyResidue(inc, st.Offset)
	problems := idProblems(st)
	if len(problems) == 0 {
		s.Next, _ = st.next()
		s.NewResidue = s.Next % inc
		s.Note = "already interleaved"
		return s, nil, nil
	}
	r := newResidue(inc, st.Offset)
	floor := max(st.MySQLMax, st.PGMax, st.AutoIncrement)
	if st.Sequence != "" {
		floor = max(floor, st.SeqLast)
	}
	start := firstAbove(floor, inc, r)
	limit := typeMax
	if st.Sequence != "" {
		limit = min(limit, st.SeqMax)
	}
	if floor > limit-inc || start > limit {
		return refuse(fmt.Sprintf("the next interleaved id after %d does not fit the generator of %s (at most %d)", floor, col, limit),
			fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE bigint (and in MySQL ALTER TABLE %s MODIFY %s BIGINT NOT NULL AUTO_INCREMENT)",
				st.TargetTable, pgIdent(st.TargetColumn), myIdent(st.Table), myIdent(st.Column)))
	}
	var stmts []string
	switch {
	case st.Sequence == "" && identity:
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s ADD GENERATED BY DEFAULT AS IDENTITY (START WITH %d INCREMENT BY %d)",
			st.TargetTable, pgIdent(st.TargetColumn), start, inc))
		s.Note = "identity added"
	case st.Sequence == "":
		seq := pgIdent(st.TargetSchema) + "." + pgIdent(pgident.Name(st.Target, st.TargetColumn, "seq"))
		stmts = append(stmts,
			fmt.Sprintf("CREATE SEQUENCE %s AS bigint START WITH %d INCREMENT BY %d OWNED BY %s", seq, start, inc, col),
			fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT nextval(%s::regclass)", st.TargetTable, pgIdent(st.TargetColumn), pgString(seq)))
		s.Note = "sequence " + seq + " added (a " + st.PGType + " column cannot be an identity)"
	case st.Identity != "":
		always := ""
		if st.Identity == "a" {
			always = " SET GENERATED BY DEFAULT"
		}
		stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s%s SET INCREMENT BY %d SET NO CYCLE SET START WITH %d RESTART WITH %d",
			st.TargetTable, pgIdent(st.TargetColumn), always, inc, start, start))
		s.Note = "identity changed: " + strings.Join(problems, "; ")
	default:
		stmts = append(stmts, fmt.Sprintf("ALTER SEQUENCE %s INCREMENT BY %d NO CYCLE START WITH %d RESTART WITH %d", st.Sequence, inc, start, start))
		s.Note = "sequence " + st.Sequence + " changed: " + strings.Join(problems, "; ")
	}
	s.Changed = true
	s.Next = start
	s.NewResidue = r
	s.Statements = stmts
	return s, stmts, nil
}

// evalIDs judges one table for doctor; it does no I/O.
func evalIDs(st idState) Check {
	c := Check{Name: fmt.Sprintf("ids of %s.%s never collide", st.Table, st.Column)}
	var obs []string
	obs = append(obs, fmt.Sprintf("MySQL auto_increment_increment=%d auto_increment_offset=%d", st.Increment, st.Offset))
	if next, ok := st.next(); ok {
		kind := "sequence " + st.Sequence
		if st.Identity != "" {
			kind = "identity"
		}
		obs = append(obs, fmt.Sprintf("PostgreSQL %s increment %d next %d", kind, st.SeqIncrement, next))
	} else {
		obs = append(obs, "PostgreSQL column has no generator")
	}
	obs = append(obs, fmt.Sprintf("max id %d in MySQL, %d in PostgreSQL", st.MySQLMax, st.PGMax))
	if p := mysqlIDProblem(st.Increment, st.Offset); p != "" {
		c.Observed = p + " (" + strings.Join(obs, "; ") + ")"
		c.Fix = mysqlIDFix + "; then set up the PostgreSQL side again (see docs/ids.md)"
		return c
	}
	_, stmts, err := planIDs(st)
	var ie *IDError
	switch {
	case errors.As(err, &ie):
		c.Observed = ie.Problem + " (" + strings.Join(obs, "; ") + ")"
		c.Fix = ie.Fix
		return c
	case len(stmts) == 0:
		c.OK = true
		next, _ := st.next()
		c.Observed = fmt.Sprintf("MySQL ids are %d mod %d, PostgreSQL's %d mod %d (%s)",
			legacyResidue(st.Increment, st.Offset), st.Increment, next%st.Increment, st.Increment, strings.Join(obs, "; "))
		return c
	}
	c.Observed = strings.Join(idProblems(st), "; ") + " (" + strings.Join(obs, "; ") + ")"
	c.Fix = strings.Join(stmts, "; ") + ";"
	return c
}

// readIDGlobals reads MySQL's AUTO_INCREMENT settings for new sessions.
func readIDGlobals(ctx context.Context, src *sql.DB) (idGlobals, error) {
	var g idGlobals
	if err := src.QueryRowContext(ctx, "SELECT @@GLOBAL.auto_increment_increment, @@GLOBAL.auto_increment_offset").Scan(&g.Increment, &g.Offset); err != nil {
		return g, fmt.Errorf("reading auto_increment_increment and auto_increment_offset: %w", err)
	}
	return g, nil
}

// readIDState reads one table's AUTO_INCREMENT column and counter from
// MySQL and its target column's generator from PostgreSQL.
func readIDState(ctx context.Context, src *sql.DB, dst pgQuerier, db string, m *TableMap, g idGlobals) (idState, error) {
	st := idState{Table: m.Name, TargetTable: m.TargetTable(), TargetSchema: m.TargetSchema, Target: m.Target,
		Increment: g.Increment, Offset: g.Offset}
	conn, err := src.Conn(ctx)
	if err != nil {
		return st, fmt.Errorf("reading the AUTO_INCREMENT column of %s: %w", m.Name, err)
	}
	defer conn.Close()
	// MySQL 8 caches information_schema.TABLES.AUTO_INCREMENT for a day
	// unless told not to; MariaDB has no such variable and no such cache.
	_, _ = conn.ExecContext(ctx, "SET SESSION information_schema_stats_expiry = 0")
	var name, dataType string
	err = conn.QueryRowContext(ctx, `SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND LOWER(EXTRA) LIKE '%auto_increment%'`, db, m.Name).Scan(&name, &dataType)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		st.Skip = "no AUTO_INCREMENT column: its keys come from the application (UUIDs, natural keys); nothing to set up"
		return st, nil
	case err != nil:
		return st, fmt.Errorf("reading the AUTO_INCREMENT column of %s: %w", m.Name, err)
	}
	st.Column = name
	ci := -1
	for i, c := range m.Columns {
		if c.Name == name {
			ci = i
		}
	}
	if ci < 0 {
		return st, fmt.Errorf("table %s: AUTO_INCREMENT column %s is not in the table map: the table changed since it was loaded; load it again", m.Name, name)
	}
	col := m.Columns[ci]
	if col.Skip {
		st.Skip = fmt.Sprintf("AUTO_INCREMENT column %s is not copied (excluded or generated): the target has no such column; nothing to set up", name)
		return st, nil
	}
	st.TargetColumn = col.Target
	if col.kind != kindInt && col.kind != kindUint {
		st.Mapping = fmt.Sprintf("AUTO_INCREMENT column %s (%s) maps to %s, not to an integer", name, col.SourceType, col.TargetType)
	}
	var ai sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
		db, m.Name).Scan(&ai); err != nil {
		return st, fmt.Errorf("reading the AUTO_INCREMENT counter of %s: %w", m.Name, err)
	}
	st.AutoIncrement = ai.Int64
	q := fmt.Sprintf("SELECT CAST(COALESCE(MAX(%s), 0) AS CHAR) FROM %s.%s", myIdent(name), myIdent(db), myIdent(m.Name))
	if st.MySQLMax, err = queryInt64MySQL(ctx, conn, q); err != nil {
		return st, fmt.Errorf("reading the highest %s of %s in MySQL: %w", name, m.Name, err)
	}
	if err := readTargetIDs(ctx, dst, &st); err != nil {
		return st, err
	}
	return st, nil
}

// pgQuerier is a connection or a transaction.
type pgQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ pgQuerier = (*pgx.Conn)(nil)
	_ pgQuerier = pgx.Tx(nil)
)

// readTargetIDs reads the target column's type, default and generator,
// and its highest value.
func readTargetIDs(ctx context.Context, dst pgQuerier, st *idState) error {
	what := fmt.Sprintf("reading the target column %s.%s of table %s", st.TargetTable, pgIdent(st.TargetColumn), st.Table)
	var attnum int16
	err := dst.QueryRow(ctx, `SELECT a.attnum, format_type(a.atttypid, a.atttypmod), a.attidentity::text,
	COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), COALESCE(pg_get_serial_sequence($1::text, a.attname)::regclass::text, '')
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1::text::regclass AND a.attname = $2 AND NOT a.attisdropped`, st.TargetTable, st.TargetColumn).Scan(
		&attnum, &st.PGType, &st.Identity, &st.Default, &st.Sequence)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: no such column; create the target table first (sync run does)", what)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if st.Sequence == "" && st.Default != "" && strings.Contains(st.Default, "nextval(") {
		// A default that calls a sequence the column does not own.
		err := dst.QueryRow(ctx, `SELECT c.oid::regclass::text FROM pg_attrdef d
JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
JOIN pg_class c ON c.oid = dep.refobjid AND c.relkind = 'S'
WHERE d.adrelid = $1::text::regclass AND d.adnum = $2 LIMIT 1`, st.TargetTable, attnum).Scan(&st.Sequence)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%s: finding the sequence of its default: %w", what, err)
		}
	}
	if st.Sequence != "" {
		if err := dst.QueryRow(ctx, `SELECT seqincrement, seqmin, seqmax, seqcycle FROM pg_sequence WHERE seqrelid = $1::text::regclass`,
			st.Sequence).Scan(&st.SeqIncrement, &st.SeqMin, &st.SeqMax, &st.SeqCycle); err != nil {
			return fmt.Errorf("%s: reading sequence %s: %w", what, st.Sequence, err)
		}
		if err := dst.QueryRow(ctx, "SELECT last_value, is_called FROM "+st.Sequence).Scan(&st.SeqLast, &st.SeqCalled); err != nil {
			return fmt.Errorf("%s: reading sequence %s: %w", what, st.Sequence, err)
		}
	}
	var s string
	if err := dst.QueryRow(ctx, fmt.Sprintf("SELECT COALESCE(max(%s), 0)::text FROM %s", pgIdent(st.TargetColumn), st.TargetTable)).Scan(&s); err != nil {
		return fmt.Errorf("%s: reading its highest value: %w", what, err)
	}
	if st.PGMax, err = strconv.ParseInt(s, 10, 64); err != nil {
		return fmt.Errorf("%s: highest value %s: %w", what, s, err)
	}
	return nil
}

// readResidueMax reads, when the generator's next value is not above the
// highest id of both sides, the highest id of the generator's residue on
// each side: only those ids can be handed out again. A full scan, so it is
// skipped when the cheap maxima already settle it.
func readResidueMax(ctx context.Context, src *sql.DB, dst pgQuerier, db string, m *TableMap, st *idState) error {
	next, ok := st.next()
	if !ok || st.Increment < 2 || st.SeqIncrement != st.Increment || next > max(st.MySQLMax, st.PGMax) {
		return nil
	}
	r := next % st.Increment
	conn, err := src.Conn(ctx)
	if err != nil {
		return fmt.Errorf("reading the ids of %s in MySQL: %w", m.Name, err)
	}
	defer conn.Close()
	q := fmt.Sprintf("SELECT CAST(COALESCE(MAX(%[1]s), 0) AS CHAR) FROM %[2]s.%[3]s WHERE MOD(%[1]s, %[4]d) = %[5]d",
		myIdent(st.Column), myIdent(db), myIdent(m.Name), st.Increment, r)
	if st.MySQLResMax, err = queryInt64MySQL(ctx, conn, q); err != nil {
		return fmt.Errorf("reading the highest %s of %s that is %d mod %d in MySQL: %w", st.Column, m.Name, r, st.Increment, err)
	}
	var s string
	pq := fmt.Sprintf("SELECT COALESCE(max(%[1]s), 0)::text FROM %[2]s WHERE %[1]s %% %[3]d = %[4]d", pgIdent(st.TargetColumn), st.TargetTable, st.Increment, r)
	if err := dst.QueryRow(ctx, pq).Scan(&s); err != nil {
		return fmt.Errorf("reading the highest %s of %s that is %d mod %d in PostgreSQL: %w", st.TargetColumn, st.TargetTable, r, st.Increment, err)
	}
	if st.PGResMax, err = strconv.ParseInt(s, 10, 64); err != nil {
		return fmt.Errorf("reading the highest %s of %s in PostgreSQL: %s: %w", st.TargetColumn, st.TargetTable, s, err)
	}
	st.ResidueRead = true
	return nil
}

// queryInt64MySQL reads one integer given as text (so that a bigint
// unsigned is refused with a clear error, not a scan failure).
func queryInt64MySQL(ctx context.Context, conn *sql.Conn, q string) (int64, error) {
	var s string
	if err := conn.QueryRowContext(ctx, q).Scan(&s); err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("id %s is above the largest bigint", s)
	}
	return v, nil
}
