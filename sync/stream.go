package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"golang.org/x/sync/errgroup"
)

// Streaming runs three goroutines under one errgroup:
//
//	receive: BinlogStreamer.GetEvent -> events channel (every receive has a
//	         deadline: the source sends heartbeats on an idle connection,
//	         and go-mysql's ReadTimeout fails a silent one)
//	decode:  events -> Decoder -> streamHandler, which maps rows into the
//	         open batch and hands a batch to the applier only at a source
//	         transaction boundary (XID or COMMIT)
//	apply:   batches -> one target transaction each, with the position
//
// A batch is handed over as soon as the applier is idle (so a quiet source
// sees low latency) or when it reaches the batch size (so a busy one gets
// big transactions). Any error ends the session; the next one starts from
// the position in the target, discarding whatever was received but not
// committed: nothing is lost, nothing applied twice.

// eventBuffer is how many binlog events each of go-mysql's queue and the
// receive -> decode channel holds.
const eventBuffer = 128

// applyItem is what the decoder hands the applier.
type applyItem struct {
	batch *batch
	ddl   *ddlItem
}

type ddlItem struct {
	ev     DDLEvent
	action DDLAction
	table  *table       // the table the DDL changes
	reply  chan *table  // the reloaded table, after the DDL is applied
	pause  *PausedError // set: pause instead
}

