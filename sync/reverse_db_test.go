package sync

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// roundTripRows are alltypes rows of minimum values, maximum values, NULLs
// and MySQL's invalid-enum marker. They hold none of the values the
// forward direction's policies change on purpose (a nullable zero date, a
// partial zero date, a NUL byte in text): those have no way back. A NOT
// NULL zero date does: NULL in PostgreSQL, the zero date again in MySQL.
var roundTripRows = []string{
	"INSERT INTO alltypes (id, ti, tu, si, su, mi, mu, i, iu, bi, bu, b1, b1s, dc, dc2, f, d, bt1, bt64, dt, dtn, dtm, ts, tm, yr, " +
		"c, vc, l1, tx, lt, bn, vb, bl, en, st, js, dt0, ts3, ts0) VALUES (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, " +
		"-9223372036854775808, 0, 0, 5, -99999999999999999999999999999999999.999999999999999999999999999999, -99999999.99, " +
		"-3.40282e38, -1.7976931348623157e308, b'0', b'0', '1000-01-01', '0000-00-00', '1000-01-01 00:00:00.000000', " +
		"'1970-01-01 00:00:01.000000', '-838:59:59.000000', 1901, '', '', 'café €', '', '', 0x00000000, '', '', 'a', '', '{}', " +
		"'1000-01-01 00:00:00', '1970-01-01 00:00:01.5', '1970-01-01 00:00:01')",
	"INSERT INTO alltypes (id, ti, tu, si, su, mi, mu, i, iu, bi, bu, b1, b1s, dc, dc2, f, d, bt1, bt64, dt, dtn, dtm, ts, tm, yr, " +
		"c, vc, l1, tx, lt, bn, vb, bl, en, st, js, dt0, ts3, ts0) VALUES (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, " +
		"9223372036854775807, 18446744073709551615, 1, 1, 99999999999999999999999999999999999.999999999999999999999999999999, 99999999.99, " +
		"3.40282e38, 1.7976931348623157e308, b'1', 0xFFFFFFFFFFFFFFFF, '9999-12-31', '2024-01-15', '9999-12-31 23:59:59.999999', " +
		"'2038-01-19 03:14:07.999999', '838:59:59.000000', 2155, 'abcdefghij', '😀 𝄞 tab\there\nnew \\\\ back|pipe \\'q\\'', 'ÿ', " +
		"'a\\r\\nb', REPEAT('long ', 10000), 0xFF00FF00, 0x00, REPEAT(0xDEADBEEF00, 300000), 'b c', 'x,z', " +
		"'{\"b\": [1, 2.50, \"\\\\u00e9\"], \"a\": null}', '2024-05-06 07:08:09', '2024-05-06 07:08:09.123', '2038-01-19 03:14:07')",
	"INSERT INTO alltypes (id, dtn) VALUES (3, '2024-01-15')",
	"INSERT INTO alltypes (id, dtn, tm, f, d, ts0) VALUES (4, '2024-02-29', '100:00:00.5', 0.1, 0.1, '1970-01-01 00:00:01')",
	"INSERT INTO alltypes (id, dtn, en, c) VALUES (5, '2024-03-01', 'not a member', 'x')", // en is '' (sql_mode '')
}

// allTypesCanon selects every column of alltypes as text that is the same
// only for the same stored value (floats as doubles, bits and bytes in hex,
// long values by digest; json apart, compared as JSON).
const allTypesCanon = "SELECT id, ti, tu, si, su, mi, mu, i, iu, bi, bu, b1, b1s, dc, dc2, f + 0e0, d + 0e0, BIN(bt1), BIN(bt64), " +
	"CAST(dt AS CHAR), CAST(dtn AS CHAR), CAST(dtm AS CHAR), CAST(ts AS CHAR), CAST(tm AS CHAR), yr, c, vc, HEX(l1), tx, MD5(lt), " +
	"HEX(bn), HEX(vb), MD5(bl), LENGTH(bl), en, st, CAST(dt0 AS CHAR), CAST(ts3 AS CHAR), CAST(ts0 AS CHAR), gen FROM alltypes ORDER BY id"

// requireSameJSON compares the json column of two legacy tables as JSON:
// jsonb keeps the document, not its spelling (key order, spaces, escapes).
func requireSameJSON(t *testing.T, want, got *legacyDB) {
	t.Helper()
	w, g := want.rows("SELECT id, js FROM alltypes ORDER BY id"), got.rows("SELECT id, js FROM alltypes ORDER BY id")
	require.Equal(t, len(w), len(g))
	for i := range w {
		wid, wjs, _ := strings.Cut(w[i], " | ")
		gid, gjs, _ := strings.Cut(g[i], " | ")
		require.Equal(t, wid, gid)
		if wjs == `\N` || gjs == `\N` {
			require.Equal(t, wjs, gjs, "js of id %s", wid)
			continue
		}
		require.JSONEq(t, wjs, gjs, "js of id %s", wid)
	}
}

