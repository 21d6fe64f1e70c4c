package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
)

// Deadlines of the queries that have none of their own: a source read, a
// target transaction (one batch or one snapshot chunk).
const (
	sourceReadTimeout = 2 * time.Minute
	targetTxTimeout   = 5 * time.Minute
)

// Options tunes a Pipeline. The zero value is usable.
type Options struct {
	// Logger receives the pipeline's log lines. Nil: slog.Default().
	Logger *slog.Logger
	// Metrics, when set, are updated as changes are applied.
	Metrics *Metrics
	// Progress, when set, is called after every snapshot chunk.
	Progress func(SnapshotProgress)
	// AfterApply, when set, is called after every batch is committed to the
	// target (from the applying goroutine; keep it short).
	AfterApply func(AppliedBatch)
	// ServerID is the replica server id the binlog connection registers
	// with. Zero: derived from the pipeline name, avoiding the source's own.
	ServerID uint32
	// SkipServerIDs: transactions the source logged with one of these
	// server ids are not applied (the no-echo hook for writes strangler
	// makes into the source). Nil: none.
	SkipServerIDs []uint32
	// FlushInterval is how long a batch waits for more transactions when
	// the source is quiet. Zero: 50ms.
	FlushInterval time.Duration
	// Heartbeat is the source's heartbeat period on an idle binlog
	// connection; ReadTimeout the deadline of each receive. Zero: 1s and 5s.
	// New-to-legacy: every Heartbeat the status update asks PostgreSQL for a
	// reply, and a replication connection silent for ReadTimeout is dropped.
	Heartbeat, ReadTimeout time.Duration
	// RetryMin and RetryMax bound the backoff between reconnection
	// attempts when a database is unreachable. Zero: 2s and 30s.
	RetryMin, RetryMax time.Duration
	// AcceptDDL resumes, at the start, a pipeline that an earlier run left
	// paused on DDL: the operator has applied the paused statement's
	// equivalent to the target by hand, and streaming goes on after the
	// statement. A pause during this run waits for a resume request
	// (RequestResume) instead.
	AcceptDDL bool
	// Record, when set, names the system of record of a both-ways
	// pipeline at the moment ("legacy" or "new"): the side whose change
	// wins a conflict. Nil, or another answer: the pipeline's record key.
	Record func() string
	// StatusInterval is how often the status row is written (new-to-legacy:
	// also the slot's figures read, and the idle position moved). Zero: 1s.
	StatusInterval time.Duration
}

// SnapshotProgress reports a table's snapshot copy.
type SnapshotProgress struct {
	Pipeline, Table string
	Rows, Total     int64 // rows copied so far; the source's estimate of the table's rows
	Done            bool
}

// AppliedBatch describes a batch committed to the target.
type AppliedBatch struct {
	Changes      int
	Transactions int
	Position     Position
	LSN          LSN       // new-to-legacy: the WAL position after the batch, stored with it
	EventTime    time.Time // source timestamp of the batch's last commit
	Received     time.Time // when its first change was received
	Committed    time.Time
}

// PausedError stops a pipeline on a change it must not apply by itself: DDL
// that does not map cleanly onto the target (see ClassifyDDL), or a value
// the target cannot hold.
// The pause is persisted; `strangler sync status` shows it with what to do
// (Todo), and the pipeline waits, in its process, until `strangler sync
// resume NAME` (or, at a start, --accept-ddl) moves it on. Run does not
// return it.
type PausedError struct {
	Pipeline  string
	Statement string   // the DDL statement, when a DDL caused the pause
	Reason    string   // why
	Pos       Position // the last position applied: the stream stopped here, before the statement
	Resume    Position // the end of the paused statement, where --accept-ddl goes on
	LSN       string   // new-to-legacy: the last WAL position applied, where Pos is not used
	Todo      string   // what to do before resuming: the statement to run on the target (see PauseTodo)
}

