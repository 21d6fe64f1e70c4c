package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/stranglerfig/strangler/internal/dbconn"
)

// This file is PostgreSQL's side of the new-to-legacy direction: the
// publication and the replication slot the pipeline owns, and the
// replication connection's receive loop.

// pollInterval bounds each receive on the replication connection, so that
// the loop sends the applied position soon after a MySQL commit.
const pollInterval = 100 * time.Millisecond

// ensurePublication creates the pipeline's publication of its tables, or
// sets its tables when the project file changed them.
func ensurePublication(ctx context.Context, q querier, name string, tables []*revTable) error {
	var want []string
	for _, t := range tables {
		want = append(want, t.pgName)
	}
	slices.Sort(want)
	quoted := make([]string, len(tables))
	for i, t := range tables {
		quoted[i] = pgx.Identifier{t.m.TargetSchema, t.m.Target}.Sanitize()
	}
	list := strings.Join(quoted, ", ")
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("looking up the publication %s: %w", name, err)
	}
	if !exists {
		s := fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s WITH (publish = 'insert, update, delete, truncate')", pgIdent(name), list)
		if _, err := q.Exec(ctx, s); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42710" {
				return nil // created by a concurrent start
			}
			return fmt.Errorf("creating the publication %s: %w", name, err)
		}
		return nil
	}
	rows, err := q.Query(ctx, `SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`, name)
	if err != nil {
		return fmt.Errorf("reading the tables of the publication %s: %w", name, err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("reading the tables of the publication %s: %w", name, err)
	}
	if slices.Equal(have, want) {
		return nil
	}
	if _, err := q.Exec(ctx, fmt.Sprintf("ALTER PUBLICATION %s SET TABLE %s", pgIdent(name), list)); err != nil {
		return fmt.Errorf("setting the tables of the publication %s: %w", name, err)
	}
	return nil
}

// slotInfo is a replication slot's row of pg_replication_slots.
type slotInfo struct {
	exists    bool
	plugin    string
	database  string
	confirmed LSN
	walStatus string
	active    bool
}

func readSlotInfo(ctx context.Context, q querier, name string) (slotInfo, error) {
	var s slotInfo
	var confirmed string
	err := q.QueryRow(ctx, `SELECT coalesce(plugin, ''), coalesce(database, ''), coalesce(confirmed_flush_lsn::text, '0/0'),
		coalesce(wal_status, ''), active FROM pg_replication_slots WHERE slot_name = $1`, name).
		Scan(&s.plugin, &s.database, &confirmed, &s.walStatus, &s.active)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading the replication slot %s: %w", name, err)
	}
	s.exists = true
	s.confirmed, err = parseLSN(confirmed)
	return s, err
}

// ReadSlotStatus reads a new-to-legacy pipeline's replication slot from
// pg_replication_slots (q: a connection to the new database): how far it
// confirmed, how far behind the server's WAL that is, how much WAL it
// keeps. Missing is set when there is no such slot.
func ReadSlotStatus(ctx context.Context, q querier, pipeline string) (SlotStatus, error) {
	st := SlotStatus{Name: SlotName(pipeline)}
	err := q.QueryRow(ctx, `SELECT coalesce(confirmed_flush_lsn::text, ''),
		coalesce((pg_current_wal_lsn() - confirmed_flush_lsn)::bigint, 0),
		coalesce((pg_current_wal_lsn() - restart_lsn)::bigint, 0), coalesce(wal_status, ''), active
		FROM pg_replication_slots WHERE slot_name = $1`, st.Name).
		Scan(&st.ConfirmedLSN, &st.LagBytes, &st.RetainedWALBytes, &st.WALStatus, &st.Active)
	if errors.Is(err, pgx.ErrNoRows) {
		st.Missing = true
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the replication slot %s: %w", st.Name, err)
	}
	return st, nil
}

// connectReplication opens a logical replication connection. Its session
// parameters fix the text form of every value the server sends.
func connectReplication(ctx context.Context, dsn string) (*pgconn.PgConn, error) {
	cfg, err := dbconn.ParsePostgres(dsn)
	if err != nil {
		return nil, permanent(fmt.Errorf("the new database's DSN: %w", err))
	}
	pc := cfg.Config.Copy()
	pc.RuntimeParams["replication"] = "database"
	for k, v := range reverseSessionParams {
		pc.RuntimeParams[k] = v
	}
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 10 * time.Second
	}
	c, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("opening a replication connection to %s: %w", dbconn.Redact(dsn), err)
	}
	return c, nil
}

// revEvent is what the receive loop hands the decoder: a pgoutput message,
// or (data nil) a position the server reported everything before was sent.
type revEvent struct {
	data   []byte
	walEnd LSN
}

