package sync

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// requireSameAsSource runs Verify on a table: the target holds the
// source's rows.
func (e *env) requireSameAsSource(table string) {
	e.t.Helper()
	ctx := context.Background()
	m, err := LoadTableMap(ctx, e.src, e.dbName, config.Table{Name: table}, Policies{})
	require.NoError(e.t, err)
	pool, err := pgxpool.New(ctx, e.pg)
	require.NoError(e.t, err)
	defer pool.Close()
	res, err := Verify(ctx, e.src, pool, m, VerifyOptions{})
	require.NoError(e.t, err)
	assert.Empty(e.t, res.Diffs)
	assert.Equal(e.t, res.SourceRows, res.TargetRows)
}

// TestPipelineResumesInTheSameProcess: a narrowing MODIFY pauses the
// pipeline while a writer runs; it stays in its process, paused, its status
// row fresh and naming the statement to run on the target; after that
// statement and a resume request it moves past the DDL and streams the
// rows written since, without a restart.
func TestPipelineResumesInTheSameProcess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, note varchar(20) NOT NULL DEFAULT 'n', v int NOT NULL DEFAULT 0)`,
		`INSERT INTO orders (id, note) SELECT seq, CONCAT('n', seq) FROM seq_1_to_100`)
	p, logs := e.start(pipelineConfig("resume", "orders"), Options{StatusInterval: 100 * time.Millisecond})
	waitPhase(t, p, PhaseStreaming, time.Minute)
	w := startDDLWriter(t, e.src, "orders")
	w.more(t, 50)

	e.exec(`ALTER TABLE orders MODIFY note varchar(8) NOT NULL DEFAULT 'n'`)
	waitPhase(t, p, PhasePaused, 30*time.Second)
	w.more(t, 100) // written after the statement: they wait in the binlog
	const todo = `ALTER TABLE "public"."orders" ALTER COLUMN "note" TYPE varchar(8)`
	var st Status
	require.Eventually(t, func() bool {
		var err error
		st, err = ReadStatus(ctx, e.dst, "resume")
		return err == nil && st.Phase == PhasePaused && st.Todo == todo && time.Since(st.UpdatedAt) < 2*time.Second
	}, 10*time.Second, 20*time.Millisecond, "status %+v", st)
	assert.Contains(t, st.Statement, "MODIFY note varchar(8)")
	assert.Contains(t, logs.String(), "then: strangler sync resume resume")

	// Still paused, still alive, a few status intervals later.
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, PhasePaused, p.Status().Phase)
	select {
	case <-p.done:
		t.Fatal("the paused pipeline ended")
	default:
	}

	_, err := e.dst.Exec(ctx, todo)
	require.NoError(t, err)
	req, err := RequestResume(ctx, e.dst, "resume")
	require.NoError(t, err)
	assert.Less(t, req.StatusAge, 2*time.Second)
	require.Eventually(t, func() bool {
		ok, err := ResumeTaken(ctx, e.dst, req)
		return err == nil && ok
	}, 10*time.Second, 20*time.Millisecond)
	waitPhase(t, p, PhaseStreaming, 30*time.Second)
	w.more(t, 50)
	w.close()
	e.waitCaughtUp("resume", 30*time.Second)
	e.requireSameAsSource("orders")
	assert.Contains(t, logs.String(), "resumed by request: DDL")

	stored, err := ReadStatus(ctx, e.dst, "resume")
	require.NoError(t, err)
	assert.Equal(t, PhaseStreaming, stored.Phase)
	assert.Empty(t, stored.Todo)
	_, err = RequestResume(ctx, e.dst, "resume")
	var np *NotPausedError
	require.ErrorAs(t, err, &np, "a streaming pipeline has nothing to resume")
}

// TestPipelineResumeRequestWithoutAProcess: a request recorded while no
// process runs the paused pipeline stays, and the next run takes it as
// --accept-ddl would.
func TestPipelineResumeRequestWithoutAProcess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL)`, `INSERT INTO orders VALUES (1, 1)`)
	cfg := pipelineConfig("stored", "orders")
	p, _ := e.start(cfg, Options{StatusInterval: 100 * time.Millisecond})
	waitPhase(t, p, PhaseStreaming, time.Minute)
	e.exec(`ALTER TABLE orders MODIFY qty smallint NOT NULL`, `INSERT INTO orders VALUES (2, 2)`)
	waitPhase(t, p, PhasePaused, 30*time.Second)
	require.Eventually(t, func() bool {
		st, err := ReadStatus(ctx, e.dst, "stored")
		return err == nil && st.Phase == PhasePaused && st.Todo != ""
	}, 10*time.Second, 20*time.Millisecond)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, p.Close(cctx))

	st, err := ReadStatus(ctx, e.dst, "stored")
	require.NoError(t, err)
	_, err = e.dst.Exec(ctx, st.Todo)
	require.NoError(t, err)
	req, err := RequestResume(ctx, e.dst, "stored")
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // no process: nobody takes it
	taken, err := ResumeTaken(ctx, e.dst, req)
	require.NoError(t, err)
	assert.False(t, taken)

	p2, logs := e.start(cfg, Options{})
	waitPhase(t, p2, PhaseStreaming, 30*time.Second)
	e.waitCaughtUp("stored", 30*time.Second)
	assert.Contains(t, logs.String(), "accepted by a resume request")
	taken, err = ResumeTaken(ctx, e.dst, req)
	require.NoError(t, err)
	assert.True(t, taken)
	assert.Equal(t, []string{`{"id":1,"qty":1}`, `{"id":2,"qty":2}`}, targetRows(t, e.dst, "orders", "id"))
}
