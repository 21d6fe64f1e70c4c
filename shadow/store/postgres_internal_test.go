package store

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

// TestPostgresBatchInDoubt: a batch whose commit may have gone through is
// applied again only when the database does not hold it, so a lost commit
// answer neither loses nor doubles counts.
func TestPostgresBatchInDoubt(t *testing.T) {
	ctx := context.Background()
	st, err := OpenPostgres(ctx, dbtest.Postgres(t), Retention{}, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(t, err)
	defer st.Close()
	take := func() *pgBatch {
		st.mu.Lock()
		defer st.mu.Unlock()
		b := st.cur
		st.cur = newPGBatch()
		return b
	}
	st.flushMu.Lock()
	require.NoError(t, st.Add(ctx, &Record{Route: "a", Result: ResultMatch, At: time.Now()}))
	committed := take()
	require.NoError(t, st.apply(ctx, committed))
	committed.inDoubt = true // as if the answer to COMMIT was lost
	require.NoError(t, st.apply(ctx, committed), "already applied: nothing to do")

	require.NoError(t, st.Add(ctx, &Record{Route: "a", Result: ResultDiff, ID: "d1", At: time.Now()}))
	lost := take()
	lost.inDoubt = true // its commit failed before reaching the server
	require.NoError(t, st.apply(ctx, lost), "not applied yet: applied now")
	st.flushMu.Unlock()

	reps, err := st.Report(ctx, "a", ReportOptions{})
	require.NoError(t, err)
	require.Len(t, reps, 1)
	assert.Equal(t, int64(1), reps[0].Matched, "applied once")
	assert.Equal(t, int64(1), reps[0].Differed)
	_, err = st.Get(ctx, "d1")
	assert.NoError(t, err)
}
