package sync

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// revTestTable is a bound table t (id int key, v varchar, big blob) of
// database db, with the relation the server would describe.
func revTestTable(t *testing.T, otherUnique bool, keys ...string) (*revTable, *Relation) {
	t.Helper()
	if len(keys) == 0 {
		keys = []string{"id"}
	}
	m, err := buildTableMap("db", config.Table{Name: "t"}, []SourceColumn{
		{Name: "id", ColumnType: "int(11)", DataType: "int"},
		{Name: "v", ColumnType: "varchar(20)", DataType: "varchar", CharLen: 20, Charset: "utf8mb4", Nullable: len(keys) == 1},
		{Name: "big", ColumnType: "blob", DataType: "blob", Nullable: true},
	}, []indexInfo{{Name: "PRIMARY", Columns: keys}}, Policies{})
	require.NoError(t, err)
	rt, err := newRevTable(m, "db", otherUnique)
	require.NoError(t, err)
	rel := &Relation{ID: 9, Namespace: "public", Name: "t", ReplicaIdentity: 'd', Columns: []RelationColumn{
		{Name: "id", TypeOID: 23, Key: keys[0] == "id" || len(keys) > 1}, {Name: "v", TypeOID: 1043, Key: len(keys) > 1}, {Name: "big", TypeOID: 17}}}
	require.NoError(t, rt.bind(rel))
	return rt, rel
}

func tv(vals ...string) []TupleValue {
	out := make([]TupleValue, len(vals))
	for i, v := range vals {
		switch v {
		case "\x00n":
			out[i] = TupleValue{Kind: TupleNull}
		case "\x00u":
			out[i] = TupleValue{Kind: TupleUnchanged}
		default:
			out[i] = TupleValue{Kind: TupleText, Data: []byte(v)}
		}
	}
	return out
}

func mergeAll(t *testing.T, rt *revTable, rel *Relation, changes ...LogicalChange) *revBatch {
	t.Helper()
	b := newRevBatch()
	for _, c := range changes {
		c.Relation = rel
		rc, err := rt.encodeChange(c)
		require.NoError(t, err)
		b.merge(rc)
	}
	return b
}

func stmtsOf(b *revBatch, maxBytes int) []string {
	var out []string
	for _, tb := range b.order {
		for _, s := range tb.statements(maxBytes) {
			if s.lenient {
				s.sql = "[lenient] " + s.sql
			}
			out = append(out, s.sql)
		}
	}
	return out
}

// TestRevBatch: changes collapse by key (the last wins), an update that
// changes the key deletes the old one, an unchanged TOASTed value is left
// out of the upsert (or taken from an earlier image in the batch), a
// truncate wipes what came before it.
func TestRevBatch(t *testing.T) {
	ins := func(vals ...string) LogicalChange { return LogicalChange{Op: OpInsert, New: tv(vals...)} }
	upd := func(vals ...string) LogicalChange { return LogicalChange{Op: OpUpdate, New: tv(vals...)} }
	moved := func(oldID string, vals ...string) LogicalChange {
		return LogicalChange{Op: OpUpdate, OldKind: 'K', Old: tv(oldID, "\x00n", "\x00n"), New: tv(vals...)}
	}
	del := func(id string) LogicalChange {
		return LogicalChange{Op: OpDelete, OldKind: 'K', Old: tv(id, "\x00n", "\x00n")}
	}
	const upsert = " ON DUPLICATE KEY UPDATE `v` = VALUES(`v`), `big` = VALUES(`big`)"
	tests := []struct {
		name    string
		replace bool
		changes []LogicalChange
		want    []string
	}{
		{"inserts in one statement", false, []LogicalChange{ins("2", "b", `\x01`), ins("1", "a", `\x`)},
			[]string{"INSERT INTO `db`.`t` (`id`, `v`, `big`) VALUES (1, 'a', X''), (2, 'b', X'01')" + upsert}},
		{"the last change of a key wins", false, []LogicalChange{ins("1", "a", "\x00n"), upd("1", "b", "\x00n"), upd("1", "c", "\x00n")},
			[]string{"INSERT INTO `db`.`t` (`id`, `v`, `big`) VALUES (1, 'c', NULL)" + upsert}},
		{"an insert then a delete is a delete", false, []LogicalChange{ins("1", "a", "\x00n"), del("1")},
			[]string{"DELETE FROM `db`.`t` WHERE `id` IN (1)"}},
		{"a delete then an insert is an upsert", false, []LogicalChange{del("1"), ins("1", "a", "\x00n")},
			[]string{"INSERT INTO `db`.`t` (`id`, `v`, `big`) VALUES (1, 'a', NULL)" + upsert}},
		{"a key change deletes the old key", false, []LogicalChange{moved("1", "5", "x", "\x00n")},
			[]string{"DELETE FROM `db`.`t` WHERE `id` IN (1)", "INSERT INTO `db`.`t` (`id`, `v`, `big`) VALUES (5, 'x', NULL)" + upsert}},
		{"an unchanged TOASTed value is left out", false, []LogicalChange{upd("1", "x", "\x00u")},
			[]string{"INSERT INTO `db`.`t` (`id`, `v`) VALUES (1, 'x') ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)"}},
		{"an unchanged TOASTed value comes from the batch's earlier image", false, []LogicalChange{ins("1", "a", `\xff`), upd("1", "x", "\x00u"), moved("1", "2", "y", "\x00u")},
			[]string{"DELETE FROM `db`.`t` WHERE `id` IN (1)", "INSERT INTO `db`.`t` (`id`, `v`, `big`) VALUES (2, 'y', X'ff')" + upsert}},
		{"a truncate wipes what came before", false, []LogicalChange{ins("1", "a", "\x00n"), del("3")},
			nil}, // filled below
		{"a second unique index: whole rows are deleted, then inserted", true, []LogicalChange{ins("1", "a", "\x00n"), upd("2", "b", "\x00n"), upd("3", "c", "\x00u")},
			[]string{"DELETE FROM `db`.`t` WHERE `id` IN (1, 2)", "INSERT INTO `db`.`t` (`id`, `v`, `big`) VALUES (1, 'a', NULL), (2, 'b', NULL)",
				"INSERT INTO `db`.`t` (`id`, `v`) VALUES (3, 'c') ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, rel := revTestTable(t, tc.replace)
			b := mergeAll(t, rt, rel, tc.changes...)
			if tc.want == nil {
				rc := revChange{t: rt, truncate: true}
				b.merge(rc)
				rc2, err := rt.encodeChange(LogicalChange{Relation: rel, Op: OpInsert, New: tv("4", "d", "\x00n")})
				require.NoError(t, err)
				b.merge(rc2)
				tc.want = []string{"DELETE FROM `db`.`t`", "INSERT INTO `db`.`t` (`id`, `v`, `big`) VALUES (4, 'd', NULL)" + upsert}
			}
			assert.Equal(t, tc.want, stmtsOf(b, 1<<20))
			assert.Equal(t, len(tc.changes)+map[bool]int{true: 1, false: 0}[tc.name == "a truncate wipes what came before"], b.changes)
		})
	}
}

