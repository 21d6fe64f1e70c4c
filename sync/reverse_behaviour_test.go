package sync

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// reverseEnv is a legacy table, its PostgreSQL target (as the forward
// direction creates it) and a new-to-legacy pipeline between them.
type reverseEnv struct {
	*env
	l   *legacyDB
	cfg config.Pipeline
}

func newReverseEnv(t *testing.T, name string, ddl ...string) *reverseEnv {
	t.Helper()
	e := newEnv(t)
	r := &reverseEnv{env: e, l: e.legacyOf(), cfg: reverseConfig(name, config.Table{Name: "t"})}
	r.l.exec(ddl...)
	r.l.createTarget(e.dst, config.Table{Name: "t"})
	return r
}

func (r *reverseEnv) start(o Options, tune ...func(*Pipeline)) *Pipeline {
	r.t.Helper()
	p, _ := startReverse(r.t, r.cfg, r.l, r.pg, o, tune...)
	waitPhase(r.t, p, PhaseStreaming, time.Minute)
	return p
}

// caughtUp waits until the legacy database stored PostgreSQL's current
// WAL position: it holds every change made so far.
func (r *reverseEnv) caughtUp() {
	r.t.Helper()
	r.l.waitCheckpoint(r.cfg.Name, currentWAL(r.t, r.dst), time.Minute)
}

// waitStopped waits for the pipeline to stop by itself and returns why.
func waitStopped(t *testing.T, p *Pipeline) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("pipeline %s did not stop (phase %s)", p.Name(), p.Status().Phase)
		return nil
	}
}

