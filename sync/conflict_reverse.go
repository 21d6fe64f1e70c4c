package sync

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// expect records, for the first change of each key in the batch, the row
// PostgreSQL had before it (see conflict.go).
func (tb *revTableBatch) expect(c revChange) {
	if tb.exp == nil {
		tb.exp = map[string]*revRow{}
	}
	expectFirst(tb.exp, c.op, c.oldKey, c.key, c.before)
}

// resolveConflicts finds the keys of b whose MySQL row is neither what
// PostgreSQL had before the batch nor already the batch's version, and
// drops the changes that lose (conflict.go). The rows are locked first,
// so that the legacy application cannot change them between the
// comparison and the write.
func (a *revApplier) resolveConflicts(ctx context.Context, tx *sql.Tx, b *revBatch) error {
	for _, tb := range b.order {
		t := tb.t
		if len(tb.exp) == 0 || t.rule == nil {
			continue
		}
		keys := make([]string, 0, len(tb.exp))
		for k, before := range tb.exp {
			if before == nil && tb.ups[k] == nil {
				continue // inserted and deleted in the batch
			}
			keys = append(keys, k)
		}
		if len(keys) == 0 {
			continue
		}
		slices.Sort(keys)
		type state struct {
			present, sameBefore, sameAfter bool
			current, differs               string
			newer                          int
		}
		found := make(map[int]state, len(keys))
		for start := 0; start < len(keys); {
			var lock, cmp strings.Builder
			lock.WriteString("SELECT COUNT(*) FROM " + t.legacy + " WHERE " + t.keyColumnList() + " IN (")
			end := start
			for ; end < len(keys) && (end == start || cmp.Len() < a.maxStmt/2); end++ {
				if end > start {
					lock.WriteString(", ")
					cmp.WriteString(" UNION ALL ")
				}
				lock.WriteString(keys[end])
				cmp.WriteString(t.compareSQL(end, keys[end], tb.exp[keys[end]], tb.ups[keys[end]], a.mariadb))
			}
			lock.WriteString(") FOR UPDATE")
			var n int
			if err := tx.QueryRowContext(ctx, lock.String()).Scan(&n); err != nil {
				return fmt.Errorf("locking the rows of %s to compare them: %w", t.legacy, err)
			}
			rows, err := tx.QueryContext(ctx, cmp.String())
			if err != nil {
				return fmt.Errorf("looking for conflicts in %s: %w", t.legacy, err)
			}
			jsonCols := t.goCompared(a.mariadb)
			for rows.Next() {
				var i int
				var st state
				var cur, differs sql.NullString
				raw := make([]sql.RawBytes, len(jsonCols))
				dest := []any{&i, &cur, &st.sameBefore, &st.sameAfter, &st.newer, &differs}
				for n := range raw {
					dest = append(dest, &raw[n])
				}
				if err := rows.Scan(dest...); err != nil {
					rows.Close()
					return fmt.Errorf("reading the conflicts in %s: %w", t.legacy, err)
				}
				st.present, st.current, st.differs = true, cur.String, differs.String
				k := keys[i]
				var names []string
				for n, j := range jsonCols {
					if before := tb.exp[k]; before != nil && !jsonColumnEqual(before, j, raw[n]) {
						st.sameBefore = false
						names = append(names, strings.Trim(t.colNames[j], "`"))
					}
					if after := tb.ups[k]; after != nil && !jsonColumnEqual(after, j, raw[n]) {
						st.sameAfter = false
					}
				}
				if len(names) > 0 {
					st.differs = strings.Join(append(strings.Split(st.differs, ", "), names...), ", ")
					st.differs = strings.TrimPrefix(st.differs, ", ")
				}
				found[i] = st
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("looking for conflicts in %s: %w", t.legacy, err)
			}
			start = end
		}
		for i, k := range keys {
			before, after := tb.exp[k], tb.ups[k]
			st := found[i]
			if before == nil && !st.present || before != nil && st.present && st.sameBefore ||
				after == nil && !st.present || after != nil && st.present && st.sameAfter {
				continue
			}
			c := conflict{key: strings.Trim(k, "()"), current: st.current, newer: st.newer, differs: st.differs}
			if after != nil {
				c.incoming = t.describe(after)
			}
			if !a.both.resolve(t.rule, c) {
				delete(tb.ups, k)
				delete(tb.dels, k)
			}
		}
	}
	return nil
}

