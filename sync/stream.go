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
		Logger:           slog.New(&debugHandler{h: p.log.With("component", "go-mysql").Handler()}),
	})
	defer syncer.Close()
	streamer, err := syncer.StartSync(gomysql.Position{Name: pos.File, Pos: pos.Pos})
	if err != nil {
		return sourceErr(fmt.Errorf("starting the binlog stream at %s: %w", pos, err))
	}
	p.setPhase(PhaseStreaming, "")
	p.log.Info("resumed at " + pos.String())

	byName := map[string]*table{}
	for _, t := range tables {
		byName[t.m.Name] = t
	}
	db := myCfg.DBName
	dec := NewDecoder(pos.File)
	dec.Want = func(schema, name string) bool { return schema == db && byName[name] != nil }
	if len(p.o.SkipServerIDs) > 0 {
		dec.SkipServerIDs = map[uint32]bool{}
		for _, s := range p.o.SkipServerIDs {
			dec.SkipServerIDs[s] = true
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	events := make(chan *replication.BinlogEvent, 1024)
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
	txn     []RowChange // row changes of the open source transaction
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

// OnRow collects a row change of the open transaction.
func (h *streamHandler) OnRow(_ context.Context, c RowChange) error {
	if h.tables[c.Table] == nil {
		return nil
	}
	h.txn = append(h.txn, c)
	h.p.pending.Add(1)
	return nil
}

// OnCommit adds the transaction to the open batch, whole, and hands the
// batch over when the applier is idle or the batch is full.
func (h *streamHandler) OnCommit(ctx context.Context, c Commit) error {
	rows := h.txn
	h.txn = nil
	if err := h.cur.addTxn(h.tables, h.tm, rows); err != nil {
		h.p.pending.Add(-int64(len(rows)))
		var ve *ValueError
		if !errors.As(err, &ve) {
			return permanent(fmt.Errorf("decoding the transaction ending at %s: %w", c.Pos, err))
		}
		// Everything before this transaction is applied, then the
		// pipeline pauses before it.
		return h.pause(ctx, &PausedError{Pipeline: h.p.cfg.Name, Reason: ve.Error()})
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

// OnDDL classifies a statement: ADD COLUMN and widening changes of a
// synced table are applied to the target; any other change to a synced
// table pauses the pipeline; the rest only moves the position.
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

// applyLoop applies what the decoder hands over, in order.
func (p *Pipeline) applyLoop(ctx context.Context, a *applier, items <-chan applyItem) error {
	for it := range items {
		if it.batch != nil {
			if err := p.applyBatch(ctx, a, it.batch); err != nil {
				return err
			}
			continue
		}
		d := it.ddl
		if d.pause != nil {
			close(d.reply)
			d.pause.Pos = p.currentPosition()
			return d.pause
		}
		actx, cancel := context.WithTimeout(ctx, targetTxTimeout)
		err := a.applyDDL(actx, d.action.Apply, d.ev.Pos, d.ev.Time)
		cancel()
		if err != nil {
			if retryable(err) {
				return targetErr(err)
			}
			return &PausedError{Pipeline: p.cfg.Name, Statement: d.ev.Statement, Pos: p.currentPosition(), Resume: d.ev.Pos,
				Reason: fmt.Sprintf("applying it to the target failed: %v", err)}
		}
		p.setPosition(d.ev.Pos)
		p.log.Info(fmt.Sprintf("DDL applied to the target: %q -> %s", d.ev.Statement, strings.Join(d.action.Apply, "; ")))
		var nt *table
		if d.action.Map != nil {
			// The map after the change, as the statement defines it at this
			// point of the log (not the source's current schema, which may be
			// further ahead).
			reloaded, err := newTable(d.action.Map)
			if err == nil {
				err = reloaded.loadOIDs(ctx, a.conn)
			}
			if err != nil {
				close(d.reply)
				if retryable(err) {
					return targetErr(err)
				}
				return permanent(fmt.Errorf("after DDL %q: %w", d.ev.Statement, err))
			}
			if d.table != nil {
				reloaded.idx, reloaded.gen = d.table.idx, d.table.gen+1
			}
			nt = reloaded
		}
		d.reply <- nt
	}
	return nil
}

func (p *Pipeline) applyBatch(ctx context.Context, a *applier, b *batch) error {
	actx, cancel := context.WithTimeout(ctx, targetTxTimeout)
	err := a.apply(actx, b)
	cancel()
	if err != nil {
		if retryable(err) {
			return targetErr(err)
		}
		return err
	}
	now := time.Now()
	p.pending.Add(-int64(b.changes))
	p.applied.Add(int64(b.changes))
	p.setPosition(b.pos)
	lag := time.Duration(0)
	if !b.eventTime.IsZero() && b.changes > 0 {
		// Binlog timestamps are whole seconds. When the batch arrived within
		// the second of its commit, the receive time is the better clock.
		lag = max(0, now.Sub(b.eventTime))
		if recv := b.firstRecv.Sub(b.eventTime); recv >= 0 && recv < time.Second {
			lag = now.Sub(b.firstRecv)
		}
	}
	p.lagNanos.Store(int64(lag))
	if m := p.o.Metrics; m != nil {
		for _, tb := range b.order {
			for op := OpInsert; op <= OpDelete; op++ {
				if n := tb.ops[op]; n > 0 {
					m.Changes.WithLabelValues(p.cfg.Name, tb.t.m.Name, op.String()).Add(float64(n))
				}
			}
		}
		m.Lag.WithLabelValues(p.cfg.Name).Set(lag.Seconds())
	}
	if p.o.AfterApply != nil {
		p.o.AfterApply(AppliedBatch{Changes: b.changes, Transactions: b.txns, Position: b.pos, EventTime: b.eventTime, Received: b.firstRecv, Committed: now})
	}
	return nil
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
