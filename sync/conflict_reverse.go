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
// drops the changes that lose (conflict.go). One statement per chunk of
// keys reads the rows FOR UPDATE, so that the legacy application cannot
// change them between the comparison and the write, and tells which equal
// their key's before image; a row that does not (rare) is looked at again
// alone, for the rest.
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
		present := make(map[int]bool, len(keys)) // the row is there
		same := make(map[int]bool, len(keys))    // and equals the before image
		jsonCols := t.goCompared(a.mariadb)
		for start := 0; start < len(keys); {
			q, end := t.compareSQL(keys, start, a.maxStmt/2, tb.exp, a.mariadb)
			rows, err := tx.QueryContext(ctx, q)
			if err != nil {
				return fmt.Errorf("looking for conflicts in %s: %w", t.legacy, err)
			}
			for rows.Next() {
				var i int
				var sb bool
				raw := make([]sql.RawBytes, len(jsonCols))
				dest := []any{&i, &sb}
				for n := range raw {
					dest = append(dest, &raw[n])
				}
				if err := rows.Scan(dest...); err != nil {
					rows.Close()
					return fmt.Errorf("reading the conflicts in %s: %w", t.legacy, err)
				}
				if i < start || i >= end {
					continue
				}
				for n, j := range jsonCols {
					if before := tb.exp[keys[i]]; before != nil && !jsonColumnEqual(before, j, raw[n]) {
						sb = false
					}
				}
				present[i], same[i] = true, sb
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("looking for conflicts in %s: %w", t.legacy, err)
			}
			start = end
		}
		for i, k := range keys {
			before, after := tb.exp[k], tb.ups[k]
			if before == nil && !present[i] || before != nil && present[i] && same[i] || after == nil && !present[i] {
				continue
			}
			c := conflict{key: strings.Trim(k, "()")}
			if present[i] {
				var sameAfter bool
				var err error
				if c, sameAfter, err = a.lookAgain(ctx, tx, t, k, before, after); err != nil {
					return err
				}
				if sameAfter && (before == nil || len(t.rule.add) == 0) {
					continue // already the arriving version (unless it adds up: two equal changes of a counter are two)
				}
			}
			if after != nil {
				c.incoming = t.describe(after)
			}
			// Both sides updated the row: the columns that add up take both
			// changes.
			adds := len(t.rule.add) > 0 && before != nil && after != nil && present[i]
			if adds {
				c.adds = t.rule.addNames(t.m)
			}
			win := a.both.resolve(t.rule, c)
			if adds {
				if _, err := tx.ExecContext(ctx, t.addSQL(k, before, after, win)); err != nil {
					return fmt.Errorf("adding up the changes of %s key %s: %w", t.legacy, c.key, err)
				}
			}
			if adds || !win {
				delete(tb.ups, k)
				delete(tb.dels, k)
			}
		}
	}
	return nil
}

// compareKeys bounds the keys of one comparison statement: MySQL looks a
// row's key up in its CASE list one branch after the other.
const compareKeys = 100

// compareSQL is the statement that reads, FOR UPDATE, the MySQL rows of
// keys[start:end] (end: as many as fit in maxBytes, at most compareKeys)
// and gives for each its number and whether it equals its key's before
// image (and, on MariaDB, its JSON columns, compared in Go).
func (t *revTable) compareSQL(keys []string, start, maxBytes int, exp map[string]*revRow, mariadb bool) (string, int) {
	kc := t.keyColumnList()
	when := " WHEN " + kc + " = "
	head := "CASE"
	if len(t.keyPos) == 1 {
		when, head = " WHEN ", "CASE "+kc
	}
	var num, sb, in strings.Builder
	end := start
	for ; end < len(keys) && end-start < compareKeys && (end == start || num.Len()+sb.Len() < maxBytes); end++ {
		k := keys[end]
		fmt.Fprintf(&num, "%s%s THEN %d", when, k, end)
		sb.WriteString(when + k + " THEN " + t.sameSQL(exp[k], mariadb))
		if end > start {
			in.WriteString(", ")
		}
		in.WriteString(k)
	}
	var raw strings.Builder
	for _, j := range t.goCompared(mariadb) {
		raw.WriteString(", " + t.colNames[j])
	}
	q := fmt.Sprintf("SELECT %s%s ELSE -1 END, %s%s ELSE FALSE END%s FROM %s WHERE %s IN (%s) FOR UPDATE",
		head, num.String(), head, sb.String(), raw.String(), t.legacy, kc, in.String())
	return q, end
}

