package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stranglerfig/strangler/internal/dbconn"
	"github.com/stranglerfig/strangler/proxy"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The PostgreSQL store's schema objects and notification channel.
const (
	pgStateTable   = "strangler_route_state"
	pgHistoryTable = "strangler_route_history"
	// PostgresChannel is the LISTEN/NOTIFY channel a change is announced on;
	// the payload is the new state version.
	PostgresChannel = "strangler_route_state"
	// ListenerApplicationName is the application_name of the watcher's
	// connection, to find it in pg_stat_activity.
	ListenerApplicationName = "strangler-route-listener"
)

// Timings of the PostgreSQL store's watcher.
const (
	// pgKeepalive is how long the watcher waits for a notification before
	// it checks the connection with a query (every receive has a deadline).
	pgKeepalive = 10 * time.Second
	// pgQueryTimeout bounds one query of the watcher.
	pgQueryTimeout = 5 * time.Second
	// pgRetryMin and pgRetryMax bound the wait between reconnects.
	pgRetryMin = 50 * time.Millisecond
	pgRetryMax = 5 * time.Second
)

// PostgresStore keeps route state in PostgreSQL so that several facade
// replicas share it: one state row (locked with SELECT ... FOR UPDATE for
// each change), one history row per moved route, and a NOTIFY on
// PostgresChannel in the same transaction. Watch holds a dedicated
// connection that LISTENs, reloads the state row on each notification and
// reloads it fully after every (re)connect, so a replica cut off from the
// server catches up as soon as it is back.
//
// Changes are rare and serialised by the controller, so reads and writes go
// through one connection (re-established when it breaks) rather than a pool.
type PostgresStore struct {
	connCfg   *pgx.ConnConfig
	listenCfg *pgx.ConnConfig // connCfg with application_name set
	mu        sync.Mutex      // guards conn; held for each statement or transaction
	conn      *pgx.Conn
	log       *slog.Logger
	written   atomic.Uint64 // the last version this store wrote
}

// PostgresStoreOption configures a PostgresStore.
type PostgresStoreOption func(*PostgresStore) error

// WithPostgresLogger sets the store's logger. Default slog.Default().
func WithPostgresLogger(l *slog.Logger) PostgresStoreOption {
	return func(s *PostgresStore) error {
		if l == nil {
			return errors.New("postgres store logger: nil")
		}
		s.log = l
		return nil
	}
}

var _ Store = (*PostgresStore)(nil)

// OpenPostgresStore connects to the PostgreSQL database at dsn (a postgres://
// URL or keyword/value DSN) and creates the store's tables if missing.
func OpenPostgresStore(ctx context.Context, dsn string, opts ...PostgresStoreOption) (*PostgresStore, error) {
	s := &PostgresStore{log: slog.Default()}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("opening route state store: %w", err)
		}
	}
	connCfg, err := dbconn.ParsePostgres(dsn)
	if err != nil {
		return nil, fmt.Errorf("opening route state store: %w", err)
	}
	s.connCfg = connCfg
	s.listenCfg = connCfg.Copy()
	s.listenCfg.RuntimeParams["application_name"] = ListenerApplicationName
	if err := s.with(ctx, s.migrate); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening route state store %s: %w", dbconn.Redact(dsn), err)
	}
	return s, nil
}

