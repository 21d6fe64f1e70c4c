package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
)

// The new-to-legacy direction: PostgreSQL logical replication (pgoutput)
// into the legacy MySQL/MariaDB database, exactly once.
//
//	receive: the replication connection -> events (revReceiver: it alone
//	         reads and writes that connection, answers keepalives and
//	         reports the position MySQL committed)
//	decode:  events -> PgoutputDecoder -> reverseHandler, which encodes rows
//	         as MySQL literals into the open batch and hands a batch to the
//	         applier only at a transaction boundary
//	apply:   batches -> one MySQL transaction each, beginning with the
//	         pipeline's checkpoint row (the WAL position after the batch)
//
// The position confirmed to PostgreSQL is always one MySQL committed: the
// slot never lets go of WAL whose changes MySQL lacks. A restart streams
// from the position stored in MySQL and skips every transaction whose
// commit record starts before it: nothing is lost, nothing applied twice.
//
// No snapshot: the pipeline streams from its slot's creation, onto tables
// that already hold the same rows (the forward direction filled them).

// reverseState is what a new-to-legacy pipeline shares between its
// goroutines and Status.
type reverseState struct {
	confirmed atomic.Uint64 // the LSN stored in MySQL: what the slot may confirm
	slot      atomic.Pointer[SlotStatus]
}

// reverse reports a new-to-legacy pipeline.
func (p *Pipeline) reverse() bool { return p.cfg.Direction == config.DirectionNewToLegacy }

// fillDirection adds the direction and, for new-to-legacy, the position
// and the slot to a status.
func (p *Pipeline) fillDirection(s *Status) {
	s.Direction = p.cfg.Direction
	if s.Direction == "" {
		s.Direction = config.DirectionLegacyToNew
	}
	if !p.reverse() {
		return
	}
	if l := p.rev.confirmed.Load(); l != 0 {
		s.LSN = LSN(l).String()
	}
	if st := p.rev.slot.Load(); st != nil {
		c := *st
		s.Slot = &c
	}
}

// openLegacy opens the legacy database for writing: every receive has a
// deadline, text is not parsed into times.
func (p *Pipeline) openLegacy(ctx context.Context) (*sql.DB, *mysql.Config, error) {
	myCfg, err := mysql.ParseDSN(p.srcDSN)
	if err != nil {
		return nil, nil, permanent(fmt.Errorf("parsing the legacy DSN %q: %w", dbconn.Redact(p.srcDSN), err))
	}
	if myCfg.ReadTimeout == 0 {
		myCfg.ReadTimeout = sourceReadTimeout
	}
	if myCfg.WriteTimeout == 0 {
		myCfg.WriteTimeout = sourceReadTimeout
	}
	myCfg.ParseTime, myCfg.MultiStatements, myCfg.InterpolateParams = false, false, false
	connector, err := mysql.NewConnector(myCfg)
	if err != nil {
		return nil, nil, permanent(fmt.Errorf("opening the legacy database %q: %w", dbconn.Redact(p.srcDSN), err))
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(4)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = db.PingContext(pctx)
	cancel()
	if err != nil {
		db.Close()
		return nil, nil, sourceErr(fmt.Errorf("connecting to %s: %w", dbconn.Redact(p.srcDSN), err))
	}
	return db, myCfg, nil
}

// legacySession returns a session of db set up with legacySessionSQL.
func legacySession(ctx context.Context, db *sql.DB) (*sql.Conn, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening a legacy MySQL session: %w", err)
	}
	for _, s := range legacySessionSQL {
		if _, err := c.ExecContext(ctx, s); err != nil {
			c.Close()
			return nil, fmt.Errorf("setting up a legacy MySQL session: %q: %w", s, err)
		}
	}
	return c, nil
}

