package sync

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/config"
)

// allTypesDDL is a MariaDB table with every supported column type.
const allTypesDDL = "CREATE TABLE alltypes (" +
	"id int NOT NULL PRIMARY KEY, " +
	"ti tinyint, tu tinyint unsigned, si smallint, su smallint unsigned, mi mediumint, mu mediumint unsigned, " +
	"i int, iu int unsigned, bi bigint, bu bigint unsigned, b1 tinyint(1), b1s tinyint(1), " +
	"dc decimal(65,30), dc2 decimal(10,2), f float, d double, bt1 bit(1), bt64 bit(64), " +
	"dt date, dtn date NOT NULL, dtm datetime(6), ts timestamp(6) NULL, tm time(6), yr year, " +
	"c char(10), vc varchar(60), l1 varchar(20) CHARACTER SET latin1, tx text, lt longtext, " +
	"bn binary(4), vb varbinary(10), bl longblob, en enum('a','b c'), st set('x','y','z'), js json, " +
	"dt0 datetime, ts3 timestamp(3) NULL, ts0 timestamp NULL, gen bigint AS (i + 1) VIRTUAL, geom geometry NULL) DEFAULT CHARSET utf8mb4"

// allTypesRows are a row of minimum values, one of maximum values and one
// of NULLs (and of empty strings where NULL is not allowed).
var allTypesRows = []string{
	"INSERT INTO alltypes (id, ti, tu, si, su, mi, mu, i, iu, bi, bu, b1, b1s, dc, dc2, f, d, bt1, bt64, dt, dtn, dtm, ts, tm, yr, " +
		"c, vc, l1, tx, lt, bn, vb, bl, en, st, js, dt0, ts3, ts0) VALUES (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, " +
		"-9223372036854775808, 0, 0, 5, -99999999999999999999999999999999999.999999999999999999999999999999, -99999999.99, " +
		"-3.40282e38, -1.7976931348623157e308, b'0', b'0', '1000-01-01', '0000-00-00', '1000-01-01 00:00:00.000000', " +
		"'1970-01-01 00:00:01.000000', '-838:59:59.000000', 1901, '', '', 'café €', '', '', 0x00000000, '', '', 'a', '', '{}', '0000-00-00 00:00:00', '1970-01-01 00:00:01.5', '0000-00-00 00:00:00')",
	"INSERT INTO alltypes (id, ti, tu, si, su, mi, mu, i, iu, bi, bu, b1, b1s, dc, dc2, f, d, bt1, bt64, dt, dtn, dtm, ts, tm, yr, " +
		"c, vc, l1, tx, lt, bn, vb, bl, en, st, js, dt0, ts3, ts0) VALUES (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, " +
		"9223372036854775807, 18446744073709551615, 1, 1, 99999999999999999999999999999999999.999999999999999999999999999999, 99999999.99, " +
		"3.40282e38, 1.7976931348623157e308, b'1', 0xFFFFFFFFFFFFFFFF, '9999-12-31', '2024-00-15', '9999-12-31 23:59:59.999999', " +
		"'2038-01-19 03:14:07.999999', '838:59:59.000000', 2155, 'abcdefghij', '😀 𝄞 tab\there\nnew \\\\ back|pipe', 'ÿ', " +
		"CONCAT('a', CHAR(0), 'b'), REPEAT('long ', 10000), 0xFF00FF00, 0x00, REPEAT(0xDEADBEEF00, 300000), 'b c', 'x,z', " +
		"'{\"b\": [1, 2.50, \"\\\\u00e9\"], \"a\": null}', '2024-05-06 07:08:09', '2024-05-06 07:08:09.123', '2038-01-19 03:14:07')",
	"INSERT INTO alltypes (id, dtn) VALUES (3, '2024-01-15')",
	"INSERT INTO alltypes (id, dtn, tm, f, d, ts0) VALUES (4, '2024-02-29', '100:00:00.5', 0.1, 0.1, '1970-01-01 00:00:01')",
}

