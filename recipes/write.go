package recipes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// readBody reads a JSON object body: 415 for another media type, 413 over
// max_body, 400 when it is not a JSON object.
func (q *request) readBody() (map[string]any, *Problem) {
	ct := q.r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "application/merge-patch+json" && !strings.HasSuffix(mt, "+json")) {
		return nil, problem(http.StatusUnsupportedMediaType, fmt.Sprintf("the body must be application/json, not %q", ct))
	}
	limit := q.rt.recipe.MaxBody
	data, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, problem(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", limit))
		}
		return nil, problem(http.StatusBadRequest, "reading the body: "+err.Error())
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, problem(http.StatusBadRequest, "the body is not valid JSON: "+err.Error())
	}
	if dec.More() {
		return nil, problem(http.StatusBadRequest, "the body holds more than one JSON value")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, problem(http.StatusBadRequest, "the body must be a JSON object, found "+jsonKind(v))
	}
	// encoding/json would store U+FFFD in place of these: refuse them.
	if member, msg := badBodyText(data); msg != "" {
		return nil, problem(http.StatusUnprocessableEntity, "the body holds text that is no character string",
			fieldProblem{Field: member, Message: msg})
	}
	return obj, nil
}

// decodeFields parses the body's members into field values. complete means
// a create or replace: omitted fields take their default, or null, or are
// reported as required. It returns values by field index (set[i] says
// whether field i is written) and the problems found.
func (q *request) decodeFields(body map[string]any, complete bool, key []any) ([]any, []bool, []fieldProblem) {
	res, sh := q.t.res, q.shape()
	vals := make([]any, len(res.Fields))
	set := make([]bool, len(res.Fields))
	var bad []fieldProblem
	known := map[string]bool{}
	for i := range res.Fields {
		f := &res.Fields[i]
		known[f.JSON] = true
		raw, present := body[f.JSON]
		if part := slices.Index(q.t.keys, i); part >= 0 && key != nil {
			// The key may be echoed back, generated or not; another value
			// is refused, as create refuses a read-only key.
			if present {
				if v, err := f.parseJSON(raw, sh); err != nil || keyText(v) != keyText(key[part]) {
					bad = append(bad, fieldProblem{Field: f.JSON, Message: "does not match the key in the path"})
				}
			}
			continue
		}
		if f.ReadOnly {
			if present {
				bad = append(bad, fieldProblem{Field: f.JSON, Message: "is read-only"})
			} else if complete && !f.Generated && key == nil {
				if v, ok := f.defaultValue(sh, q.svc.now()); ok {
					vals[i], set[i] = v, true
				}
			}
			continue
		}
		if !present {
			if !complete {
				continue
			}
			if v, ok := f.defaultValue(sh, q.svc.now()); ok {
				vals[i], set[i] = v, true
			} else if f.Nullable {
				set[i] = true
			} else {
				bad = append(bad, fieldProblem{Field: f.JSON, Message: "is required"})
			}
			continue
		}
		v, err := f.parseJSON(raw, sh)
		if err != nil {
			bad = append(bad, fieldProblem{Field: f.JSON, Message: err.Error()})
			continue
		}
		if msg := f.check(v); msg != "" {
			bad = append(bad, fieldProblem{Field: f.JSON, Message: msg})
			continue
		}
		if msg := q.t.fits(i, v); msg != "" {
			bad = append(bad, fieldProblem{Field: f.JSON, Message: msg})
			continue
		}
		vals[i], set[i] = v, true
	}
	for _, rel := range res.Relations {
		known[rel.JSON] = true // an embedded object sent back is ignored
	}
	names := make([]string, 0, len(body))
	for k := range body {
		if !known[k] {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		bad = append(bad, fieldProblem{Field: k, Message: "is not a field of " + res.Name})
	}
	return vals, set, bad
}

// begin starts the transaction of a write.
func (s *Service) begin(ctx context.Context) (pgx.Tx, error) {
	return s.db.BeginTx(ctx, pgx.TxOptions{})
}

// finish commits the write, or rolls it back for a dry run, and wakes the
// outbox dispatcher when an event was written.
func (s *Service) finish(ctx context.Context, q *request, tx pgx.Tx, event bool) error {
	if q.shadow {
		return tx.Rollback(ctx)
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if event {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	return nil
}

func (s *Service) create(q *request) *Problem {
	body, p := q.readBody()
	if p != nil {
		return p
	}
	vals, set, bad := q.decodeFields(body, true, nil)
	if len(bad) == 0 {
		bad = evalRules(q.t.res, q.t.byField(vals))
	}
	if len(bad) > 0 {
		return problem(http.StatusUnprocessableEntity, "the "+q.t.res.Name+" breaks the rules", bad...)
	}
	t := q.t
	var cols, ph []string
	var args sqlArgs
	for i := range vals {
		if set[i] {
			cols = append(cols, t.cols[i])
			ph = append(ph, args.add(vals[i]))
		}
	}
	sql := "INSERT INTO " + t.name + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ") RETURNING " + t.selects
	if len(cols) == 0 {
		sql = "INSERT INTO " + t.name + " DEFAULT VALUES RETURNING " + t.selects
	}
	return s.writeTx(q, http.StatusCreated, func(ctx context.Context, tx pgx.Tx) (row, *Problem, error) {
		r, err := returning(ctx, tx, t, sql, args)
		return r, nil, err
	})
}

// writeTx runs a write in a transaction: fn does the change and returns the
// row to answer with; the event, if any, goes to the outbox in the same
// transaction.
func (s *Service) writeTx(q *request, status int, fn func(ctx context.Context, tx pgx.Tx) (row, *Problem, error)) *Problem {
	ctx := q.r.Context()
	tx, err := s.begin(ctx)
	if err != nil {
		return q.internal("starting a transaction", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	r, p, err := fn(ctx, tx)
	if p != nil {
		return p
	}
	if err != nil {
		if p := constraintProblem(q.t, err); p != nil {
			return p
		}
		return q.internal("writing "+q.t.res.Name, err)
	}
	if q.e.Event != "" && !q.shadow && !q.unchanged {
		if err := s.writeEvent(ctx, tx, q, r); err != nil {
			return q.internal("writing the event", err)
		}
	}
	var answer []byte
	if status != http.StatusNoContent {
		embeds, err := s.loadEmbeds(ctx, tx, q, []row{r})
		if err != nil {
			return q.internal("loading related rows", err)
		}
		w := &writer{shape: q.shape()}
		w.envelopeOpen()
		w.object(q.t, r, embeds)
		w.envelopeClose(nil)
		answer = w.b.Bytes()
	}
	if err := s.finish(ctx, q, tx, q.e.Event != ""); err != nil {
		if p := constraintProblem(q.t, err); p != nil {
			return p
		}
		return q.internal("committing", err)
	}
	if status == http.StatusNoContent {
		if q.shadow {
			q.w.Header().Set(HeaderDryRun, "1")
		}
		q.w.WriteHeader(status)
		return nil
	}
	q.w.Header().Set("ETag", q.t.etag(r))
	if status == http.StatusCreated {
		if loc := q.rt.pathFor(q.t, q.t.keyOf(r)); loc != "" {
			q.w.Header().Set("Location", loc)
		}
	}
	q.reply(status, answer)
	return nil
}

func returning(ctx context.Context, tx pgx.Tx, t *table, sql string, args []any) (row, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return row{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return row{}, err
		}
		return row{}, fmt.Errorf("writing %s: no row returned", t.name)
	}
	r, err := t.scanRow(rows)
	if err != nil {
		return row{}, err
	}
	rows.Close()
	return r, rows.Err()
}

// lockForWrite reads and locks the row of the path's key, checking
// If-Match: 404 when it is gone, 409 when the version moved on.
func (q *request) lockForWrite(ctx context.Context, tx pgx.Tx, key []any) (row, *Problem, error) {
	r, ok, err := readOne(ctx, tx, q.t, key, true)
	if err != nil {
		return row{}, nil, err
	}
	if !ok {
		return row{}, problem(http.StatusNotFound, fmt.Sprintf("no %s %s", q.t.res.Name, keysText(key))), nil
	}
	if im := q.r.Header.Get("If-Match"); im != "" && !matchesIfMatch(im, q.t.etag(r)) {
		return row{}, problem(http.StatusConflict, fmt.Sprintf("the %s was changed since version %s (now %s)", q.t.res.Name, im, q.t.etag(r)),
			fieldProblem{Field: "If-Match", Message: "is stale"}), nil
	}
	return r, nil, nil
}

func (s *Service) replace(q *request) *Problem {
	return s.update(q, true)
}

func (s *Service) patch(q *request) *Problem {
	return s.update(q, false)
}

// update replaces (every writable field) or patches (the fields given, as
// a JSON merge patch) the row of the path's key.
func (s *Service) update(q *request, complete bool) *Problem {
	key, p := q.pathKey()
	if p != nil {
		return p
	}
	body, p := q.readBody()
	if p != nil {
		return p
	}
	vals, set, bad := q.decodeFields(body, complete, key)
	if len(bad) > 0 {
		return problem(http.StatusUnprocessableEntity, "the "+q.t.res.Name+" breaks the rules", bad...)
	}
	t := q.t
	return s.writeTx(q, http.StatusOK, func(ctx context.Context, tx pgx.Tx) (row, *Problem, error) {
		cur, p, err := q.lockForWrite(ctx, tx, key)
		if p != nil || err != nil {
			return row{}, p, err
		}
		merged := slices.Clone(cur.vals)
		for i := range vals {
			if set[i] {
				merged[i] = vals[i]
			}
		}
		if bad := evalRules(t.res, t.byField(merged)); len(bad) > 0 {
			return row{}, problem(http.StatusUnprocessableEntity, "the "+t.res.Name+" breaks the rules", bad...), nil
		}
		var sets []string
		var args sqlArgs
		for i := range vals {
			if set[i] {
				sets = append(sets, t.cols[i]+" = "+args.add(vals[i]))
			}
		}
		if len(sets) == 0 {
			q.unchanged = true // a patch naming no field: nothing written, no event
			return cur, nil, nil
		}
		where := t.keyWhere(key, &args)
		r, err := returning(ctx, tx, t, "UPDATE "+t.name+" SET "+strings.Join(sets, ", ")+" WHERE "+where+" RETURNING "+t.selects, args)
		return r, nil, err
	})
}

func (s *Service) remove(q *request) *Problem {
	key, p := q.pathKey()
	if p != nil {
		return p
	}
	t := q.t
	return s.writeTx(q, http.StatusNoContent, func(ctx context.Context, tx pgx.Tx) (row, *Problem, error) {
		cur, p, err := q.lockForWrite(ctx, tx, key)
		if p != nil || err != nil {
			return row{}, p, err
		}
		var args sqlArgs
		_, err = tx.Exec(ctx, "DELETE FROM "+t.name+" WHERE "+t.keyWhere(key, &args), args...)
		return cur, nil, err
	})
}

var detailKey = regexp.MustCompile(`^Key \(([^)]*)\)=`)

// constraintProblem maps a constraint violation to its problem: 409 for a
// duplicate key, 422 for a missing reference, null or check violation.
func constraintProblem(t *table, err error) *Problem {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	field := func() string {
		col := pe.ColumnName
		if m := detailKey.FindStringSubmatch(pe.Detail); m != nil {
			col = strings.Trim(strings.Split(m[1], ",")[0], `" `)
		}
		for _, f := range t.res.Fields {
			if f.Column == col {
				return f.JSON
			}
		}
		return col
	}
	switch pe.Code {
	case "23505":
		return problem(http.StatusConflict, "a "+t.res.Name+" with this value already exists", fieldProblem{Field: field(), Message: "is already taken"})
	case "23503":
		return problem(http.StatusUnprocessableEntity, "a referenced row does not exist", fieldProblem{Field: field(), Message: "refers to a row that does not exist"})
	case "23502":
		return problem(http.StatusUnprocessableEntity, "a required value is missing", fieldProblem{Field: field(), Message: "must not be null"})
	case "23514", "22001", "22003", "22P05": // 22P05: a character the database's encoding cannot hold
		return problem(http.StatusUnprocessableEntity, "the database refused a value: "+pe.Message, fieldProblem{Field: field(), Message: pe.Message})
	case "40001", "40P01":
		return problem(http.StatusConflict, "a concurrent write conflicted; retry")
	}
	return nil
}
