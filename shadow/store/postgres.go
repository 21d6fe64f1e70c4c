package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore is a Store in a PostgreSQL database that several facade
// replicas share: counters are added up with upserts, so every replica's
// report holds all of them. Add, Dropped and LearnNoise buffer in memory;
// a background flusher writes the buffer every 500 ms in one transaction.
// A flush that fails keeps the buffer and is tried again, so a PostgreSQL
// restart loses nothing that fits the buffer. Report, Get and Noise read
// the database: what was flushed, by any replica.
type PostgresStore struct {
	pool  *pgxpool.Pool
	where string // host:port/database, for errors; never the password
	ret   Retention
	log   *slog.Logger
	now   func() time.Time

	stop context.CancelFunc
	done chan struct{}

	flushMu    sync.Mutex // serialises flushes; guards the fields below
	queue      []*pgBatch // sealed batches not yet written, oldest first
	lastRetain time.Time  // when retention last ran
	inserted   int        // records written since
	flushFail  failureLog
	retainFail failureLog

	mu          sync.Mutex // guards the fields below
	closed      bool
	cur         *pgBatch // what Add, Dropped and LearnNoise buffer into
	heldRecords int      // records held in cur and queue
	heldBytes   int
	lostBody    int64 // records counted but not kept (memory bound) since last logged
}

var _ Store = (*PostgresStore)(nil)

// Timeouts of the PostgreSQL store.
const (
	pgConnectTimeout = 10 * time.Second // one connection attempt
	pgFlushTimeout   = 30 * time.Second // one background flush
	pgCloseTimeout   = 10 * time.Second // the last flush, in Close
	pgRetainEvery    = time.Minute      // retention runs at most this often (unless many records came)
	pgBatchKeep      = "1 day"          // how long applied batch ids are kept to detect a repeated commit
)

// Advisory lock keys (pg_advisory_xact_lock): schema creation, retention.
const (
	schemaLockKey int64 = 0x5374724e53686131 // "StrNSha1"
	retainLockKey int64 = 0x5374724e53686132 // "StrNSha2"
)

// schema is created on open, under schemaLockKey, by whichever replica
// comes first.
const schema = `
CREATE TABLE IF NOT EXISTS strangler_shadow_routes (
	route    text PRIMARY KEY,
	first_at timestamptz NOT NULL,
	last_at  timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS strangler_shadow_counts (
	route  text NOT NULL,
	result text NOT NULL,
	n      bigint NOT NULL,
	PRIMARY KEY (route, result)
);
CREATE TABLE IF NOT EXISTS strangler_shadow_drops (
	route  text NOT NULL,
	reason text NOT NULL,
	n      bigint NOT NULL,
	PRIMARY KEY (route, reason)
);
CREATE TABLE IF NOT EXISTS strangler_shadow_paths (
	route text NOT NULL,
	path  text NOT NULL,
	n     bigint NOT NULL,
	PRIMARY KEY (route, path)
);
CREATE TABLE IF NOT EXISTS strangler_shadow_records (
	id     text PRIMARY KEY,
	route  text NOT NULL,
	at     timestamptz NOT NULL,
	result text NOT NULL,
	error  text NOT NULL DEFAULT '',
	record jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS strangler_shadow_records_route_at ON strangler_shadow_records (route, at);
CREATE INDEX IF NOT EXISTS strangler_shadow_records_at ON strangler_shadow_records (at, id);
CREATE INDEX IF NOT EXISTS strangler_shadow_records_errors ON strangler_shadow_records (route, at) WHERE result = 'error';
CREATE TABLE IF NOT EXISTS strangler_shadow_examples (
	route    text NOT NULL,
	path     text NOT NULL,
	id       text NOT NULL REFERENCES strangler_shadow_records (id) ON DELETE CASCADE,
	concrete text NOT NULL,
	legacy   text NOT NULL,
	new      text NOT NULL,
	at       timestamptz NOT NULL,
	PRIMARY KEY (route, path, id)
);
CREATE INDEX IF NOT EXISTS strangler_shadow_examples_id ON strangler_shadow_examples (id);
CREATE TABLE IF NOT EXISTS strangler_shadow_noise (
	route  text NOT NULL,
	path   text NOT NULL,
	n      bigint NOT NULL,
	pinned boolean NOT NULL DEFAULT false,
	since  timestamptz NOT NULL,
	PRIMARY KEY (route, path)
);
CREATE TABLE IF NOT EXISTS strangler_shadow_batches (
	id text PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now()
);
`

