package sync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPipelineHugeTransactionInPieces applies one source transaction of
// thousands of changes (updates of every row, deletes, key changes and
// inserts of deleted keys) with the held row changes bounded at 300: it is
// applied in many pieces, inside one target transaction, exactly.
func TestPipelineHugeTransactionInPieces(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB and PostgreSQL")
	}
	const bound = 300
	e := newEnv(t)
	e.exec(faultTable)
	e.fill(5000)
	p, _ := e.start(pipelineConfig("huge", "orders"), Options{}, func(p *Pipeline) { p.pieceRows = bound })
	waitPhase(t, p, PhaseStreaming, time.Minute)
	e.waitCaughtUp("huge", 30*time.Second)
	before := p.pieces.Load()

	e.tx(`UPDATE orders SET ver = ver + 1, note = CONCAT('big ', id)`,
		`DELETE FROM orders WHERE id % 10 = 0`,
		`UPDATE orders SET id = id + 100000, ver = ver + 1 WHERE id % 7 = 0`,
		`INSERT INTO orders (id, ver, note, amount, updated) SELECT seq, 9, 'back', 1, NOW(6) FROM seq_10_to_2000_step_10`,
		`UPDATE orders SET ver = ver + 1 WHERE id BETWEEN 1 AND 50`)
	e.waitCaughtUp("huge", time.Minute)

	e.requireSameKeysAndVersions()
	e.requireVerified("orders")
	pieces := p.pieces.Load() - before
	assert.GreaterOrEqual(t, pieces, int64(10), "the transaction crossed the bound many times")
	assert.LessOrEqual(t, p.maxHeld.Load(), int64(bound), "row changes held in memory at once")
	// Every row was written by the one source transaction: one target
	// transaction wrote them all.
	var xids int
	require.NoError(t, e.dst.QueryRow(context.Background(), `SELECT count(DISTINCT xmin::text) FROM orders`).Scan(&xids))
	assert.Equal(t, 1, xids, "target transactions that wrote the rows")
	assert.Equal(t, PhaseStreaming, p.Status().Phase)
	assert.Zero(t, p.Status().LagEvents)
	t.Logf("%d pieces, at most %d row changes held", pieces, p.maxHeld.Load())
}

// TestPipelineHugeTransactionKilledMidway kills the sync process while
// the pieces of a huge source transaction are being applied: nothing of it
// is committed, and after a restart it is applied exactly once.
func TestPipelineHugeTransactionKilledMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and child processes")
	}
	const rows, bound = 20000, 500
	e := newEnv(t)
	e.exec(faultTable)
	e.fill(rows)
	spec := childSpec{Pipeline: pipelineConfig("midway", "orders"), Source: e.mysql, Target: e.pg, PieceRows: bound}
	c := e.spawn(spec)
	require.Eventually(t, func() bool { return e.snapshotDone("midway") }, time.Minute, 20*time.Millisecond)
	e.waitCaughtUp("midway", time.Minute)
	ctx := context.Background()
	for _, s := range []string{
		// A sequence counts the rows the pieces write, committed or not.
		`CREATE SEQUENCE written`,
		`CREATE TABLE audit (id int, ver int, op text)`,
		`CREATE FUNCTION audit_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			PERFORM nextval('written');
			IF TG_OP = 'DELETE' THEN INSERT INTO audit VALUES (OLD.id, OLD.ver, 'd');
			ELSE INSERT INTO audit VALUES (NEW.id, NEW.ver, 'u'); END IF; RETURN NULL; END $$`,
		`CREATE TRIGGER audit_t AFTER INSERT OR UPDATE OR DELETE ON orders FOR EACH ROW EXECUTE FUNCTION audit_f()`,
		// Each statement of a piece takes a while, so that the kill lands
		// between the first pieces and the commit.
		`CREATE FUNCTION slow_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$`,
		`CREATE TRIGGER slow_t AFTER INSERT OR UPDATE OR DELETE ON orders FOR EACH STATEMENT EXECUTE FUNCTION slow_f()`,
	} {
		_, err := e.dst.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	start := e.masterPos()
	e.tx(`UPDATE orders SET ver = ver + 1, note = CONCAT('big ', id)`)
	end := e.masterPos()

	written := func() int64 {
		var n int64
		var called bool
		require.NoError(t, e.dst.QueryRow(ctx, `SELECT last_value, is_called FROM written`).Scan(&n, &called))
		if !called {
			return 0
		}
		return n
	}
	require.Eventually(t, func() bool { return written() >= 3*bound }, time.Minute, 2*time.Millisecond, "the pieces are not applied")
	c.kill(t)
	n := written()
	require.Less(t, n, int64(rows), "the kill came after the whole transaction was applied")
	pos, err := loadPosition(ctx, e.dst, "midway")
	require.NoError(t, err)
	assert.False(t, positionAtLeast(pos, end), "position %s is past the killed transaction (%s)", pos, end)
	assert.True(t, positionAtLeast(pos, start))
	var changed int
	require.NoError(t, e.dst.QueryRow(ctx, `SELECT count(*) FROM orders WHERE ver <> 1`).Scan(&changed))
	assert.Zero(t, changed, "rows of the uncommitted pieces are visible")
	t.Logf("killed after %d of %d rows were written in the open target transaction", n, rows)

	c = e.spawn(spec)
	defer c.kill(t)
	e.waitCaughtUp("midway", time.Minute)
	e.requireSameKeysAndVersions()
	var audited, dups int
	require.NoError(t, e.dst.QueryRow(ctx, `SELECT count(*), count(*) - count(DISTINCT (id, ver)) FROM audit`).Scan(&audited, &dups))
	assert.Equal(t, rows, audited, "every row updated once")
	assert.Zero(t, dups, "changes applied twice")
}