// compareSQL selects, for key k (number n), the MySQL row as JSON and
// whether it equals the before image and the after image (nil: none).
func (t *revTable) compareSQL(n int, k string, before, after *revRow, mariadb bool) string {
	inGo := map[int]bool{}
	var raw []string
	for _, j := range t.goCompared(mariadb) {
		inGo[j] = true
		raw = append(raw, ", "+t.colNames[j])
	}
	equal := func(r *revRow) []string {
		parts := make([]string, len(t.copied))
		for j, ci := range t.copied {
			if r.lits[j] != nil && !inGo[j] { // else not sent (MySQL keeps its value), or compared in Go
				parts[j] = equalSQL(t.colNames[j], string(r.lits[j]), t.m.Columns[ci].kind, mariadb)
			}
		}
		return parts
	}
	same := func(r *revRow) string {
		if r == nil {
			return "FALSE"
		}
		var parts []string
		for _, p := range equal(r) {
			if p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 {
			return "TRUE"
		}
		return "(" + strings.Join(parts, " AND ") + ")"
	}
	differs := "NULL"
	if before != nil {
		var names []string
		for j, p := range equal(before) {
			if p != "" {
				names = append(names, "IF("+p+", NULL, "+mysqlString(strings.Trim(t.colNames[j], "`"))+")")
			}
		}
		if len(names) > 0 {
			differs = "CONCAT_WS(', ', " + strings.Join(names, ", ") + ")"
		}
	}
	var obj []string
	for j := range t.copied {
		obj = append(obj, mysqlString(strings.Trim(t.colNames[j], "`")), t.colNames[j])
	}
	newer := "0"
	if r := t.rule; r.newest && after != nil {
		for j, ci := range t.copied {
			if ci == r.column && after.lits[j] != nil {
				l, c := string(after.lits[j]), t.colNames[j]
				newer = fmt.Sprintf("CASE WHEN %s > %s THEN 1 WHEN %s < %s THEN -1 ELSE 0 END", l, c, l, c)
			}
		}
	}
	return fmt.Sprintf("SELECT %d, JSON_OBJECT(%s), %s, %s, %s, %s%s FROM %s WHERE %s = %s",
		n, strings.Join(obj, ", "), same(before), same(after), newer, differs, strings.Join(raw, ""), t.legacy, t.keyColumnList(), k)
}

// goCompared are the positions in copied of the columns a conflict check
// compares in Go rather than in SQL: JSON on MariaDB.
func (t *revTable) goCompared(mariadb bool) []int {
	if !mariadb {
		return nil
	}
	var out []int
	for j, ci := range t.copied {
		if t.m.Columns[ci].kind == kindJSON {
			out = append(out, j)
		}
	}
	return out
}

// jsonColumnEqual compares the JSON of column j of r (what PostgreSQL
// sent) with MySQL's stored text, as JSON values: key order, spacing and
// escapes aside, numbers by value. A column r does not carry is equal.
func jsonColumnEqual(r *revRow, j int, stored sql.RawBytes) bool {
	if r.lits[j] == nil {
		return true
	}
	sent, ok := r.json[j]
	if !ok || stored == nil {
		return !ok && stored == nil
	}
	return jsonEqual(sent, stored)
}

// equalSQL compares a MySQL column with a literal the way the column's
// type compares: a FLOAT at single precision, JSON as JSON, NULL equal to
// NULL.
func equalSQL(col, lit string, k kind, mariadb bool) string {
	switch {
	case k == kindFloat:
		return col + " <=> CAST(" + lit + " AS FLOAT)"
	case k == kindJSON && mariadb:
		return "(" + col + " IS NULL AND " + lit + " IS NULL OR JSON_EQUALS(" + col + ", " + lit + ") <=> 1)"
	case k == kindJSON:
		return col + " <=> CAST(" + lit + " AS JSON)"
	}
	return col + " <=> " + lit
}

// describe writes a row of literals as col=value pairs, for the log.
func (t *revTable) describe(r *revRow) string {
	var parts []string
	for j, l := range r.lits {
		if l != nil {
			parts = append(parts, strings.Trim(t.colNames[j], "`")+"="+string(l))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// mysqlString is a MySQL string literal.
func mysqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// jsonEqual reports whether two JSON texts hold the same value: objects
// by their members, arrays in order, numbers by value, strings after
// their escapes. Text that does not parse compares byte for byte.
func jsonEqual(a, b []byte) bool {
	va, errA := decodeJSONValue(a)
	vb, errB := decodeJSONValue(b)
	if errA != nil || errB != nil {
		return bytes.Equal(a, b)
	}
	return sameJSONValue(va, vb)
}

func decodeJSONValue(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("trailing data after a JSON value")
	}
	return v, nil
}

func sameJSONValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameJSONValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSONValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, okx := new(big.Rat).SetString(string(x))
		ry, oky := new(big.Rat).SetString(string(y))
		if !okx || !oky {
			return x == y
		}
		return rx.Cmp(ry) == 0
	default:
		return a == b
	}
}