func allTypesTable() config.Table {
	return config.Table{Name: "alltypes", Exclude: []string{"geom"}, Types: map[string]string{"b1s": "smallint"}}
}

func TestAllTypesSnapshotAndVerify(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t, append([]string{allTypesDDL}, allTypesRows...)...)
	m, err := LoadTableMap(ctx, d.src, d.schema, allTypesTable(), Policies{NulBytes: NulBytesStrip})
	require.NoError(t, err)
	assert.True(t, m.Columns[m.columnIndex("gen")].Skip, "generated columns are not copied")
	assert.Contains(t, strings.Join(m.Notes, "\n"), "column gen: generated column, not copied")
	assert.Contains(t, strings.Join(m.Notes, "\n"), "column dtn: NOT NULL date made nullable")
	d.snapshotCopy(t, m)

	checks := []struct {
		name, sql, want string
	}{
		{"bigint unsigned max", "SELECT bu::text FROM alltypes WHERE id = 2", "18446744073709551615"},
		{"bigint min", "SELECT bi::text FROM alltypes WHERE id = 1", "-9223372036854775808"},
		{"int unsigned max", "SELECT iu::text FROM alltypes WHERE id = 2", "4294967295"},
		{"tinyint(1) boolean", "SELECT b1::text FROM alltypes WHERE id = 2", "true"},
		{"tinyint(1) smallint override", "SELECT b1s::text FROM alltypes WHERE id = 1", "5"},
		{"decimal 65,30", "SELECT dc::text FROM alltypes WHERE id = 2", "99999999999999999999999999999999999.999999999999999999999999999999"},
		{"float max", "SELECT f::text FROM alltypes WHERE id = 2", "3.40282e+38"},
		{"double max", "SELECT d::text FROM alltypes WHERE id = 2", "1.7976931348623157e+308"},
		{"bit64", "SELECT bt64::text FROM alltypes WHERE id = 2", strings.Repeat("1", 64)},
		{"bit1", "SELECT bt1::text FROM alltypes WHERE id = 2", "true"},
		{"zero date is null", "SELECT coalesce(dtn::text, 'NULL') FROM alltypes WHERE id = 1", "NULL"},
		{"partial zero date is null", "SELECT coalesce(dtn::text, 'NULL') FROM alltypes WHERE id = 2", "NULL"},
		{"datetime 6 digits", "SELECT dtm::text FROM alltypes WHERE id = 2", "9999-12-31 23:59:59.999999"},
		{"zero timestamp is null", "SELECT coalesce(ts0::text, 'NULL') FROM alltypes WHERE id = 1", "NULL"},
		{"timestamp(0) min", "SELECT extract(epoch FROM ts0)::text FROM alltypes WHERE id = 4", "1.000000"},
		{"timestamp utc", "SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM alltypes WHERE id = 2", "2038-01-19 03:14:07.999999"},
		{"time negative", "SELECT tm::text FROM alltypes WHERE id = 1", "-838:59:59"},
		{"time over a day", "SELECT tm::text FROM alltypes WHERE id = 4", "100:00:00.5"},
		{"year", "SELECT yr::text FROM alltypes WHERE id = 2", "2155"},
		{"4-byte utf8 and escapes", "SELECT vc FROM alltypes WHERE id = 2", "😀 𝄞 tab\there\nnew \\ back|pipe"},
		{"latin1", "SELECT l1 FROM alltypes WHERE id = 1", "café €"},
		{"nul stripped", "SELECT tx FROM alltypes WHERE id = 2", "ab"},
		{"empty string is not null", "SELECT coalesce(vc, 'NULL') FROM alltypes WHERE id = 1", ""},
		{"null is null", "SELECT coalesce(vc, 'NULL') FROM alltypes WHERE id = 3", "NULL"},
		{"large blob", "SELECT length(bl)::text FROM alltypes WHERE id = 2", "1500000"},
		{"binary padding", "SELECT encode(bn, 'hex') FROM alltypes WHERE id = 2", "ff00ff00"},
		{"enum", "SELECT en FROM alltypes WHERE id = 2", "b c"},
		{"set", "SELECT st::text FROM alltypes WHERE id = 2", "{x,z}"},
		{"empty set", "SELECT st::text FROM alltypes WHERE id = 1", "{}"},
		{"json", "SELECT js->'b'->>2 FROM alltypes WHERE id = 2", "é"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			var got string
			require.NoError(t, d.dst.QueryRow(ctx, c.sql).Scan(&got))
			assert.Equal(t, c.want, got)
		})
	}

	res, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs)
	assert.EqualValues(t, 4, res.SourceRows)
	assert.EqualValues(t, 4, res.TargetRows)

	// A change to any one column of the target is found, named, and
	// repaired from the source (through the snapshot converters).
	changes := map[string]string{
		"ti": "ti - 1", "tu": "tu - 1", "si": "si - 1", "su": "su - 1", "mi": "mi - 1", "mu": "mu - 1",
		"i": "i - 1", "iu": "iu - 1", "bi": "bi - 1", "bu": "bu - 1", "b1": "NOT b1", "b1s": "b1s + 1",
		"dc": "dc - 0.000000000000000000000000000001", "dc2": "dc2 - 0.01", "f": "f / 2", "d": "d / 2",
		"dt0": "dt0 + interval '1 second'", "ts3": "ts3 - interval '1 millisecond'", "ts0": "ts0 - interval '1 second'",
		"bt1": "NOT bt1", "bt64": "~bt64", "dt": "dt - 1", "dtn": "'2024-01-01'", "dtm": "dtm - interval '1 microsecond'",
		"ts": "ts - interval '1 microsecond'", "tm": "tm + interval '1 microsecond'", "yr": "yr - 1",
		"c": "'abcdefghiJ'", "vc": "vc || ' '", "l1": "'y'", "tx": "NULL", "lt": "''", "bn": "'\\x00'::bytea",
		"vb": "'\\x01'::bytea", "bl": "bl || '\\x00'::bytea", "en": "'a'", "st": "'{x}'", "js": `'{"a": null}'`,
	}
	for _, col := range slices.Sorted(maps.Keys(changes)) {
		t.Run("detects and repairs "+col, func(t *testing.T) {
			d.pgExec(t, fmt.Sprintf("UPDATE alltypes SET %s = %s WHERE id = 2", col, changes[col]))
			res, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{Repair: true})
			require.NoError(t, err)
			assert.Equal(t, []RowDiff{{Key: []string{"2"}, Kind: DiffDifferent, Columns: []string{col}}}, res.Diffs)
			assert.Equal(t, 1, res.Repaired)
			res, err = Verify(ctx, d.src, d.dst, m, VerifyOptions{})
			require.NoError(t, err)
			assert.Empty(t, res.Diffs, "after the repair")
		})
	}
}

