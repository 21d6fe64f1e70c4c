package sync

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// legacySessionSQL sets up the session the new-to-legacy applier writes
// the legacy database with:
//
//   - timestamps are written in UTC, text as utf8mb4;
//   - strict mode: a value MySQL cannot store is an error, never a silent
//     truncation; NO_AUTO_VALUE_ON_ZERO: a key 0 stays 0 instead of taking
//     the next AUTO_INCREMENT value; no NO_ZERO_DATE, so the zero dates that
//     zero_dates: null turned into NULL go back; no NO_BACKSLASH_ESCAPES, so
//     the literals of appendQuoted read as written;
//   - foreign_key_checks off: changes are applied collapsed by key and
//     table by table, not in the source's statement order, and the
//     source's cascaded deletes arrive as changes of their own, which a
//     MySQL ON DELETE CASCADE must not repeat (the replication applier of
//     MySQL itself skips them for the same reason).
var legacySessionSQL = []string{
	"SET time_zone = '+00:00'",
	"SET NAMES utf8mb4",
	"SET SESSION sql_mode = '" + strictSQLMode + "'",
	"SET SESSION foreign_key_checks = 0",
}

const (
	strictSQLMode = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"
	// lenientSQLMode writes an enum column's empty string, MySQL's marker
	// for an invalid value, which strict mode refuses to store.
	lenientSQLMode = "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"
)

// revTable is one synced table in the new-to-legacy direction: the MySQL
// table as information_schema describes it (its map, the same one the
// forward direction uses, names and types of the target included) and how
// the PostgreSQL relation of its target maps onto it.
type revTable struct {
	m        *TableMap
	copied   []int  // m.Copied(): the MySQL columns written, in MySQL order
	keyPos   []int  // for each key column, its position in copied
	legacy   string // `db`.`table`
	pgName   string // schema.table of the PostgreSQL table, as relation messages name it
	colNames []string
	// replace: the MySQL table has a unique index besides the key, and
	// every column is synced: whole rows are applied as DELETE then INSERT,
	// because INSERT ... ON DUPLICATE KEY UPDATE would update the other row
	// that holds a value of that index, not insert this one.
	replace bool

	relID   uint32
	relIdx  []int // for each copied column, its index in the relation; -1: PostgreSQL has no such column
	relCols int   // the relation's number of columns

	// rule (both ways): the table's conflict policy; the old rows are kept
	// whole, which conflicts are found by (conflict_reverse.go).
	rule *conflictRule
}

func newRevTable(m *TableMap, db string, otherUnique bool) (*revTable, error) {
	if len(m.Key) == 0 {
		return nil, &NoKeyError{Table: m.Schema + "." + m.Name}
	}
	t := &revTable{m: m, copied: m.Copied(), legacy: myIdent(db) + "." + myIdent(m.Name),
		pgName: m.TargetSchema + "." + m.Target}
	pos := map[int]int{}
	excluded := false
	for j, ci := range t.copied {
		pos[ci] = j
		t.colNames = append(t.colNames, myIdent(m.Columns[ci].Name))
	}
	for _, c := range m.Columns {
		excluded = excluded || c.Excluded
	}
	for _, k := range m.Key {
		j, ok := pos[k]
		if !ok {
			return nil, fmt.Errorf("table %s.%s: key column %q is excluded; a synced table needs its key", m.Schema, m.Name, m.Columns[k].Name)
		}
		t.keyPos = append(t.keyPos, j)
	}
	t.replace = otherUnique && !excluded
	return t, nil
}