// with runs fn on the store's connection, connecting first when there is
// none or the last one broke.
//
// A connection that broke since its last use (the server restarted, the
// backend was terminated) fails the first statement before anything was
// sent; that statement is tried once more on a new connection.
func (s *PostgresStore) with(ctx context.Context, fn func(context.Context, *pgx.Conn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.withLocked(ctx, fn)
	if err != nil && s.conn != nil && s.conn.IsClosed() && pgconn.SafeToRetry(err) && ctx.Err() == nil {
		s.log.Info("route state database connection was lost; reconnecting", "err", err)
		err = s.withLocked(ctx, fn)
	}
	return err
}

func (s *PostgresStore) withLocked(ctx context.Context, fn func(context.Context, *pgx.Conn) error) error {
	if s.conn != nil && !s.conn.IsClosed() {
		// Changes are rare: check the connection first rather than find it
		// dead halfway through a transaction.
		pctx, cancel := context.WithTimeout(ctx, pgQueryTimeout)
		if err := s.conn.Ping(pctx); err != nil {
			s.log.Info("route state database connection was lost; reconnecting", "err", err)
			s.conn.Close(pctx)
		}
		cancel()
	}
	if s.conn == nil || s.conn.IsClosed() {
		if s.conn != nil {
			s.conn.Close(ctx)
		}
		cctx, cancel := context.WithTimeout(ctx, pgQueryTimeout)
		conn, err := pgx.ConnectConfig(cctx, s.connCfg)
		cancel()
		if err != nil {
			s.conn = nil
			return fmt.Errorf("connecting to the route state database: %w", err)
		}
		s.conn = conn
	}
	return fn(ctx, s.conn)
}

// migrate creates the tables and the state row. An advisory lock keeps two
// replicas starting at once from racing on CREATE TABLE.
func (s *PostgresStore) migrate(ctx context.Context, conn *pgx.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		stmts := []string{
			`SELECT pg_advisory_xact_lock(hashtext('` + pgStateTable + `'))`,
			`CREATE TABLE IF NOT EXISTS ` + pgStateTable + ` (
				id         int PRIMARY KEY CHECK (id = 1),
				version    bigint NOT NULL CHECK (version >= 0),
				routes     jsonb NOT NULL,
				updated_at timestamptz NOT NULL DEFAULT now())`,
			`INSERT INTO ` + pgStateTable + ` (id, version, routes) VALUES (1, 0, '{}') ON CONFLICT (id) DO NOTHING`,
			`CREATE TABLE IF NOT EXISTS ` + pgHistoryTable + ` (
				id           bigserial PRIMARY KEY,
				at           timestamptz NOT NULL,
				version      bigint NOT NULL,
				route        text NOT NULL,
				from_mode    text NOT NULL,
				from_percent double precision NOT NULL,
				to_mode      text NOT NULL,
				to_percent   double precision NOT NULL,
				reason       text NOT NULL,
				who          text NOT NULL)`,
			`ALTER TABLE ` + pgHistoryTable + ` ADD COLUMN IF NOT EXISTS reset boolean NOT NULL DEFAULT false`,
		}
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("creating route state tables: %w", err)
			}
		}
		return nil
	})
}

// querier is what loading needs: a pool, a transaction or a connection.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func loadState(ctx context.Context, q querier, lock bool) (proxy.State, error) {
	sql := `SELECT version, routes FROM ` + pgStateTable + ` WHERE id = 1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var (
		version int64
		raw     []byte
	)
	if err := q.QueryRow(ctx, sql).Scan(&version, &raw); err != nil {
		return proxy.State{}, fmt.Errorf("reading the route state row: %w", err)
	}
	st := proxy.State{Version: uint64(version), Routes: map[string]proxy.RouteState{}}
	if err := json.Unmarshal(raw, &st.Routes); err != nil {
		return proxy.State{}, fmt.Errorf("decoding the route state row: %w", err)
	}
	if err := checkState(st); err != nil {
		return proxy.State{}, fmt.Errorf("checking the route state row: %w", err)
	}
	return st, nil
}

// Load returns the stored state.
func (s *PostgresStore) Load(ctx context.Context) (proxy.State, error) {
	var st proxy.State
	err := s.with(ctx, func(ctx context.Context, conn *pgx.Conn) (err error) {
		st, err = loadState(ctx, conn, false)
		return err
	})
	return st, err
}

// Apply stores next and entries in one transaction when the state row is
// at version prev, and announces the new version on PostgresChannel.
func (s *PostgresStore) Apply(ctx context.Context, prev uint64, next proxy.State, entries []HistoryEntry) error {
	if next.Version != prev+1 {
		return fmt.Errorf("storing route state: next version %d does not follow %d", next.Version, prev)
	}
	routes, err := json.Marshal(next.Routes)
	if err != nil {
		return fmt.Errorf("encoding route state: %w", err)
	}
	err = s.with(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			cur, err := loadState(ctx, tx, true)
			if err != nil {
				return err
			}
			if cur.Version != prev {
				return fmt.Errorf("stored version %d, expected %d: %w", cur.Version, prev, ErrVersionMismatch)
			}
			if _, err := tx.Exec(ctx, `UPDATE `+pgStateTable+` SET version = $1, routes = $2, updated_at = now() WHERE id = 1`,
				int64(next.Version), routes); err != nil {
				return fmt.Errorf("updating the route state row: %w", err)
			}
			b := &pgx.Batch{}
			for _, e := range entries {
				b.Queue(`INSERT INTO `+pgHistoryTable+` (at, version, route, from_mode, from_percent, to_mode, to_percent, reason, who, reset)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
					e.At, int64(e.Version), e.Route, e.From.Mode, e.From.Percent, e.To.Mode, e.To.Percent, e.Reason, e.Who, e.Reset)
			}
			b.Queue(`SELECT pg_notify($1, $2)`, PostgresChannel, strconv.FormatUint(next.Version, 10))
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return fmt.Errorf("writing route history: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("storing route state version %d: %w", next.Version, err)
	}
	s.written.Store(next.Version)
	return nil
}

