package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/dbconn"
	ssync "github.com/stranglerfig/strangler/sync"
)

func (a *app) syncResumeCommand() *cobra.Command {
	var wait time.Duration
	c := &cobra.Command{
		Use:   "resume NAME",
		Short: "Let a paused pipeline go on, in the running sync process",
		Long: `resume lets a paused pipeline go on.

A pipeline paused on DDL waits, in its "sync run" process, until it is
resumed; "sync status" shows the statement and what to run on the target
first. resume records the request where the pipeline keeps its status (the
schema "strangler" of the target PostgreSQL database; for new-to-legacy, the
table strangler_sync_resume of the legacy MySQL database), then waits up to
--wait for the running pipeline to take it: it moves past the paused
statement and streams on. A pipeline paused on a value it cannot store is
retried from the last applied position (a fix in the project file needs a
restart of "sync run" instead).

When no process runs the pipeline, the request stays, and the next
"sync run" takes it as --accept-ddl would.

Exit status: 0 when the request was taken or stored for the next run, 1 when
the pipeline is not paused, 2 for an unknown pipeline or a database error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config(false)
			if err != nil {
				return err
			}
			i := -1
			for k, p := range cfg.Sync {
				if p.Name == args[0] {
					i = k
				}
			}
			if i < 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("sync resume: no sync pipeline named %q in %s", args[0], cfg.File)}
			}
			return a.syncResume(cmd.Context(), cfg.Sync[i], wait)
		},
	}
	c.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long to wait for the running pipeline to take the request")
	return c
}

// resumeStore is where a pipeline's resume request goes: the target
// PostgreSQL database, or the legacy MySQL one for new-to-legacy.
type resumeStore struct {
	where   string
	request func(ctx context.Context) (ssync.ResumeRequest, error)
	taken   func(ctx context.Context, req ssync.ResumeRequest) (bool, error)
	close   func()
}

func (a *app) syncResume(ctx context.Context, p config.Pipeline, wait time.Duration) error {
	var stores []func(context.Context) (*resumeStore, error)
	switch p.Direction {
	case config.DirectionNewToLegacy:
		stores = append(stores, func(ctx context.Context) (*resumeStore, error) { return legacyResumeStore(ctx, p) })
	case config.DirectionBoth:
		stores = append(stores, func(ctx context.Context) (*resumeStore, error) { return targetResumeStore(ctx, p) },
			func(ctx context.Context) (*resumeStore, error) { return legacyResumeStore(ctx, p) })
	default:
		stores = append(stores, func(ctx context.Context) (*resumeStore, error) { return targetResumeStore(ctx, p) })
	}
	var notPaused *ssync.NotPausedError
	for _, open := range stores {
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		st, err := open(octx)
		if err != nil {
			cancel()
			return &exitError{code: exitUsage, err: fmt.Errorf("sync resume: %w", err)}
		}
		req, err := st.request(octx)
		cancel()
		if errors.As(err, &notPaused) {
			st.close()
			continue
		}
		if err != nil {
			st.close()
			return &exitError{code: exitUsage, err: fmt.Errorf("sync resume: pipeline %q (%s): %w", p.Name, st.where, err)}
		}
		defer st.close()
		return a.awaitResume(ctx, p, st, req, wait)
	}
	return &exitError{code: exitFailed, err: fmt.Errorf("sync resume: %w", notPaused)}
}

// awaitResume waits up to wait for the running pipeline to take the
// request, and says what happened.
func (a *app) awaitResume(ctx context.Context, p config.Pipeline, st *resumeStore, req ssync.ResumeRequest, wait time.Duration) error {
	what := "the value"
	if req.Status.Statement != "" {
		what = fmt.Sprintf("the statement %q", req.Status.Statement)
	}
	// A running pipeline writes its status every second, paused or not: one
	// silent for longer than the wait has no process.
	if req.StatusAge <= wait {
		deadline := time.Now().Add(wait)
		for {
			tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			taken, err := st.taken(tctx, req)
			cancel()
			if err != nil {
				return &exitError{code: exitUsage, err: fmt.Errorf("sync resume: %w", err)}
			}
			if taken {
				if req.Status.Statement != "" {
					fmt.Fprintf(a.stdout, "%s resumed: the running pipeline moved past %s and streams on\n", p.Name, what)
				} else {
					fmt.Fprintf(a.stdout, "%s resumed: the running pipeline tries %s again from its last applied position\n", p.Name, what)
				}
				return nil
			}
			if time.Now().After(deadline) {
				break
			}
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return &exitError{code: exitUsage, err: fmt.Errorf("sync resume: %w", ctx.Err())}
			case <-t.C:
			}
		}
	}
	next := "goes on after the statement"
	if req.Status.Statement == "" {
		next = "tries the value again"
	}
	fmt.Fprintf(a.stdout, "%s: no running sync process took the request within %s (its status was last written %s ago); "+
		"the request is stored in %s, and the next `strangler sync run` %s\n",
		p.Name, wait, req.StatusAge.Round(time.Second), st.where, next)
	return nil
}

func targetResumeStore(ctx context.Context, p config.Pipeline) (*resumeStore, error) {
	dsn, err := dbconn.PostgresDSN(p.Target)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: target: %w", p.Name, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: connecting to %s: %w", p.Name, dbconn.Redact(dsn), err)
	}
	return &resumeStore{
		where:   "strangler.sync_resume of " + dbconn.Redact(dsn),
		request: func(ctx context.Context) (ssync.ResumeRequest, error) { return ssync.RequestResume(ctx, conn, p.Name) },
		taken: func(ctx context.Context, req ssync.ResumeRequest) (bool, error) {
			return ssync.ResumeTaken(ctx, conn, req)
		},
		close: func() { conn.Close(context.Background()) },
	}, nil
}

func legacyResumeStore(ctx context.Context, p config.Pipeline) (*resumeStore, error) {
	src, err := dbconn.MySQLDSN(p.Source)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: legacy database: %w", p.Name, err)
	}
	cfg, err := mysql.ParseDSN(src)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: legacy database %s: %w", p.Name, dbconn.Redact(src), err)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("sync pipeline %q: legacy database %s: %w", p.Name, dbconn.Redact(src), err)
	}
	db := sql.OpenDB(connector)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sync pipeline %q: connecting to %s: %w", p.Name, dbconn.Redact(src), err)
	}
	return &resumeStore{
		where: ssync.ReverseResumeTable + " of " + dbconn.Redact(src),
		request: func(ctx context.Context) (ssync.ResumeRequest, error) {
			return ssync.RequestReverseResume(ctx, db, p.Name)
		},
		taken: func(ctx context.Context, req ssync.ResumeRequest) (bool, error) {
			return ssync.ReverseResumeTaken(ctx, db, req)
		},
		close: func() { db.Close() },
	}, nil
}