// revReceiver owns the replication connection: it receives, answers
// keepalives and reports the applied position (confirmed, set by the
// applier after each MySQL commit) as written, flushed and applied.
type revReceiver struct {
	p      *Pipeline
	conn   *pgconn.PgConn
	events chan<- revEvent

	lastSent   LSN
	lastStatus time.Time
	lastPing   time.Time
	lastRecv   time.Time
	lastWALEnd time.Time
}

// sendStatus reports the position committed to MySQL. The slot may let go
// of WAL up to it, never further.
func (r *revReceiver) sendStatus(ctx context.Context, reply bool) error {
	conf := LSN(r.p.rev.confirmed.Load())
	if conf == 0 {
		return nil
	}
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, r.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: conf, WALFlushPosition: conf, WALApplyPosition: conf, ReplyRequested: reply,
	}); err != nil {
		return targetErr(fmt.Errorf("sending the applied position %s to PostgreSQL: %w", conf, err))
	}
	now := time.Now()
	r.lastSent, r.lastStatus = conf, now
	if reply {
		r.lastPing = now
	}
	return nil
}

// statusDue sends a status update when the applied position moved, every
// StatusInterval, and asks for a reply every Heartbeat (the reply proves
// the connection alive: each receive waits at most ReadTimeout for it).
func (r *revReceiver) statusDue(ctx context.Context, force bool) error {
	now := time.Now()
	reply := now.Sub(r.lastPing) >= r.p.o.Heartbeat
	if force || reply || LSN(r.p.rev.confirmed.Load()) != r.lastSent || now.Sub(r.lastStatus) >= r.p.o.StatusInterval {
		return r.sendStatus(ctx, reply)
	}
	return nil
}

func (r *revReceiver) run(ctx context.Context) error {
	defer func() {
		// A clean stop reports the last position, so that the slot's lag
		// reads right while the pipeline is down.
		if ctx.Err() != nil && !r.conn.IsClosed() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = r.sendStatus(sctx, false)
			cancel()
		}
	}()
	r.lastRecv = time.Now()
	force := true
	for {
		if err := r.statusDue(ctx, force); err != nil {
			return err
		}
		force = false
		rctx, cancel := context.WithTimeout(ctx, pollInterval)
		msg, err := r.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) && !r.conn.IsClosed() {
				if silent := time.Since(r.lastRecv); silent > r.p.o.ReadTimeout {
					return targetErr(fmt.Errorf("no message on the replication connection for %s (applied up to LSN %s)", silent.Round(time.Millisecond), LSN(r.p.rev.confirmed.Load())))
				}
				continue
			}
			return targetErr(fmt.Errorf("receiving the replication stream after LSN %s: %w", LSN(r.p.rev.confirmed.Load()), err))
		}
		r.lastRecv = time.Now()
		r.p.lastRecv.Store(r.lastRecv.UnixNano())
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				k, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return permanent(fmt.Errorf("decoding a keepalive: %w", err))
				}
				force = k.ReplyRequested
				// The server sent everything before ServerWALEnd: when
				// the pipeline is idle the checkpoint may move there (once a
				// second at most: each move is a MySQL transaction).
				if time.Since(r.lastWALEnd) >= r.p.o.StatusInterval && k.ServerWALEnd > LSN(r.p.rev.confirmed.Load()) {
					r.lastWALEnd = time.Now()
					if err := r.push(ctx, revEvent{walEnd: k.ServerWALEnd}); err != nil {
						return err
					}
				}
			case pglogrepl.XLogDataByteID:
				x, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return permanent(fmt.Errorf("decoding an XLogData message: %w", err))
				}
				// The message's buffer is reused by the next receive.
				if err := r.push(ctx, revEvent{data: bytes.Clone(x.WALData)}); err != nil {
					return err
				}
			}
		case *pgproto3.ErrorResponse:
			return targetErr(fmt.Errorf("the replication stream after LSN %s: %w", LSN(r.p.rev.confirmed.Load()), pgconn.ErrorResponseToPgError(m)))
		case *pgproto3.CopyDone:
			return targetErr(fmt.Errorf("the server ended the replication stream after LSN %s", LSN(r.p.rev.confirmed.Load())))
		}
	}
}

// push hands an event to the decoder. While the decoder is busy, status
// updates go on (the server keeps waiting for them, not for reads).
func (r *revReceiver) push(ctx context.Context, ev revEvent) error {
	t := time.NewTimer(r.p.o.StatusInterval)
	defer t.Stop()
	for {
		select {
		case r.events <- ev:
			r.lastRecv = time.Now()
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := r.sendStatus(ctx, false); err != nil {
				return err
			}
			t.Reset(r.p.o.StatusInterval)
		}
	}
}