func TestAllTypesErrorPolicies(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t, append([]string{allTypesDDL}, allTypesRows...)...)
	tests := []struct {
		name string
		tbl  config.Table
		p    Policies
		want string
	}{
		{"nul bytes", allTypesTable(), Policies{ZeroDates: ZeroDatesNull}, "table alltypes key id=2: column tx: value \"a\\x00b\": NUL byte in text"},
		{"zero dates", allTypesTable(), Policies{ZeroDates: ZeroDatesError, NulBytes: NulBytesStrip}, "table alltypes key id=1: column dtn: value \"0000-00-00\": zero date"},
		{"boolean not 0/1", config.Table{Name: "alltypes", Exclude: []string{"geom"}}, Policies{NulBytes: NulBytesStrip},
			"table alltypes key id=1: column b1s: value \"5\": a tinyint(1) column mapped to boolean holds a value other than 0 or 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadTableMap(ctx, d.src, d.schema, tt.tbl, tt.p)
			require.NoError(t, err)
			c, err := mySession(ctx, d.src)
			require.NoError(t, err)
			defer c.Close()
			rows, err := c.QueryContext(ctx, m.SelectSQL()+" ORDER BY id")
			require.NoError(t, err)
			defer rows.Close()
			cols := m.Copied()
			raw := make([]any, len(cols))
			for i := range raw {
				raw[i] = new([]byte)
			}
			var firstErr error
			for rows.Next() && firstErr == nil {
				require.NoError(t, rows.Scan(raw...))
				row := make([]any, len(m.Columns))
				for j, ci := range cols {
					row[ci] = *raw[j].(*[]byte)
				}
				for j, ci := range cols {
					if _, err := m.AppendCopyText(nil, ci, *raw[j].(*[]byte)); err != nil {
						firstErr = m.WithKey(err, row)
						break
					}
				}
			}
			require.Error(t, firstErr)
			assert.Contains(t, firstErr.Error(), tt.want)
		})
	}
}

