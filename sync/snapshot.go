package sync

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// The snapshot copies every table that is not yet done inside ONE
// consistent-snapshot read transaction on the source, whose binlog position
// becomes the stream's start. Each chunk of rows (in key order) is copied
// with COPY, and the key of its last row is saved in the same target
// transaction: a crash loses at most the chunk in flight, and the next run
// goes on after the saved key.
//
// The stream's start is the position of the FIRST snapshot transaction; it
// is saved once, before any row is copied, and a resumed snapshot (taken
// later, at a later position) does not move it. Every change between that
// position and the end of the log is then replayed on top of the copied
// rows. That is correct because the stream applies full row images by key
// and idempotently: an upsert writes the whole row as it was after the
// change, a delete removes the key; replaying a change the copy already
// saw writes the same row again, and the last change of each key wins, as
// on the source.

// snapshotBufSize is how many bytes of COPY text the reader hands the
// writer at a time.
const snapshotBufSize = 256 << 10

// chunkMsg is COPY text of a chunk in flight, or (end) the chunk's end.
type chunkMsg struct {
	data    []byte
	end     bool
	lastKey []string
	rows    int64
}

func (p *Pipeline) snapshot(ctx context.Context, src *sql.DB, dst *pgx.Conn, todo []*table, snaps map[string]snapshotState) error {
	conn, err := src.Conn(ctx)
	if err != nil {
		return sourceErr(fmt.Errorf("opening the snapshot connection: %w", err))
	}
	defer conn.Close()
	pos, err := beginSnapshot(ctx, conn)
	if err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") //nolint:errcheck // a read-only transaction
	saved, err := loadPosition(ctx, dst, p.cfg.Name)
	if err != nil {
		return targetErr(err)
	}
	if saved.IsZero() {
		if err := savePosition(ctx, dst, p.cfg.Name, pos, time.Time{}); err != nil {
			return targetErr(err)
		}
		p.log.Info("snapshot started; streaming will start at " + pos.String())
	} else {
		p.log.Info(fmt.Sprintf("snapshot resumed (source now at %s); streaming will start at %s", pos, saved))
	}
	for _, t := range todo {
		if err := p.snapshotTable(ctx, conn, dst, t, snaps[t.m.Name]); err != nil {
			return err
		}
	}
	return nil
}

// beginSnapshot opens a consistent read transaction on conn and returns
// the binlog position it corresponds to.
func beginSnapshot(ctx context.Context, conn *sql.Conn) (Position, error) {
	for _, s := range append(append([]string(nil), SourceSessionSQL...),
		"SET SESSION sql_mode = ''",
		"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
		"SET SESSION net_write_timeout = 600",
	) {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return Position{}, sourceErr(fmt.Errorf("preparing the snapshot connection: %q: %w", s, err))
		}
	}
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return Position{}, sourceErr(fmt.Errorf("starting the snapshot transaction: %w", err))
	}
	// MariaDB reports the binlog position of this very snapshot.
	rows, err := conn.QueryContext(ctx, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return Position{}, sourceErr(fmt.Errorf("reading the snapshot's binlog position: %w", err))
	}
	var pos Position
	for rows.Next() {
		var name, val string
		if err := rows.Scan(&name, &val); err != nil {
			rows.Close()
			return Position{}, sourceErr(fmt.Errorf("reading the snapshot's binlog position: %w", err))
		}
		switch strings.ToLower(name) {
		case "binlog_snapshot_file":
			pos.File = val
		case "binlog_snapshot_position":
			fmt.Sscan(val, &pos.Pos) //nolint:errcheck // checked below
		}
	}
	rows.Close()
	if pos.File != "" && pos.Pos > 0 {
		if pos.GTID, err = snapshotGTID(ctx, conn, pos, true); err != nil {
			return Position{}, sourceErr(err)
		}
		return pos, nil
	}
	// MySQL: hold a global read lock while the snapshot starts, so that
	// the binlog position read under it matches the snapshot.
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		return Position{}, sourceErr(err)
	}
	if _, err := conn.ExecContext(ctx, "FLUSH TABLES WITH READ LOCK"); err != nil {
		return Position{}, sourceErr(fmt.Errorf("locking tables to start the snapshot (MySQL needs RELOAD for this): %w", err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES") //nolint:errcheck // released below too
	if _, err := conn.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return Position{}, sourceErr(fmt.Errorf("starting the snapshot transaction: %w", err))
	}
	pos, err = masterPosition(ctx, conn)
	if err != nil {
		return Position{}, sourceErr(err)
	}
	if pos.GTID, err = snapshotGTID(ctx, conn, pos, false); err != nil {
		return Position{}, sourceErr(err)
	}
	if _, err := conn.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		return Position{}, sourceErr(err)
	}
	return pos, nil
}

