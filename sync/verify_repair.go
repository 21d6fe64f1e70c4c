package sync

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stranglerfig/strangler/internal/pgident"
)

// goCanon normalises a float, double or json text so that the same value
// read from either side gives the same string: floats as the shortest
// text of their float64 value, JSON with sorted object keys, numbers as
// exact rationals and no insignificant white space.
func goCanon(c Column, s string) (string, error) {
	switch c.kind {
	case kindFloat, kindDouble:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "", fmt.Errorf("not a number: %q", s)
		}
		if f == 0 {
			f = 0 // -0 and 0 are the same value
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	case kindJSON:
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return "", fmt.Errorf("not JSON: %w", err)
		}
		var b bytes.Buffer
		if err := canonJSON(&b, v); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	return s, nil
}

func canonJSON(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			b.Write(kb)
			b.WriteByte(':')
			if err := canonJSON(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := canonJSON(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return fmt.Errorf("not a JSON number: %s", x)
		}
		b.WriteString(r.RatString())
	default:
		eb, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Write(eb)
	}
	return nil
}

// repairBatch is the number of keys looked up per statement.
const repairBatch = 200

// repair rewrites the differing rows in one target transaction: missing and
// different rows are read from the source and upserted through a temporary
// table filled by COPY; extra rows are deleted.
func repair(ctx context.Context, src *sql.DB, dst *pgxpool.Pool, v *verifySQL, diffs []RowDiff) (int, error) {
	m := v.m
	var upsert, extra [][]string
	for _, d := range diffs {
		if d.Kind == DiffExtra {
			extra = append(extra, d.Key)
		} else {
			upsert = append(upsert, d.Key)
		}
	}
	my, err := mySession(ctx, src)
	if err != nil {
		return 0, err
	}
	defer my.Close()
	// Read the source rows first, outside the target transaction.
	var copyText []byte
	rowsRead := 0
	for batch := range slices.Chunk(upsert, repairBatch) {
		q, args := myKeyLookup(v, batch)
		rows, err := my.QueryContext(ctx, m.SelectSQL()+q, args...)
		if err != nil {
			return 0, fmt.Errorf("reading source rows: %w", err)
		}
		n := len(m.copied)
		raw := make([]sql.RawBytes, n)
		ptrs := make([]any, n)
		for i := range raw {
			ptrs[i] = &raw[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return 0, fmt.Errorf("reading source rows: %w", err)
			}
			row := make([]any, len(m.Columns))
			for j, ci := range m.copied {
				if j > 0 {
					copyText = append(copyText, '\t')
				}
				var val []byte
				if raw[j] != nil {
					val = append([]byte{}, raw[j]...)
				}
				row[ci] = val
				copyText, err = m.AppendCopyText(copyText, ci, val)
				if err != nil {
					rows.Close()
					return 0, m.WithKey(err, row)
				}
			}
			copyText = append(copyText, '\n')
			rowsRead++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("reading source rows: %w", err)
		}
	}
	tx, err := dst.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("beginning the target transaction: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	done := 0
	if rowsRead > 0 {
		n, err := upsertRows(ctx, tx, m, copyText)
		if err != nil {
			return 0, err
		}
		done += n
	}
	for batch := range slices.Chunk(extra, repairBatch) {
		q, args := pgKeyLookup(v, batch)
		tag, err := tx.Exec(ctx, "DELETE FROM "+m.TargetTable()+q, args...)
		if err != nil {
			return 0, fmt.Errorf("deleting extra target rows: %w", err)
		}
		done += int(tag.RowsAffected())
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("committing the repair: %w", err)
	}
	return done, nil
}

// upsertRows COPYs rows into a temporary table and upserts them.
func upsertRows(ctx context.Context, tx pgx.Tx, m *TableMap, copyText []byte) (int, error) {
	tmp := pgIdent(pgident.Name("strangler_repair", m.Target))
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+tmp+" (LIKE "+m.TargetTable()+") ON COMMIT DROP"); err != nil {
		return 0, fmt.Errorf("creating the repair table: %w", err)
	}
	cols := m.TargetColumns()
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(copyText), "COPY "+tmp+" ("+cols+") FROM STDIN"); err != nil {
		return 0, fmt.Errorf("copying source rows: %w", err)
	}
	var keys, sets []string
	for _, k := range m.Key {
		keys = append(keys, pgIdent(m.Columns[k].Target))
	}
	for _, i := range m.copied {
		if !slices.Contains(m.Key, i) {
			t := pgIdent(m.Columns[i].Target)
			sets = append(sets, t+" = EXCLUDED."+t)
		}
	}
	action := "DO NOTHING"
	if len(sets) > 0 {
		action = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	tag, err := tx.Exec(ctx, "INSERT INTO "+m.TargetTable()+" ("+cols+") SELECT "+cols+" FROM "+tmp+
		" ON CONFLICT ("+strings.Join(keys, ", ")+") "+action)
	if err != nil {
		return 0, fmt.Errorf("upserting source rows: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// myKeyLookup is " WHERE (k = ? ...) OR ..." for keys on MySQL.
func myKeyLookup(v *verifySQL, keys [][]string) (string, []any) {
	var ors []string
	var args []any
	for _, k := range keys {
		var ands []string
		for i, c := range v.keys {
			ands = append(ands, myKey(c)+" = "+myParam(c))
			args = append(args, k[i])
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return " WHERE " + strings.Join(ors, " OR "), args
}

// pgKeyLookup is " WHERE (k = $1 ...) OR ..." for keys on PostgreSQL.
func pgKeyLookup(v *verifySQL, keys [][]string) (string, []any) {
	var ors []string
	var args []any
	for _, k := range keys {
		var ands []string
		for i, c := range v.keys {
			args = append(args, k[i])
			ands = append(ands, pgKey(c)+" = "+pgParam(c, len(args)))
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return " WHERE " + strings.Join(ors, " OR "), args
}