func TestReverseBehaviour(t *testing.T) {
	const simple = "CREATE TABLE t (id int NOT NULL PRIMARY KEY, v varchar(20) NOT NULL, n smallint unsigned NULL)"

	t.Run("a truncate empties the legacy table before the changes after it", func(t *testing.T) {
		r := newReverseEnv(t, "trunc", simple)
		r.start(Options{})
		pgExec(t, r.dst, `INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`)
		r.caughtUp()
		require.Equal(t, []string{"1", "2", "3"}, r.l.rows("SELECT id FROM t ORDER BY id"))
		pgExec(t, r.dst, `BEGIN`, `UPDATE t SET v = 'gone' WHERE id = 1`, `TRUNCATE t`, `INSERT INTO t VALUES (4, 'd', 4)`, `COMMIT`)
		r.caughtUp()
		assert.Equal(t, []string{"4 | d | 4"}, r.l.rows("SELECT * FROM t ORDER BY id"))
	})

	t.Run("REPLICA IDENTITY NOTHING is refused, naming the table", func(t *testing.T) {
		r := newReverseEnv(t, "nothing", simple)
		pgExec(t, r.dst, `ALTER TABLE t REPLICA IDENTITY NOTHING`)
		p, _ := startReverse(t, r.cfg, r.l, r.pg, Options{})
		err := waitStopped(t, p)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "table public.t has REPLICA IDENTITY NOTHING")
		assert.Contains(t, err.Error(), "ALTER TABLE public.t REPLICA IDENTITY FULL")
		assert.Equal(t, PhaseStopped, p.Status().Phase)
	})

	t.Run("REPLICA IDENTITY FULL: unchanged TOASTed values come from the old row", func(t *testing.T) {
		r := newReverseEnv(t, "full", "CREATE TABLE t (id int NOT NULL PRIMARY KEY, v varchar(20) NOT NULL, big longtext)")
		pgExec(t, r.dst, `ALTER TABLE t REPLICA IDENTITY FULL`)
		r.start(Options{})
		pgExec(t, r.dst, `INSERT INTO t SELECT 1, 'a', string_agg(md5(i::text), '') FROM generate_series(1, 400) i`)
		r.caughtUp()
		pgExec(t, r.dst, `UPDATE t SET v = 'b'`, `UPDATE t SET id = 2`)
		r.caughtUp()
		want := pgRows(t, r.dst, `SELECT id, v, md5(big), length(big) FROM t`)
		assert.Equal(t, want, r.l.rows("SELECT id, v, MD5(big), LENGTH(big) FROM t"))
		pgExec(t, r.dst, `DELETE FROM t`)
		r.caughtUp()
		assert.Empty(t, r.l.rows("SELECT id FROM t"))
	})

	t.Run("values swapped under a second unique index", func(t *testing.T) {
		r := newReverseEnv(t, "swap", "CREATE TABLE t (id int NOT NULL PRIMARY KEY, email varchar(40) NOT NULL UNIQUE, n int NOT NULL)",
			"INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)")
		pgExec(t, r.dst, `INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2)`)
		r.start(Options{})
		pgExec(t, r.dst, `BEGIN`, `UPDATE t SET email = 'tmp' WHERE id = 1`, `UPDATE t SET email = 'a' WHERE id = 2`,
			`UPDATE t SET email = 'b' WHERE id = 1`, `INSERT INTO t VALUES (3, 'c', 3)`, `COMMIT`)
		r.caughtUp()
		assert.Equal(t, []string{"1 | b | 1", "2 | a | 2", "3 | c | 3"}, r.l.rows("SELECT * FROM t ORDER BY id"))
	})

	t.Run("a transaction larger than the piece bound is applied whole", func(t *testing.T) {
		r := newReverseEnv(t, "pieces", simple)
		p := r.start(Options{}, func(p *Pipeline) { p.pieceRows = 500 })
		pgExec(t, r.dst, `INSERT INTO t SELECT i, 'row ' || i, i % 60000 FROM generate_series(1, 3000) i`,
			`UPDATE t SET v = 'updated' WHERE id <= 1200`)
		r.caughtUp()
		assert.Equal(t, []string{"3000 | 1200"}, r.l.rows("SELECT COUNT(*), SUM(v = 'updated') FROM t"))
		assert.Positive(t, p.pieces.Load(), "pieces applied")
		assert.LessOrEqual(t, p.maxHeld.Load(), int64(500), "changes held at once")
		assert.EqualValues(t, 4200, r.l.checkpoint("pieces").Changes)
	})

	t.Run("a value MySQL cannot hold pauses, naming table, key, column and value; a resume retries it", func(t *testing.T) {
		r := newReverseEnv(t, "value", simple)
		p, logs := startReverse(t, r.cfg, r.l, r.pg, Options{StatusInterval: 100 * time.Millisecond})
		waitPhase(t, p, PhaseStreaming, time.Minute)
		pgExec(t, r.dst, `INSERT INTO t VALUES (1, 'fits', 65535)`, `INSERT INTO t VALUES (2, 'does not', 70000)`)
		waitPhase(t, p, PhasePaused, time.Minute)
		assert.Contains(t, p.Status().Reason, `table t key id=2: column n: value "70000": out of range of MySQL smallint(5) unsigned`)
		assert.Contains(t, logs.String(), "paused at LSN ")
		assert.Equal(t, []string{"1 | fits | 65535"}, r.l.rows("SELECT * FROM t"), "the transactions before it are applied")
		var st Status
		require.Eventually(t, func() bool {
			var err error
			st, err = ReadReverseStatus(context.Background(), r.l.db, "value")
			return err == nil && st.Phase == PhasePaused && st.Todo != ""
		}, 10*time.Second, 20*time.Millisecond)
		assert.Contains(t, st.Reason, "out of range")
		assert.Contains(t, st.Todo, "legacy MySQL column")

		// The fix, in the legacy column; the pipeline is still there.
		r.l.exec(`ALTER TABLE t MODIFY n int unsigned NULL`)
		pgExec(t, r.dst, `INSERT INTO t VALUES (3, 'after', 3)`)
		req, err := RequestReverseResume(context.Background(), r.l.db, "value")
		require.NoError(t, err)
		assert.Less(t, req.StatusAge, 5*time.Second, "the paused pipeline keeps its status fresh")
		require.Eventually(t, func() bool {
			ok, err := ReverseResumeTaken(context.Background(), r.l.db, req)
			return err == nil && ok
		}, 10*time.Second, 20*time.Millisecond)
		waitPhase(t, p, PhaseStreaming, time.Minute)
		r.caughtUp()
		assert.Equal(t, []string{"1 | fits | 65535", "2 | does not | 70000", "3 | after | 3"}, r.l.rows("SELECT * FROM t ORDER BY id"))
		assert.Contains(t, logs.String(), "resumed by request")
		_, err = RequestReverseResume(context.Background(), r.l.db, "value")
		var np *NotPausedError
		require.ErrorAs(t, err, &np)
		assert.Equal(t, PhaseStreaming, np.Phase)
	})

	t.Run("a restart goes on from the stored position and applies nothing twice", func(t *testing.T) {
		r := newReverseEnv(t, "restart", simple)
		p := r.start(Options{})
		pgExec(t, r.dst, `INSERT INTO t SELECT i, 'a', 1 FROM generate_series(1, 100) i`)
		r.caughtUp()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		require.NoError(t, p.Close(ctx))
		cancel()
		// While it is down: the slot keeps the changes.
		pgExec(t, r.dst, `UPDATE t SET n = n + 1`, `DELETE FROM t WHERE id > 90`)
		slot, err := ReadSlotStatus(context.Background(), r.dst, "restart")
		require.NoError(t, err)
		assert.False(t, slot.Active)
		assert.Positive(t, slot.LagBytes, "WAL after the confirmed position")
		r.start(Options{})
		r.caughtUp()
		assert.Equal(t, []string{"90 | 180"}, r.l.rows("SELECT COUNT(*), SUM(n) FROM t"))
		assert.EqualValues(t, 100+100+10, r.l.checkpoint("restart").Changes, "every change once")
	})

	t.Run("a slot dropped under a stored position is refused", func(t *testing.T) {
		r := newReverseEnv(t, "gone", simple)
		p := r.start(Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		require.NoError(t, p.Close(ctx))
		cancel()
		slot := SlotName("gone")
		require.Eventually(t, func() bool {
			_, err := r.dst.Exec(context.Background(), fmt.Sprintf(`SELECT pg_drop_replication_slot('%s')`, slot))
			return err == nil
		}, 10*time.Second, 20*time.Millisecond)
		p, _ = startReverse(t, r.cfg, r.l, r.pg, Options{})
		err := waitStopped(t, p)
		require.Error(t, err)
		assert.True(t, strings.Contains(err.Error(), "the replication slot "+slot+" is gone"), err.Error())
	})
}