func (p *Pipeline) stream(ctx context.Context, src *sql.DB, dst *pgx.Conn, myCfg *mysql.Config, tables []*table, pos Position) error {
	var version string
	var serverID uint32
	if err := src.QueryRowContext(ctx, "SELECT VERSION(), @@server_id").Scan(&version, &serverID); err != nil {
		return sourceErr(fmt.Errorf("reading the source's version: %w", err))
	}
	host, portStr, err := net.SplitHostPort(myCfg.Addr)
	if err != nil {
		return permanent(fmt.Errorf("source address %q: %w", myCfg.Addr, err))
	}
	port, _ := strconv.Atoi(portStr)
	id := p.o.ServerID
	if id == 0 {
		id = serverIDFor(p.cfg.Name, serverID)
	}
	flavor := gomysql.MySQLFlavor
	if isMariaDB(version) {
		flavor = gomysql.MariaDBFlavor
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:                id,
		Flavor:                  flavor,
		Host:                    host,
		Port:                    uint16(port),
		User:                    myCfg.User,
		Password:                myCfg.Passwd,
		ParseTime:               false,
		UseDecimal:              false,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         p.o.Heartbeat,
		ReadTimeout:             p.o.ReadTimeout,
		// Reconnection is ours: go-mysql would resume mid-transaction from
		// the last event received, we resume from the last one committed.
		DisableRetrySync: true,
		// Events received and not yet decoded are held in memory: keep
		// them few (go-mysql's default is 10,240; a rows event is up to
		// binlog_row_event_max_size, 8 KB by default), so that a huge
		// transaction waits in the source, not here.
		EventCacheCount: eventBuffer,
		Logger:          slog.New(&debugHandler{h: p.log.With("component", "go-mysql").Handler()}),
	})
	defer syncer.Close()
	hasGTIDs, err := sourceHasGTIDs(ctx, src, flavor == gomysql.MariaDBFlavor)
	if err != nil {
		return sourceErr(err)
	}
	dec := NewDecoder(pos.File)
	var streamer *replication.BinlogStreamer
	if hasGTIDs && pos.GTID != "" {
		// By GTID: the source may be another server than the one the
		// position was saved on (a failover), with other file names and
		// offsets; the decoder learns them from the stream.
		set, err := parseGTIDSet(flavor, pos.GTID)
		if err != nil {
			return permanent(fmt.Errorf("the saved GTID set of pipeline %q: %w", p.cfg.Name, err))
		}
		gs, err := set.goMySQL()
		if err != nil {
			return permanent(fmt.Errorf("the saved GTID set of pipeline %q: %w", p.cfg.Name, err))
		}
		if streamer, err = syncer.StartSyncGTID(gs); err != nil {
			return sourceErr(fmt.Errorf("starting the binlog stream at GTID %s (saved at %s): %w", set, pos, err))
		}
		if err := dec.TrackGTIDs(flavor, set.String()); err != nil {
			return permanent(err)
		}
		dec.StartedByGTID()
		p.setPhase(PhaseStreaming, "")
		p.log.Info(fmt.Sprintf("resumed at GTID %s (saved at %s)", set, pos))
	} else {
		if hasGTIDs && flavor == gomysql.MariaDBFlavor {
			// A position saved without a set (by an earlier build, or at
			// the source's end): MariaDB tells the set at that position.
			seed, err := mariadbGTIDAt(ctx, src, pos)
			if err == nil {
				err = dec.TrackGTIDs(flavor, seed)
			}
			if err != nil {
				p.log.Warn(fmt.Sprintf("positions carry no GTID set (the pipeline resumes from file and offset): %v", err))
			}
		} else if hasGTIDs && pos.GTID == "" {
			// MySQL: the set is known from the next binlog file on (its
			// Previous_gtids event).
			p.log.Info("the GTID set at " + pos.String() + " is not known: positions carry one from the next binlog file on")
		}
		if streamer, err = syncer.StartSync(gomysql.Position{Name: pos.File, Pos: pos.Pos}); err != nil {
			return sourceErr(fmt.Errorf("starting the binlog stream at %s: %w", pos, err))
		}
		p.setPhase(PhaseStreaming, "")
		p.log.Info("resumed at " + pos.String())
	}

	byName := map[string]*table{}
	for _, t := range tables {
		byName[t.m.Name] = t
	}
	db := myCfg.DBName
	// The reverse direction's checkpoint table comes through too: it marks
	// the transactions strangler wrote, which are not sent back.
	dec.Want = func(schema, name string) bool {
		return schema == db && (byName[name] != nil || name == ReverseCheckpointTable)
	}
	if len(p.o.SkipServerIDs) > 0 {
		dec.SkipServerIDs = map[uint32]bool{}
		for _, s := range p.o.SkipServerIDs {
			dec.SkipServerIDs[s] = true
		}
	}

	// Changes received and not committed are dropped with the session.
	p.pending.Store(0)
	g, gctx := errgroup.WithContext(ctx)
	events := make(chan *replication.BinlogEvent, eventBuffer)
	applyCh := make(chan applyItem)
	g.Go(func() error {
		defer close(events)
		for {
			ev, err := streamer.GetEvent(gctx)
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				return sourceErr(fmt.Errorf("reading the binlog after %s: %w", p.currentPosition(), err))
			}
			p.lastRecv.Store(time.Now().UnixNano())
			select {
			case events <- ev:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	// The decoder encodes on its own type map: a pgtype.Map is not safe for
	// concurrent use, and the applier's connection uses its own.
	h := &streamHandler{p: p, tables: byName, tm: pgtype.NewMap(), cur: newBatch(), applyCh: applyCh, db: db, src: src}
	g.Go(func() error {
		defer close(applyCh)
		return h.run(gctx, dec, events)
	})
	a := &applier{pipeline: p.cfg.Name, conn: dst, made: map[string]bool{}}
	g.Go(func() error { return p.applyLoop(gctx, a, applyCh) })
	return g.Wait()
}

// streamHandler is the pipeline's Handler: it maps row changes into the
// open batch and hands batches to the applier at transaction boundaries.
type streamHandler struct {
	NopHandler
	p       *Pipeline
	tables  map[string]*table
	tm      *pgtype.Map
	cur     *batch
	applyCh chan<- applyItem
	db      string
	src     *sql.DB
	dec     *Decoder
	txn     []RowChange // row changes of the open source transaction not yet encoded
	pieced  bool        // pieces of the open source transaction went to the applier

	// The open transaction's first row change was seen (rows); it was on
	// the new-to-legacy checkpoint table (own: strangler wrote it, and it
	// is not applied); it changed a synced table (ownData).
	rows, own, ownData bool
}

var _ Handler = (*streamHandler)(nil)

func (h *streamHandler) run(ctx context.Context, dec *Decoder, events <-chan *replication.BinlogEvent) error {
	h.dec = dec
	tick := time.NewTicker(h.p.o.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if err := dec.Decode(ctx, ev, h); err != nil {
				return err
			}
		case <-tick.C:
			if !dec.InTransaction() && !h.cur.empty() {
				if err := h.send(ctx, applyItem{batch: h.cur}); err != nil {
					return err
				}
				h.cur = newBatch()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *streamHandler) send(ctx context.Context, it applyItem) error {
	select {
	case h.applyCh <- it:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// OnRow collects a row change of the open transaction. The handler holds
// at most pieceRows row changes: when the open batch and the transaction
// reach it, the batch (whole earlier transactions) is handed over, and the
// transaction goes on to the applier in pieces of one target transaction.
func (h *streamHandler) OnRow(ctx context.Context, c RowChange) error {
	if !h.rows {
		h.rows = true
		h.own = c.Table == ReverseCheckpointTable
	}
	if h.own {
		h.ownData = h.ownData || h.tables[c.Table] != nil
		return nil
	}
	if h.tables[c.Table] == nil {
		return nil
	}
	h.txn = append(h.txn, c)
	h.p.pending.Add(1)
	held := int64(len(h.txn) + h.cur.changes)
	if held > h.p.maxHeld.Load() {
		h.p.maxHeld.Store(held)
	}
	if int(held) < h.p.pieceRows {
		return nil
	}
	if !h.cur.empty() {
		if err := h.send(ctx, applyItem{batch: h.cur}); err != nil {
			return err
		}
		h.cur = newBatch()
		if len(h.txn) < h.p.pieceRows {
			return nil
		}
	}
	piece := newBatch()
	piece.piece = true
	if err := h.encode(ctx, piece, "a transaction after "+h.p.currentPosition().String()); err != nil {
		return err
	}
	h.pieced = true
	return h.send(ctx, applyItem{batch: piece})
}

// encode moves the collected row changes into b, all or none. A value the
// target cannot hold pauses the pipeline before the transaction.
func (h *streamHandler) encode(ctx context.Context, b *batch, what string) error {
	rows := h.txn
	h.txn = h.txn[:0]
	err := b.addTxn(h.tables, h.tm, rows)
	clear(rows) // the row images are encoded: let them go
	if err == nil {
		return nil
	}
	h.p.pending.Add(-int64(len(rows)))
	var ve *ValueError
	if !errors.As(err, &ve) {
		return permanent(fmt.Errorf("decoding %s: %w", what, err))
	}
	// Everything before this transaction is applied, then the pipeline
	// pauses before it (and the pieces of it applied so far are rolled
	// back).
	return h.pause(ctx, &PausedError{Pipeline: h.p.cfg.Name, Reason: ve.Error()})
}

// OnCommit adds the transaction to the open batch, whole, and hands the
// batch over when the applier is idle or the batch is full. The last
// piece of a transaction applied in pieces goes at once, with the commit's
// position.
func (h *streamHandler) OnCommit(ctx context.Context, c Commit) error {
	if h.own {
		// Written by strangler's new-to-legacy applier: not sent back. A
		// checkpoint alone moves nothing (were it to move the position,
		// the position's own write would come back as a checkpoint).
		data := h.ownData
		h.rows, h.own, h.ownData = false, false, false
		if !data {
			return nil
		}
		h.p.ownSkipped.Add(1)
		// What came before goes first, in a batch of its own (see the
		// new-to-legacy reader's OnCommit): a conflict check compares the
		// target with the rows before a batch's first change.
		if !h.cur.empty() {
			if err := h.send(ctx, applyItem{batch: h.cur}); err != nil {
				return err
			}
			h.cur = newBatch()
		}
		return h.OnPosition(ctx, c.Pos)
	}
	h.rows = false
	if h.pieced {
		h.pieced = false
		last := newBatch()
		if err := h.encode(ctx, last, "the transaction ending at "+c.Pos.String()); err != nil {
			return err
		}
		last.pos, last.eventTime = c.Pos, c.Time
		last.txns++
		return h.send(ctx, applyItem{batch: last})
	}
	if err := h.encode(ctx, h.cur, "the transaction ending at "+c.Pos.String()); err != nil {
		return err
	}
	h.cur.pos, h.cur.eventTime = c.Pos, c.Time
	h.cur.txns++
	if h.cur.changes >= h.p.cfg.BatchSize {
		if err := h.send(ctx, applyItem{batch: h.cur}); err != nil {
			return err
		}
		h.cur = newBatch()
		return nil
	}
	select {
	case h.applyCh <- applyItem{batch: h.cur}:
		h.cur = newBatch()
	default:
	}
	return nil
}

// pause hands the applier what is batched, then the pause, and waits for
// the applier to stop the stream with it (so that the pause, not a
// cancellation, is the stream's error).
func (h *streamHandler) pause(ctx context.Context, pe *PausedError) error {
	if !h.cur.empty() {
		if err := h.send(ctx, applyItem{batch: h.cur}); err != nil {
			return err
		}
		h.cur = newBatch()
	}
	if err := h.send(ctx, applyItem{ddl: &ddlItem{pause: pe, reply: make(chan *table, 1)}}); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// OnPosition moves the batch's position past events that change nothing.
func (h *streamHandler) OnPosition(_ context.Context, pos Position) error {
	h.cur.pos = pos
	h.cur.txns++
	return nil
}

// OnDDL classifies a statement (see ClassifyDDL): what maps cleanly onto
// the target (ADD/DROP/RENAME COLUMN, widening, TRUNCATE, indexes, RENAME
// TABLE) is applied there; any other change to a synced table pauses the
// pipeline; the rest only moves the position.
func (h *streamHandler) OnDDL(ctx context.Context, d DDLEvent) error {
	maps := make(map[string]*TableMap, len(h.tables))
	for name, t := range h.tables {
		maps[name] = t.m
	}
	if d.Schema != h.db && !strings.Contains(d.Statement, h.db) {
		return h.OnPosition(ctx, d.Pos)
	}
	action, relevant, err := ClassifyDDL(d.Statement, maps)
	if err != nil {
		action = DDLAction{Pause: true, Reason: fmt.Sprintf("could not classify the statement: %v", err)}
		relevant = mentionsAny(d.Statement, maps)
	}
	if !relevant {
		return h.OnPosition(ctx, d.Pos)
	}
	// Everything before the DDL goes first, in its own transaction.
	if !h.cur.empty() {
		if err := h.send(ctx, applyItem{batch: h.cur}); err != nil {
			return err
		}
		h.cur = newBatch()
	}
	if action.Pause {
		reason := action.Reason
		if reason == "" {
			reason = "this change cannot be applied to the target automatically"
		}
		// The stream stops before the statement: the position stays where
		// the last batch left it.
		return h.pause(ctx, &PausedError{Pipeline: h.p.cfg.Name, Statement: d.Statement, Reason: reason, Resume: d.Pos})
	}
	item := &ddlItem{ev: d, action: action, table: h.tables[action.Table], reply: make(chan *table, 1)}
	if err := h.send(ctx, applyItem{ddl: item}); err != nil {
		return err
	}
	select {
	case nt, ok := <-item.reply:
		if !ok {
			// The applier failed; its error ends the stream.
			<-ctx.Done()
			return ctx.Err()
		}
		if nt != nil {
			if old := item.table; old != nil && old.m.Name != nt.m.Name {
				delete(h.tables, old.m.Name) // RENAME TABLE: the map follows
			}
			h.tables[nt.m.Name] = nt
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func mentionsAny(stmt string, maps map[string]*TableMap) bool {
	low := strings.ToLower(stmt)
	for name := range maps {
		if strings.Contains(low, strings.ToLower(name)) {
			return true
		}
	}
	return false
}

// debugHandler logs go-mysql's records at debug level: its connect lines
// and its errors on a lost connection repeat what the pipeline logs itself
// ("legacy MySQL unreachable, retrying ...", "resumed at ...").
type debugHandler struct{ h slog.Handler }

func (d *debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d *debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d *debugHandler) WithAttrs(a []slog.Attr) slog.Handler { return &debugHandler{d.h.WithAttrs(a)} }
func (d *debugHandler) WithGroup(n string) slog.Handler      { return &debugHandler{d.h.WithGroup(n)} }