func TestLoadTableMapRefusals(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE nokey (a int, b varchar(5))",
		"CREATE TABLE uniq (a int NOT NULL, b varchar(5), UNIQUE KEY ua (a))",
		"CREATE TABLE geo (id int PRIMARY KEY, geom geometry)",
	)
	tests := []struct {
		name string
		tbl  config.Table
		want string
	}{
		{"no primary key", config.Table{Name: "nokey"}, "table nokey: no primary key; name the columns of a unique not-null key with tables[].key"},
		{"key is not unique", config.Table{Name: "nokey", Key: []string{"a"}}, "table nokey: key (a) named in tables[].key is not a unique index of the table"},
		{"spatial", config.Table{Name: "geo"}, "table geo: column geom: spatial type geometry is not supported; exclude it with tables[].exclude"},
		{"missing table", config.Table{Name: "nope"}, "table " + d.schema + ".nope: not found in the source database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadTableMap(ctx, d.src, d.schema, tt.tbl, Policies{})
			require.EqualError(t, err, tt.want)
		})
	}
	t.Run("unique not-null key named", func(t *testing.T) {
		m, err := LoadTableMap(ctx, d.src, d.schema, config.Table{Name: "uniq", Key: []string{"a"}}, Policies{})
		require.NoError(t, err)
		assert.Equal(t, []string{"a"}, m.KeyColumns())
		assert.Contains(t, m.CreateTargetSQL()[0], `PRIMARY KEY ("a")`)
	})
	t.Run("spatial excluded", func(t *testing.T) {
		m, err := LoadTableMap(ctx, d.src, d.schema, config.Table{Name: "geo", Exclude: []string{"geom"}}, Policies{})
		require.NoError(t, err)
		assert.Equal(t, []int{0}, m.Copied())
	})
}

// sortDiffs orders diffs by their first key as a number.
func sortDiffs(d []RowDiff) {
	slices.SortFunc(d, func(a, b RowDiff) int {
		x, _ := new(big.Int).SetString(a.Key[0], 10)
		y, _ := new(big.Int).SetString(b.Key[0], 10)
		return x.Cmp(y)
	})
}