// reverseSession is one connected run of a new-to-legacy pipeline.
func (p *Pipeline) reverseSession(ctx context.Context) error {
	p.setPhase(PhaseStarting, "")
	my, myCfg, err := p.openLegacy(ctx)
	if err != nil {
		return err
	}
	defer my.Close()
	conn, err := legacySession(ctx, my)
	if err != nil {
		return sourceErr(err)
	}
	defer conn.Close()
	if err := ensureReverseSchema(ctx, conn); err != nil {
		return sourceErr(err)
	}
	var packet int
	if err := conn.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&packet); err != nil {
		return sourceErr(fmt.Errorf("reading max_allowed_packet: %w", err))
	}
	ck, err := loadReverseCheckpoint(ctx, conn, p.cfg.Name)
	if err != nil {
		return sourceErr(err)
	}
	if !ck.Found {
		// A both-ways pipeline's first run: the slot is created once the
		// forward half has copied its snapshot.
		if err := p.waitGate(ctx); err != nil {
			return err
		}
	}
	if ck.Found {
		p.rev.confirmed.Store(uint64(ck.LSN))
	}

	pg, err := connectTarget(ctx, p.dstDSN)
	if err != nil {
		return targetErr(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		pg.Close(cctx)
	}()
	tables, err := p.loadReverseTables(ctx, my, pg, myCfg.DBName)
	if err != nil {
		return err
	}
	slot := SlotName(p.cfg.Name)
	if err := ensurePublication(ctx, pg, slot, tables); err != nil {
		return targetErr(err)
	}
	repl, err := connectReplication(ctx, p.dstDSN)
	if err != nil {
		return targetErr(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = repl.Close(cctx)
	}()
	start, err := p.prepareSlot(ctx, pg, repl, conn, slot, ck)
	if err != nil {
		return err
	}
	p.rev.confirmed.Store(uint64(start))
	err = pglogrepl.StartReplication(ctx, repl, slot, start, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names '" + slot + "'"},
	})
	if err != nil {
		return targetErr(fmt.Errorf("starting replication from slot %s at LSN %s: %w", slot, start, err))
	}
	p.setPhase(PhaseStreaming, "")
	p.log.Info("resumed at LSN " + start.String())

	p.pending.Store(0)
	g, gctx := errgroup.WithContext(ctx)
	events := make(chan revEvent, eventBuffer)
	applyCh := make(chan revItem)
	recv := &revReceiver{p: p, conn: repl, events: events}
	g.Go(func() error {
		defer close(events)
		return recv.run(gctx)
	})
	h := &reverseHandler{p: p, dec: NewPgoutputDecoder(), byName: map[string]*revTable{}, byRel: map[uint32]*revTable{},
		cur: newRevBatch(), applyCh: applyCh, start: start}
	for _, t := range tables {
		h.byName[t.pgName] = t
	}
	h.reload = func(ctx context.Context, old *revTable) (*revTable, error) {
		for _, tc := range p.cfg.Tables {
			if tc.Name == old.m.Name {
				return p.loadReverseTable(ctx, my, pg, myCfg.DBName, tc)
			}
		}
		return old, nil
	}
	g.Go(func() error {
		defer close(applyCh)
		return h.run(gctx, events)
	})
	a := &revApplier{pipeline: p.cfg.Name, slot: slot, conn: conn, maxStmt: min(max(packet/2, 64<<10), 4<<20)}
	if p.both != nil {
		var version string
		if err := conn.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
			return sourceErr(fmt.Errorf("reading the legacy server's version: %w", err))
		}
		a.both, a.mariadb = p, isMariaDB(version)
	}
	g.Go(func() error { return p.revApplyLoop(gctx, a, applyCh) })
	return g.Wait()
}

