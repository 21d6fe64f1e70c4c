package recipes

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/sync"
)

const syncTypesRecipe = "testdata/recipes/synctypes.yaml"

// syncTypesSource is the MySQL table synctypes.yaml serves, one column per
// target type sync creates, as information_schema describes it.
var syncTypesSource = []sync.SourceColumn{
	{Name: "id", ColumnType: "bigint(20) unsigned", DataType: "bigint"},
	{Name: "tiny", ColumnType: "tinyint(4)", DataType: "tinyint", Nullable: true},
	{Name: "flag", ColumnType: "tinyint(1)", DataType: "tinyint", Nullable: true},
	{Name: "u16", ColumnType: "smallint(5) unsigned", DataType: "smallint", Nullable: true},
	{Name: "u32", ColumnType: "int(10) unsigned", DataType: "int", Nullable: true},
	{Name: "big", ColumnType: "bigint(20)", DataType: "bigint", Nullable: true},
	{Name: "amount", ColumnType: "decimal(10,2)", DataType: "decimal", Precision: 10, Scale: 2, Nullable: true},
	{Name: "ratio", ColumnType: "float", DataType: "float", Nullable: true},
	{Name: "dbl", ColumnType: "double", DataType: "double", Nullable: true},
	{Name: "bit1", ColumnType: "bit(1)", DataType: "bit", Precision: 1, Nullable: true},
	{Name: "bit5", ColumnType: "bit(5)", DataType: "bit", Precision: 5, Nullable: true},
	{Name: "day", ColumnType: "date", DataType: "date", Nullable: true},
	{Name: "wall", ColumnType: "datetime(6)", DataType: "datetime", FSP: 6, Nullable: true},
	{Name: "at", ColumnType: "timestamp(3)", DataType: "timestamp", FSP: 3, Nullable: true},
	{Name: "span", ColumnType: "time", DataType: "time", Nullable: true},
	{Name: "span6", ColumnType: "time(6)", DataType: "time", FSP: 6, Nullable: true},
	{Name: "yr", ColumnType: "year(4)", DataType: "year", Nullable: true},
	{Name: "name", ColumnType: "varchar(20)", DataType: "varchar", CharLen: 20, Charset: "utf8mb4", Nullable: true},
	{Name: "body", ColumnType: "text", DataType: "text", CharLen: 65535, Charset: "utf8mb4", Nullable: true},
	{Name: "raw", ColumnType: "varbinary(16)", DataType: "varbinary", CharLen: 16, Nullable: true},
	{Name: "kind", ColumnType: "enum('a','b')", DataType: "enum", Charset: "utf8mb4", Nullable: true},
	{Name: "tags", ColumnType: "set('x','y','z')", DataType: "set", Charset: "utf8mb4", Nullable: true},
	{Name: "doc", ColumnType: "json", DataType: "json", Nullable: true},
}

// syncTypesDDL creates the target table as sync would: each column's type
// from sync.MapColumn, the enum's CHECK, the key.
func syncTypesDDL(t *testing.T) string {
	t.Helper()
	var defs []string
	kinds := map[string]bool{}
	for _, sc := range syncTypesSource {
		c, err := sync.MapColumn("sync_types", sc, "", sync.Policies{})
		require.NoError(t, err)
		kinds[c.Kind()] = true
		def := pgx.Identifier{c.Target}.Sanitize() + " " + c.TargetType
		if !c.Nullable {
			def += " NOT NULL"
		}
		if c.Kind() == "enum" {
			def += " CHECK (" + pgx.Identifier{c.Target}.Sanitize() + " IN ('', 'a', 'b'))"
		}
		defs = append(defs, def)
	}
	for _, k := range []string{"int", "uint", "bool", "decimal", "float", "double", "bit1", "bit", "date", "datetime",
		"timestamp", "time", "year", "text", "binary", "enum", "set", "json"} {
		require.True(t, kinds[k], "the table has a column of kind %s", k)
	}
	return "CREATE TABLE sync_types (" + strings.Join(defs, ", ") + ", PRIMARY KEY (id))"
}

// syncTypesEnv serves synctypes.yaml, in the shape edit makes of it, over
// the table sync creates. Migrate must find every column compatible.
func syncTypesEnv(t *testing.T, edit func(string) string) *env {
	t.Helper()
	pool := openPool(t, dbtest.Postgres(t))
	_, err := pool.Exec(testCtx(t), syncTypesDDL(t))
	require.NoError(t, err)
	data, err := os.ReadFile(syncTypesRecipe)
	require.NoError(t, err)
	text := string(data)
	if edit != nil {
		text = edit(text)
	}
	r, err := Parse("synctypes.yaml", []byte(text))
	require.NoError(t, err)
	m, err := Migrate(testCtx(t), pool, r)
	require.NoError(t, err)
	assert.Empty(t, m.Applied, "the recipe serves the table as sync created it")
	return newEnvOn(t, r, pool)
}