func TestVerifyListsAndRepairsDiffs(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE items (id int NOT NULL PRIMARY KEY, name varchar(20), price decimal(8,2), at datetime(6), score double, doc json, seen datetime)",
		"INSERT INTO items SELECT seq, CONCAT('item ', seq), seq / 4, TIMESTAMPADD(SECOND, seq, '2024-01-01'), seq / 3, "+
			"JSON_OBJECT('n', seq, 'tags', JSON_ARRAY('a', 'b')), TIMESTAMPADD(MINUTE, seq, '2024-01-01') FROM seq_1_to_3000",
	)
	m := d.copiedTable(t, config.Table{Name: "items"})
	opts := VerifyOptions{ChunkRows: 1000, LeafRows: 16}

	res, err := Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	require.Empty(t, res.Diffs, "identical tables")
	assert.EqualValues(t, 3000, res.SourceRows)
	assert.EqualValues(t, 3000, res.TargetRows)

	d.pgExec(t,
		"DELETE FROM items WHERE id IN (1, 1500)",
		"INSERT INTO items VALUES (5000, 'extra', 1, '2024-01-01', 1, '{}', NULL), (0, 'before', 1, '2024-01-01', 1, '{}', NULL)",
		"UPDATE items SET name = 'changed' WHERE id = 2000",
		"UPDATE items SET price = price + 0.01, at = at + interval '1 microsecond' WHERE id = 2999",
		"UPDATE items SET at = NULL WHERE id = 2500",   // NULL against a value: the marker is no date
		"UPDATE items SET seen = NULL WHERE id = 2600", // the same for whole seconds (NaN)
		`UPDATE items SET score = score + 1e-12, doc = '{"n": 7, "tags": ["a"]}' WHERE id = 7`,
		`UPDATE items SET doc = '{"tags": ["a", "b"], "n": 8.0}' WHERE id = 8`, // same JSON value, other text
	)
	res, err = Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	sortDiffs(res.Diffs)
	assert.Equal(t, []RowDiff{
		{Key: []string{"0"}, Kind: DiffExtra},
		{Key: []string{"1"}, Kind: DiffMissing},
		{Key: []string{"7"}, Kind: DiffDifferent, Columns: []string{"score", "doc"}},
		{Key: []string{"1500"}, Kind: DiffMissing},
		{Key: []string{"2000"}, Kind: DiffDifferent, Columns: []string{"name"}},
		{Key: []string{"2500"}, Kind: DiffDifferent, Columns: []string{"at"}},
		{Key: []string{"2600"}, Kind: DiffDifferent, Columns: []string{"seen"}},
		{Key: []string{"2999"}, Kind: DiffDifferent, Columns: []string{"price", "at"}},
		{Key: []string{"5000"}, Kind: DiffExtra},
	}, res.Diffs)
	assert.EqualValues(t, 3000, res.SourceRows)
	assert.EqualValues(t, 3000, res.TargetRows)

	opts.Repair = true
	res, err = Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	assert.Len(t, res.Diffs, 9)
	assert.Equal(t, 9, res.Repaired)

	opts.Repair = false
	res, err = Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	assert.Empty(t, res.Diffs, "repaired")
}

func TestVerifyCompositeTextKey(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	// A case-insensitive collation orders 'b' < 'C' in MySQL, while
	// PostgreSQL's "C" order puts 'C' first: verify compares in code point
	// order on both sides.
	d.mysqlExec(t,
		"CREATE TABLE kv (ns varchar(10) NOT NULL, k varchar(10) NOT NULL, v int, PRIMARY KEY (ns, k)) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_general_ci",
		"INSERT INTO kv SELECT ELT(1 + seq % 3, 'a', 'B', 'c'), CONCAT(CHAR(65 + seq % 26 + 32 * (seq % 2)), seq), seq FROM seq_1_to_2000",
	)
	m := d.copiedTable(t, config.Table{Name: "kv"})
	opts := VerifyOptions{ChunkRows: 300, LeafRows: 8}
	res, err := Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	require.Empty(t, res.Diffs)
	assert.EqualValues(t, 2000, res.TargetRows)

	d.pgExec(t, "UPDATE kv SET v = -1 WHERE ns = 'B' AND k = 'b1'", "DELETE FROM kv WHERE ns = 'c' AND k = 'C2'")
	res, err = Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	slices.SortFunc(res.Diffs, func(a, b RowDiff) int { return strings.Compare(a.Key[1], b.Key[1]) })
	assert.Equal(t, []RowDiff{
		{Key: []string{"c", "C2"}, Kind: DiffMissing},
		{Key: []string{"B", "b1"}, Kind: DiffDifferent, Columns: []string{"v"}},
	}, res.Diffs)
}

