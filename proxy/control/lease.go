package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Leaser elects, among the facade replicas that share a state store, the
// one whose rollout controller acts: the others judge the same gates on
// their own traffic, to show them, and change nothing.
type Leaser interface {
	// Lead blocks until this replica leads or ctx is done. It returns a
	// channel closed when the lead is lost (the store went away); the
	// lead is released when ctx is done.
	Lead(ctx context.Context) (lost <-chan struct{}, err error)
}

// leaseRetry is how often a replica that does not lead tries again, and so
// about how long a dead leader's lead stays untaken.
const leaseRetry = time.Second

// Leaser returns the store's leader election: a PostgreSQL session-level
// advisory lock on a connection of its own. The server releases it when the
// holder's connection ends, so a replica that dies is replaced within
// about a second (leaseRetry), or within the server's TCP keepalive when
// its machine vanishes without closing the connection.
func (s *PostgresStore) Leaser() Leaser { return &pgLeaser{cfg: s.connCfg} }

type pgLeaser struct{ cfg *pgx.ConnConfig }

// pgLeaseKey is the advisory lock's key (two int4 halves, so that it does
// not collide with the migrate lock's hashtext key).
const pgLeaseKey = `pg_try_advisory_lock(hashtext('strangler_rollout'), 1)`

func (l *pgLeaser) Lead(ctx context.Context) (<-chan struct{}, error) {
	for {
		// An error (the server is away) is a lead not taken: keep trying.
		if conn, _ := l.try(ctx); conn != nil {
			lost := make(chan struct{})
			go hold(ctx, conn, lost)
			return lost, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(leaseRetry):
		}
	}
}

// try connects and takes the lock; it returns the connection holding it,
// or nil when another replica leads.
func (l *pgLeaser) try(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, pgQueryTimeout)
	defer cancel()
	cfg := l.cfg.Copy()
	cfg.RuntimeParams["application_name"] = "strangler-rollout-lease"
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting for the rollout lease: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(cctx, `SELECT `+pgLeaseKey).Scan(&ok); err != nil || !ok {
		conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("taking the rollout lease: %w", err)
		}
		return nil, nil
	}
	return conn, nil
}

// hold checks the connection holding the lock every leaseRetry; when it
// breaks the lock is gone with it and lost is closed. When ctx is done the
// connection is closed, which releases the lock.
func hold(ctx context.Context, conn *pgx.Conn, lost chan struct{}) {
	defer close(lost)
	defer conn.Close(context.WithoutCancel(ctx))
	t := time.NewTicker(leaseRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pgQueryTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			return
		}
	}
}

// Leaser returns the file store's leader election: an exclusive lock on a
// file beside the state file, which the kernel releases when the process
// holding it ends. Replicas on other machines do not share a file store,
// so this elects among the processes of one machine.
func (s *FileStore) Leaser() Leaser { return &fileLeaser{path: s.path + ".lead"} }

type fileLeaser struct{ path string }

func (l *fileLeaser) Lead(ctx context.Context) (<-chan struct{}, error) {
	for {
		unlock, err := tryLockFile(l.path)
		if err != nil && !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("taking the rollout lease %s: %w", l.path, err)
		}
		if err == nil {
			lost := make(chan struct{}) // never closed before ctx is done
			go func() {
				<-ctx.Done()
				unlock()
				close(lost)
			}()
			return lost, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(leaseRetry):
		}
	}
}