// edgeRow holds the edge values of every type; first is the row written,
// then as it is answered.
const edgeRow = `{"id": 18446744073709551615, "tiny": -32768, "flag": true, "u16": 65535, "u32": 4294967295,
	"big": -9223372036854775808, "amount": "-99999999.99", "ratio": 3.5, "dbl": -2.5e-7, "bit1": false, "bit5": "10101",
	"day": "2026-02-28", "wall": "2026-01-02T10:00:00.000001+02:00", "at": "2026-01-02T10:00:00.123Z",
	"span": "-838:59:59", "span6": "-00:00:00.000001", "yr": 2155, "name": "héllo wörld", "body": "text",
	"raw": "AGEA//4=", "kind": "b", "tags": ["z", "x"], "doc": {"a": [1, null]}}`

const edgeAnswer = `{"data":{"id":18446744073709551615,"tiny":-32768,"flag":true,"u16":65535,"u32":4294967295,` +
	`"big":-9223372036854775808,"amount":-99999999.99,"ratio":3.5,"dbl":-0.00000025,"bit1":false,"bit5":"10101",` +
	`"day":"2026-02-28","wall":"2026-01-02T08:00:00.000001Z","at":"2026-01-02T10:00:00.123Z",` +
	`"span":"-838:59:59","span6":"-00:00:00.000001","yr":2155,"name":"héllo wörld","body":"text",` +
	`"raw":"AGEA//4=","kind":"b","tags":["x","z"],"doc":{"a": [1, null]}}}` // jsonb's text

