package recipes

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// querier runs a query: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// filterOps maps the operators of ?field[op]=value to SQL.
var filterOps = map[string]string{"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

// sqlArgs accumulates bound arguments and hands out their placeholders.
type sqlArgs []any

func (a *sqlArgs) add(v any) string {
	*a = append(*a, bindValue(v))
	return "$" + strconv.Itoa(len(*a))
}

func (s *Service) list(q *request) *Problem {
	t, sh, e := q.t, q.shape(), q.e
	var where []string
	var args sqlArgs
	var bad []fieldProblem
	for _, name := range e.params {
		f := t.res.fieldByParam(name)
		v, err := f.parseText(q.r.PathValue(name), sh)
		if err != nil {
			return problem(http.StatusNotFound, fmt.Sprintf("path parameter %s: %v", name, err))
		}
		if msg := t.fitsRead(fieldIndex(t.res, f), v); msg != "" {
			return problem(http.StatusNotFound, fmt.Sprintf("path parameter %s: %s", name, msg))
		}
		where = append(where, t.cols[fieldIndex(t.res, f)]+" = "+args.add(v))
	}
	query := q.r.URL.Query()
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable SQL text per filter combination keeps pgx's statement cache warm
	limit, offset, cursor, sortSpec := sh.DefaultLimit, 0, "", ""
	for _, k := range keys {
		vals := query[k]
		if len(vals) > 1 {
			bad = append(bad, fieldProblem{Field: k, Message: "is given more than once"})
			continue
		}
		v := vals[0]
		switch {
		case k == "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > sh.MaxLimit {
				bad = append(bad, fieldProblem{Field: k, Message: fmt.Sprintf("must be an integer from 1 to %d", sh.MaxLimit)})
			}
			limit = n
		case k == "offset" && sh.Pagination == "offset":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				bad = append(bad, fieldProblem{Field: k, Message: "must be an integer of at least 0"})
			}
			offset = n
		case k == "cursor" && sh.Pagination == "cursor":
			cursor = v
		case k == "sort" && len(e.Sort) > 0:
			sortSpec = v
		default:
			cond, p := filterCondition(t, e, sh, k, v, &args)
			if p != nil {
				bad = append(bad, *p)
				continue
			}
			where = append(where, cond)
		}
	}
	order, p := sortOrder(t, e, sortSpec)
	if p != nil {
		bad = append(bad, *p)
	}
	if cursor != "" {
		if kv, err := t.parseCursor(cursor, sh); err != nil {
			bad = append(bad, fieldProblem{Field: "cursor", Message: "is not a cursor this service handed out"})
		} else {
			cols, vals := make([]string, len(t.keys)), make([]string, len(t.keys))
			for i, k := range t.keys {
				cols[i], vals[i] = t.cols[k], args.add(kv[i])
			}
			if len(cols) == 1 {
				where = append(where, cols[0]+" > "+vals[0])
			} else {
				where = append(where, "("+strings.Join(cols, ", ")+") > ("+strings.Join(vals, ", ")+")")
			}
		}
	}
	if len(bad) > 0 {
		return problem(http.StatusBadRequest, "invalid query parameters", bad...)
	}
	withTotal := sh.Pagination == "offset" && slices.Contains(sh.Meta, "total")
	var b strings.Builder
	b.WriteString("SELECT " + t.selects)
	if withTotal {
		b.WriteString(", count(*) OVER ()")
	}
	b.WriteString(" FROM " + t.name)
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY " + order)
	fetch := limit
	if sh.Pagination == "cursor" {
		fetch = limit + 1
	}
	b.WriteString(" LIMIT " + args.add(int64(fetch)))
	if offset > 0 {
		b.WriteString(" OFFSET " + args.add(int64(offset)))
	}
	ctx := q.r.Context()
	rows, err := s.db.Query(ctx, b.String(), args...)
	if err != nil {
		return q.internal("listing "+t.res.Name, err)
	}
	var out []row
	var total int64 = -1
	for rows.Next() {
		r, err := t.scanRow(rows)
		if err != nil {
			rows.Close()
			return q.internal("listing "+t.res.Name, err)
		}
		if withTotal {
			total, _ = r.extra.(int64)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return q.internal("listing "+t.res.Name, err)
	}
	meta := &listMeta{limit: limit, offset: offset, total: total}
	if withTotal && total < 0 && offset == 0 {
		meta.total = 0
	} else if withTotal && total < 0 {
		if total, err = s.count(ctx, t, where, args[:len(args)-1-btoi(offset > 0)]); err != nil {
			return q.internal("counting "+t.res.Name, err)
		}
		meta.total = total
	}
	if sh.Pagination == "cursor" && len(out) > limit {
		out = out[:limit]
		meta.nextCursor = t.cursorOf(out[limit-1])
	}
	embeds, err := s.loadEmbeds(ctx, s.db, q, out)
	if err != nil {
		return q.internal("loading related rows", err)
	}
	// Headers carry the page's meta too, for bare answers that have no meta.
	if meta.nextCursor != "" {
		q.w.Header().Set("X-Next-Cursor", meta.nextCursor)
	}
	if withTotal {
		q.w.Header().Set("X-Total-Count", strconv.FormatInt(meta.total, 10))
	}
	w := &writer{shape: sh}
	w.envelopeOpen()
	w.b.WriteByte('[')
	for i, r := range out {
		if i > 0 {
			w.b.WriteByte(',')
		}
		w.object(t, r, embeds)
	}
	w.b.WriteByte(']')
	w.envelopeClose(meta)
	q.reply(http.StatusOK, w.b.Bytes())
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Service) count(ctx context.Context, t *table, where []string, args []any) (int64, error) {
	sql := "SELECT count(*) FROM " + t.name
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	n, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
	return n, err
}

