package sync

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	gosync "sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// childEnv, when set, makes the test binary a sync process (for the crash
// tests): it holds a JSON childSpec, and the process runs the pipeline until
// it is killed.
const childEnv = "STRANGLER_SYNC_TEST_CHILD"

type childSpec struct {
	Pipeline  config.Pipeline `json:"pipeline"`
	Source    string          `json:"source"`
	Target    string          `json:"target"`
	PieceRows int             `json:"piece_rows,omitempty"` // zero: the default
}

// TestMain runs the package's tests with shared throwaway servers, or, in a
// child process started by a crash test, one sync pipeline.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	dbtest.Main(m)
}

func runChild(spec string) int {
	var s childSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p, err := New(s.Pipeline, s.Source, s.Target, Options{Logger: log, RetryMin: 200 * time.Millisecond, RetryMax: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	if s.PieceRows > 0 {
		p.pieceRows = s.PieceRows
	}
	if err := p.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// env is a source database and a target database for one test.
type env struct {
	t      testing.TB
	mysql  string // go-sql-driver DSN
	pg     string // postgres URL
	src    *sql.DB
	dst    *pgx.Conn
	dbName string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, mysql: dbtest.MySQL(t), pg: dbtest.Postgres(t)}
	var err error
	e.src, err = sql.Open("mysql", e.mysql)
	require.NoError(t, err)
	t.Cleanup(func() { e.src.Close() })
	require.NoError(t, e.src.QueryRow("SELECT DATABASE()").Scan(&e.dbName))
	e.dst = e.connectPG(e.pg)
	return e
}

func (e *env) connectPG(url string) *pgx.Conn {
	e.t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// exec runs statements on the source.
func (e *env) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		_, err := e.src.Exec(s)
		require.NoError(e.t, err, s)
	}
}

// tx runs statements in one source transaction.
func (e *env) tx(stmts ...string) {
	e.t.Helper()
	tx, err := e.src.Begin()
	require.NoError(e.t, err)
	for _, s := range stmts {
		_, err := tx.Exec(s)
		require.NoError(e.t, err, s)
	}
	require.NoError(e.t, tx.Commit())
}

// pipelineConfig is a pipeline over tables with small chunks and batches.
func pipelineConfig(name string, tables ...string) config.Pipeline {
	p := config.Pipeline{Name: name, ChunkSize: 500, BatchSize: 500}
	for _, t := range tables {
		p.Tables = append(p.Tables, config.Table{Name: t})
	}
	return p
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs a pipeline in the background; it is closed when the test ends.
// tune, if any, sets unexported knobs before it starts.
func (e *env) start(cfg config.Pipeline, o Options, tune ...func(*Pipeline)) (*Pipeline, *logBuffer) {
	e.t.Helper()
	logs := &logBuffer{}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{e.t}), nil))
	}
	if o.RetryMin == 0 {
		o.RetryMin, o.RetryMax = 200*time.Millisecond, time.Second
	}
	p, err := New(cfg, e.mysql, e.pg, o)
	require.NoError(e.t, err)
	for _, f := range tune {
		f(p)
	}
	require.NoError(e.t, p.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p, logs
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// masterPos is the source's current binlog end.
func (e *env) masterPos() Position {
	e.t.Helper()
	p, err := masterPosition(context.Background(), e.src)
	require.NoError(e.t, err)
	return p
}

// positionAtLeast reports whether a is at or after b.
func positionAtLeast(a, b Position) bool {
	if a.File != b.File {
		return a.File > b.File
	}
	return a.Pos >= b.Pos
}

// waitCaughtUp waits until the pipeline's saved position reaches the
// source's current end.
func (e *env) waitCaughtUp(pipeline string, within time.Duration) {
	e.t.Helper()
	target := e.masterPos()
	var last Position
	require.Eventually(e.t, func() bool {
		var err error
		last, err = loadPosition(context.Background(), e.dst, pipeline)
		return err == nil && positionAtLeast(last, target)
	}, within, 20*time.Millisecond, "pipeline %s did not reach %s (at %s)", pipeline, target, &last)
}

// waitPhase waits until the pipeline's live phase is phase.
func waitPhase(t testing.TB, p *Pipeline, phase string, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return p.Status().Phase == phase }, within, 10*time.Millisecond,
		"pipeline %s never reached phase %s (phase %s)", p.Name(), phase, p.Status().Phase)
}

// targetRows returns every row of a target table as JSON text, in key
// order.
func targetRows(t *testing.T, c *pgx.Conn, table, orderBy string) []string {
	t.Helper()
	rows, err := c.Query(context.Background(), fmt.Sprintf(`SELECT row_to_json(x)::text FROM %s x ORDER BY %s`, table, orderBy))
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// referenceSnapshot copies the source's current tables into a fresh target
// database with a new pipeline (snapshot path only) and returns a
// connection to it. The streamed target must hold the same rows.
func (e *env) referenceSnapshot(cfg config.Pipeline) *pgx.Conn {
	e.t.Helper()
	url := dbtest.Postgres(e.t)
	cfg.Name += "-reference"
	p, err := New(cfg, e.mysql, url, Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(e.t, err)
	require.NoError(e.t, p.Start(context.Background()))
	waitPhase(e.t, p, PhaseStreaming, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(e.t, p.Close(ctx))
	return e.connectPG(url)
}

// requireSameRows compares a table in two target databases.
func requireSameRows(t *testing.T, want, got *pgx.Conn, table, orderBy string) {
	t.Helper()
	w, g := targetRows(t, want, table, orderBy), targetRows(t, got, table, orderBy)
	require.Equal(t, len(w), len(g), "row count of %s", table)
	for i := range w {
		require.JSONEq(t, w[i], g[i], "row %d of %s", i, table)
	}
}
