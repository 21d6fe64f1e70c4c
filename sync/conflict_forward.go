package sync

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stranglerfig/strangler/internal/pgident"
)

// expect records, for the first change of each key in the batch, the row
// the source had before it (see conflict.go).
func (tb *tableBatch) expect(ec encodedChange) {
	if tb.exp == nil {
		tb.exp = map[string][]byte{}
	}
	expectFirst(tb.exp, ec.op, ec.oldKey, ec.key, ec.before)
}

// rule is the conflict policy of t, cached.
func (a *applier) rule(t *table) (*conflictRule, error) {
	if r, ok := a.rules[t]; ok {
		return r, nil
	}
	r, err := a.both.conflictRule(t.m)
	if err != nil {
		return nil, permanent(err)
	}
	if a.rules == nil {
		a.rules = map[*table]*conflictRule{}
	}
	a.rules[t] = r
	return r, nil
}

// resolveConflicts finds the keys of b whose target row is neither what the
// source had before the batch nor already the batch's version, and drops
// the changes that lose (conflict.go). One COPY and one query per table.
func (a *applier) resolveConflicts(ctx context.Context, tx pgx.Tx, b *batch) error {
	for _, tb := range b.order {
		if len(tb.exp) == 0 {
			continue
		}
		t := tb.t
		r, err := a.rule(t)
		if err != nil {
			return err
		}
		cmpTmp := pgIdent(pgident.Name("strangler_stage", strconv.Itoa(t.idx), strconv.Itoa(t.gen), "cmp"))
		if !a.made[cmpTmp] {
			s := fmt.Sprintf(`CREATE TEMP TABLE IF NOT EXISTS %s ON COMMIT DELETE ROWS AS SELECT 0::int AS strangler_n, ''::text AS strangler_side, %s FROM %s WITH NO DATA`, cmpTmp, t.cols, t.target)
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("creating the conflict staging table for %s: %w", t.target, err)
			}
			a.made[cmpTmp] = true
		}
		var buf []byte
		keys := make([]string, 0, len(tb.exp))
		for key, before := range tb.exp {
			n := strconv.Itoa(len(keys))
			after := tb.ups[key]
			if before == nil && after == nil {
				// Inserted and deleted in the batch: the key is not known
				// as a row on either side.
				continue
			}
			keys = append(keys, key)
			if before != nil {
				buf = append(append(append(buf, n...), "\tb\t"...), before...)
			}
			if after != nil {
				buf = append(append(append(buf, n...), "\ta\t"...), after...)
			}
		}
		if len(keys) == 0 {
			continue
		}
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf), fmt.Sprintf("COPY %s (strangler_n, strangler_side, %s) FROM STDIN", cmpTmp, t.cols)); err != nil {
			return fmt.Errorf("staging %d before images for %s: %w", len(keys), t.target, err)
		}
		// The target rows are locked first: a change the new service makes
		// between the comparison and the write would be overwritten.
		if _, err := tx.Exec(ctx, t.lockSQL(cmpTmp)); err != nil {
			return fmt.Errorf("locking the rows of %s to compare them: %w", t.target, err)
		}
		rows, err := tx.Query(ctx, t.conflictSQL(cmpTmp, r))
		if err != nil {
			return fmt.Errorf("looking for conflicts in %s: %w", t.target, err)
		}
		type found struct {
			n                          int
			incoming, current, differs *string
			newer                      int
		}
		var conflicts []found
		for rows.Next() {
			var f found
			if err := rows.Scan(&f.n, &f.incoming, &f.current, &f.newer, &f.differs); err != nil {
				rows.Close()
				return fmt.Errorf("reading the conflicts in %s: %w", t.target, err)
			}
			conflicts = append(conflicts, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("looking for conflicts in %s: %w", t.target, err)
		}
		for _, f := range conflicts {
			if f.n < 0 || f.n >= len(keys) {
				continue
			}
			key := keys[f.n]
			c := conflict{key: strings.ReplaceAll(key, "\t", ", "), newer: f.newer}
			if f.incoming != nil {
				c.incoming = *f.incoming
			}
			if f.current != nil {
				c.current = *f.current
			}
			if f.differs != nil {
				c.differs = *f.differs
			}
			// Both sides updated the row (f.differs: it was there before
			// and is there now): the columns that add up take both changes.
			adds := len(r.add) > 0 && f.differs != nil && f.incoming != nil
			if adds {
				c.adds = r.addNames(t.m)
			}
			win := a.both.resolve(r, c)
			if adds {
				if _, err := tx.Exec(ctx, t.addSQL(cmpTmp, r, win), f.n); err != nil {
					return fmt.Errorf("adding up the changes of %s key %s: %w", t.target, c.key, err)
				}
			}
			if adds || !win {
				delete(tb.ups, key)
				delete(tb.dels, key)
			}
		}
		if _, err := tx.Exec(ctx, "TRUNCATE "+cmpTmp); err != nil {
			return fmt.Errorf("emptying the conflict staging table for %s: %w", t.target, err)
		}
	}
	return nil
}