// TestSyncTargetTypesRoundTrip writes, reads and lists edge values of every
// column type sync creates through a recipe, and checks what PostgreSQL
// holds.
func TestSyncTargetTypesRoundTrip(t *testing.T) {
	e := syncTypesEnv(t, nil)
	_, body := e.must(201, "POST", "/rows", edgeRow)
	assert.Equal(t, edgeAnswer, body, "every value exactly, the unsigned key not as a float")
	_, body = e.must(200, "GET", "/rows/18446744073709551615", nil)
	assert.Equal(t, edgeAnswer, body)

	_, body = e.must(201, "POST", "/rows", `{"id": 0, "span": "838:59:59", "span6": "838:59:59.000000", "bit5": "00000",
		"raw": "", "tags": [], "wall": "0001-01-01T00:00:00Z"}`)
	assert.Contains(t, body, `"span":"838:59:59","span6":"838:59:59.000000"`)
	assert.Contains(t, body, `"raw":"","kind":null,"tags":[],`)
	_, body = e.must(201, "POST", "/rows", `{"id": 7, "tags": ["y", "x", "z"], "raw": "AAAA", "span": "1:02:03", "span6": "12:34:56.5"}`)
	assert.Contains(t, body, `"span":"01:02:03","span6":"12:34:56.500000"`)
	assert.Contains(t, body, `"raw":"AAAA","kind":null,"tags":["x","y","z"]`)

	var (
		id, span, bits, tags string
		raw                  []byte
		wall                 string
		emptyTags            bool
	)
	require.NoError(t, e.pool.QueryRow(testCtx(t), `SELECT id::text, span::text, bit5::text, raw, tags::text, wall::text
		FROM sync_types WHERE id = 18446744073709551615`).Scan(&id, &span, &bits, &raw, &tags, &wall))
	assert.Equal(t, "18446744073709551615", id)
	assert.Equal(t, "-838:59:59", span)
	assert.Equal(t, "10101", bits)
	assert.Equal(t, []byte("\x00a\x00\xff\xfe"), raw, "bytes with NULs, exactly")
	assert.Equal(t, "{x,z}", tags, "set members in the order MySQL writes them")
	assert.Equal(t, "2026-01-02 08:00:00.000001", wall, "a timestamp without time zone holds the UTC wall clock")
	require.NoError(t, e.pool.QueryRow(testCtx(t), `SELECT tags = '{}' AND raw = ''::bytea FROM sync_types WHERE id = 0`).Scan(&emptyTags))
	assert.True(t, emptyTags, "the empty set is an empty array, not NULL")

	t.Run("list and filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			ids   string
		}{
			{"span=-838:59:59", `[18446744073709551615]`},
			{"span[gt]=00:00:00", `[0,7]`},
			{"span6=12:34:56.5", `[7]`},
			{"bit5=10101", `[18446744073709551615]`},
			{"raw=" + url.QueryEscape("AGEA//4="), `[18446744073709551615]`},
			{"raw=AGEA__4", `[18446744073709551615]`},
			{"wall=2026-01-02T08:00:00.000001Z", `[18446744073709551615]`},
			{"wall=" + url.QueryEscape("2026-01-02T10:00:00.000001+02:00"), `[18446744073709551615]`},
			{"id[gt]=18446744073709551614", `[18446744073709551615]`},
			{"sort=-span", `[0,7,18446744073709551615]`},
			{"sort=raw", `[0,7,18446744073709551615]`},
		} {
			_, body := e.must(200, "GET", "/rows?"+tc.query, nil)
			assert.JSONEq(t, tc.ids, listIDs(t, body), tc.query)
		}
		_, body := e.must(200, "GET", "/rows?limit=1&offset=2", nil)
		assert.Contains(t, body, `"tags":["x","z"]`)
	})
	t.Run("patch and replace", func(t *testing.T) {
		_, body := e.must(200, "PATCH", "/rows/7", `{"tags": [], "span": null, "bit5": "11111"}`)
		assert.Contains(t, body, `"bit5":"11111"`)
		assert.Contains(t, body, `"span":null`)
		assert.Contains(t, body, `"tags":[]`)
		_, body = e.must(200, "PUT", "/rows/18446744073709551615", edgeRow)
		assert.Equal(t, edgeAnswer, body)
	})
	t.Run("named query", func(t *testing.T) {
		_, body := e.must(200, "GET", "/spans?from=00:00:00", nil)
		assert.JSONEq(t, `{"data":[{"span":"838:59:59","span6":"838:59:59","bit5":"00000","raw":"","tags":[]},`+
			`{"span":null,"span6":"12:34:56.5","bit5":"11111","raw":"AAAA","tags":[]}]}`, body)
	})
	t.Run("bad values are refused naming the field", func(t *testing.T) {
		for _, tc := range []struct {
			name         string
			method, path string
			body         string
			status       int
			field, msg   string
		}{
			{"time over the range", "POST", "/rows", `{"id": 1, "span": "839:00:00"}`, 422, "span", "outside MySQL's TIME range"},
			{"time under the range", "POST", "/rows", `{"id": 1, "span6": "-838:59:59.000001"}`, 422, "span6", "outside MySQL's TIME range"},
			{"time with digits fsp 0 drops", "POST", "/rows", `{"id": 1, "span": "12:00:00.5"}`, 422, "span", "more than 0 fractional digits"},
			{"time in another form", "POST", "/rows", `{"id": 1, "span": "12h"}`, 422, "span", "not a time in the form"},
			{"time as a number", "PATCH", "/rows/7", `{"span": 12}`, 422, "span", "expected a string"},
			{"bits too short", "POST", "/rows", `{"id": 1, "bit5": "1010"}`, 422, "bit5", "has 4 bits; the field holds exactly 5"},
			{"bits not binary digits", "POST", "/rows", `{"id": 1, "bit5": "10201"}`, 422, "bit5", "not a bit string"},
			{"binary not base64", "POST", "/rows", `{"id": 1, "raw": "not base64!"}`, 422, "raw", "not base64"},
			{"binary as an array", "POST", "/rows", `{"id": 1, "raw": [0, 1]}`, 422, "raw", "expected a string"},
			{"set member twice", "POST", "/rows", `{"id": 1, "tags": ["x", "x"]}`, 422, "tags", `holds "x" twice`},
			{"set member unknown", "PATCH", "/rows/7", `{"tags": ["w"]}`, 422, "tags", "must be one of x, y, z"},
			{"set as a string", "POST", "/rows", `{"id": 1, "tags": "x"}`, 422, "tags", "expected an array of strings"},
			{"set of numbers", "POST", "/rows", `{"id": 1, "tags": [1]}`, 422, "tags", "item 0: expected a string"},
			{"set member with NUL", "POST", "/rows", `{"id": 1, "tags": ["x\u0000"]}`, 422, "tags", "NUL"},
			{"unsigned key beyond 20 digits", "POST", "/rows", `{"id": 123456789012345678901}`, 422, "id", "more than 20 digits"},
			{"unsigned key negative", "POST", "/rows", `{"id": -1}`, 422, "id", "at least 0"},
			{"enum member unknown", "POST", "/rows", `{"id": 1, "kind": "c"}`, 422, "kind", "must be one of a, b"},
			{"smallint over its range", "POST", "/rows", `{"id": 1, "tiny": 32768}`, 422, "tiny", "the column is smallint"},
			{"time filter", "GET", "/rows?span=noon", "", 400, "span", "not a time"},
			{"bits filter", "GET", "/rows?bit5=12", "", 400, "bit5", "not a bit string"},
			{"binary filter", "GET", "/rows?raw=%21%21", "", 400, "raw", "not base64"},
			{"time query parameter", "GET", "/spans?from=900:00:00", "", 400, "from", "outside MySQL's TIME range"},
			{"key not a number", "GET", "/rows/abc", "", 404, "", "not a decimal number"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.count("sync_types")
				var body any
				if tc.body != "" {
					body = tc.body
				}
				resp, text := e.do(tc.method, tc.path, body)
				require.Equal(t, tc.status, resp.StatusCode, text)
				assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				var p Problem
				require.NoError(t, json.Unmarshal([]byte(text), &p), text)
				if tc.field == "" {
					assert.Contains(t, p.Detail, tc.msg, text)
				} else {
					require.Len(t, p.Errors, 1, text)
					assert.Equal(t, tc.field, p.Errors[0].Field, text)
					assert.Contains(t, p.Errors[0].Message, tc.msg, text)
				}
				assert.Equal(t, before, e.count("sync_types"), "a refused request writes nothing")
			})
		}
	})
}