// bind maps the columns of a relation message onto the table. Every key
// column must be there, and the relation's replica identity must give the
// key of deleted rows and of updates that change it.
func (t *revTable) bind(rel *Relation) error {
	t.relIdx = nil // until this relation is known to fit
	at := make(map[string]int, len(rel.Columns))
	ident := []string{}
	for i, c := range rel.Columns {
		at[c.Name] = i
		if c.Key {
			ident = append(ident, c.Name)
		}
	}
	idx := make([]int, len(t.copied))
	for j, ci := range t.copied {
		i, ok := at[t.m.Columns[ci].Target]
		if !ok {
			i = -1
		}
		idx[j] = i
	}
	var keyCols []string
	for _, j := range t.keyPos {
		name := t.m.Columns[t.copied[j]].Target
		if idx[j] < 0 {
			return fmt.Errorf("table %s: key column %s is missing from the PostgreSQL table %s", t.m.Name, name, rel.QualifiedName())
		}
		keyCols = append(keyCols, name)
	}
	if err := checkReplicaIdentity(rel.QualifiedName(), rel.ReplicaIdentity, ident, keyCols); err != nil {
		return err
	}
	t.relID, t.relIdx, t.relCols = rel.ID, idx, len(rel.Columns)
	return nil
}

// fits reports whether a relation has exactly the table's copied columns,
// by their PostgreSQL names.
func (t *revTable) fits(rel *Relation) bool {
	if len(rel.Columns) != len(t.copied) {
		return false
	}
	have := make(map[string]bool, len(t.copied))
	for _, ci := range t.copied {
		have[t.m.Columns[ci].Target] = true
	}
	for _, c := range rel.Columns {
		if !have[c.Name] {
			return false
		}
	}
	return true
}

// checkReplicaIdentity refuses a table whose deleted rows (and updates of
// the key) would reach the stream without the key the legacy table is
// keyed by. identCols are the columns of the replica identity.
func checkReplicaIdentity(table string, ident byte, identCols, keyCols []string) error {
	fix := fmt.Sprintf("run ALTER TABLE %s REPLICA IDENTITY FULL (or DEFAULT, with a primary key on %s)", table, strings.Join(keyCols, ", "))
	switch ident {
	case 'f':
		return nil
	case 'n':
		return fmt.Errorf("table %s has REPLICA IDENTITY NOTHING: its deletes and key changes carry no old key to apply to the legacy table; %s", table, fix)
	}
	for _, k := range keyCols {
		if !slices.Contains(identCols, k) {
			what := "its primary key"
			if ident == 'i' {
				what = "its replica identity index"
			}
			if len(identCols) == 0 {
				return fmt.Errorf("table %s has no primary key and REPLICA IDENTITY DEFAULT: its deletes and key changes carry no old key; %s", table, fix)
			}
			return fmt.Errorf("table %s: %s (%s) lacks the key column %s the legacy table is keyed by, so deletes would carry no key to apply; %s",
				table, what, strings.Join(identCols, ", "), k, fix)
		}
	}
	return nil
}

// revRow is a row image as MySQL literals, one per copied column; nil:
// not sent (an unchanged TOASTed value, or a column PostgreSQL lacks).
type revRow struct {
	lits    [][]byte
	lenient bool // an enum column holds '': written under lenientSQLMode
	// json (both ways): the text PostgreSQL sent for each JSON column, by
	// position in copied; nil for NULL. MariaDB cannot compare JSON by
	// value (JSON_EQUALS keeps "\u00e9" apart from "é"), so conflicts
	// compare these in Go.
	json map[int][]byte
}

// revChange is a row change encoded for MySQL, not yet merged into a batch.
type revChange struct {
	t        *revTable
	op       Op
	truncate bool
	oldKey   string // key of the old image; "" for an insert
	key      string // key of the new image; "" for a delete
	row      *revRow
	before   *revRow // the old image, whole (both ways only)
}