// snapshotTable copies one table, chunk by chunk, after st.LastKey. Reading
// the source and writing the target run concurrently.
func (p *Pipeline) snapshotTable(ctx context.Context, conn *sql.Conn, dst *pgx.Conn, t *table, st snapshotState) error {
	st.Table = t.m.Name
	if st.Total == 0 {
		var est sql.NullInt64
		err := conn.QueryRowContext(ctx, "SELECT table_rows FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = '"+escapeMySQLString(t.m.Name)+"'").Scan(&est)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return sourceErr(fmt.Errorf("estimating the rows of %s: %w", t.m.Name, err))
		}
		st.Total = est.Int64
	}
	if st.LastKey == nil {
		p.log.Info(fmt.Sprintf("snapshot of %s: copying about %d rows", t.m.Name, st.Total))
	} else {
		p.log.Info(fmt.Sprintf("snapshot of %s: resuming after key %v (%d rows copied)", t.m.Name, st.LastKey, st.Rows))
	}
	g, gctx := errgroup.WithContext(ctx)
	ch := make(chan chunkMsg, 8)
	g.Go(func() error {
		defer close(ch)
		return p.readChunks(gctx, conn, t, st.LastKey, ch)
	})
	g.Go(func() error { return p.writeChunks(gctx, dst, t, st, ch) })
	return g.Wait()
}

// readChunks reads the table in key order, chunk by chunk, after lastKey,
// and sends each chunk's COPY text followed by its end.
func (p *Pipeline) readChunks(ctx context.Context, conn *sql.Conn, t *table, lastKey []string, ch chan<- chunkMsg) error {
	send := func(m chunkMsg) error {
		select {
		case ch <- m:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	n := len(t.copied)
	raw := make([]sql.RawBytes, n)
	dest := make([]any, n)
	for i := range raw {
		dest[i] = &raw[i]
	}
	for {
		q := t.chunkSQL(lastKey, p.cfg.ChunkSize)
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			return sourceErr(fmt.Errorf("reading a chunk of %s: %w", t.m.Name, err))
		}
		buf := make([]byte, 0, snapshotBufSize+4096)
		var count int64
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return sourceErr(fmt.Errorf("reading a row of %s: %w", t.m.Name, err))
			}
			for j, ci := range t.copied {
				if j > 0 {
					buf = append(buf, '\t')
				}
				if buf, err = t.m.AppendCopyText(buf, ci, raw[j]); err != nil {
					rows.Close()
					return annotateValueError(err, t, raw)
				}
			}
			buf = append(buf, '\n')
			count++
			if len(buf) >= snapshotBufSize {
				if err := send(chunkMsg{data: buf}); err != nil {
					rows.Close()
					return err
				}
				buf = make([]byte, 0, snapshotBufSize+4096)
			}
			if count == int64(p.cfg.ChunkSize) {
				// RawBytes are valid until the next Next: copy the key now.
				lastKey = make([]string, len(t.keyPos))
				for k, j := range t.keyPos {
					lastKey[k] = string(raw[j])
				}
			}
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return sourceErr(fmt.Errorf("reading a chunk of %s: %w", t.m.Name, err))
		}
		rows.Close()
		if len(buf) > 0 {
			if err := send(chunkMsg{data: buf}); err != nil {
				return err
			}
		}
		if count < int64(p.cfg.ChunkSize) {
			// The last chunk: done (lastKey nil marks the end).
			return send(chunkMsg{end: true, rows: count})
		}
		if err := send(chunkMsg{end: true, lastKey: lastKey, rows: count}); err != nil {
			return err
		}
	}
}

// annotateValueError names the row's key in a ValueError from the
// converter ("id=7", as TableMap.WithKey does for binlog rows).
func annotateValueError(err error, t *table, raw []sql.RawBytes) error {
	var ve *ValueError
	if errors.As(err, &ve) && ve.Key == "" {
		var ks []string
		for _, j := range t.keyPos {
			ks = append(ks, t.m.Columns[t.copied[j]].Name+"="+string(raw[j]))
		}
		ve.Key = strings.Join(ks, ",")
	}
	return fmt.Errorf("snapshot of %s: %w", t.m.Name, err)
}

// chanReader reads COPY text from the chunk channel until the chunk's end.
type chanReader struct {
	ctx context.Context
	ch  <-chan chunkMsg
	cur []byte
	end *chunkMsg
}