func TestRevBatchStatementBounds(t *testing.T) {
	rt, rel := revTestTable(t, false)
	var changes []LogicalChange
	for i := range 50 {
		changes = append(changes, LogicalChange{Op: OpInsert, New: tv(strings.Repeat("1", 1)+strings.Repeat("0", i%3)+string(rune('1'+i%9)), strings.Repeat("x", 20), "\x00n")})
	}
	b := mergeAll(t, rt, rel, changes...)
	stmts := stmtsOf(b, 300)
	require.Greater(t, len(stmts), 1)
	rows := 0
	for _, s := range stmts {
		assert.LessOrEqual(t, len(s), 300+120, "statement bound: %s", s)
		rows += strings.Count(s, "), (") + 1
	}
	assert.Equal(t, len(b.tables[rt].ups), rows, "every row once")
}

// TestRevBatchCompositeKey: a composite key is matched as a row constructor.
func TestRevBatchCompositeKey(t *testing.T) {
	rt, rel := revTestTable(t, false, "id", "v")
	b := mergeAll(t, rt, rel, LogicalChange{Op: OpDelete, OldKind: 'K', Old: tv("1", "a", "\x00n")},
		LogicalChange{Op: OpDelete, OldKind: 'K', Old: tv("2", "it's", "\x00n")})
	assert.Equal(t, []string{"DELETE FROM `db`.`t` WHERE (`id`, `v`) IN ((1, 'a'), (2, 'it\\'s'))"}, stmtsOf(b, 1<<20))
}

// TestRevEncodeErrors: a change that lacks the key it needs names the
// table and the fix.
func TestRevEncodeErrors(t *testing.T) {
	rt, rel := revTestTable(t, false)
	_, err := rt.encodeChange(LogicalChange{Relation: rel, Op: OpDelete, OldKind: 'K', Old: tv("\x00n", "\x00n", "\x00n")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "table t: the delete of public.t carries no old value of key column id")
	assert.Contains(t, err.Error(), "REPLICA IDENTITY FULL")
	_, err = rt.encodeChange(LogicalChange{Relation: rel, Op: OpInsert, New: tv("x", "a", "\x00n")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `table t: column id: value "x": not an integer`)
	_, err = rt.encodeChange(LogicalChange{Relation: rel, Op: OpInsert, New: tv("1", "a")})
	require.Error(t, err, "a row of another width")
}

func TestCheckReplicaIdentity(t *testing.T) {
	tests := []struct {
		name      string
		ident     byte
		identCols []string
		want      string // "" for no error
	}{
		{"default with the key as primary key", 'd', []string{"id"}, ""},
		{"full", 'f', nil, ""},
		{"an index holding the key", 'i', []string{"id", "v"}, ""},
		{"nothing", 'n', nil, "table public.t has REPLICA IDENTITY NOTHING"},
		{"default without a primary key", 'd', nil, "table public.t has no primary key and REPLICA IDENTITY DEFAULT"},
		{"a primary key on other columns", 'd', []string{"code"}, "table public.t: its primary key (code) lacks the key column id"},
		{"an index on other columns", 'i', []string{"code"}, "table public.t: its replica identity index (code) lacks the key column id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkReplicaIdentity("public.t", tc.ident, tc.identCols, []string{"id"})
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "ALTER TABLE public.t REPLICA IDENTITY FULL")
		})
	}
}