// OpenPostgres connects to the PostgreSQL database of dsn (a postgres://
// URL or keyword/value DSN) and creates the store's tables when missing.
// Zero fields of ret take the defaults DefaultMax and DefaultAge. Errors
// name the server and database, never the password.
func OpenPostgres(ctx context.Context, dsn string, ret Retention, opts ...Option) (*PostgresStore, error) {
	ret, err := ret.withDefaults()
	if err != nil {
		return nil, err
	}
	o := buildOptions(opts)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parser's message may quote the DSN, password and all.
		return nil, errors.New("shadow store: the PostgreSQL DSN does not parse as a postgres:// URL or keyword/value DSN (it is not shown: it may hold a password)")
	}
	cc := cfg.ConnConfig
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "strangler-shadow"
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = pgConnectTimeout
	}
	where := cc.Host + ":" + strconv.Itoa(int(cc.Port)) + "/" + cc.Database
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("shadow store: connecting to PostgreSQL %s: %w", where, err)
	}
	if err := createSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("shadow store: creating the tables in PostgreSQL %s: %w", where, err)
	}
	s := &PostgresStore{pool: pool, where: where, ret: ret, log: o.log, now: o.now, cur: newPGBatch()}
	runCtx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.run(runCtx)
	return s, nil
}

// createSchema creates the tables in one transaction, under an advisory
// lock: replicas starting together would otherwise race on CREATE TABLE
// IF NOT EXISTS (a unique violation in the catalog).
func createSchema(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", schemaLockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
}

// run flushes every flushInterval until ctx is done.
func (s *PostgresStore) run(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, pgFlushTimeout)
			s.flushMu.Lock()
			err := s.flushLocked(fctx)
			if err != nil && ctx.Err() == nil {
				s.flushFail.failed(s.log, s.now(), "shadow store: writing to PostgreSQL failed; keeping the buffer and retrying",
					"db", s.where, "error", err.Error())
			} else if err == nil {
				s.flushFail.ok(s.log, "shadow store: writing to PostgreSQL works again")
			}
			s.flushMu.Unlock()
			cancel()
		}
	}
}

// Add counts r into the buffer and, for a diff or an error not already
// older than the retention age, keeps it there until the next flush.
func (s *PostgresStore) Add(_ context.Context, r *Record) error {
	if err := checkRecord(r); err != nil {
		return err
	}
	now := s.now()
	at := countAt(r, now)
	keep := r.Result != ResultMatch && !at.Before(now.Add(-s.ret.Age))
	var doc []byte
	if keep {
		var err error
		if doc, err = encodeForPostgres(r, at); err != nil {
			return fmt.Errorf("shadow store: encoding record %s: %w", r.ID, err)
		}
	}
	hits := diffPaths(r)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	b := s.cur
	b.counts[pgKey{r.Route, string(r.Result)}]++
	b.widen(r.Route, at)
	if keep && (s.heldRecords >= maxHeldRecords || s.heldBytes+len(doc) > maxHeldBytes) {
		keep = false
		s.lostBody++
	}
	for _, h := range hits {
		b.paths[pgKey{r.Route, h.path}]++
		if keep && r.Result == ResultDiff {
			b.examples = append(b.examples, pgExample{
				route: r.Route, path: h.path, id: r.ID,
				concrete: h.diff.Path, legacy: h.diff.Legacy, new: h.diff.New, at: at,
			})
		}
	}
	if keep {
		b.records = append(b.records, pgRecord{id: r.ID, route: r.Route, at: at, result: string(r.Result), err: r.Error, doc: doc})
		b.bytes += len(doc)
		s.heldRecords++
		s.heldBytes += len(doc)
	}
	return nil
}