func (r *chanReader) Read(b []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.end != nil {
			return 0, io.EOF
		}
		select {
		case m, ok := <-r.ch:
			if !ok {
				return 0, errors.New("the snapshot reader stopped")
			}
			if m.end {
				r.end = &m
				return 0, io.EOF
			}
			r.cur = m.data
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
	n := copy(b, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// writeChunks copies each chunk into the target and saves its last key in
// the same transaction.
func (p *Pipeline) writeChunks(ctx context.Context, dst *pgx.Conn, t *table, st snapshotState, ch <-chan chunkMsg) error {
	copySQL := fmt.Sprintf("COPY %s (%s) FROM STDIN", t.target, t.cols)
	rate := newRateMeter()
	for {
		// Wait for the first bytes of a chunk before opening a transaction.
		var first chunkMsg
		select {
		case m, ok := <-ch:
			if !ok {
				return nil // the reader failed; its error wins
			}
			first = m
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := p.writeChunk(ctx, dst, t, &st, first, ch, copySQL, rate); err != nil {
			return err
		}
		if st.Done {
			return nil
		}
	}
}

// writeChunk copies one chunk, whose first message is first, and saves
// the table's progress in the same transaction.
func (p *Pipeline) writeChunk(ctx context.Context, dst *pgx.Conn, t *table, st *snapshotState, first chunkMsg, ch <-chan chunkMsg, copySQL string, rate *rateMeter) error {
	ctx, cancel := context.WithTimeout(ctx, targetTxTimeout)
	defer cancel()
	tx, err := dst.Begin(ctx)
	if err != nil {
		return targetErr(fmt.Errorf("beginning a snapshot transaction: %w", err))
	}
	r := &chanReader{ctx: ctx, ch: ch}
	if first.end {
		r.end = &first
	} else {
		r.cur = first.data
	}
	if _, err := dst.PgConn().CopyFrom(ctx, r, copySQL); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return targetErr(fmt.Errorf("copying a chunk of %s into %s: %w", t.m.Name, t.target, err))
	}
	if r.end == nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errors.New("snapshot chunk ended without its end mark")
	}
	st.Rows += r.end.rows
	st.LastKey = r.end.lastKey
	st.Done = r.end.lastKey == nil
	if st.Done && st.Rows > st.Total {
		st.Total = st.Rows
	}
	if err := saveSnapshot(ctx, tx, p.cfg.Name, *st); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return targetErr(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return targetErr(fmt.Errorf("committing a chunk of %s: %w", t.m.Name, err))
	}
	p.applied.Add(r.end.rows)
	rate.add(r.end.rows)
	if m := p.o.Metrics; m != nil {
		m.Changes.WithLabelValues(p.label, t.m.Name, "snapshot").Add(float64(r.end.rows))
	}
	prog := SnapshotProgress{Pipeline: p.cfg.Name, Table: t.m.Name, Rows: st.Rows, Total: st.Total, Done: st.Done}
	p.mu.Lock()
	p.snapTables[t.m.Name] = &prog
	p.mu.Unlock()
	if p.o.Progress != nil {
		p.o.Progress(prog)
	}
	if st.Done {
		p.log.Info(fmt.Sprintf("snapshot of %s done: %d rows, %.0f rows/s", t.m.Name, st.Rows, rate.overall()))
	}
	return nil
}

// chunkSQL is the query of the chunk after lastKey (nil: the first).
func (t *table) chunkSQL(lastKey []string, limit int) string {
	var sb strings.Builder
	sb.WriteString(t.m.SelectSQL())
	if lastKey != nil {
		sb.WriteString(" WHERE ")
		sb.WriteString(t.afterKeySQL(lastKey))
	}
	sb.WriteString(" ORDER BY ")
	for k, j := range t.keyPos {
		if k > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(myIdent(t.m.Columns[t.copied[j]].Name))
	}
	fmt.Fprintf(&sb, " LIMIT %d", limit)
	return sb.String()
}

// afterKeySQL is the condition "key > lastKey", spelled out column by
// column so that MariaDB uses the primary key for a composite key too:
// a > x OR (a = x AND b > y) ...
func (t *table) afterKeySQL(lastKey []string) string {
	var ors []string
	for k := range t.keyPos {
		var ands []string
		for i := 0; i <= k; i++ {
			col := t.m.Columns[t.copied[t.keyPos[i]]]
			op := " = "
			if i == k {
				op = " > "
			}
			ands = append(ands, myIdent(col.Name)+op+mysqlLiteral(col, lastKey[i]))
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// mysqlLiteral writes a key value read with the text protocol back as a
// literal: numbers as they are, everything else as a quoted string (the
// snapshot session runs with an empty sql_mode, so backslash escapes apply).
func mysqlLiteral(c Column, v string) string {
	if isNumericLiteral(v) && isNumericType(c.DataType) {
		return v
	}
	return "'" + escapeMySQLString(v) + "'"
}

func isNumericType(dt string) bool {
	switch strings.ToLower(dt) {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double", "year":
		return true
	}
	return false
}

func isNumericLiteral(v string) bool {
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		return false
	}
	for i, c := range []byte(v) {
		switch {
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E':
		case (c == '-' || c == '+') && (i == 0 || v[i-1] == 'e' || v[i-1] == 'E'):
		default:
			return false
		}
	}
	return true
}

func escapeMySQLString(s string) string {
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\'':
			b.WriteString(`\'`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
