package sync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	gosync "sync"

	"github.com/jackc/pgx/v5"

	"github.com/stranglerfig/strangler/internal/config"
)

// A both-ways pipeline runs its two directions in one process, on the same
// tables: legacy-to-new (binlog -> PostgreSQL) and new-to-legacy (pgoutput
// -> MySQL), each with its own position, stored where it applies, as the
// one-way pipelines do. What it adds:
//
//   - No echo. The forward applier's PostgreSQL session is set up with a
//     replication origin (OriginName): pgoutput names that origin in each
//     transaction the session wrote, and the new-to-legacy reader skips
//     those transactions. Every MySQL transaction the new-to-legacy applier
//     commits begins with its checkpoint row (strangler_sync_checkpoint):
//     the binlog reader skips a transaction whose first row change is on
//     that table. Both marks are written in the same transaction as the
//     changes they mark, so a crash cannot separate them.
//   - Conflicts. A change whose before image no longer matches the row on
//     the other side (the same key changed on both sides before either
//     change arrived) is a conflict: the table's policy picks the winner
//     (the system of record, or the newer timestamp), the loser's change is
//     dropped there, and the conflict is counted and logged with both
//     versions. The winner's change, applied on the loser's side, makes
//     both sides equal.
//   - IDs. With ids: interleave, the forward half sets up the PostgreSQL
//     key generators on the residue MySQL does not use (SetupIDs).
//   - Order. On the pipeline's first run the new-to-legacy half starts
//     once the forward half has copied its snapshot and streams: its slot
//     is created then. Later runs start both halves at once.

// OriginName is the PostgreSQL replication origin the forward half of a
// both-ways pipeline marks its writes with.
func OriginName(pipeline string) string {
	return replicationName("strangler/legacy-to-new/", pipeline)
}

// isStranglerOrigin reports an origin strangler's forward appliers use: a
// new-to-legacy reader never sends those transactions back.
func isStranglerOrigin(name string) bool { return strings.HasPrefix(name, "strangler_") }

// pair is the two halves of a both-ways pipeline.
type pair struct {
	fwd, rev *Pipeline
}

// newPair builds the halves of a both-ways pipeline onto parent.
func newPair(parent *Pipeline, cfg config.Pipeline, source, target string, o Options) error {
	half := func(dir string) (*Pipeline, error) {
		c := cfg
		c.Direction = dir
		ho := o
		ho.Logger = o.Logger.With("direction", dir)
		h, err := New(c, source, target, ho)
		if err != nil {
			return nil, err
		}
		h.both = &cfg
		return h, nil
	}
	fwd, err := half(config.DirectionLegacyToNew)
	if err != nil {
		return err
	}
	rev, err := half(config.DirectionNewToLegacy)
	if err != nil {
		return err
	}
	rev.label = cfg.Name + ":" + config.DirectionNewToLegacy
	fwd.streamed = make(chan struct{})
	rev.gate = fwd.streamed
	parent.pair = &pair{fwd: fwd, rev: rev}
	return nil
}

// run runs both halves until ctx is done or both stop; it returns their
// errors, joined.
// A forward half that stops before it ever streamed stops the other half
// too, which would wait for it for ever.
func (pr *pair) run(ctx context.Context) error {
	revCtx, stopRev := context.WithCancel(ctx)
	defer stopRev()
	var wg gosync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = pr.fwd.Run(ctx)
		select {
		case <-pr.fwd.streamed:
		default:
			stopRev()
		}
	}()
	go func() {
		defer wg.Done()
		errs[1] = pr.rev.Run(revCtx)
	}()
	wg.Wait()
	return errors.Join(errs...)
}

// Halves returns the forward and the new-to-legacy half of a both-ways
// pipeline; nil, nil for a pipeline of one direction.
func (p *Pipeline) Halves() (legacyToNew, newToLegacy *Pipeline) {
	if p.pair == nil {
		return nil, nil
	}
	return p.pair.fwd, p.pair.rev
}

// markStreamed opens the gate of the new-to-legacy half, once.
func (p *Pipeline) markStreamed() {
	if p.streamed != nil {
		p.streamedOnce.Do(func() { close(p.streamed) })
	}
}

// waitGate holds the new-to-legacy half of a both-ways pipeline until the
// forward half streams.
func (p *Pipeline) waitGate(ctx context.Context) error {
	if p.gate == nil {
		return nil
	}
	select {
	case <-p.gate:
		return nil
	default:
	}
	p.setPhase(PhaseStarting, "waiting for the legacy-to-new direction to finish its snapshot and stream")
	select {
	case <-p.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setupOrigin marks every transaction of conn with the pipeline's
// replication origin, creating it if needed.
func setupOrigin(ctx context.Context, conn *pgx.Conn, name string) error {
	if _, err := conn.Exec(ctx, `SELECT pg_replication_origin_create($1) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = $1)`, name); err != nil {
		return fmt.Errorf("creating the replication origin %s, which marks the legacy-to-new writes so that they are not sent back (needs superuser, or EXECUTE on pg_replication_origin_create and pg_replication_origin_session_setup): %w", name, err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_replication_origin_session_setup($1)`, name); err != nil {
		return fmt.Errorf("setting up the replication origin %s on the applying session: %w", name, err)
	}
	return nil
}

// setupIDs sets up the interleaved key generators of a both-ways
// pipeline's tables (ids: interleave), and logs what it changed.
func (p *Pipeline) setupIDs(ctx context.Context, src *sql.DB, dst *pgx.Conn, db string, tables []*table) error {
	if p.both == nil || p.both.IDs != config.IDsInterleave {
		return nil
	}
	maps := make([]*TableMap, len(tables))
	for i, t := range tables {
		maps[i] = t.m
	}
	setups, err := SetupIDs(ctx, src, dst, db, maps)
	if err != nil {
		if retryable(err) { // an *IDError is not: the operator has to act
			return targetErr(err)
		}
		return permanent(err)
	}
	for _, s := range setups {
		if s.Changed {
			p.log.Info(fmt.Sprintf("keys of %s.%s interleaved: %s", s.Table, s.Column, s.Note))
		}
	}
	return nil
}