// lookAgain reads the MySQL row of key k, which is not the before image:
// the row as JSON, the columns in which it differs from before, whether
// it is already the after image, and how the timestamps compare.
func (a *revApplier) lookAgain(ctx context.Context, tx *sql.Tx, t *revTable, k string, before, after *revRow) (conflict, bool, error) {
	c := conflict{key: strings.Trim(k, "()")}
	var obj []string
	for j := range t.copied {
		obj = append(obj, mysqlString(strings.Trim(t.colNames[j], "`")), t.colNames[j])
	}
	differs := "''"
	if before != nil {
		var names []string
		for j, p := range t.equalParts(before, a.mariadb) {
			if p != "" {
				names = append(names, "IF("+p+", NULL, "+mysqlString(strings.Trim(t.colNames[j], "`"))+")")
			}
		}
		if len(names) > 0 {
			differs = "CONCAT_WS(', ', " + strings.Join(names, ", ") + ")"
		}
	}
	jsonCols := t.goCompared(a.mariadb)
	var raw strings.Builder
	for _, j := range jsonCols {
		raw.WriteString(", " + t.colNames[j])
	}
	q := fmt.Sprintf("SELECT JSON_OBJECT(%s), %s, %s, %s%s FROM %s WHERE %s = %s",
		strings.Join(obj, ", "), differs, t.sameSQL(after, a.mariadb), t.newerSQL(after), raw.String(), t.legacy, t.keyColumnList(), k)
	var cur sql.NullString
	var sameAfter bool
	vals := make([]sql.RawBytes, len(jsonCols))
	dest := []any{&cur, &c.differs, &sameAfter, &c.newer}
	for n := range vals {
		dest = append(dest, &vals[n])
	}
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return c, false, fmt.Errorf("reading the row of %s key %s: %w", t.legacy, c.key, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return c, false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return c, false, fmt.Errorf("reading the row of %s key %s: %w", t.legacy, c.key, err)
	}
	c.current = cur.String
	for n, j := range jsonCols {
		if before != nil && !jsonColumnEqual(before, j, vals[n]) {
			c.differs = strings.TrimPrefix(c.differs+", "+strings.Trim(t.colNames[j], "`"), ", ")
		}
		if after != nil && !jsonColumnEqual(after, j, vals[n]) {
			sameAfter = false
		}
	}
	return c, sameAfter, rows.Err()
}

// addSQL updates the MySQL row of key k with both changes of the columns
// that add up (its value plus the arriving change, after minus before;
// where one of them is NULL, the winner's value) and, when the arriving
// version wins, its other columns.
func (t *revTable) addSQL(k string, before, after *revRow, win bool) string {
	isKey := map[int]bool{}
	for _, j := range t.keyPos {
		isKey[j] = true
	}
	var set []string
	for j, ci := range t.copied {
		a, b := after.lits[j], before.lits[j]
		if isKey[j] || a == nil {
			continue
		}
		c := t.colNames[j]
		winner := c
		if win {
			winner = string(a)
		}
		switch {
		case t.rule.adds(ci) && b != nil:
			set = append(set, fmt.Sprintf("%[1]s = IF(%[1]s IS NULL OR %[2]s IS NULL OR %[3]s IS NULL, %[4]s, %[1]s + (%[2]s - %[3]s))", c, a, b, winner))
		case win:
			set = append(set, c+" = "+string(a))
		}
	}
	if len(set) == 0 {
		set = append(set, t.colNames[t.keyPos[0]]+" = "+t.colNames[t.keyPos[0]])
	}
	return "UPDATE " + t.legacy + " SET " + strings.Join(set, ", ") + " WHERE " + t.keyColumnList() + " = " + k
}

// equalParts are the comparisons of each column of r with the MySQL row
// ("" for a column r does not carry, or one compared in Go).
func (t *revTable) equalParts(r *revRow, mariadb bool) []string {
	parts := make([]string, len(t.copied))
	for j, ci := range t.copied {
		if r.lits[j] != nil && !t.comparedInGo(ci, mariadb) { // else not sent (MySQL keeps its value), or compared in Go
			parts[j] = equalSQL(t.colNames[j], string(r.lits[j]), t.m.Columns[ci].kind, mariadb)
		}
	}
	return parts
}

// sameSQL is whether the MySQL row equals r (nil: no row: FALSE).
func (t *revTable) sameSQL(r *revRow, mariadb bool) string {
	if r == nil {
		return "FALSE"
	}
	var parts []string
	for _, p := range t.equalParts(r, mariadb) {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "TRUE"
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// newerSQL compares the timestamp column of after with the MySQL row's:
// 1 later, -1 earlier, 0 neither.
func (t *revTable) newerSQL(after *revRow) string {
	if after == nil {
		return "0"
	}
	for j, ci := range t.copied {
		if ci == t.rule.column && after.lits[j] != nil {
			l, c := string(after.lits[j]), t.colNames[j]
			return fmt.Sprintf("(CASE WHEN %s > %s THEN 1 WHEN %s < %s THEN -1 ELSE 0 END)", l, c, l, c)
		}
	}
	return "0"
}

// comparedInGo reports a column a conflict check compares in Go rather
// than in SQL: JSON on MariaDB (see jsonColumnEqual).
func (t *revTable) comparedInGo(ci int, mariadb bool) bool {
	return mariadb && t.m.Columns[ci].kind == kindJSON
}

// goCompared are the positions in copied of the columns compared in Go.
func (t *revTable) goCompared(mariadb bool) []int {
	var out []int
	for j, ci := range t.copied {
		if t.comparedInGo(ci, mariadb) {
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
func mysqlString(s string) string { return "'" + mysqlEscaper.Replace(s) + "'" }

var mysqlEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`)

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