// Error names the pipeline, the position, the statement and the reason.
func (e *PausedError) Error() string {
	if e.LSN != "" && e.Pos.IsZero() {
		return fmt.Sprintf("pipeline %q paused at LSN %s: %s", e.Pipeline, e.LSN, e.Reason)
	}
	if e.Statement != "" {
		return fmt.Sprintf("pipeline %q paused at %s on DDL %q: %s", e.Pipeline, e.Pos, e.Statement, e.Reason)
	}
	return fmt.Sprintf("pipeline %q paused at %s: %s", e.Pipeline, e.Pos, e.Reason)
}

// Pipeline syncs the tables of one config.Pipeline from MySQL/MariaDB to
// PostgreSQL: a snapshot of the tables not yet copied, then the binlog from
// the snapshot's position, with the position committed in the same target
// transaction as the changes it covers.
type Pipeline struct {
	cfg    config.Pipeline
	srcDSN string
	dstDSN string
	o      Options
	log    *slog.Logger

	applied    atomic.Int64 // changes (and snapshot rows) applied
	pending    atomic.Int64 // changes received, not yet applied
	lagNanos   atomic.Int64
	lastRecv   atomic.Int64 // unix nanos of the last event received
	pieces     atomic.Int64 // pieces of source transactions applied (for tests)
	maxHeld    atomic.Int64 // most row changes the stream held at once (for tests)
	mu         gosync.Mutex
	failures   applyFailures
	phase      string       // the one record of the phase: Status, the status row and the phase metric read it
	reason     string       // why the pipeline is waiting or stopped; "" otherwise
	pause      *PausedError // set with phase paused
	resume     resumeState  // see resume.go
	kept       []string     // quoted target columns whose source column was dropped: kept, nullable, not written
	position   Position
	snapTables map[string]*SnapshotProgress
	rev        reverseState // new-to-legacy only

	// Both ways: pair is set on the pipeline the caller holds, both (the
	// whole config) on each of its halves.
	pair         *pair
	both         *config.Pipeline
	label        string        // the pipeline label of the metrics: the name; NAME:new-to-legacy for that half of a both-ways pipeline
	streamed     chan struct{} // forward half: closed when it first streams
	streamedOnce gosync.Once
	gate         <-chan struct{} // new-to-legacy half: wait for this before the first session
	ownSkipped   atomic.Int64    // transactions skipped because strangler itself wrote them
	conflicts    atomic.Int64    // conflicts resolved
	revFails     revFailures     // under mu

	// pieceRows bounds the row changes held in memory (see
	// defaultPieceRows); txTimeout is the deadline of one target batch or
	// piece. Set by New; tests make them small.
	pieceRows int
	txTimeout time.Duration

	runMu  gosync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	runErr error
}