// encodeChange maps one decoded change onto the table.
func (t *revTable) encodeChange(c LogicalChange) (revChange, error) {
	rc := revChange{t: t, op: c.Op}
	if t.relIdx == nil || c.Relation.ID != t.relID || c.New != nil && len(c.New) != t.relCols || c.Old != nil && len(c.Old) != t.relCols {
		return rc, fmt.Errorf("table %s: a change of %s that does not fit the relation it was bound to", t.m.Name, c.Relation.QualifiedName())
	}
	if c.New != nil {
		row, err := t.encodeRow(c.New, c.Old, c.OldKind == 'O')
		if err != nil {
			return rc, err
		}
		rc.row = row
		if rc.key, err = t.keyOf(row.lits, "new row"); err != nil {
			return rc, err
		}
	}
	switch {
	case c.Old != nil && t.rule != nil && c.OldKind == 'O':
		before, err := t.encodeRow(c.Old, nil, false)
		if err != nil {
			return rc, err
		}
		rc.before = before
		if rc.oldKey, err = t.keyOf(before.lits, "old row"); err != nil {
			return rc, err
		}
	case c.Old != nil:
		lits := make([][]byte, len(t.copied))
		for _, j := range t.keyPos {
			i := t.relIdx[j]
			v := c.Old[i]
			if v.Kind != TupleText {
				return rc, fmt.Errorf("table %s: the %s of %s carries no old value of key column %s (REPLICA IDENTITY of %s); run ALTER TABLE %s REPLICA IDENTITY FULL",
					t.m.Name, c.Op, c.Relation.QualifiedName(), t.m.Columns[t.copied[j]].Target, c.Relation.QualifiedName(), c.Relation.QualifiedName())
			}
			l, err := t.m.AppendMySQLLiteral(nil, t.copied[j], v.Data, false)
			if err != nil {
				return rc, t.withKey(err, lits)
			}
			lits[j] = l
		}
		var err error
		if rc.oldKey, err = t.keyOf(lits, "old row"); err != nil {
			return rc, err
		}
	case c.Op == OpUpdate:
		rc.oldKey = rc.key // the key did not change
	case c.Op == OpDelete:
		return rc, fmt.Errorf("table %s: a delete of %s without its old key", t.m.Name, c.Relation.QualifiedName())
	}
	return rc, nil
}

// encodeRow turns a new row image into literals. An unchanged TOASTed
// value is taken from the old image when it is whole (REPLICA IDENTITY
// FULL), else left out, so that the upsert keeps MySQL's value.
func (t *revTable) encodeRow(vals, old []TupleValue, oldFull bool) (*revRow, error) {
	row := &revRow{lits: make([][]byte, len(t.copied))}
	for j, ci := range t.copied {
		i := t.relIdx[j]
		if i < 0 {
			continue
		}
		v := vals[i]
		if v.Kind == TupleUnchanged && oldFull && old[i].Kind != TupleUnchanged {
			v = old[i]
		}
		var l []byte
		var err error
		switch v.Kind {
		case TupleUnchanged:
			continue
		case TupleNull:
			l, err = t.m.AppendMySQLLiteral(nil, ci, nil, true)
		case TupleText:
			l, err = t.m.AppendMySQLLiteral(nil, ci, v.Data, false)
			if err == nil && t.m.Columns[ci].kind == kindEnum && len(v.Data) == 0 {
				row.lenient = true
			}
			if t.rule != nil && t.m.Columns[ci].kind == kindJSON {
				if row.json == nil {
					row.json = map[int][]byte{}
				}
				row.json[j] = v.Data
			}
		default:
			err = fmt.Errorf("table %s column %s: a value in binary format, which strangler does not request", t.m.Name, t.m.Columns[ci].Name)
		}
		if err != nil {
			return nil, t.withKey(err, row.lits)
		}
		row.lits[j] = l
	}
	return row, nil
}

// keyOf is the key of a row: its key literal, or the literals of a
// composite key as a row constructor "(a, b)"; both are what DELETE ...
// WHERE key IN (...) lists.
func (t *revTable) keyOf(lits [][]byte, what string) (string, error) {
	for _, j := range t.keyPos {
		if lits[j] == nil {
			return "", fmt.Errorf("table %s: the %s has no value for key column %s", t.m.Name, what, t.m.Columns[t.copied[j]].Name)
		}
	}
	if len(t.keyPos) == 1 {
		return string(lits[t.keyPos[0]]), nil
	}
	var b strings.Builder
	b.WriteByte('(')
	for n, j := range t.keyPos {
		if n > 0 {
			b.WriteString(", ")
		}
		b.Write(lits[j])
	}
	b.WriteByte(')')
	return b.String(), nil
}

// withKey names the row's key (as far as it is known) in a *ValueError.
func (t *revTable) withKey(err error, lits [][]byte) error {
	for _, j := range t.keyPos {
		if lits[j] == nil {
			return err // the key is not known (yet)
		}
	}
	vals := make([]any, len(t.m.Columns))
	for j, ci := range t.copied {
		if lits[j] != nil {
			vals[ci] = string(lits[j])
		}
	}
	return t.m.WithKey(err, vals)
}