// Dropped counts n copies of route dropped for reason, in the buffer.
func (s *PostgresStore) Dropped(_ context.Context, route, reason string, n int64) error {
	if err := checkDropped(route, reason, n); err != nil || n == 0 {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.cur.drops[pgKey{route, reason}] += n
	s.cur.widen(route, now)
	return nil
}

// LearnNoise adds n sightings of path to route's noise, in the buffer.
func (s *PostgresStore) LearnNoise(_ context.Context, route, path string, n int64) error {
	if err := checkNoise(route, path, n); err != nil || n == 0 {
		return err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	k := pgKey{route, path}
	d, ok := s.cur.noise[k]
	if !ok {
		d.since = now
	}
	d.n += n
	s.cur.noise[k] = d
	return nil
}

// Flush writes the buffer to PostgreSQL and, at most once a minute (or
// after more than a quarter of Max new records), applies retention.
func (s *PostgresStore) Flush(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errClosed
	}
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return s.flushLocked(ctx)
}

// flushLocked is Flush; s.flushMu is held. The current batch is sealed
// and queued (merged into the last queued one when that one surely did not
// commit); the queue is written oldest first, each batch in one
// transaction.
func (s *PostgresStore) flushLocked(ctx context.Context) error {
	s.mu.Lock()
	if !s.cur.empty() {
		if n := len(s.queue); n > 0 && !s.queue[n-1].inDoubt {
			s.queue[n-1].merge(s.cur)
		} else {
			s.queue = append(s.queue, s.cur)
		}
		s.cur = newPGBatch()
	}
	lost := s.lostBody
	s.lostBody = 0
	s.mu.Unlock()
	if lost > 0 {
		s.log.Warn("shadow store: more comparisons than the buffer holds while PostgreSQL was not written; their records were counted, not kept",
			"db", s.where, "records", lost, "max", maxHeldRecords)
	}
	for len(s.queue) > 0 {
		b := s.queue[0]
		err := s.apply(ctx, b)
		if err != nil && refused(err) && len(b.records) > 0 && ctx.Err() == nil {
			// A value PostgreSQL will never take must not block the
			// counters behind it: write them without the records.
			s.log.Warn("shadow store: PostgreSQL refused a batch of records; writing its counts without them",
				"db", s.where, "records", len(b.records), "error", err.Error())
			s.release(b)
			b.records, b.examples, b.bytes = nil, nil, 0
			err = s.apply(ctx, b)
		}
		if err != nil {
			return fmt.Errorf("shadow store: writing to PostgreSQL %s: %w", s.where, err)
		}
		s.queue = s.queue[1:]
		s.inserted += len(b.records)
		s.release(b)
	}
	s.retain(ctx)
	return nil
}

// release gives back the buffer room of b's records.
func (s *PostgresStore) release(b *pgBatch) {
	s.mu.Lock()
	s.heldRecords -= len(b.records)
	s.heldBytes -= b.bytes
	s.mu.Unlock()
}

// Close writes the buffer (for up to 10 s), stops the flusher and closes
// the pool. Calling it again does nothing.
func (s *PostgresStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.stop()
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), pgCloseTimeout)
	defer cancel()
	s.flushMu.Lock()
	err := s.flushLocked(ctx)
	var unwritten int64
	for _, b := range s.queue {
		unwritten += b.comparisons()
	}
	s.flushMu.Unlock()
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("shadow store: closing: %w (%d comparisons not written)", err, unwritten)
	}
	return nil
}

// newBatchID returns a random id for a batch.
func newBatchID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