// TestVerifyTextKeyBuckets: a table keyed by text in a case-insensitive
// collation is checksummed by key hash bucket; a target missing a third of
// the rows, holding rows the source does not and differing in a double (a
// Go-compared column, so every bucket is read) is reported row by row.
func TestVerifyTextKeyBuckets(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE codes (code varchar(40) NOT NULL PRIMARY KEY, n int NOT NULL, score double) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_general_ci",
		"INSERT INTO codes SELECT CONCAT(IF(seq % 2, 'Ab-', 'aB-'), seq), seq, seq / 7 FROM seq_1_to_6000",
	)
	m := d.copiedTable(t, config.Table{Name: "codes"})
	res, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs)
	assert.EqualValues(t, 6000, res.SourceRows)
	assert.EqualValues(t, 6000, res.TargetRows)

	d.pgExec(t, "DELETE FROM codes WHERE n % 3 = 0", "INSERT INTO codes VALUES ('zz-1', 1, 1), ('ZZ-1', 1, 1)",
		"UPDATE codes SET score = score + 1e-9 WHERE code = 'Ab-5'", "UPDATE codes SET n = -n WHERE code = 'aB-10'")
	res, err = Verify(ctx, d.src, d.dst, m, VerifyOptions{})
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, df := range res.Diffs {
		kinds[df.Kind]++
		switch df.Key[0] {
		case "Ab-5":
			assert.Equal(t, RowDiff{Key: []string{"Ab-5"}, Kind: DiffDifferent, Columns: []string{"score"}}, df)
		case "aB-10":
			assert.Equal(t, RowDiff{Key: []string{"aB-10"}, Kind: DiffDifferent, Columns: []string{"n"}}, df)
		case "zz-1", "ZZ-1":
			assert.Equal(t, DiffExtra, df.Kind)
		}
	}
	assert.Equal(t, map[string]int{DiffMissing: 2000, DiffExtra: 2, DiffDifferent: 2}, kinds)
	assert.EqualValues(t, 4002, res.TargetRows)

	// The buckets that differ are read in groups of about bucketRows rows.
	assert.Equal(t, keyBuckets, bucketGroup(6000))
	assert.Equal(t, 1, bucketGroup(1_000_000_000))
	assert.Equal(t, 100000/244, bucketGroup(1_000_000))
}

// TestVerifyEnumKeyParts: MySQL orders an enum by its index and compares it
// with a string as text, so a key holding one is not cut into parts by its
// own order (with three parts, bounds taken in index order would overlap in
// text order and count rows twice).
func TestVerifyEnumKeyParts(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		// Index order mid, zeta, alpha: the bounds at a third and two
		// thirds, (zeta, ...) and (alpha, ...), are in reverse text order.
		"CREATE TABLE tagged (tag enum('mid','zeta','alpha') NOT NULL, n int NOT NULL, v int, PRIMARY KEY (tag, n))",
		"INSERT INTO tagged SELECT ELT(1 + seq % 3, 'mid', 'zeta', 'alpha'), seq, seq FROM seq_1_to_3000",
	)
	m := d.copiedTable(t, config.Table{Name: "tagged"})
	res, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{Workers: 3})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs)
	assert.EqualValues(t, 3000, res.SourceRows)
	assert.EqualValues(t, 3000, res.TargetRows)
}

// TestVerifyKeyOutOfScanOrder verifies by a unique key whose order is the
// reverse of the primary key's, so that MariaDB's table scan yields rows
// out of key order: the range digests differ at first, the rows are equal,
// and Verify checksums without order from then on, still finding a changed row.
func TestVerifyKeyOutOfScanOrder(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE rev (id int NOT NULL PRIMARY KEY, k int NOT NULL, v varchar(10), UNIQUE KEY (k))",
		"INSERT INTO rev SELECT seq, 5000 - seq, CONCAT('v', seq) FROM seq_1_to_2000",
	)
	m := d.copiedTable(t, config.Table{Name: "rev", Key: []string{"k"}})
	var logs bytes.Buffer
	opts := VerifyOptions{ChunkRows: 5000, LeafRows: 64, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	res, err := Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	require.Empty(t, res.Diffs)
	assert.EqualValues(t, 2000, res.SourceRows)
	assert.Contains(t, logs.String(), "out of key order", "the joined digests differed and Verify switched to the order-free checksum")

	d.pgExec(t, "UPDATE rev SET v = 'changed' WHERE k = 4000")
	res, err = Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	assert.Equal(t, []RowDiff{{Key: []string{"4000"}, Kind: DiffDifferent, Columns: []string{"v"}}}, res.Diffs)
}