// revTableBatch is one table's share of a batch, collapsed by key as the
// forward direction's tableBatch: the last change of a key wins, and the
// deleted and upserted keys are disjoint. truncate: the table was
// truncated in the batch, before every change still in ups and dels.
type revTableBatch struct {
	t        *revTable
	truncate bool
	ups      map[string]*revRow
	dels     map[string]bool
	ops      [4]int64
	// exp (both ways): key -> the row PostgreSQL had before the batch
	// changed it; nil for a key the batch inserted. noExp: a TRUNCATE in
	// the batch, after which nothing is compared.
	exp   map[string]*revRow
	noExp bool
}

// revBatch is whole source transactions, applied to MySQL in one
// transaction with the WAL position after the last of them (lsn); or one
// piece of a source transaction too big to hold at once.
type revBatch struct {
	tables     map[*revTable]*revTableBatch
	order      []*revTableBatch
	changes    int
	txns       int
	lsn        LSN       // the end of the last transaction, or a position the server reported everything before was sent
	commitTime time.Time // commit time of the last transaction
	firstRecv  time.Time
	piece      bool
}

func newRevBatch() *revBatch { return &revBatch{tables: map[*revTable]*revTableBatch{}} }

func (b *revBatch) empty() bool { return b.changes == 0 && b.txns == 0 }

func (b *revBatch) forTable(t *revTable) *revTableBatch {
	tb := b.tables[t]
	if tb == nil {
		tb = &revTableBatch{t: t, ups: map[string]*revRow{}, dels: map[string]bool{}}
		b.tables[t] = tb
		b.order = append(b.order, tb)
	}
	return tb
}

// merge adds an encoded change to the batch.
func (b *revBatch) merge(c revChange) {
	if b.changes == 0 {
		b.firstRecv = time.Now()
	}
	tb := b.forTable(c.t)
	if c.truncate {
		tb.truncate = true
		clear(tb.ups)
		clear(tb.dels)
		tb.exp, tb.noExp = nil, true
		return
	}
	tb.ops[c.op]++
	b.changes++
	if c.t.rule != nil && !tb.noExp {
		tb.expect(c)
	}
	if c.row == nil {
		delete(tb.ups, c.oldKey)
		tb.dels[c.oldKey] = true
		return
	}
	prev := tb.ups[c.key]
	if c.op == OpUpdate && c.oldKey != c.key {
		prev = tb.ups[c.oldKey]
		delete(tb.ups, c.oldKey)
		tb.dels[c.oldKey] = true
	}
	if prev != nil {
		// Values PostgreSQL did not send again are those of the image
		// before, in this batch.
		for j, l := range c.row.lits {
			if l == nil {
				c.row.lits[j] = prev.lits[j]
				if v, ok := prev.json[j]; ok {
					if c.row.json == nil {
						c.row.json = map[int][]byte{}
					}
					c.row.json[j] = v
				}
			}
		}
		c.row.lenient = c.row.lenient || prev.lenient
	}
	delete(tb.dels, c.key)
	tb.ups[c.key] = c.row
}

// revStmt is one statement of a batch.
type revStmt struct {
	sql     string
	lenient bool
}