// TestSyncTargetTypesShaped writes the same row in another shape: decimals
// as strings, camelCase, nulls omitted, booleans as 1/0.
func TestSyncTargetTypesShaped(t *testing.T) {
	e := syncTypesEnv(t, func(s string) string {
		return strings.Replace(s, "resources:\n", "shape: {decimals: string, casing: camel, nulls: omit, booleans: int, envelope: bare}\nresources:\n", 1)
	})
	_, body := e.must(201, "POST", "/rows", `{"id": "18446744073709551615", "bit1": 1, "span6": "-00:00:00.000001", "tags": [], "amount": 12}`)
	assert.Equal(t, `{"id":"18446744073709551615","amount":"12.00","bit1":1,"span6":"-00:00:00.000001","tags":[]}`, body)
	_, body = e.must(200, "GET", "/rows/18446744073709551615", nil)
	assert.Equal(t, `{"id":"18446744073709551615","amount":"12.00","bit1":1,"span6":"-00:00:00.000001","tags":[]}`, body)
}

// listIDs extracts the ids of a list answer, as JSON.
func listIDs(t *testing.T, body string) string {
	t.Helper()
	var got struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	ids := make([]string, len(got.Data))
	for i, row := range got.Data {
		ids[i] = string(row["id"])
	}
	return "[" + strings.Join(ids, ",") + "]"
}

// TestMigrateCreatesSyncTypes: the columns Migrate creates for the types
// that hold a sync target type exactly are the types sync creates, and the
// defaults of the new types are valid SQL of their columns.
func TestMigrateCreatesSyncTypes(t *testing.T) {
	ctx := testCtx(t)
	pool := openPool(t, dbtest.Postgres(t))
	r, err := Load(syncTypesRecipe)
	require.NoError(t, err)
	_, err = Migrate(ctx, pool, r)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, "CREATE SCHEMA synced; SET search_path = synced; "+syncTypesDDL(t)+"; SET search_path = public")
	require.NoError(t, err)
	columnTypes := func(schema string) map[string]string {
		rows, err := pool.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
			JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = 'sync_types' AND a.attnum > 0`, schema)
		require.NoError(t, err)
		out := map[string]string{}
		for rows.Next() {
			var name, typ string
			require.NoError(t, rows.Scan(&name, &typ))
			out[name] = typ
		}
		require.NoError(t, rows.Err())
		return out
	}
	migrated, synced := columnTypes("public"), columnTypes("synced")
	for _, col := range []string{"id", "amount", "bit5", "day", "span", "span6", "raw", "tags", "doc"} {
		assert.Equal(t, synced[col], migrated[col], col)
	}
	assert.Equal(t, "numeric(20,0)", migrated["id"])
	assert.Equal(t, "interval(0)", migrated["span"])

	withDefaults := `
service: defaults
resources:
  - name: thing
    fields:
      - {name: id, type: integer, generated: true}
      - {name: span, type: time, fsp: 3, default: "-1:02:03.5"}
      - {name: flags, type: bits, length: 4, default: "0110"}
      - {name: raw, type: binary, default: "AP8="}
      - {name: tags, type: set, enum: [x, y, z], default: "z,x"}
      - {name: none, type: set, default: "[]"}
      - {name: json_form, type: set, default: '["y", "x"]'}
endpoints:
  - {method: GET, path: "/things/{id}", resource: thing, action: get}
`
	d, err := Parse("defaults.yaml", []byte(withDefaults))
	require.NoError(t, err)
	_, err = Migrate(ctx, pool, d)
	require.NoError(t, err)
	var span, flags, tags, none, jsonForm string
	var raw []byte
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO thing DEFAULT VALUES RETURNING span::text, flags::text, raw, tags::text, none::text, json_form::text`).
		Scan(&span, &flags, &raw, &tags, &none, &jsonForm))
	assert.Equal(t, []string{"-01:02:03.5", "0110", "\x00\xff", "{x,z}", "{}", "{y,x}"}, []string{span, flags, string(raw), tags, none, jsonForm})
}