// TestVerifyLongRowsCapChunk checks that long rows lower the rows per range
// so that a range's joined row texts stay near chunkBytes, and that such a
// table still verifies.
func TestVerifyLongRowsCapChunk(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE wide (id int NOT NULL PRIMARY KEY, body mediumtext)",
		"INSERT INTO wide SELECT seq, REPEAT('x', 100000) FROM seq_1_to_50",
	)
	m, err := LoadTableMap(ctx, d.src, d.schema, config.Table{Name: "wide"}, Policies{})
	require.NoError(t, err)
	c, err := mySession(ctx, d.src)
	require.NoError(t, err)
	defer c.Close()
	n, err := chunkRowsFor(ctx, c, newVerifySQL(m), 100000)
	require.NoError(t, err)
	var packet int64
	require.NoError(t, c.QueryRowContext(ctx, "SELECT @@max_allowed_packet").Scan(&packet))
	assert.InDelta(t, min(chunkBytes, packet/2)/100010, n, 5, "rows of about 100 kB, a range within half a packet")

	d.snapshotCopy(t, m)
	d.pgExec(t, "UPDATE wide SET body = body || 'y' WHERE id = 30")
	res, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []RowDiff{{Key: []string{"30"}, Kind: DiffDifferent, Columns: []string{"body"}}}, res.Diffs)
}

// TestVerifyRangeLongerThanPacket: the row sample sees short rows, the
// rows after it are long, so a range's joined texts outgrow MariaDB's
// max_allowed_packet, where GROUP_CONCAT cuts them; such a range is split
// until its halves fit, and a changed long row is still found.
func TestVerifyRangeLongerThanPacket(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE tall (id int NOT NULL PRIMARY KEY, body mediumtext)",
		"INSERT INTO tall SELECT seq, IF(seq <= 1000, CONCAT('short ', seq), REPEAT(CHAR(96 + seq % 26), 1000000)) FROM seq_1_to_1030",
	)
	require.Less(t, d.maxAllowedPacket(t), int64(30_000_000), "the long rows must not fit one packet")
	m := d.copiedTable(t, config.Table{Name: "tall"})

	res, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Diffs)
	assert.EqualValues(t, 1030, res.SourceRows)
	assert.EqualValues(t, 1030, res.TargetRows)

	d.pgExec(t, "UPDATE tall SET body = body || 'y' WHERE id = 1017")
	res, err = Verify(ctx, d.src, d.dst, m, VerifyOptions{})
	require.NoError(t, err)
	assert.Equal(t, []RowDiff{{Key: []string{"1017"}, Kind: DiffDifferent, Columns: []string{"body"}}}, res.Diffs)
	assert.EqualValues(t, 1030, res.SourceRows)
}

// TestVerifyRowLongerThanPacket: a row whose own text is longer than
// max_allowed_packet (a 9 MB blob is 18 MB of hex) cannot be checksummed on
// MariaDB, which makes it NULL with a warning; verify says so instead of
// comparing a checksum that left the row out.
func TestVerifyRowLongerThanPacket(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE blobs (id int NOT NULL PRIMARY KEY, b longblob)",
		"INSERT INTO blobs VALUES (1, 'small'), (2, REPEAT(0xAB, 9000000)), (3, 'small')",
	)
	require.Less(t, d.maxAllowedPacket(t), int64(18_000_000), "the row's hex must not fit one packet")
	m := d.copiedTable(t, config.Table{Name: "blobs"})
	_, err := Verify(ctx, d.src, d.dst, m, VerifyOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "checksumming the source range of keys from the first to the last: MariaDB warned: Warning 1301: Result of hex() was larger than max_allowed_packet")
}

