package recipes

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/jackc/pgx/v5"
)

// query runs a named query in a READ ONLY transaction, its parameters
// bound from the path and the query string.
func (s *Service) query(q *request) *Problem {
	qu, sh := q.e.Query, q.shape()
	vals := map[string]any{}
	var bad []fieldProblem
	declared := map[string]bool{}
	for _, prm := range qu.Params {
		declared[prm.Name] = true
		f := prm.field()
		text, inPath := "", slices.Contains(q.e.params, prm.Name)
		if inPath {
			text = q.r.PathValue(prm.Name)
		} else if vs, ok := q.r.URL.Query()[prm.Name]; ok {
			if len(vs) > 1 {
				bad = append(bad, fieldProblem{Field: prm.Name, Message: "is given more than once"})
				continue
			}
			text = vs[0]
		} else if prm.Default != "" {
			text = prm.Default
		} else {
			if prm.Required {
				bad = append(bad, fieldProblem{Field: prm.Name, Message: "is required"})
			}
			vals[prm.Name] = nil
			continue
		}
		v, err := f.parseText(text, sh)
		if err == nil {
			if msg := q.paramLimit(prm.Name).check(v); msg != "" {
				err = errors.New(msg)
			}
		}
		if err != nil {
			if inPath {
				return problem(http.StatusNotFound, fmt.Sprintf("path parameter %s: %v", prm.Name, err))
			}
			bad = append(bad, fieldProblem{Field: prm.Name, Message: err.Error()})
			continue
		}
		vals[prm.Name] = v
	}
	for k := range q.r.URL.Query() {
		if !declared[k] {
			bad = append(bad, fieldProblem{Field: k, Message: "is not a parameter of this query"})
		}
	}
	if len(bad) > 0 {
		slices.SortFunc(bad, func(a, b fieldProblem) int { return compareStrings(a.Field, b.Field) })
		return problem(http.StatusBadRequest, "invalid query parameters", bad...)
	}
	args := make([]any, len(qu.order))
	for i, name := range qu.order {
		args[i] = bindValue(vals[name])
	}
	ctx := q.r.Context()
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return q.internal("starting a read-only transaction", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, qu.sql, args...)
	if err != nil {
		return q.internal("running query "+q.e.Name, err)
	}
	defer rows.Close()
	names := make([]string, 0, len(rows.FieldDescriptions()))
	for _, fd := range rows.FieldDescriptions() {
		names = append(names, applyCasing(sh.Casing, fd.Name))
	}
	w := &writer{shape: sh}
	w.envelopeOpen()
	if !qu.Single {
		w.b.WriteByte('[')
	}
	n := 0
	for rows.Next() {
		vs, err := rows.Values()
		if err != nil {
			return q.internal("running query "+q.e.Name, err)
		}
		if qu.Single && n > 0 {
			break
		}
		if n > 0 {
			w.b.WriteByte(',')
		}
		n++
		w.b.WriteByte('{')
		first := true
		for i, v := range vs {
			if v == nil && sh.Nulls == "omit" {
				continue
			}
			w.key(&first, names[i])
			w.any(v)
		}
		w.b.WriteByte('}')
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return q.internal("running query "+q.e.Name, err)
	}
	if qu.Single && n == 0 {
		return problem(http.StatusNotFound, "the query found nothing")
	}
	if !qu.Single {
		w.b.WriteByte(']')
	}
	w.envelopeClose(nil)
	q.reply(http.StatusOK, w.b.Bytes())
	return nil
}

// field is the field a parameter's values are read as: decimals of any
// scale up to 38 digits, times with microseconds, bit strings of any
// length.
func (p *Param) field() Field {
	return Field{Name: p.Name, Type: p.Type, Default: p.Default, Scale: 12, Precision: 38, FSP: maxFSP}
}

// paramLimit is what PostgreSQL typed the named query's parameter name
// as, the first place it is bound ($n): an integer parameter may be a
// smallint or an integer.
func (q *request) paramLimit(name string) colLimit {
	limits := q.rt.params[q.e.Name]
	for i, n := range q.e.Query.order {
		if n == name && i < len(limits) {
			return limits[i]
		}
	}
	return colLimit{}
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