// New returns a pipeline for p. source and target are the MySQL and
// PostgreSQL DSNs (either form; ${VAR} references expanded).
func New(p config.Pipeline, source, target string, o Options) (*Pipeline, error) {
	if p.Name == "" {
		return nil, errors.New("creating a sync pipeline: no name")
	}
	src, err := dbconn.MySQLDSN(source)
	if err != nil {
		return nil, fmt.Errorf("pipeline %q: source: %w", p.Name, err)
	}
	dst, err := dbconn.PostgresDSN(target)
	if err != nil {
		return nil, fmt.Errorf("pipeline %q: target: %w", p.Name, err)
	}
	if src == "" || dst == "" {
		return nil, fmt.Errorf("pipeline %q: source and target databases are both required", p.Name)
	}
	switch p.Direction {
	case "", config.DirectionLegacyToNew:
	case config.DirectionNewToLegacy, config.DirectionBoth:
		// source and target still name the legacy and the new database:
		// the changes flow from target to source.
		if err := checkReverseName(p.Name); err != nil {
			return nil, fmt.Errorf("pipeline %q: %w", p.Name, err)
		}
	default:
		return nil, fmt.Errorf("pipeline %q: direction %s is not available in this build", p.Name, p.Direction)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	setDur := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDur(&o.FlushInterval, 50*time.Millisecond)
	setDur(&o.Heartbeat, time.Second)
	setDur(&o.ReadTimeout, 5*time.Second)
	setDur(&o.RetryMin, 2*time.Second)
	setDur(&o.RetryMax, 30*time.Second)
	setDur(&o.StatusInterval, time.Second)
	if p.BatchSize <= 0 {
		p.BatchSize = 1000
	}
	if p.ChunkSize <= 0 {
		p.ChunkSize = 10000
	}
	pl := &Pipeline{cfg: p, srcDSN: src, dstDSN: dst, o: o, log: o.Logger.With("pipeline", p.Name), snapTables: map[string]*SnapshotProgress{}, label: p.Name}
	pl.pieceRows, pl.txTimeout = max(defaultPieceRows, p.BatchSize), targetTxTimeout
	if p.Direction == config.DirectionBoth {
		if err := newPair(pl, p, source, target, o); err != nil {
			return nil, err
		}
	}
	pl.setPhase(PhaseStarting, "")
	return pl, nil
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.cfg.Name }

// Start runs the pipeline in the background until Close or until it stops
// on its own (a permanent error); Wait returns that error.
func (p *Pipeline) Start(ctx context.Context) error {
	p.runMu.Lock()
	defer p.runMu.Unlock()
	if p.done != nil {
		return fmt.Errorf("pipeline %q: already started", p.cfg.Name)
	}
	ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		p.runErr = p.Run(ctx)
	}()
	return nil
}

// Wait blocks until a started pipeline stops and returns why (nil after
// Close).
func (p *Pipeline) Wait() error {
	p.runMu.Lock()
	done := p.done
	p.runMu.Unlock()
	if done == nil {
		return nil
	}
	<-done
	return p.runErr
}

// Close stops a started pipeline and waits for it, or for ctx. Work not
// yet committed to the target is redone from the saved position by the
// next run.
func (p *Pipeline) Close(ctx context.Context) error {
	p.runMu.Lock()
	cancel, done := p.cancel, p.done
	p.runMu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return p.runErr
	case <-ctx.Done():
		return fmt.Errorf("closing pipeline %q: %w", p.cfg.Name, ctx.Err())
	}
}

// Run syncs until ctx is done (then it returns nil) or a permanent error
// occurs. While a database is unreachable it waits and retries with
// backoff, logging each attempt. A pause (see PausedError) does not end it:
// the pipeline waits in phase paused for a resume request (RequestResume),
// then goes on.
func (p *Pipeline) Run(ctx context.Context) error {
	if p.pair != nil {
		return p.pair.run(ctx)
	}
	g, gctx := errgroup.WithContext(ctx)
	runCtx, stopStatus := context.WithCancel(gctx)
	g.Go(func() error { p.statusLoop(runCtx); return nil })
	var err error
	g.Go(func() error {
		defer stopStatus()
		err = p.runSessions(gctx)
		return nil
	})
	_ = g.Wait()
	p.writeFinalStatus(context.WithoutCancel(ctx), err)
	return err
}

func (p *Pipeline) runSessions(ctx context.Context) error {
	backoff := p.o.RetryMin
	for {
		err := p.session(ctx)
		if p.currentPhase() == PhaseStreaming {
			backoff = p.o.RetryMin // the last session got going: start over
		}
		if ctx.Err() != nil {
			p.setPhase(PhaseStopped, "")
			return nil
		}
		var pe *PausedError
		var ve *ValueError
		if !errors.As(err, &pe) && errors.As(err, &ve) {
			pe = &PausedError{Pipeline: p.cfg.Name, Reason: ve.Error(), Pos: p.currentPosition()}
		}
		switch {
		case pe != nil:
			// The process stays: the pipeline waits in phase paused, its
			// status fresh, for `strangler sync resume NAME`.
			p.setPaused(pe)
			p.log.Error(fmt.Sprintf("sync paused: %v; to go on: %s, then: strangler sync resume %s", pe, pe.Todo, p.cfg.Name))
			if p.waitResume(ctx, pe) != nil {
				return nil // interrupted: the pause stays recorded
			}
			backoff = p.o.RetryMin
			continue
		case !retryable(err):
			err = fmt.Errorf("pipeline %q: %w", p.cfg.Name, err)
			p.setPhase(PhaseStopped, err.Error())
			p.log.Error("sync stopped", "error", err)
			return err
		}
		var re *retryError
		if errors.As(err, &re) {
			p.setPhase(PhaseWaiting, fmt.Sprintf("starting over to read the tables again: %v", err))
			p.log.Warn(fmt.Sprintf("starting over in %s to read the tables again: %v", backoff, err))
		} else {
			p.setPhase(PhaseWaiting, fmt.Sprintf("%s unreachable: %v", which(err), err))
			p.log.Warn(fmt.Sprintf("%s unreachable, retrying in %s: %v", which(err), backoff, err))
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			p.setPhase(PhaseStopped, "")
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, p.o.RetryMax)
	}
}