// TestReverseAllTypesRoundTrip: every type the forward mapping supports
// comes back unchanged. Rows of every type are written into MySQL, the
// forward pipeline copies them to PostgreSQL, and a new-to-legacy pipeline
// streams PostgreSQL's changes into a second MySQL database created with
// the same DDL; the two MySQL tables must hold the same values.
func TestReverseAllTypesRoundTrip(t *testing.T) {
	e := newEnv(t)
	orig := e.legacyOf()
	orig.exec(append([]string{allTypesDDL}, roundTripRows...)...)
	fwdCfg := config.Pipeline{Name: "fwd", Tables: []config.Table{allTypesTable()}}
	fwd, _ := e.start(fwdCfg, Options{})
	waitPhase(t, fwd, PhaseStreaming, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	require.NoError(t, fwd.Close(ctx))
	cancel()

	back := newLegacyDB(t)
	back.exec(allTypesDDL)
	metrics, err := NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	cfg := reverseConfig("back", allTypesTable())
	p, _ := startReverse(t, cfg, back, e.pg, Options{Metrics: metrics, StatusInterval: 100 * time.Millisecond})
	waitPhase(t, p, PhaseStreaming, time.Minute)

	// Every row again, whole, in one PostgreSQL transaction.
	pgExec(t, e.dst, `CREATE TABLE alltypes_orig AS SELECT * FROM alltypes`,
		`BEGIN`, `DELETE FROM alltypes`, `INSERT INTO alltypes SELECT * FROM alltypes_orig`, `COMMIT`)
	back.waitCheckpoint("back", currentWAL(t, e.dst), time.Minute)
	want := orig.rows(allTypesCanon)
	require.Len(t, want, len(roundTripRows))
	assert.Equal(t, want, back.rows(allTypesCanon), "MySQL -> PostgreSQL -> MySQL")
	requireSameJSON(t, orig, back)

	t.Run("updates bring back exactly the original values", func(t *testing.T) {
		// Row 2 takes row 3's values (NULL nearly everywhere), then its own
		// again, column by column from the copy.
		cols := pgRows(t, e.dst, `SELECT attname FROM pg_attribute WHERE attrelid = 'alltypes'::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'id' ORDER BY attnum`)
		var toNull, back2 []string
		for _, c := range cols {
			toNull = append(toNull, c+" = o."+c)
			back2 = append(back2, c+" = o."+c)
		}
		pgExec(t, e.dst, `UPDATE alltypes a SET `+strings.Join(toNull, ", ")+` FROM alltypes_orig o WHERE a.id = 2 AND o.id = 3`)
		back.waitCheckpoint("back", currentWAL(t, e.dst), time.Minute)
		assert.NotEqual(t, want[1], back.rows(allTypesCanon)[1], "row 2 changed")
		pgExec(t, e.dst, `UPDATE alltypes a SET `+strings.Join(back2, ", ")+` FROM alltypes_orig o WHERE a.id = 2 AND o.id = 2`)
		back.waitCheckpoint("back", currentWAL(t, e.dst), time.Minute)
		assert.Equal(t, want, back.rows(allTypesCanon))
		requireSameJSON(t, orig, back)
	})

	t.Run("an unchanged TOASTed value is kept", func(t *testing.T) {
		// bl (1.5 MB) is TOASTed: an update of another column does not send it.
		pgExec(t, e.dst, `UPDATE alltypes SET vc = 'changed' WHERE id = 2`)
		back.waitCheckpoint("back", currentWAL(t, e.dst), time.Minute)
		got := back.rows("SELECT vc, MD5(bl), LENGTH(bl) FROM alltypes WHERE id = 2")
		wantBl := orig.rows("SELECT MD5(bl), LENGTH(bl) FROM alltypes WHERE id = 2")
		assert.Equal(t, []string{"changed | " + wantBl[0]}, got)
	})

	t.Run("deletes and key changes", func(t *testing.T) {
		pgExec(t, e.dst, `DELETE FROM alltypes WHERE id = 3`, `UPDATE alltypes SET id = 40 WHERE id = 4`)
		back.waitCheckpoint("back", currentWAL(t, e.dst), time.Minute)
		assert.Equal(t, []string{"1", "2", "5", "40"}, back.rows("SELECT id FROM alltypes ORDER BY id"))
	})

	t.Run("verify compares the legacy table with PostgreSQL", func(t *testing.T) {
		m, err := LoadTableMap(context.Background(), back.db, back.schema, allTypesTable(), Policies{})
		require.NoError(t, err)
		pool, err := pgxpool.New(context.Background(), e.pg)
		require.NoError(t, err)
		defer pool.Close()
		res, err := Verify(context.Background(), back.db, pool, m, VerifyOptions{})
		require.NoError(t, err)
		assert.Empty(t, res.Diffs)
		assert.EqualValues(t, 4, res.SourceRows)
	})

	t.Run("status and metrics", func(t *testing.T) {
		require.Eventually(t, func() bool {
			st, err := ReadReverseStatus(context.Background(), back.db, "back")
			return err == nil && st.Phase == PhaseStreaming && st.Slot != nil && st.LSN != ""
		}, 10*time.Second, 20*time.Millisecond)
		st, err := ReadReverseStatus(context.Background(), back.db, "back")
		require.NoError(t, err)
		assert.Equal(t, "new-to-legacy", st.Direction)
		assert.Equal(t, SlotName("back"), st.Slot.Name)
		assert.Positive(t, st.Changes)
		live := p.Status()
		assert.Equal(t, "new-to-legacy", live.Direction)
		require.NotNil(t, live.Slot)
		assert.GreaterOrEqual(t, live.Slot.RetainedWALBytes, int64(0))
		slot, err := ReadSlotStatus(context.Background(), e.dst, "back")
		require.NoError(t, err)
		assert.False(t, slot.Missing)
		assert.True(t, slot.Active)
		var mm dto.Metric
		require.NoError(t, metrics.Changes.WithLabelValues("back", "alltypes", "insert").Write(&mm))
		assert.Positive(t, mm.GetCounter().GetValue(), "strangler_sync_changes_total{op=insert}")
		require.NoError(t, metrics.RetainedWALBytes.WithLabelValues("back").Write(&mm))
		js, err := json.Marshal(st)
		require.NoError(t, err)
		assert.Contains(t, string(js), `"direction":"new-to-legacy"`)
	})
}