// loadReverseTables reads every configured table's MySQL definition (the
// types to write) and checks its PostgreSQL table: there, and with a
// replica identity that gives the key of deleted rows.
func (p *Pipeline) loadReverseTables(ctx context.Context, my *sql.DB, pg querier, db string) ([]*revTable, error) {
	var out []*revTable
	for _, tc := range p.cfg.Tables {
		t, err := p.loadReverseTable(ctx, my, pg, db, tc)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// loadReverseTable reads one table's MySQL definition and checks its
// PostgreSQL table (see loadReverseTables).
func (p *Pipeline) loadReverseTable(ctx context.Context, my *sql.DB, pg querier, db string, tc config.Table) (*revTable, error) {
	pol := Policies{ZeroDates: p.cfg.ZeroDates, NulBytes: p.cfg.NulBytes}
	m, err := LoadTableMap(ctx, my, db, tc, pol)
	if err != nil {
		if retryable(err) {
			return nil, sourceErr(err)
		}
		return nil, permanent(fmt.Errorf("reading the legacy table %s.%s: %w", db, tc.Name, err))
	}
	keys, err := readKeys(ctx, my, db, tc.Name)
	if err != nil {
		return nil, sourceErr(err)
	}
	keyCols := m.KeyColumns()
	other := slices.ContainsFunc(keys, func(k indexInfo) bool {
		return len(k.Columns) != len(keyCols) || !isUniqueKey(keyCols, []indexInfo{k})
	})
	t, err := newRevTable(m, db, other)
	if err != nil {
		return nil, permanent(err)
	}
	if t.rule, err = p.conflictRule(m); err != nil {
		return nil, permanent(err)
	}
	target := pgx.Identifier{m.TargetSchema, m.Target}.Sanitize()
	var ident string
	var identCols []string
	err = pg.QueryRow(ctx, `SELECT c.relreplident::text, coalesce(array(SELECT a.attname::text FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = c.oid AND CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END), '{}')
		FROM pg_class c WHERE c.oid = to_regclass($1)`, target).Scan(&ident, &identCols)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, permanent(fmt.Errorf("table %s: the PostgreSQL table %s does not exist; new-to-legacy streams its changes into %s.%s", tc.Name, target, db, tc.Name))
	}
	if err != nil {
		return nil, targetErr(fmt.Errorf("reading the replica identity of %s: %w", target, err))
	}
	if p.both != nil && ident != "f" {
		// Conflicts are found by the old row, whole.
		if _, err := pg.Exec(ctx, "ALTER TABLE "+target+" REPLICA IDENTITY FULL"); err != nil {
			return nil, targetErr(fmt.Errorf("table %s: setting REPLICA IDENTITY FULL on %s, which a both-ways pipeline needs to see the old rows it compares: %w", tc.Name, target, err))
		}
		ident = "f"
	}
	var keyTargets []string
	for _, k := range m.Key {
		keyTargets = append(keyTargets, m.Columns[k].Target)
	}
	if err := checkReplicaIdentity(t.pgName, ident[0], identCols, keyTargets); err != nil {
		return nil, permanent(err)
	}
	return t, nil
}

// prepareSlot finds or creates the pipeline's slot and returns where to
// stream from: the checkpoint in MySQL. A new slot's consistent point is
// stored as the first checkpoint, in MySQL, before anything streams.
func (p *Pipeline) prepareSlot(ctx context.Context, pg querier, repl *pgconn.PgConn, conn *sql.Conn, slot string, ck reverseCheckpoint) (LSN, error) {
	info, err := readSlotInfo(ctx, pg, slot)
	if err != nil {
		return 0, targetErr(err)
	}
	var db string
	if err := pg.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		return 0, targetErr(fmt.Errorf("reading the database name: %w", err))
	}
	save := func(at LSN) error {
		if _, err := conn.ExecContext(ctx, checkpointSQL(p.cfg.Name, slot, &at, time.Time{}, 0)); err != nil {
			return sourceErr(fmt.Errorf("saving the starting LSN %s in the legacy database: %w", at, err))
		}
		return nil
	}
	switch {
	case !info.exists && ck.Found:
		return 0, permanent(fmt.Errorf("the replication slot %s is gone: PostgreSQL no longer keeps the changes after LSN %s that the legacy database has not applied; "+
			"compare the tables with `strangler sync verify`, then start the pipeline over (docs/sync.md, new-to-legacy)", slot, ck.LSN))
	case !info.exists:
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
		if err != nil {
			return 0, targetErr(fmt.Errorf("creating the replication slot %s: %w", slot, err))
		}
		at, err := parseLSN(res.ConsistentPoint)
		if err != nil {
			return 0, permanent(err)
		}
		p.log.Info(fmt.Sprintf("created replication slot %s and publication %s at LSN %s: changes from here on are applied to the legacy database", slot, slot, at))
		return at, save(at)
	case info.plugin != "pgoutput" || info.database != db:
		return 0, permanent(fmt.Errorf("the replication slot %s exists with plugin %q in database %q, not pgoutput in %q: it is not this pipeline's", slot, info.plugin, info.database, db))
	case info.walStatus == "lost":
		return 0, permanent(fmt.Errorf("the replication slot %s lost WAL it needed (wal_status lost, see max_slot_wal_keep_size): changes after LSN %s are gone; "+
			"compare the tables with `strangler sync verify`, then start the pipeline over", slot, info.confirmed))
	case !ck.Found:
		// Created by a run that stopped before it stored the position: the
		// slot has confirmed nothing since.
		return info.confirmed, save(info.confirmed)
	case info.confirmed > ck.LSN:
		return 0, permanent(fmt.Errorf("the replication slot %s confirmed LSN %s, past the %s the legacy database holds: something else consumed it, and the changes in between are gone",
			slot, info.confirmed, ck.LSN))
	}
	return ck.LSN, nil
}