func (p *Pipeline) setPaused(pe *PausedError) {
	if pe.Todo == "" {
		if pe.Statement != "" {
			pe.Todo = PauseTodo(pe.Statement, p.cfg)
		} else {
			pe.Todo = valueTodo(p.reverse())
		}
	}
	p.mu.Lock()
	p.pause = pe
	p.mu.Unlock()
	p.setPhase(PhasePaused, pe.Reason)
}

// setPhase records the pipeline's phase and why it is in it (for waiting
// and stopped), and moves the phase metric.
func (p *Pipeline) setPhase(phase, reason string) {
	p.mu.Lock()
	old := p.phase
	p.phase, p.reason = phase, reason
	p.mu.Unlock()
	if phase == PhaseStreaming {
		p.markStreamed()
	}
	if m := p.o.Metrics; m != nil && m.Phase != nil && old != phase {
		if old != "" {
			m.Phase.WithLabelValues(p.label, old).Set(0)
		}
		m.Phase.WithLabelValues(p.label, phase).Set(1)
	}
}

func (p *Pipeline) currentPhase() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase
}

func (p *Pipeline) currentPosition() Position {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.position
}

func (p *Pipeline) setPosition(pos Position) {
	p.mu.Lock()
	p.position = pos
	p.mu.Unlock()
}