// TestSlotName: a valid slot name (lower-case letters, digits, _; at most
// 63 bytes) for any pipeline name, distinct for distinct names however
// long, and stable.
func TestSlotName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	long := strings.Repeat("orders-and-customers-", 10)
	names := []string{"shop", "Shop", "shop!", "shop?", "ünïcödé", "", long + "a", long + "b", strings.Repeat("x", 36), strings.Repeat("x", 37)}
	seen := map[string]string{}
	for _, n := range names {
		s := SlotName(n)
		assert.Regexp(t, valid, s, "slot name of %q", n)
		if prev, dup := seen[s]; dup {
			t.Errorf("%q and %q share the slot name %s", prev, n, s)
		}
		seen[s] = n
	}
	assert.Equal(t, SlotName("shop"), SlotName("shop"))
	assert.True(t, strings.HasPrefix(SlotName("shop"), "strangler_shop_"))
}

// TestCheckpointSQL: the checkpoint statement is literal SQL that moves the
// position, or (nil) only counts the transaction.
func TestCheckpointSQL(t *testing.T) {
	at := LSN(0x16B3748)
	s := checkpointSQL("it's", "strangler_x", &at, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), 7)
	assert.Contains(t, s, `VALUES ('it\'s', 23803720, '0/16B3748', 'strangler_x', '2026-01-02 03:04:05.000006', 7, 1, UTC_TIMESTAMP(6))`)
	assert.Contains(t, s, "lsn = VALUES(lsn)")
	marker := checkpointSQL("p", "s", nil, time.Time{}, 0)
	assert.NotContains(t, marker, "lsn = VALUES(lsn)")
	assert.Contains(t, marker, "txns = txns + 1")
}

// BenchmarkReverseDecodeApply measures the pure part of the new-to-legacy
// path per change: pgoutput decoding, MySQL literals, the batch, the
// statements (1,000 updates of an orders-like row per batch).
func BenchmarkReverseDecodeApply(b *testing.B) {
	m, err := buildTableMap("db", config.Table{Name: "orders"}, []SourceColumn{
		{Name: "id", ColumnType: "int(10) unsigned", DataType: "int"},
		{Name: "status", ColumnType: "enum('new','paid')", DataType: "enum", Charset: "utf8mb4"},
		{Name: "total", ColumnType: "decimal(12,2)", DataType: "decimal", Precision: 12, Scale: 2},
		{Name: "note", ColumnType: "varchar(64)", DataType: "varchar", CharLen: 64, Charset: "utf8mb4"},
		{Name: "created_at", ColumnType: "datetime", DataType: "datetime"},
		{Name: "updated_at", ColumnType: "timestamp", DataType: "timestamp"},
		{Name: "paid", ColumnType: "tinyint(1)", DataType: "tinyint"},
	}, []indexInfo{{Name: "PRIMARY", Columns: []string{"id"}}}, Policies{})
	require.NoError(b, err)
	rel := msgRelation(1, "public", "orders", 'd', "*id:20", "status:25", "total:1700", "note:1043", "created_at:1114", "updated_at:1184", "paid:16")
	var msgs [][]byte
	for i := range 1000 {
		msgs = append(msgs, msgUpdate(1, 0, nil, fmt.Sprint(i+1), "paid", "123.45", "order note "+fmt.Sprint(i), "2024-01-01 10:00:00", "2024-01-02 03:04:05.123456+00", "t"))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rt, err := newRevTable(m, "db", false)
		require.NoError(b, err)
		h := &fuzzHandler{t: rt, batch: newRevBatch()}
		d := NewPgoutputDecoder()
		ctx := context.Background()
		require.NoError(b, d.Decode(ctx, rel, h))
		require.NoError(b, d.Decode(ctx, msgBegin(1, testCommitTime, 1), h))
		for _, msg := range msgs {
			if err := d.Decode(ctx, msg, h); err != nil {
				b.Fatal(err)
			}
		}
		for _, tb := range h.batch.order {
			_ = tb.statements(4 << 20)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/change")
}