// TestPipelineStopsAfterRepeatedApplyFailures: a batch whose target
// transaction times out every time stops the pipeline after
// MaxApplyAttempts tries, naming the position and the cause, instead of
// retrying forever.
func TestPipelineStopsAfterRepeatedApplyFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB and PostgreSQL")
	}
	e := newEnv(t)
	e.exec(faultTable)
	e.fill(10)
	p, logs := e.start(pipelineConfig("stuck", "orders"), Options{}, func(p *Pipeline) { p.txTimeout = 300 * time.Millisecond })
	waitPhase(t, p, PhaseStreaming, time.Minute)
	e.waitCaughtUp("stuck", 30*time.Second)
	ctx := context.Background()
	for _, s := range []string{
		`CREATE FUNCTION slow_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$`,
		`CREATE TRIGGER slow_t AFTER UPDATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION slow_f()`,
	} {
		_, err := e.dst.Exec(ctx, s)
		require.NoError(t, err, s)
	}
	at, err := loadPosition(ctx, e.dst, "stuck")
	require.NoError(t, err)
	e.exec(`UPDATE orders SET ver = 2 WHERE id = 1`)

	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the pipeline still retries; its log:\n%s", logs.String())
	}
	var bf *BatchFailedError
	require.True(t, errors.As(err, &bf), "stopped with %v", err)
	assert.Equal(t, MaxApplyAttempts, bf.Attempts)
	assert.Equal(t, at, bf.Pos)
	assert.Equal(t, "timeout", bf.Cause)
	assert.Contains(t, err.Error(), fmt.Sprintf("applying the changes after %s failed %d times in a row (timeout)", at, MaxApplyAttempts))
	assert.Equal(t, MaxApplyAttempts-1, strings.Count(logs.String(), "applying the changes after "+at.String()+" failed (attempt"))
	st := p.Status()
	assert.Equal(t, PhaseStopped, st.Phase)
	assert.Contains(t, st.Reason, "failed 5 times in a row")
	var ver int
	require.NoError(t, e.dst.QueryRow(ctx, `SELECT ver FROM orders WHERE id = 1`).Scan(&ver))
	assert.Equal(t, 1, ver, "the failing change is not applied")
}

// TestPipelineHugeTransactionPausesWhole: a value the target cannot hold
// late in a transaction applied in pieces pauses the pipeline before the
// transaction, and the pieces applied before it are rolled back.
func TestPipelineHugeTransactionPausesWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("needs MariaDB and PostgreSQL")
	}
	e := newEnv(t)
	e.exec(`CREATE TABLE orders (id int PRIMARY KEY, shipped datetime NULL)`)
	cfg := pipelineConfig("pieces-pause", "orders")
	cfg.ZeroDates = "error"
	p, _ := e.start(cfg, Options{}, func(p *Pipeline) { p.pieceRows = 100 })
	waitPhase(t, p, PhaseStreaming, time.Minute)
	e.exec(`INSERT INTO orders VALUES (1, '2024-01-01 00:00:00')`)
	e.waitCaughtUp("pieces-pause", 30*time.Second)
	e.tx(`INSERT INTO orders SELECT seq, '2024-01-02' FROM seq_2_to_2000`, "SET SESSION sql_mode = ''",
		`INSERT INTO orders VALUES (3000, '0000-00-00 00:00:00')`)

	waitPhase(t, p, PhasePaused, 30*time.Second)
	assert.Contains(t, p.Status().Reason, "key id=3000")
	assert.Positive(t, p.pieces.Load(), "pieces were applied before the bad value")
	assert.Len(t, targetRows(t, e.dst, "orders", "id"), 1, "nothing of the paused transaction is committed")
}
