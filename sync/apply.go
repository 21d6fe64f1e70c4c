package sync

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stranglerfig/strangler/internal/pgident"
)

// table is one synced table as the stream and the applier see it: its map,
// and what is derived from it for the binlog and the target.
type table struct {
	m      *TableMap
	copied []int    // m.Copied(): indexes into m.Columns of the target's columns, in target order
	keyPos []int    // for each key column, its position in copied
	oids   []uint32 // target type oid of each copied column
	target string   // quoted schema.table of the target
	cols   string   // quoted, comma-separated target columns, in copied order
	keys   string   // quoted, comma-separated target key columns

	// binlog column mapping, cached by the binlog's column list.
	binlogSig string
	srcIdx    []int // for each copied column, its index in the binlog row

	idx int // the table's place in the pipeline's list: names its staging tables
	gen int // bumped when the map changes (DDL), renaming the staging tables

	// wantBefore: a both-ways pipeline keeps the before images, which
	// conflicts are found by (conflict_forward.go).
	wantBefore bool
}

func newTable(m *TableMap) (*table, error) {
	if len(m.Key) == 0 {
		return nil, &NoKeyError{Table: m.Schema + "." + m.Name}
	}
	if len(m.Key) > 8 {
		return nil, fmt.Errorf("table %s.%s: a key of %d columns is more than the 8 supported", m.Schema, m.Name, len(m.Key))
	}
	t := &table{m: m, copied: m.Copied()}
	pos := map[int]int{}
	var cols []string
	for j, ci := range t.copied {
		pos[ci] = j
		cols = append(cols, pgIdent(m.Columns[ci].Target))
	}
	var keys []string
	for _, k := range m.Key {
		j, ok := pos[k]
		if !ok {
			return nil, fmt.Errorf("table %s.%s: key column %q is excluded from the copy; a synced table needs its key", m.Schema, m.Name, m.Columns[k].Name)
		}
		t.keyPos = append(t.keyPos, j)
		keys = append(keys, pgIdent(m.Columns[k].Target))
	}
	t.cols, t.keys = strings.Join(cols, ", "), strings.Join(keys, ", ")
	ts := m.TargetSchema
	if ts == "" {
		ts = "public"
	}
	t.target = pgx.Identifier{ts, m.Target}.Sanitize()
	return t, nil
}

// NoKeyError refuses a table without a primary key (or configured unique
// key): without a key, changes cannot be applied exactly once.
type NoKeyError struct{ Table string }

// Error says which table and how to fix it.
func (e *NoKeyError) Error() string {
	return fmt.Sprintf("table %s has no primary key: it cannot be synced exactly once (add a primary key, or name a unique not-null key with `key:` in the pipeline's table entry)", e.Table)
}