func fieldIndex(res *Resource, f *Field) int {
	for i := range res.Fields {
		if &res.Fields[i] == f {
			return i
		}
	}
	return -1
}

// filterCondition turns ?name=v or ?name[op]=v into a condition on a
// declared filter field.
func filterCondition(t *table, e *Endpoint, sh *Shape, k, v string, args *sqlArgs) (string, *fieldProblem) {
	name, op := k, "eq"
	if i := strings.IndexByte(k, '['); i > 0 && strings.HasSuffix(k, "]") {
		name, op = k[:i], k[i+1:len(k)-1]
	}
	var f *Field
	for _, fname := range e.Filters {
		if cand := t.res.field(fname); cand != nil && cand.JSON == name {
			f = cand
		}
	}
	if f == nil {
		known := make([]string, 0, len(e.Filters))
		for _, fname := range e.Filters {
			known = append(known, t.res.field(fname).JSON)
		}
		return "", &fieldProblem{Field: k, Message: "is not a known query parameter (filters: " + strings.Join(known, ", ") + ")"}
	}
	sqlOp, ok := filterOps[op]
	if !ok {
		return "", &fieldProblem{Field: k, Message: "unknown operator " + op + " (eq, ne, gt, gte, lt, lte)"}
	}
	col := t.cols[fieldIndex(t.res, f)]
	if v == "null" && f.Nullable && (op == "eq" || op == "ne") {
		if op == "eq" {
			return col + " IS NULL", nil
		}
		return col + " IS NOT NULL", nil
	}
	val, err := f.parseText(v, sh)
	if err != nil {
		return "", &fieldProblem{Field: k, Message: err.Error()}
	}
	if msg := t.fitsRead(fieldIndex(t.res, f), val); msg != "" {
		return "", &fieldProblem{Field: k, Message: msg}
	}
	if f.Type == TypeUUID {
		col += "::text"
	}
	return col + " " + sqlOp + " " + args.add(val), nil
}

// sortOrder turns ?sort=-total,id into an ORDER BY list ending with the key.
func sortOrder(t *table, e *Endpoint, spec string) (string, *fieldProblem) {
	var parts []string
	keyed := map[int]bool{}
	if spec != "" {
		for _, item := range strings.Split(spec, ",") {
			dir := " ASC"
			if strings.HasPrefix(item, "-") {
				dir, item = " DESC", item[1:]
			}
			var f *Field
			for _, fname := range e.Sort {
				if cand := t.res.field(fname); cand != nil && cand.JSON == item {
					f = cand
				}
			}
			if f == nil {
				return "", &fieldProblem{Field: "sort", Message: fmt.Sprintf("%q is not a sortable field", item)}
			}
			i := fieldIndex(t.res, f)
			keyed[i] = true
			parts = append(parts, t.name+"."+t.cols[i]+dir) // qualified: the select list has casts named like the columns
		}
	}
	for _, k := range t.keys {
		if !keyed[k] {
			parts = append(parts, t.name+"."+t.cols[k]+" ASC")
		}
	}
	return strings.Join(parts, ", "), nil
}

// loadEmbeds reads the related rows of the endpoint's embedded relations.
func (s *Service) loadEmbeds(ctx context.Context, db querier, q *request, rows []row) ([]embedded, error) {
	if len(q.e.Embed) == 0 || len(rows) == 0 {
		return nil, nil
	}
	var out []embedded
	for _, name := range q.e.Embed {
		rel := q.t.res.relation(name)
		target := q.rt.tables[rel.Resource]
		em := embedded{rel: rel, target: target, many: rel.Kind == "many", rows: map[any]row{}, lists: map[any][]row{}}
		src, col := 0, target.cols[target.key] // kind one: our field's values, matched on the target's key
		if em.many {
			em.field = fieldIndex(target.res, target.res.field(rel.Field))
			src, col = q.t.key, target.cols[em.field] // many: our keys, matched on the target's field
		} else {
			em.field = fieldIndex(q.t.res, q.t.res.field(rel.Field))
			src = em.field
		}
		var ints []int64
		var bins [][]byte
		var strs []string
		seen := map[any]bool{}
		for _, r := range rows {
			v := r.vals[src]
			if v == nil || seen[v] {
				continue
			}
			seen[v] = true
			switch x := v.(type) {
			case int64:
				ints = append(ints, x)
			case blob:
				bins = append(bins, []byte(x))
			default:
				strs = append(strs, keyText(x))
			}
		}
		var arg any = ints
		switch {
		case ints != nil:
		case bins != nil:
			arg = bins // bytea compares as bytes; its text form is not the key's
		default:
			arg, col = strs, col+"::text"
		}
		if len(seen) == 0 {
			out = append(out, em)
			continue
		}
		rs, err := db.Query(ctx, "SELECT "+target.selects+" FROM "+target.name+" WHERE "+col+" = ANY($1) ORDER BY "+
			target.name+"."+target.cols[target.key], arg)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", target.name, err)
		}
		for rs.Next() {
			r, err := target.scanRow(rs)
			if err != nil {
				rs.Close()
				return nil, err
			}
			if em.many {
				fk := r.vals[em.field]
				em.lists[fk] = append(em.lists[fk], r)
			} else {
				em.rows[r.vals[target.key]] = r
			}
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", target.name, err)
		}
		out = append(out, em)
	}
	return out, nil
}