// revItem is what the decoder hands the applier.
type revItem struct {
	batch *revBatch
	pause *PausedError
}

// reverseHandler is the new-to-legacy pipeline's LogicalHandler.
type reverseHandler struct {
	NopLogicalHandler
	p       *Pipeline
	dec     *PgoutputDecoder
	byName  map[string]*revTable // by PostgreSQL schema.table
	byRel   map[uint32]*revTable
	cur     *revBatch
	applyCh chan<- revItem
	start   LSN // the stored position the session started at

	// reload reads a table's legacy definition again (a Relation message
	// that does not fit it).
	reload func(ctx context.Context, old *revTable) (*revTable, error)

	skip       bool // the open transaction was applied before start
	own        bool // the open transaction was written by strangler's forward applier: not sent back
	txn        []revChange
	commitTime time.Time
	pieced     bool
}

var _ LogicalHandler = (*reverseHandler)(nil)

func (h *reverseHandler) run(ctx context.Context, events <-chan revEvent) error {
	tick := time.NewTicker(h.p.o.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if ev.data == nil {
				h.onWALEnd(ev.walEnd)
				continue
			}
			if err := h.dec.Decode(ctx, ev.data, h); err != nil {
				var ve *ValueError
				if errors.As(err, &ve) {
					return h.pause(ctx, ve)
				}
				if retryable(err) {
					return err
				}
				return permanent(err)
			}
		case <-tick.C:
			if !h.dec.InTransaction() && !h.cur.empty() {
				if err := h.send(ctx, revItem{batch: h.cur}); err != nil {
					return err
				}
				h.cur = newRevBatch()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *reverseHandler) send(ctx context.Context, it revItem) error {
	select {
	case h.applyCh <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// onWALEnd moves the position of an idle pipeline: everything before
// walEnd was received, and is in the open batch or handed over.
func (h *reverseHandler) onWALEnd(walEnd LSN) {
	if h.dec.InTransaction() || walEnd <= h.cur.lsn || walEnd <= LSN(h.p.rev.confirmed.Load()) {
		return
	}
	h.cur.lsn = walEnd
	h.cur.txns++
	select {
	case h.applyCh <- revItem{batch: h.cur}:
		h.cur = newRevBatch()
	default:
	}
}

// OnBegin opens a transaction; one whose commit record starts before the
// stored position was applied by an earlier session and is skipped.
func (h *reverseHandler) OnBegin(_ context.Context, b LogicalBegin) error {
	h.skip, h.own = b.FinalLSN < h.start, false
	h.txn, h.commitTime = h.txn[:0], b.CommitTime
	return nil
}

// OnOrigin skips a transaction strangler's forward applier wrote (see
// both.go): sending it back would echo it.
func (h *reverseHandler) OnOrigin(_ context.Context, o LogicalOrigin) error {
	if isStranglerOrigin(o.Name) && !h.skip {
		h.skip, h.own = true, true
	}
	return nil
}

// OnRelation binds a relation to its synced table.
func (h *reverseHandler) OnRelation(ctx context.Context, r *Relation) error {
	t := h.byName[r.QualifiedName()]
	if t == nil {
		return nil
	}
	if h.reload != nil && !t.fits(r) {
		// The table changed (a column the forward direction added or
		// renamed): read the legacy table again, as it is now.
		nt, err := h.reload(ctx, t)
		if err != nil {
			return err
		}
		h.byName[r.QualifiedName()], t = nt, nt
	}
	if err := t.bind(r); err != nil {
		return permanent(err)
	}
	h.byRel[r.ID] = t
	return nil
}

// OnChange encodes a row change of the open transaction. The handler holds
// at most pieceRows changes: beyond, the transaction goes to the applier in
// pieces of one MySQL transaction.
func (h *reverseHandler) OnChange(ctx context.Context, c LogicalChange) error {
	if h.skip {
		return nil
	}
	t := h.byRel[c.Relation.ID]
	if t == nil {
		return nil
	}
	rc, err := t.encodeChange(c)
	if err != nil {
		return err
	}
	h.txn = append(h.txn, rc)
	h.p.pending.Add(1)
	held := int64(len(h.txn) + h.cur.changes)
	if held > h.p.maxHeld.Load() {
		h.p.maxHeld.Store(held)
	}
	if int(held) < h.p.pieceRows {
		return nil
	}
	if !h.cur.empty() {
		if err := h.send(ctx, revItem{batch: h.cur}); err != nil {
			return err
		}
		h.cur = newRevBatch()
		if len(h.txn) < h.p.pieceRows {
			return nil
		}
	}
	piece := newRevBatch()
	piece.piece = true
	h.mergeTxn(piece)
	h.pieced = true
	return h.send(ctx, revItem{batch: piece})
}

// OnTruncate records a TRUNCATE of synced tables in the open transaction.
func (h *reverseHandler) OnTruncate(_ context.Context, tr LogicalTruncate) error {
	if h.skip {
		return nil
	}
	for _, r := range tr.Relations {
		if t := h.byRel[r.ID]; t != nil {
			h.txn = append(h.txn, revChange{t: t, truncate: true})
		}
	}
	return nil
}

func (h *reverseHandler) mergeTxn(b *revBatch) {
	for _, c := range h.txn {
		b.merge(c)
	}
	clear(h.txn)
	h.txn = h.txn[:0]
}

// OnCommit adds the transaction to the open batch and hands the batch over
// when the applier is idle or the batch is full; the last piece of a
// transaction applied in pieces goes at once.
func (h *reverseHandler) OnCommit(ctx context.Context, c LogicalCommit) error {
	if h.own {
		// Nothing to apply; the position moves past it with the next batch
		// or keepalive. What came before goes first, in a batch of its own:
		// the rows a batch expects on the other side (its conflict check)
		// are those before its first change, and the forward write may
		// have changed them since.
		h.p.ownSkipped.Add(1)
		h.skip, h.own = false, false
		if !h.cur.empty() {
			if err := h.send(ctx, revItem{batch: h.cur}); err != nil {
				return err
			}
			h.cur = newRevBatch()
		}
		return nil
	}
	if h.skip {
		h.skip = false
		return nil
	}
	b := h.cur
	if h.pieced {
		h.pieced = false
		b = newRevBatch()
	}
	h.mergeTxn(b)
	b.lsn, b.commitTime = c.EndLSN, c.CommitTime
	b.txns++
	if b != h.cur || b.changes >= h.p.cfg.BatchSize {
		if b == h.cur {
			h.cur = newRevBatch()
		}
		return h.send(ctx, revItem{batch: b})
	}
	select {
	case h.applyCh <- revItem{batch: h.cur}:
		h.cur = newRevBatch()
	default:
	}
	return nil
}

// pause hands the applier what is batched (whole transactions before the
// one that holds the value), then the pause.
func (h *reverseHandler) pause(ctx context.Context, ve *ValueError) error {
	if !h.cur.empty() {
		if err := h.send(ctx, revItem{batch: h.cur}); err != nil {
			return err
		}
		h.cur = newRevBatch()
	}
	pe := &PausedError{Pipeline: h.p.cfg.Name, Reason: ve.Error()}
	if err := h.send(ctx, revItem{pause: pe}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// revApplyLoop applies what the decoder hands over, in order; after each
// commit the position becomes what the receiver confirms.
func (p *Pipeline) revApplyLoop(ctx context.Context, a *revApplier, items <-chan revItem) error {
	defer a.rollback()
	for it := range items {
		if it.pause != nil {
			a.rollback()
			it.pause.LSN = LSN(p.rev.confirmed.Load()).String()
			return it.pause
		}
		b := it.batch
		if !b.piece && b.lsn < LSN(p.rev.confirmed.Load()) {
			// Never: batches are cut at commits, in WAL order.
			return permanent(fmt.Errorf("a batch ending at LSN %s, before the stored %s: the position would go back", b.lsn, LSN(p.rev.confirmed.Load())))
		}
		actx, cancel := context.WithTimeout(ctx, p.txTimeout)
		held := a.held
		err := a.apply(ctx, actx, b)
		cancel()
		if err != nil {
			return p.revApplyFailed(err)
		}
		if b.piece {
			p.pieces.Add(1)
			continue
		}
		p.mu.Lock()
		p.revFails = revFailures{}
		p.mu.Unlock()
		p.revApplied(b, held)
	}
	return nil
}

// revApplied moves the position, the counters and the metrics after a
// MySQL commit.
func (p *Pipeline) revApplied(b *revBatch, held revPieces) {
	now := time.Now()
	changes, firstRecv := b.changes+held.changes, b.firstRecv
	if held.pieces > 0 {
		firstRecv = held.firstRecv
	}
	p.rev.confirmed.Store(uint64(b.lsn))
	p.pending.Add(-int64(changes))
	p.applied.Add(int64(changes))
	lag := time.Duration(0)
	if !b.commitTime.IsZero() && changes > 0 {
		lag = max(0, now.Sub(b.commitTime))
	}
	p.lagNanos.Store(int64(lag))
	if m := p.o.Metrics; m != nil {
		count := func(t *revTable, ops *[4]int64) {
			for op := OpInsert; op <= OpDelete; op++ {
				if n := ops[op]; n > 0 {
					m.Changes.WithLabelValues(p.label, t.m.Name, op.String()).Add(float64(n))
				}
			}
		}
		for t, ops := range held.ops {
			count(t, ops)
		}
		for _, tb := range b.order {
			count(tb.t, &tb.ops)
		}
		m.Lag.WithLabelValues(p.label).Set(lag.Seconds())
	}
	if p.o.AfterApply != nil {
		p.o.AfterApply(AppliedBatch{Changes: changes, Transactions: b.txns, LSN: b.lsn, EventTime: b.commitTime, Received: firstRecv, Committed: now})
	}
}

// revFailures counts failed attempts to apply the changes after one LSN.
type revFailures struct {
	lsn   LSN
	cause string
	n     int
}

// revApplyFailed is applyFailed for the legacy database: a retryable error
// starts the session over, until it is the MaxApplyAttempts-th failure in
// a row after the same LSN and for the same cause.
func (p *Pipeline) revApplyFailed(err error) error {
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &me) && me.Number == 1054:
		// Unknown column: the legacy table changed under the pipeline (a
		// column dropped or renamed there): the next session reads it
		// again. Bounded like any other failure of the same batch.
	case !retryable(err):
		return permanent(err)
	}
	lsn, cause := LSN(p.rev.confirmed.Load()), legacyFailureCause(err)
	p.mu.Lock()
	if p.revFails.n > 0 && p.revFails.lsn == lsn && p.revFails.cause == cause {
		p.revFails.n++
	} else {
		p.revFails = revFailures{lsn: lsn, cause: cause, n: 1}
	}
	n := p.revFails.n
	p.mu.Unlock()
	if n >= MaxApplyAttempts {
		return permanent(fmt.Errorf("applying the changes after LSN %s failed %d times in a row (%s); stopped instead of trying again: %w", lsn, n, cause, err))
	}
	p.log.Warn(fmt.Sprintf("applying the changes after LSN %s failed (attempt %d of %d, %s): %v", lsn, n, MaxApplyAttempts, cause, err))
	return sourceErr(&retryError{err})
}

// legacyFailureCause classes a MySQL apply error for "failed the same way".
func legacyFailureCause(err error) string {
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &me):
		return fmt.Sprintf("MySQL error %d", me.Number)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "lost connection"
}

// checkReverseName refuses a pipeline name the legacy tables' keys cannot
// hold.
func checkReverseName(name string) error {
	if n := len([]rune(name)); n > maxReversePipelineName {
		return fmt.Errorf("a new-to-legacy pipeline's name is its key in the legacy database's %s table: this one has %d characters, more than %d",
			ReverseCheckpointTable, n, maxReversePipelineName)
	}
	return nil
}