// History returns the audit log, oldest first.
func (s *PostgresStore) History(ctx context.Context) ([]HistoryEntry, error) {
	var out []HistoryEntry
	err := s.with(ctx, func(ctx context.Context, conn *pgx.Conn) (err error) {
		out, err = readHistory(ctx, conn)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading route history: %w", err)
	}
	return out, nil
}

func readHistory(ctx context.Context, conn *pgx.Conn) ([]HistoryEntry, error) {
	rows, err := conn.Query(ctx, `SELECT at, version, route, from_mode, from_percent, to_mode, to_percent, reason, who, reset
		FROM `+pgHistoryTable+` ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (HistoryEntry, error) {
		var (
			e HistoryEntry
			v int64
		)
		err := r.Scan(&e.At, &v, &e.Route, &e.From.Mode, &e.From.Percent, &e.To.Mode, &e.To.Percent, &e.Reason, &e.Who, &e.Reset)
		e.Version = uint64(v)
		e.At = e.At.UTC()
		return e, err
	})
}

// Watch listens on PostgresChannel over a dedicated connection and calls fn
// with the state row after every notification and after every (re)connect.
// A lost connection is retried with backoff (50 ms doubling to 5 s) until
// ctx is done.
func (s *PostgresStore) Watch(ctx context.Context, fn func(proxy.State)) error {
	wait := pgRetryMin
	for {
		err := s.listen(ctx, fn, func() { wait = pgRetryMin })
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("route state listener lost its connection; reconnecting", "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, pgRetryMax)
	}
}

// listen runs one connection of Watch until it fails.
func (s *PostgresStore) listen(ctx context.Context, fn func(proxy.State), connected func()) error {
	cctx, cancel := context.WithTimeout(ctx, pgQueryTimeout)
	conn, err := pgx.ConnectConfig(cctx, s.listenCfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connecting the route state listener: %w", err)
	}
	defer func() {
		// A clean close may block on a server that went away: bound it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pgQueryTimeout)
		conn.Close(cctx)
		cancel()
	}()
	load := func() (proxy.State, error) {
		qctx, cancel := context.WithTimeout(ctx, pgQueryTimeout)
		defer cancel()
		return loadState(qctx, conn, false)
	}
	qctx, qcancel := context.WithTimeout(ctx, pgQueryTimeout)
	_, err = conn.Exec(qctx, `LISTEN `+PostgresChannel)
	qcancel()
	if err != nil {
		return fmt.Errorf("listening on %s: %w", PostgresChannel, err)
	}
	// Listening first, then loading: no change can fall between the two.
	st, err := load()
	if err != nil {
		return err
	}
	connected()
	s.log.Debug("route state listener connected", "version", st.Version)
	fn(st)
	seen := st.Version
	for {
		wctx, wcancel := context.WithTimeout(ctx, pgKeepalive)
		n, err := conn.WaitForNotification(wctx)
		wcancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) || conn.IsClosed() {
				return fmt.Errorf("waiting for route state notifications: %w", err)
			}
			pctx, pcancel := context.WithTimeout(ctx, pgQueryTimeout)
			err = conn.Ping(pctx)
			pcancel()
			if err != nil {
				return fmt.Errorf("checking the route state listener: %w", err)
			}
			continue
		}
		if v, perr := strconv.ParseUint(n.Payload, 10, 64); perr == nil && (v == seen || v == s.written.Load()) {
			seen = v
			continue // already applied here
		}
		if st, err = load(); err != nil {
			return err
		}
		seen = st.Version
		fn(st)
	}
}

// Close closes the store's connections.
func (s *PostgresStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgQueryTimeout)
	defer cancel()
	err := s.conn.Close(ctx)
	s.conn = nil
	return err
}