// statements are the MySQL statements that apply tb: the truncate, the
// deletes, then the upserts, in statements of at most maxBytes (a row
// longer than that goes alone).
func (tb *revTableBatch) statements(maxBytes int) []revStmt {
	t := tb.t
	var out []revStmt
	if tb.truncate {
		out = append(out, revStmt{sql: "DELETE FROM " + t.legacy})
	}
	keyCols := t.keyColumnList()
	inList := func(prefix string, keys []string) {
		var b strings.Builder
		for _, k := range keys {
			if b.Len() > 0 && b.Len()+len(k) > maxBytes {
				b.WriteByte(')')
				out = append(out, revStmt{sql: b.String()})
				b.Reset()
			}
			if b.Len() == 0 {
				b.WriteString(prefix + " WHERE " + keyCols + " IN (")
			} else {
				b.WriteString(", ")
			}
			b.WriteString(k)
		}
		if b.Len() > 0 {
			b.WriteByte(')')
			out = append(out, revStmt{sql: b.String()})
		}
	}
	if len(tb.dels) > 0 {
		keys := make([]string, 0, len(tb.dels))
		for k := range tb.dels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		inList("DELETE FROM "+t.legacy, keys)
	}
	if len(tb.ups) == 0 {
		return out
	}
	// Rows by the columns they carry (almost always: all of them) and
	// by sql_mode.
	type group struct {
		cols    []int // positions in copied
		lenient bool
		keys    []string
	}
	groups := map[string]*group{}
	var sigs []string
	for k, r := range tb.ups {
		sig := make([]byte, 0, len(r.lits)+1)
		for _, l := range r.lits {
			sig = append(sig, "01"[min(len(l), 1)])
		}
		if r.lenient {
			sig = append(sig, 'L')
		}
		g := groups[string(sig)]
		if g == nil {
			g = &group{lenient: r.lenient}
			for j, l := range r.lits {
				if l != nil {
					g.cols = append(g.cols, j)
				}
			}
			groups[string(sig)] = g
			sigs = append(sigs, string(sig))
		}
		g.keys = append(g.keys, k)
	}
	slices.Sort(sigs)
	slices.Reverse(sigs) // whole rows first
	for _, sig := range sigs {
		g := groups[sig]
		slices.Sort(g.keys)
		full := len(g.cols) == len(t.copied)
		if t.replace && full {
			inList("DELETE FROM "+t.legacy, g.keys)
		}
		head := "INSERT INTO " + t.legacy + " (" + t.columnList(g.cols) + ") VALUES "
		tail := ""
		if !(t.replace && full) {
			tail = " ON DUPLICATE KEY UPDATE " + t.updateList(g.cols)
		}
		var b []byte
		for _, k := range g.keys {
			r := tb.ups[k]
			size := 2
			for _, j := range g.cols {
				size += len(r.lits[j]) + 2
			}
			if len(b) > 0 && len(b)+size+len(tail) > maxBytes {
				out = append(out, revStmt{sql: string(b) + tail, lenient: g.lenient})
				b = b[:0]
			}
			if len(b) == 0 {
				b = append(b, head...)
			} else {
				b = append(b, ", "...)
			}
			b = append(b, '(')
			for n, j := range g.cols {
				if n > 0 {
					b = append(b, ", "...)
				}
				b = append(b, r.lits[j]...)
			}
			b = append(b, ')')
		}
		if len(b) > 0 {
			out = append(out, revStmt{sql: string(b) + tail, lenient: g.lenient})
		}
	}
	return out
}

// keyColumnList is the key column, or "(a, b)" for a composite key.
func (t *revTable) keyColumnList() string {
	if len(t.keyPos) == 1 {
		return t.colNames[t.keyPos[0]]
	}
	names := make([]string, len(t.keyPos))
	for n, j := range t.keyPos {
		names[n] = t.colNames[j]
	}
	return "(" + strings.Join(names, ", ") + ")"
}

func (t *revTable) columnList(cols []int) string {
	names := make([]string, len(cols))
	for n, j := range cols {
		names[n] = t.colNames[j]
	}
	return strings.Join(names, ", ")
}

// updateList is the ON DUPLICATE KEY UPDATE list of the non-key columns;
// a table of key columns only updates its first key column to itself.
func (t *revTable) updateList(cols []int) string {
	var set []string
	for _, j := range cols {
		if slices.Contains(t.keyPos, j) {
			continue
		}
		set = append(set, t.colNames[j]+" = VALUES("+t.colNames[j]+")")
	}
	if len(set) == 0 {
		k := t.colNames[t.keyPos[0]]
		return k + " = " + k
	}
	return strings.Join(set, ", ")
}