// session is one connected run: open both databases, snapshot what is
// missing, stream. It returns on the first error.
func (p *Pipeline) session(ctx context.Context) error {
	if p.reverse() {
		return p.reverseSession(ctx)
	}
	p.setPhase(PhaseStarting, "")
	myCfg, err := mysql.ParseDSN(p.srcDSN)
	if err != nil {
		return permanent(fmt.Errorf("parsing the source DSN %q: %w", dbconn.Redact(p.srcDSN), err))
	}
	myCfg.InterpolateParams = false
	// Every receive has a deadline: a source that stops answering fails the
	// read, and the session starts over.
	if myCfg.ReadTimeout == 0 {
		myCfg.ReadTimeout = sourceReadTimeout
	}
	if myCfg.WriteTimeout == 0 {
		myCfg.WriteTimeout = sourceReadTimeout
	}
	myCfg.ParseTime = false
	myCfg.MultiStatements = false
	if myCfg.Params == nil {
		myCfg.Params = map[string]string{}
	}
	myCfg.Params["time_zone"] = "'+00:00'"
	connector, err := mysql.NewConnector(myCfg)
	if err != nil {
		return permanent(fmt.Errorf("opening the source %q: %w", dbconn.Redact(p.srcDSN), err))
	}
	src := sql.OpenDB(connector)
	defer src.Close()
	src.SetMaxOpenConns(4)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = src.PingContext(pingCtx)
	cancel()
	if err != nil {
		return sourceErr(fmt.Errorf("connecting to %s: %w", dbconn.Redact(p.srcDSN), err))
	}

	dst, err := connectTarget(ctx, p.dstDSN)
	if err != nil {
		return targetErr(err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		dst.Close(cctx)
	}()
	if err := EnsureCheckpointSchema(ctx, dst); err != nil {
		return targetErr(err)
	}
	if p.both != nil {
		if err := setupOrigin(ctx, dst, OriginName(p.cfg.Name)); err != nil {
			return targetErr(err)
		}
	}
	pos, err := loadPosition(ctx, dst, p.cfg.Name)
	if err != nil {
		return targetErr(err)
	}
	p.setPosition(pos)
	if err := p.checkPaused(ctx, dst, &pos); err != nil {
		return err
	}

	tables, err := p.loadTables(ctx, src, dst, myCfg.DBName)
	if err != nil {
		return err
	}
	if err := p.setupIDs(ctx, src, dst, myCfg.DBName, tables); err != nil {
		return err
	}
	snaps, err := loadSnapshots(ctx, dst, p.cfg.Name)
	if err != nil {
		return targetErr(err)
	}
	var todo []*table
	for _, t := range tables {
		st := snaps[t.m.Name]
		p.mu.Lock()
		p.snapTables[t.m.Name] = &SnapshotProgress{Pipeline: p.cfg.Name, Table: t.m.Name, Rows: st.Rows, Total: st.Total, Done: st.Done}
		p.mu.Unlock()
		if !st.Done {
			todo = append(todo, t)
		}
	}
	if len(todo) > 0 {
		p.setPhase(PhaseSnapshot, "")
		if err := p.snapshot(ctx, src, dst, todo, snaps); err != nil {
			return err
		}
		if pos, err = loadPosition(ctx, dst, p.cfg.Name); err != nil {
			return targetErr(err)
		}
	}
	if pos.IsZero() {
		// No table needed a snapshot and no position was ever saved
		// (an empty pipeline): start at the source's current end.
		if pos, err = masterPosition(ctx, src); err != nil {
			return sourceErr(err)
		}
		if err := savePosition(ctx, dst, p.cfg.Name, pos, time.Time{}); err != nil {
			return targetErr(err)
		}
	}
	p.setPosition(pos)
	return p.stream(ctx, src, dst, myCfg, tables, pos)
}

// checkPaused returns the persisted pause of a pipeline paused on DDL,
// unless AcceptDDL or a resume request recorded while no process ran it
// (`strangler sync resume NAME`): then the position moves past the paused
// statement. A pause on a value is tried again.
func (p *Pipeline) checkPaused(ctx context.Context, dst *pgx.Conn, pos *Position) error {
	st, err := ReadStatus(ctx, dst, p.cfg.Name)
	if err != nil {
		return targetErr(err)
	}
	if st.Phase != PhasePaused {
		return nil
	}
	if st.Statement == "" {
		// A pause on a value: the fix is in the project file (a type
		// override, a policy) or in the source row; try again (and take
		// the request that asked for it, if any).
		p.log.Warn("the last run paused: " + st.Reason + "; trying again")
		if _, err := takeResume(ctx, dst, p.cfg.Name); err != nil {
			return targetErr(err)
		}
		return nil
	}
	pe := &PausedError{Pipeline: p.cfg.Name, Statement: st.Statement, Reason: st.Reason, Pos: *pos, Resume: st.pausedAt, Todo: st.Todo}
	if st.pausedAt.IsZero() {
		return pe
	}
	tx, err := dst.Begin(ctx)
	if err != nil {
		return targetErr(fmt.Errorf("beginning a target transaction: %w", err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	requested, err := takeResume(ctx, tx, p.cfg.Name)
	if err != nil {
		return targetErr(err)
	}
	if !requested && !p.o.AcceptDDL {
		return pe
	}
	*pos = Position{File: st.pausedAt.File, Pos: st.pausedAt.Pos}
	if err := savePosition(ctx, tx, p.cfg.Name, *pos, time.Time{}); err != nil {
		return targetErr(err)
	}
	st.Phase, st.Reason, st.Statement, st.Todo, st.pausedAt = PhaseStarting, "", "", "", Position{}
	if err := saveStatus(ctx, tx, st); err != nil {
		return targetErr(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return targetErr(fmt.Errorf("committing the accepted DDL of pipeline %q: %w", p.cfg.Name, err))
	}
	how := "by the operator (--accept-ddl)"
	if !p.o.AcceptDDL {
		how = "by a resume request (strangler sync resume)"
	}
	p.log.Warn(fmt.Sprintf("DDL %q accepted %s: streaming goes on after it, at %s", pe.Statement, how, *pos))
	return nil
}

// loadTables reads the source schema of every configured table and makes
// sure the target table exists.
func (p *Pipeline) loadTables(ctx context.Context, src *sql.DB, dst *pgx.Conn, db string) ([]*table, error) {
	pol := Policies{ZeroDates: p.cfg.ZeroDates, NulBytes: p.cfg.NulBytes}
	var out []*table
	for i, tc := range p.cfg.Tables {
		t, err := p.loadTable(ctx, src, dst, db, tc, pol)
		if err != nil {
			return nil, err
		}
		t.idx = i
		out = append(out, t)
	}
	return out, nil
}

func (p *Pipeline) loadTable(ctx context.Context, src *sql.DB, dst querier, db string, tc config.Table, pol Policies) (*table, error) {
	m, err := LoadTableMap(ctx, src, db, tc, pol)
	if err != nil {
		if retryable(err) {
			return nil, sourceErr(err)
		}
		return nil, permanent(fmt.Errorf("reading the source table %s.%s: %w", db, tc.Name, err))
	}
	t, err := newTable(m)
	if err != nil {
		return nil, permanent(err)
	}
	t.wantBefore = p.both != nil
	var exists bool
	if err := dst.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, t.target).Scan(&exists); err != nil {
		return nil, targetErr(fmt.Errorf("looking up the target table %s: %w", t.target, err))
	}
	if !exists {
		for _, s := range m.CreateTargetSQL() {
			if _, err := dst.Exec(ctx, s); err != nil {
				return nil, targetErr(fmt.Errorf("creating the target table %s: %q: %w", t.target, s, err))
			}
		}
		p.log.Info("created target table " + t.target)
	} else {
		// The stream resumes at the saved position, with the table as it
		// was there: columns the source added since (while the pipeline was
		// stopped) come with their ADD COLUMN, further on in the binlog.
		cols, err := targetColumns(ctx, dst, t.target)
		if err != nil {
			return nil, targetErr(err)
		}
		p.noteKeptColumns(m, cols)
		if nm, missing := withoutMissingColumns(m, cols); len(missing) > 0 {
			p.log.Warn(fmt.Sprintf("target table %s lacks source columns %s: they are added when the binlog reaches their ADD COLUMN",
				t.target, strings.Join(missing, ", ")))
			if t, err = newTable(nm); err != nil {
				return nil, permanent(err)
			}
			t.wantBefore = p.both != nil
		}
	}
	if err := t.loadOIDs(ctx, dst); err != nil {
		return nil, targetErr(err)
	}
	return t, nil
}

// noteKeptColumns records the target columns no copied source column
// maps to: columns kept after the source dropped them (DROP COLUMN), or
// added to the target by hand. The status names them.
func (p *Pipeline) noteKeptColumns(m *TableMap, have map[string]bool) {
	mapped := map[string]bool{}
	for _, i := range m.Copied() {
		mapped[m.Columns[i].Target] = true
	}
	var extra []string
	for c := range have {
		if !mapped[c] {
			extra = append(extra, c)
		}
	}
	slices.Sort(extra)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range extra {
		p.keptLocked(m.TargetTable() + "." + pgIdent(c))
	}
}

// targetColumns returns the column names of a target table.
func targetColumns(ctx context.Context, q querier, target string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, target)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", target, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s: %w", target, err)
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// withoutMissingColumns returns m without the copied, non-key columns whose
// target column does not exist, and their names; m itself when none is
// missing.
func withoutMissingColumns(m *TableMap, have map[string]bool) (*TableMap, []string) {
	isKey := map[int]bool{}
	for _, k := range m.Key {
		isKey[k] = true
	}
	var missing []string
	drop := map[int]bool{}
	for _, i := range m.Copied() {
		c := m.Columns[i]
		if !have[c.Target] && !isKey[i] {
			missing = append(missing, c.Name)
			drop[i] = true
		}
	}
	if len(missing) == 0 {
		return m, nil
	}
	nm := m.clone()
	nm.Columns = nm.Columns[:0]
	newIndex := map[int]int{}
	for i, c := range m.Columns {
		if drop[i] {
			continue
		}
		newIndex[i] = len(nm.Columns)
		nm.Columns = append(nm.Columns, c)
	}
	for j, k := range m.Key {
		nm.Key[j] = newIndex[k]
	}
	_ = nm.reindex()
	return nm, missing
}

func connectTarget(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := dbconn.ParsePostgres(dsn)
	if err != nil {
		return nil, permanent(fmt.Errorf("the target DSN: %w", err))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", dbconn.Redact(dsn), err)
	}
	// Text is written as UTF-8: into a database in another encoding it
	// would be stored as that encoding's reading of the UTF-8 bytes.
	encoding, err := targetEncoding(ctx, c)
	if err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if encoding != "UTF8" {
		c.Close(context.WithoutCancel(ctx))
		return nil, permanent(fmt.Errorf("the target database %s is encoded in %s: strangler writes UTF-8 text and needs a database created with ENCODING 'UTF8'",
			cfg.Database, encoding))
	}
	return c, nil
}

// targetEncoding reads the target database's server_encoding; strangler
// writes and compares UTF-8 text and needs "UTF8".
func targetEncoding(ctx context.Context, q querier) (string, error) {
	var encoding string
	if err := q.QueryRow(ctx, "SHOW server_encoding").Scan(&encoding); err != nil {
		return "", fmt.Errorf("reading the target database's encoding: %w", err)
	}
	return encoding, nil
}

// sqlQueryer is a *sql.DB or *sql.Conn.
type sqlQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// masterPosition reads the source's current binlog end.
func masterPosition(ctx context.Context, q sqlQueryer) (Position, error) {
	var lastErr error
	for _, stmt := range []string{"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"} {
		vals, err := queryFirstRow(ctx, q, stmt)
		if err != nil {
			lastErr = err
			if retryable(err) {
				break
			}
			continue
		}
		if len(vals) < 2 {
			return Position{}, errors.New("reading the binlog position: the source has no binary log (set log_bin)")
		}
		var pos Position
		pos.File = vals[0]
		if _, err := fmt.Sscan(vals[1], &pos.Pos); err != nil {
			return Position{}, fmt.Errorf("reading the binlog position: position %q: %w", vals[1], err)
		}
		return pos, nil
	}
	return Position{}, fmt.Errorf("reading the binlog position: %w", lastErr)
}

// queryFirstRow returns the first row of a query as strings (nil: no row).
func queryFirstRow(ctx context.Context, q sqlQueryer, stmt string) ([]string, error) {
	rows, err := q.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !rows.Next() {
		return nil, rows.Err()
	}
	raw := make([]sql.NullString, len(cols))
	dest := make([]any, len(cols))
	for i := range raw {
		dest[i] = &raw[i]
	}
	if err := rows.Scan(dest...); err != nil {
		return nil, err
	}
	out := make([]string, len(cols))
	for i, r := range raw {
		out[i] = r.String
	}
	return out, rows.Err()
}

// serverIDFor derives a replica server id from the pipeline name, avoiding
// the source's own.
func serverIDFor(name string, avoid uint32) uint32 {
	h := fnv.New32a()
	h.Write([]byte("strangler/" + name))
	id := h.Sum32()%(1<<30) + 1000
	if id == avoid {
		id++
	}
	return id
}

func isMariaDB(version string) bool { return strings.Contains(strings.ToLower(version), "mariadb") }