// addSQL updates the target row of staged key $1 with both changes of the
// columns that add up (the current value plus the arriving change, after
// minus before; where one of them is NULL, the winner's value) and, when
// the arriving version wins, its other columns.
func (t *table) addSQL(cmp string, r *conflictRule, win bool) string {
	isKey := map[int]bool{}
	var join []string
	for _, j := range t.keyPos {
		isKey[t.copied[j]] = true
		c := pgIdent(t.m.Columns[t.copied[j]].Target)
		join = append(join, "cur."+c+" = a."+c)
	}
	var set []string
	for _, ci := range t.copied {
		if isKey[ci] {
			continue
		}
		c := pgIdent(t.m.Columns[ci].Target)
		winner := "cur." + c
		if win {
			winner = "a." + c
		}
		switch {
		case r.adds(ci):
			set = append(set, fmt.Sprintf("%[1]s = CASE WHEN cur.%[1]s IS NULL OR a.%[1]s IS NULL OR b.%[1]s IS NULL THEN %[2]s ELSE cur.%[1]s + (a.%[1]s - b.%[1]s) END", c, winner))
		case win:
			set = append(set, c+" = a."+c)
		}
	}
	return fmt.Sprintf("UPDATE %s AS cur SET %s FROM %s a, %s b WHERE a.strangler_n = $1 AND a.strangler_side = 'a' AND b.strangler_n = $1 AND b.strangler_side = 'b' AND %s",
		t.target, strings.Join(set, ", "), cmp, cmp, strings.Join(join, " AND "))
}

// lockSQL locks the target rows of the keys staged in cmp.
func (t *table) lockSQL(cmp string) string {
	var join, order []string
	for _, j := range t.keyPos {
		c := pgIdent(t.m.Columns[t.copied[j]].Target)
		join = append(join, "cur."+c+" = k."+c)
		order = append(order, "cur."+c)
	}
	return fmt.Sprintf("SELECT 1 FROM %s cur JOIN %s k ON %s ORDER BY %s FOR UPDATE OF cur", t.target, cmp, strings.Join(join, " AND "), strings.Join(order, ", "))
}

// conflictSQL is the query that lists the conflicting keys staged in cmp:
// their number, the arriving version and the target's (JSON, NULL for a
// deleted row), and how the timestamps of the two compare.
func (t *table) conflictSQL(cmp string, r *conflictRule) string {
	var keyCols, join, keyJoinK []string
	for _, j := range t.keyPos {
		c := pgIdent(t.m.Columns[t.copied[j]].Target)
		keyCols = append(keyCols, c)
		join = append(join, "cur."+c+" = k."+c)
		keyJoinK = append(keyJoinK, c)
	}
	rowText := func(alias string) string {
		var parts []string
		for _, ci := range t.copied {
			parts = append(parts, alias+"."+pgIdent(t.m.Columns[ci].Target)+"::text")
		}
		return "ROW(" + strings.Join(parts, ", ") + ")"
	}
	var differs []string
	for _, ci := range t.copied {
		c := pgIdent(t.m.Columns[ci].Target)
		differs = append(differs, fmt.Sprintf("CASE WHEN cur.%s::text IS DISTINCT FROM b.%s::text THEN %s END", c, c, pgString(t.m.Columns[ci].Target)))
	}
	// A row already equal to the arriving version has it, unless columns
	// add up: two equal changes of a counter are two changes.
	sameAfterOnly := ""
	if len(r.add) > 0 {
		sameAfterOnly = "AND b.strangler_n IS NULL "
	}
	k1 := keyCols[0]
	newer := "0"
	if r.newest {
		c := pgIdent(t.m.Columns[r.column].Target)
		newer = fmt.Sprintf("CASE WHEN a.%s > cur.%s THEN 1 WHEN a.%s < cur.%s THEN -1 ELSE 0 END", c, c, c, c)
	}
	return fmt.Sprintf(`SELECT k.strangler_n,
	CASE WHEN a.strangler_n IS NULL THEN NULL ELSE (to_jsonb(a) - 'strangler_n' - 'strangler_side')::text END,
	CASE WHEN cur.%[1]s IS NULL THEN NULL ELSE to_jsonb(cur)::text END,
	%[2]s,
	CASE WHEN b.strangler_n IS NULL OR cur.%[1]s IS NULL THEN NULL ELSE concat_ws(', ', %[10]s) END
FROM (SELECT DISTINCT ON (strangler_n) strangler_n, %[3]s FROM %[4]s ORDER BY strangler_n) k
LEFT JOIN %[5]s cur ON %[6]s
LEFT JOIN %[4]s b ON b.strangler_n = k.strangler_n AND b.strangler_side = 'b'
LEFT JOIN %[4]s a ON a.strangler_n = k.strangler_n AND a.strangler_side = 'a'
WHERE NOT (
	(b.strangler_n IS NULL AND cur.%[1]s IS NULL)
	OR (b.strangler_n IS NOT NULL AND cur.%[1]s IS NOT NULL AND %[7]s IS NOT DISTINCT FROM %[8]s)
	OR (a.strangler_n IS NULL AND cur.%[1]s IS NULL)
	OR (a.strangler_n IS NOT NULL %[11]sAND cur.%[1]s IS NOT NULL AND %[7]s IS NOT DISTINCT FROM %[9]s))`,
		k1, newer, strings.Join(keyJoinK, ", "), cmp, t.target, strings.Join(join, " AND "),
		rowText("cur"), rowText("b"), rowText("a"), strings.Join(differs, ", "), sameAfterOnly)
}