// readOne reads the row with key from db, locking it when lock is set.
func readOne(ctx context.Context, db querier, t *table, key []any, lock bool) (row, bool, error) {
	var args sqlArgs
	sql := "SELECT " + t.selects + " FROM " + t.name + " WHERE " + t.keyWhere(key, &args)
	if lock {
		sql += " FOR UPDATE"
	}
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return row{}, false, fmt.Errorf("reading %s: %w", t.name, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return row{}, false, rows.Err()
	}
	r, err := t.scanRow(rows)
	return r, err == nil, err
}

// pathKey reads the key from the path of a get, replace, patch or delete:
// one path parameter per key field.
func (q *request) pathKey() ([]any, *Problem) {
	key := make([]any, len(q.t.keys))
	for i, k := range q.t.keys {
		name := q.e.keyParams[i]
		v, err := q.t.res.Fields[k].parseText(q.r.PathValue(name), q.shape())
		if err != nil {
			return nil, problem(http.StatusNotFound, fmt.Sprintf("no %s %q: %v", q.t.res.Name, q.r.PathValue(name), err))
		}
		if msg := q.t.fitsRead(k, v); msg != "" {
			return nil, problem(http.StatusNotFound, fmt.Sprintf("no %s %q: it %s", q.t.res.Name, q.r.PathValue(name), msg))
		}
		key[i] = v
	}
	return key, nil
}

// cursorOf is the cursor of the page after row r: its key, in base64 of
// the key's text for a single-field key and of a JSON array of the parts'
// texts for a composite one.
func (t *table) cursorOf(r row) string {
	if len(t.keys) == 1 {
		return base64.RawURLEncoding.EncodeToString([]byte(keyText(r.vals[t.key])))
	}
	parts := make([]string, len(t.keys))
	for i, k := range t.keys {
		parts[i] = keyText(r.vals[k])
	}
	b, _ := json.Marshal(parts) // strings always encode
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseCursor reads a cursor that cursorOf wrote back into a key.
func (t *table) parseCursor(cursor string, sh *Shape) ([]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, err
	}
	texts := []string{string(raw)}
	if len(t.keys) > 1 {
		texts = nil
		if err := json.Unmarshal(raw, &texts); err != nil {
			return nil, err
		}
		if len(texts) != len(t.keys) {
			return nil, errors.New("wrong number of key parts")
		}
	}
	key := make([]any, len(t.keys))
	for i, k := range t.keys {
		v, err := t.res.Fields[k].parseText(texts[i], sh)
		if err != nil {
			return nil, err
		}
		if t.fitsRead(k, v) != "" {
			return nil, errors.New("out of range")
		}
		key[i] = v
	}
	return key, nil
}

func (s *Service) get(q *request) *Problem {
	key, p := q.pathKey()
	if p != nil {
		return p
	}
	if len(q.r.URL.RawQuery) > 0 {
		return problem(http.StatusBadRequest, "get takes no query parameters", fieldProblem{Field: strings.SplitN(q.r.URL.RawQuery, "=", 2)[0], Message: "is not a known query parameter"})
	}
	ctx := q.r.Context()
	r, ok, err := readOne(ctx, s.db, q.t, key, false)
	if err != nil {
		return q.internal("reading "+q.t.res.Name, err)
	}
	if !ok {
		return problem(http.StatusNotFound, fmt.Sprintf("no %s %s", q.t.res.Name, keysText(key)))
	}
	etag := q.t.etag(r)
	q.w.Header().Set("ETag", etag)
	if inm := q.r.Header.Get("If-None-Match"); inm != "" && matchesIfMatch(inm, etag) {
		q.w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return s.writeRow(ctx, s.db, q, http.StatusOK, r)
}

// writeRow answers one row of q.t with its embeds.
func (s *Service) writeRow(ctx context.Context, db querier, q *request, status int, r row) *Problem {
	embeds, err := s.loadEmbeds(ctx, db, q, []row{r})
	if err != nil {
		return q.internal("loading related rows", err)
	}
	w := &writer{shape: q.shape()}
	w.envelopeOpen()
	w.object(q.t, r, embeds)
	w.envelopeClose(nil)
	q.w.Header().Set("ETag", q.t.etag(r))
	q.reply(status, w.b.Bytes())
	return nil
}