// TestVerifySplitByValue: a single integer key is cut into ranges by value.
// Keys in two clusters far apart (up to the largest bigint unsigned) leave
// most ranges empty and a few full; every row is still compared, and rows
// outside the source's key span are found in the open end ranges.
func TestVerifySplitByValue(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	d.mysqlExec(t,
		"CREATE TABLE sparse (id bigint unsigned NOT NULL PRIMARY KEY, v int NOT NULL)",
		"INSERT INTO sparse SELECT seq, seq FROM seq_1_to_1000",
		"INSERT INTO sparse SELECT 18446744073709551615 - seq, seq FROM seq_0_to_999",
	)
	m := d.copiedTable(t, config.Table{Name: "sparse"})

	c, err := mySession(ctx, d.src)
	require.NoError(t, err)
	defer c.Close()
	bounds, ok, err := splitByValue(ctx, c, newVerifySQL(m), 200)
	require.NoError(t, err)
	require.True(t, ok)
	// About 2000 rows (the estimate) in ranges of 200: about ten equal
	// spans of 1..2^64-1.
	require.GreaterOrEqual(t, len(bounds), 5)
	prev := big.NewInt(1)
	for _, b := range bounds {
		x, ok := new(big.Int).SetString(b, 10)
		require.True(t, ok, b)
		require.Equal(t, 1, x.Cmp(prev), "bounds increase: %v", bounds)
		prev = x
	}
	span, _ := new(big.Int).SetString("18446744073709551615", 10)
	step := new(big.Int).Div(span, big.NewInt(int64(len(bounds)+1)))
	assert.Equal(t, step.String(), bounds[0], "the first span ends at 1 + step - 1")

	opts := VerifyOptions{ChunkRows: 200, LeafRows: 16}
	res, err := Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	assert.Empty(t, res.Diffs)
	assert.EqualValues(t, 2000, res.SourceRows)

	d.pgExec(t, "UPDATE sparse SET v = -1 WHERE id IN (500, 18446744073709551000)",
		"INSERT INTO sparse VALUES (0, 0)", "DELETE FROM sparse WHERE id = 18446744073709551615")
	res, err = Verify(ctx, d.src, d.dst, m, opts)
	require.NoError(t, err)
	sortDiffs(res.Diffs)
	assert.Equal(t, []RowDiff{
		{Key: []string{"0"}, Kind: DiffExtra},
		{Key: []string{"500"}, Kind: DiffDifferent, Columns: []string{"v"}},
		{Key: []string{"18446744073709551000"}, Kind: DiffDifferent, Columns: []string{"v"}},
		{Key: []string{"18446744073709551615"}, Kind: DiffMissing},
	}, res.Diffs)
}

// latin1Target creates a PostgreSQL database encoded in LATIN1 beside d's
// target and returns a pool on it and its DSN.
func latin1Target(t *testing.T, d *vdb) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := testCtx(t)
	name := "latin1_" + strings.ToLower(t.Name())
	d.pgExec(t, "DROP DATABASE IF EXISTS "+name,
		"CREATE DATABASE "+name+" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
	t.Cleanup(func() { _, _ = d.dst.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	cc := d.dst.Config().ConnConfig
	dsn := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cc.User, cc.Host, cc.Port, name)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, dsn
}

// TestNonUTF8TargetRefused: strangler writes and hashes UTF-8 text, so a
// target database in another encoding is refused, by name, by the
// pipeline's target connection and by verify.
func TestNonUTF8TargetRefused(t *testing.T) {
	d := newVDB(t)
	ctx := testCtx(t)
	latin, dsn := latin1Target(t, d)
	_, err := connectTarget(ctx, dsn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is encoded in LATIN1: strangler writes UTF-8 text and needs a database created with ENCODING 'UTF8'")
	assert.False(t, retryable(err), "the pipeline stops instead of retrying")

	d.mysqlExec(t, "CREATE TABLE words (id int NOT NULL PRIMARY KEY, w varchar(20))")
	m, err := LoadTableMap(ctx, d.src, d.schema, config.Table{Name: "words"}, Policies{})
	require.NoError(t, err)
	_, err = Verify(ctx, d.src, latin, m, VerifyOptions{})
	require.EqualError(t, err, "verifying words: the target database is encoded in LATIN1; verify compares UTF-8 text and needs a UTF8 database")
}