// revApplier writes batches to the legacy database over one session, in
// transactions that begin with the pipeline's checkpoint row.
type revApplier struct {
	pipeline, slot string
	conn           *sql.Conn
	maxStmt        int // bytes per statement: half of max_allowed_packet, at most 4 MB

	open *sql.Tx   // the MySQL transaction holding the pieces of a source transaction so far
	held revPieces // what those pieces changed

	// both: the new-to-legacy half of a both-ways pipeline, which
	// resolves conflicts; mariadb: the legacy server's flavour.
	both    *Pipeline
	mariadb bool
}

// revPieces sums the pieces applied in the open transaction.
type revPieces struct {
	pieces    int
	changes   int
	firstRecv time.Time
	ops       map[*revTable]*[4]int64
}

func (h *revPieces) add(b *revBatch) {
	if h.pieces == 0 {
		h.firstRecv = b.firstRecv
		h.ops = map[*revTable]*[4]int64{}
	}
	h.pieces++
	h.changes += b.changes
	for _, tb := range b.order {
		o := h.ops[tb.t]
		if o == nil {
			o = &[4]int64{}
			h.ops[tb.t] = o
		}
		for i, n := range tb.ops {
			o[i] += n
		}
	}
}

func (a *revApplier) rollback() {
	if a.open != nil {
		_ = a.open.Rollback()
		a.open = nil
	}
	a.held = revPieces{}
}

// apply writes b to MySQL. A batch, or the last piece of a source
// transaction, commits with the checkpoint; a piece leaves the transaction
// open. The checkpoint row is the transaction's first change (the no-echo
// marker): the whole checkpoint for a batch, a count of the transaction
// for a first piece, whose position the last piece writes. On an error the
// transaction is rolled back: a source transaction is applied whole or not
// at all. The transaction lives as long as session (database/sql rolls a
// transaction back when its context ends); ctx bounds this batch's work.
func (a *revApplier) apply(session, ctx context.Context, b *revBatch) error {
	starting := a.open == nil
	if starting {
		tx, err := a.conn.BeginTx(session, nil)
		if err != nil {
			return fmt.Errorf("beginning a legacy MySQL transaction: %w", err)
		}
		a.open = tx
	}
	err := a.write(ctx, b, starting)
	if err != nil {
		a.rollback()
		return err
	}
	if b.piece {
		a.held.add(b)
		return nil
	}
	tx, changes := a.open, b.changes+a.held.changes
	a.open, a.held = nil, revPieces{}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing %d changes up to LSN %s to the legacy database: %w", changes, b.lsn, err)
	}
	return nil
}

func (a *revApplier) write(ctx context.Context, b *revBatch, starting bool) error {
	tx := a.open
	checkpoint := func(final bool) error {
		var s string
		if final {
			s = checkpointSQL(a.pipeline, a.slot, &b.lsn, b.commitTime, b.changes+a.held.changes)
		} else {
			s = checkpointSQL(a.pipeline, a.slot, nil, time.Time{}, 0)
		}
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("saving the checkpoint LSN %s in the legacy database: %w", b.lsn, err)
		}
		return nil
	}
	if starting {
		if err := checkpoint(!b.piece); err != nil {
			return err
		}
	}
	if a.both != nil {
		if err := a.resolveConflicts(ctx, tx, b); err != nil {
			return err
		}
	}
	for _, tb := range b.order {
		for _, st := range tb.statements(a.maxStmt) {
			if err := a.exec(ctx, tx, st); err != nil {
				if b.piece {
					return fmt.Errorf("applying a piece of %d changes of a large transaction to %s: %w", b.changes, tb.t.legacy, err)
				}
				return fmt.Errorf("applying changes to %s up to LSN %s: %w", tb.t.legacy, b.lsn, err)
			}
		}
	}
	if !b.piece && !starting {
		return checkpoint(true)
	}
	return nil
}

func (a *revApplier) exec(ctx context.Context, tx *sql.Tx, st revStmt) error {
	if !st.lenient {
		_, err := tx.ExecContext(ctx, st.sql)
		return err
	}
	if _, err := tx.ExecContext(ctx, "SET SESSION sql_mode = '"+lenientSQLMode+"'"); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, st.sql)
	if _, rerr := tx.ExecContext(ctx, "SET SESSION sql_mode = '"+strictSQLMode+"'"); err == nil {
		err = rerr
	}
	return err
}