// binaryKeyRecipe keys files by their bytes (a MySQL binary(16) key, say)
// and relates parts to them.
const binaryKeyRecipe = `
service: files
shape: {pagination: cursor, default_limit: 1}
resources:
  - name: file
    key: hash
    fields:
      - {name: hash, type: binary}
      - {name: name, type: string}
    relations:
      - {name: parts, resource: part, field: file_hash, kind: many}
  - name: part
    fields:
      - {name: id, type: integer, generated: true}
      - {name: file_hash, type: binary}
    relations:
      - {name: file, resource: file, field: file_hash}
endpoints:
  - {method: GET, path: /files, resource: file, action: list}
  - {method: GET, path: "/files/{hash}", resource: file, action: get, embed: [parts]}
  - {method: POST, path: /files, resource: file, action: create}
  - {method: PATCH, path: "/files/{hash}", resource: file, action: patch}
  - {method: DELETE, path: "/files/{hash}", resource: file, action: delete}
  - {method: POST, path: /parts, resource: part, action: create}
  - {method: GET, path: "/parts/{id}", resource: part, action: get, embed: [file]}
`

// TestBinaryKey serves a resource keyed by bytes whose base64 holds '+'
// and '/': paths, Location and cursors use the URL-safe alphabet, bodies
// the standard one, and embeds match the bytes.
func TestBinaryKey(t *testing.T) {
	r, err := Parse("files.yaml", []byte(binaryKeyRecipe))
	require.NoError(t, err)
	e := newEnv(t, r)
	resp, body := e.must(201, "POST", "/files", `{"hash": "+/8A", "name": "a"}`)
	assert.Equal(t, "/files/-_8A", resp.Header.Get("Location"))
	assert.Equal(t, `{"data":{"hash":"+/8A","name":"a"}}`, body)
	e.must(201, "POST", "/files", `{"hash": "AAAA", "name": "zeros"}`)
	e.must(409, "POST", "/files", `{"hash": "-_8A", "name": "same bytes"}`)
	e.must(201, "POST", "/parts", `{"file_hash": "+/8A"}`)
	e.must(201, "POST", "/parts", `{"file_hash": "-_8A"}`)

	_, body = e.must(200, "GET", "/files/-_8A", nil)
	assert.Equal(t, `{"data":{"hash":"+/8A","name":"a","parts":[{"id":1,"file_hash":"+/8A"},{"id":2,"file_hash":"+/8A"}]}}`, body)
	_, body = e.must(200, "GET", "/parts/2", nil)
	assert.Equal(t, `{"data":{"id":2,"file_hash":"+/8A","file":{"hash":"+/8A","name":"a"}}}`, body)
	_, body = e.must(200, "PATCH", "/files/-_8A", `{"hash": "+/8A", "name": "b"}`)
	assert.Contains(t, body, `"name":"b"`, "the key may be echoed back in either alphabet")
	e.must(422, "PATCH", "/files/-_8A", `{"hash": "AAAA"}`)
	e.must(404, "GET", "/files/-_8B", nil)

	resp, body = e.must(200, "GET", "/files", nil)
	assert.Contains(t, body, `"hash":"AAAA"`, "bytes order: 00 00 00 first")
	cursor := resp.Header.Get("X-Next-Cursor")
	require.NotEmpty(t, cursor)
	_, body = e.must(200, "GET", "/files?cursor="+cursor, nil)
	assert.Contains(t, body, `"hash":"+/8A"`)
	e.must(204, "DELETE", "/files/AAAA", nil)
	assert.Equal(t, 1, e.count("file"))
}