// loadOIDs reads the target column types, in copied order.
func (t *table) loadOIDs(ctx context.Context, q querier) error {
	rows, err := q.Query(ctx, `SELECT attname, atttypid FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, t.target)
	if err != nil {
		return fmt.Errorf("reading the columns of %s: %w", t.target, err)
	}
	types := map[string]uint32{}
	for rows.Next() {
		var name string
		var oid uint32
		if err := rows.Scan(&name, &oid); err != nil {
			rows.Close()
			return fmt.Errorf("reading the columns of %s: %w", t.target, err)
		}
		types[name] = oid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the columns of %s: %w", t.target, err)
	}
	t.oids = make([]uint32, len(t.copied))
	for j, ci := range t.copied {
		oid, ok := types[t.m.Columns[ci].Target]
		if !ok {
			return fmt.Errorf("target table %s has no column %q (source %s.%s.%s)", t.target, t.m.Columns[ci].Target, t.m.Schema, t.m.Name, t.m.Columns[ci].Name)
		}
		t.oids[j] = oid
	}
	return nil
}

// mapColumns finds each copied column in a binlog row with the given column
// names (nil: the source logs no names, and the binlog order is the table's).
func (t *table) mapColumns(names []string, n int) error {
	sig := strings.Join(names, "\x00") + "\x00" + strconv.Itoa(n)
	if sig == t.binlogSig && t.srcIdx != nil {
		return nil
	}
	idx := make([]int, len(t.copied))
	if names == nil {
		if n != len(t.m.Columns) {
			return fmt.Errorf("table %s.%s: the binlog row has %d columns, the table %d, and the source logs no column names (set binlog_row_metadata=FULL)", t.m.Schema, t.m.Name, n, len(t.m.Columns))
		}
		copy(idx, t.copied)
	} else {
		at := make(map[string]int, len(names))
		for i, name := range names {
			at[strings.ToLower(name)] = i
		}
		for j, ci := range t.copied {
			i, ok := at[strings.ToLower(t.m.Columns[ci].Name)]
			if !ok {
				// The event predates an ADD COLUMN that the table map
				// already has: the column stays NULL until a later
				// event carries it.
				i = -1
			}
			idx[j] = i
		}
		for _, j := range t.keyPos {
			if idx[j] < 0 {
				return fmt.Errorf("table %s.%s: key column %q is missing from the binlog row", t.m.Schema, t.m.Name, t.m.Columns[t.copied[j]].Name)
			}
		}
	}
	t.binlogSig, t.srcIdx = sig, idx
	return nil
}

// encodeRow appends row (a binlog image) as a COPY text line of the copied
// columns to dst, and returns the key: the key fields' COPY text.
func (t *table) encodeRow(dst []byte, tm *pgtype.Map, row []any) ([]byte, string, error) {
	start := len(dst)
	var keyStart, keyEnd [8]int
	for j, ci := range t.copied {
		if j > 0 {
			dst = append(dst, '\t')
		}
		fieldStart := len(dst)
		var v any
		if i := t.srcIdx[j]; i >= 0 && i < len(row) {
			cv, err := t.m.FromBinlog(ci, row[i])
			if err != nil {
				return dst[:start], "", err
			}
			v = cv
		}
		var err error
		dst, err = appendCopyValue(dst, tm, t.oids[j], v)
		if err != nil {
			return dst[:start], "", fmt.Errorf("table %s.%s column %s: %w", t.m.Schema, t.m.Name, t.m.Columns[ci].Name, err)
		}
		for k, kp := range t.keyPos {
			if kp == j && k < len(keyStart) {
				keyStart[k], keyEnd[k] = fieldStart, len(dst)
			}
		}
	}
	dst = append(dst, '\n')
	var key string
	if len(t.keyPos) == 1 {
		key = string(dst[keyStart[0]:keyEnd[0]])
	} else {
		var kb []byte
		for k := range t.keyPos {
			if k > 0 {
				kb = append(kb, '\t')
			}
			kb = append(kb, dst[keyStart[k]:keyEnd[k]]...)
		}
		key = string(kb)
	}
	return dst, key, nil
}

// tableBatch is one table's share of a batch, collapsed by key: the last
// change of each key wins. With full row images this gives the same final
// state as applying every change in order, and the sets of deleted and
// upserted keys are disjoint, so their order does not matter.
type tableBatch struct {
	t    *table
	ups  map[string][]byte // key -> COPY line of the whole row
	dels map[string][]byte // key -> COPY line of the key columns
	ops  [4]int64          // changes by Op, for metrics
	// exp (both ways): key -> COPY line of the row the source had before
	// the batch changed it; nil for a key the batch inserted.
	exp map[string][]byte
}

// batch is whole source transactions, applied to the target in one
// transaction together with the position after the last of them; or one
// piece of a source transaction too big to hold in memory at once.
type batch struct {
	tables    map[*table]*tableBatch
	order     []*tableBatch
	changes   int
	txns      int
	pos       Position
	eventTime time.Time // timestamp of the last commit in the batch
	firstRecv time.Time // when the batch's first change was received

	// piece: the batch is a part of one source transaction that is not
	// yet committed. It is applied in the applier's open target
	// transaction, which stays open (no position, no commit) until the
	// batch that ends the source transaction.
	piece bool
}

func newBatch() *batch { return &batch{tables: map[*table]*tableBatch{}} }

func (b *batch) empty() bool { return b.changes == 0 && b.txns == 0 }

func (b *batch) forTable(t *table) *tableBatch {
	tb := b.tables[t]
	if tb == nil {
		tb = &tableBatch{t: t, ups: map[string][]byte{}, dels: map[string][]byte{}}
		b.tables[t] = tb
		b.order = append(b.order, tb)
	}
	return tb
}

// encodedChange is a row change encoded for the target, not yet merged
// into a batch.
type encodedChange struct {
	t      *table
	op     Op
	oldKey string // key of the before image; "" for an insert
	key    string // key of the after image; "" for a delete
	line   []byte // COPY line of the after image
	before []byte // COPY line of the before image (wantBefore only)
}

// encodeChange maps and encodes one row change.
func encodeChange(t *table, tm *pgtype.Map, c RowChange) (encodedChange, error) {
	ec := encodedChange{t: t, op: c.Op}
	row := c.After
	if row == nil {
		row = c.Before
	}
	if err := t.mapColumns(c.Columns, len(row)); err != nil {
		return ec, err
	}
	var err error
	switch {
	case c.Before != nil && t.wantBefore:
		if ec.before, ec.oldKey, err = t.encodeRow(nil, tm, c.Before); err != nil {
			return ec, t.withKey(err, c.Before)
		}
	case c.Before != nil:
		if ec.oldKey, err = t.encodeKey(tm, c.Before); err != nil {
			return ec, t.withKey(err, c.Before)
		}
	}
	if c.After != nil {
		if ec.line, ec.key, err = t.encodeRow(nil, tm, c.After); err != nil {
			return ec, t.withKey(err, c.After)
		}
	}
	return ec, nil
}

// withKey names the row's key in a *ValueError.
func (t *table) withKey(err error, row []any) error {
	vals := make([]any, len(t.m.Columns))
	for j, ci := range t.copied {
		if i := t.srcIdx[j]; i >= 0 && i < len(row) {
			vals[ci] = row[i]
		}
	}
	return t.m.WithKey(err, vals)
}

// addTxn encodes the row changes of one source transaction and adds them
// to the batch, all or none: on an error the batch is as it was.
func (b *batch) addTxn(tables map[string]*table, tm *pgtype.Map, rows []RowChange) error {
	encoded := make([]encodedChange, 0, len(rows))
	for _, c := range rows {
		t := tables[c.Table]
		if t == nil {
			continue
		}
		ec, err := encodeChange(t, tm, c)
		if err != nil {
			return err
		}
		encoded = append(encoded, ec)
	}
	for _, ec := range encoded {
		b.merge(ec)
	}
	return nil
}

// add encodes one row change into the batch.
func (b *batch) add(t *table, tm *pgtype.Map, c RowChange) error {
	ec, err := encodeChange(t, tm, c)
	if err != nil {
		return err
	}
	b.merge(ec)
	return nil
}

// merge adds an encoded change: the last change of a key wins, and an
// update that changes the key deletes the old key and upserts the new one.
func (b *batch) merge(ec encodedChange) {
	if b.changes == 0 {
		b.firstRecv = time.Now()
	}
	tb := b.forTable(ec.t)
	tb.ops[ec.op]++
	b.changes++
	if ec.t.wantBefore {
		tb.expect(ec)
	}
	if ec.line == nil {
		delete(tb.ups, ec.oldKey)
		tb.dels[ec.oldKey] = []byte(ec.oldKey + "\n")
		return
	}
	if ec.op == OpUpdate && ec.oldKey != ec.key {
		// The key changed: the row under the old key goes away.
		delete(tb.ups, ec.oldKey)
		tb.dels[ec.oldKey] = []byte(ec.oldKey + "\n")
	}
	delete(tb.dels, ec.key)
	tb.ups[ec.key] = ec.line
}

// encodeKey returns the key of a binlog row image: the key fields' COPY
// text, tab-separated.
func (t *table) encodeKey(tm *pgtype.Map, row []any) (string, error) {
	var kb []byte
	for k, j := range t.keyPos {
		if k > 0 {
			kb = append(kb, '\t')
		}
		ci := t.copied[j]
		v, err := t.m.FromBinlog(ci, row[t.srcIdx[j]])
		if err != nil {
			return "", err
		}
		if kb, err = appendCopyValue(kb, tm, t.oids[j], v); err != nil {
			return "", fmt.Errorf("table %s.%s column %s: %w", t.m.Schema, t.m.Name, t.m.Columns[ci].Name, err)
		}
	}
	return string(kb), nil
}

// applier writes batches to the target over one connection, which keeps
// its temporary staging tables.
type applier struct {
	pipeline string
	conn     *pgx.Conn
	made     map[string]bool // temp tables created on this connection

	// open is the target transaction holding the pieces of a source
	// transaction applied so far; nil between source transactions.
	open pgx.Tx
	// held sums the pieces applied in open, reported when it commits.
	held heldPieces
	// both: the forward half of a both-ways pipeline, which resolves
	// conflicts; nil otherwise.
	both  *Pipeline
	rules map[*table]*conflictRule
}

// heldPieces is what the pieces in the open target transaction changed.
type heldPieces struct {
	pieces    int
	changes   int
	firstRecv time.Time
	ops       map[*table]*[4]int64
}

func (h *heldPieces) add(b *batch) {
	if h.pieces == 0 {
		h.firstRecv = b.firstRecv
		h.ops = map[*table]*[4]int64{}
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

// rollback ends the open target transaction, if any, without applying it.
func (a *applier) rollback(ctx context.Context) {
	if a.open != nil {
		_ = a.open.Rollback(context.WithoutCancel(ctx))
		a.open = nil
	}
	a.held = heldPieces{}
}

// stagingNames are the unquoted names of t's temporary staging tables: the
// table's index in the pipeline and its map generation, never its name, so
// they are short and distinct however long or odd the table names are.
func stagingNames(t *table) (rows, keys string) {
	idx, gen := strconv.Itoa(t.idx), strconv.Itoa(t.gen)
	return pgident.Name("strangler_stage", idx, gen, "rows"), pgident.Name("strangler_stage", idx, gen, "keys")
}

// tempNames are the quoted names of t's staging tables.
func (a *applier) tempNames(t *table) (rows, keys string) {
	rows, keys = stagingNames(t)
	return pgIdent(rows), pgIdent(keys)
}

// stage creates the temp tables of t on this connection if needed.
func (a *applier) stage(ctx context.Context, tx pgx.Tx, t *table) error {
	rows, keys := a.tempNames(t)
	if a.made[rows] {
		return nil
	}
	for _, s := range []string{
		fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS SELECT %s FROM %s WITH NO DATA`, rows, t.cols, t.target),
		fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS SELECT %s FROM %s WITH NO DATA`, keys, t.keys, t.target),
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("creating the staging table for %s: %w", t.target, err)
		}
	}
	a.made[rows] = true
	return nil
}

// apply writes b to the target. A whole batch, or the last piece of a
// source transaction, is committed with its position, in the open
// transaction when pieces came before it; a piece leaves the transaction
// open. On an error the open transaction is rolled back: a source
// transaction is applied whole or not at all.
func (a *applier) apply(ctx context.Context, b *batch) error {
	if a.open == nil {
		tx, err := a.conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("beginning a target transaction: %w", err)
		}
		a.open = tx
	}
	if err := a.write(ctx, a.open, b); err != nil {
		a.rollback(ctx)
		return err
	}
	if b.piece {
		a.held.add(b)
		return nil
	}
	tx := a.open
	a.open, a.held = nil, heldPieces{}
	if err := tx.Commit(ctx); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return fmt.Errorf("committing %d changes up to %s: %w", b.changes+a.held.changes, b.pos, err)
	}
	return nil
}

// write stages b's rows and applies them in tx; for a batch that is not a
// piece, with the position.
func (a *applier) write(ctx context.Context, tx pgx.Tx, b *batch) error {
	if a.both != nil {
		if err := a.resolveConflicts(ctx, tx, b); err != nil {
			return err
		}
	}
	pb := &pgx.Batch{}
	var buf []byte
	var staged []string
	for _, tb := range b.order {
		t := tb.t
		if len(tb.ups) == 0 && len(tb.dels) == 0 {
			continue
		}
		if err := a.stage(ctx, tx, t); err != nil {
			return err
		}
		rowsTmp, keysTmp := a.tempNames(t)
		staged = append(staged, rowsTmp, keysTmp)
		if len(tb.dels) > 0 {
			buf = buf[:0]
			for _, l := range tb.dels {
				buf = append(buf, l...)
			}
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf), fmt.Sprintf("COPY %s (%s) FROM STDIN", keysTmp, t.keys)); err != nil {
				return fmt.Errorf("staging %d deletes for %s: %w", len(tb.dels), t.target, err)
			}
			pb.Queue(fmt.Sprintf("DELETE FROM %s AS t USING %s AS k WHERE %s", t.target, keysTmp, t.keyJoin("t", "k")))
		}
		if len(tb.ups) > 0 {
			buf = buf[:0]
			for _, l := range tb.ups {
				buf = append(buf, l...)
			}
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf), fmt.Sprintf("COPY %s (%s) FROM STDIN", rowsTmp, t.cols)); err != nil {
				return fmt.Errorf("staging %d upserts for %s: %w", len(tb.ups), t.target, err)
			}
			pb.Queue(t.upsertSQL(rowsTmp))
		}
	}
	if b.piece {
		// The staging tables empty themselves at commit only: the next
		// piece must not apply this one's rows again.
		if len(staged) > 0 {
			pb.Queue("TRUNCATE " + strings.Join(staged, ", "))
		}
		if err := tx.SendBatch(ctx, pb).Close(); err != nil {
			return fmt.Errorf("applying a piece of %d changes of an open source transaction: %w", b.changes, err)
		}
		return nil
	}
	pb.Queue(savePositionSQL, savePositionArgs(a.pipeline, b.pos, b.eventTime)...)
	if err := tx.SendBatch(ctx, pb).Close(); err != nil {
		return fmt.Errorf("applying %d changes up to %s: %w", b.changes+a.held.changes, b.pos, err)
	}
	return nil
}

func (t *table) keyJoin(a, b string) string {
	var parts []string
	for _, j := range t.keyPos {
		c := pgIdent(t.m.Columns[t.copied[j]].Target)
		parts = append(parts, a+"."+c+" = "+b+"."+c)
	}
	return strings.Join(parts, " AND ")
}

func (t *table) upsertSQL(from string) string {
	isKey := map[int]bool{}
	for _, j := range t.keyPos {
		isKey[j] = true
	}
	var set []string
	for j, ci := range t.copied {
		if isKey[j] {
			continue
		}
		c := pgIdent(t.m.Columns[ci].Target)
		set = append(set, c+" = EXCLUDED."+c)
	}
	action := "DO NOTHING"
	if len(set) > 0 {
		action = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT (%s) %s", t.target, t.cols, t.cols, from, t.keys, action)
}

// applyDDL applies the statements of an accepted DDL change and the
// position after it in one target transaction.
func (a *applier) applyDDL(ctx context.Context, stmts []string, pos Position, when time.Time) error {
	tx, err := a.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning a target transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit this is a no-op
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("applying %q to the target: %w", s, err)
		}
	}
	if err := savePosition(ctx, tx, a.pipeline, pos, when); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing DDL at %s: %w", pos, err)
	}
	return nil
}
