package recipes

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// queryColumn is one result column of a named query, as PostgreSQL
// describes it.
type queryColumn struct {
	name string // as written in JSON (shape.casing applied)
	oid  uint32
}

// dbInfo is what the database says of a recipe: named queries' result
// columns and parameter limits by endpoint name, column limits by
// resource name and field index.
type dbInfo struct {
	cols    map[string][]queryColumn
	params  map[string][]colLimit
	columns map[string][]colLimit
}

// describeDB describes r's named queries and tables.
func describeDB(ctx context.Context, db DB, r *Recipe) (*dbInfo, error) {
	info := &dbInfo{cols: map[string][]queryColumn{}, params: map[string][]colLimit{}}
	for i := range r.Endpoints {
		e := &r.Endpoints[i]
		if e.Query == nil {
			continue
		}
		cols, params, err := describeOne(ctx, db, &r.Shape, e.Query.sql)
		if err != nil {
			return nil, fmt.Errorf("recipe %s: endpoints[%d] (%s): query does not prepare: %w", r.File, i, e.Name, err)
		}
		info.cols[e.Name], info.params[e.Name] = cols, params
	}
	columns, err := describeColumns(ctx, db, r)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: %w", r.File, err)
	}
	info.columns = columns
	return info, nil
}

// describeOne prepares one named query (a query that PostgreSQL refuses, a
// typo or a missing table, is an error, so a service does not start, nor a
// reload pass, with it) and returns its result columns and what its
// parameters accept.
func describeOne(ctx context.Context, db DB, shape *Shape, sql string) ([]queryColumn, []colLimit, error) {
	tx, err := db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	sd, err := tx.Prepare(ctx, "", sql)
	if err != nil {
		return nil, nil, err
	}
	cols := make([]queryColumn, len(sd.Fields))
	for i, f := range sd.Fields {
		cols[i] = queryColumn{name: applyCasing(shape.Casing, f.Name), oid: f.DataTypeOID}
	}
	params := make([]colLimit, len(sd.ParamOIDs))
	for i, oid := range sd.ParamOIDs {
		params[i] = limitOfParam(oid)
	}
	return cols, params, nil
}

// columnSchema is the JSON Schema of a query column's values in the
// recipe's shape. PostgreSQL does not say whether a result column can be
// null, so every column admits null.
func (g *oaGen) columnSchema(c queryColumn) obj {
	typ := ""
	switch c.oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		typ = "integer"
	case pgtype.Float4OID, pgtype.Float8OID:
		typ = "number"
	case pgtype.NumericOID:
		typ = "number"
		if g.r.Shape.Decimals == "string" {
			typ = "string"
		}
	case pgtype.BoolOID:
		switch g.r.Shape.Booleans {
		case "int":
			typ = "integer"
		case "string":
			typ = "string"
		default:
			typ = "boolean"
		}
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UUIDOID,
		pgtype.TimestampOID, pgtype.TimestamptzOID, pgtype.DateOID, pgtype.IntervalOID, pgtype.BitOID, pgtype.VarbitOID:
		typ = "string"
	case pgtype.ByteaOID:
		return obj{"type": []string{"string", "null"}, "format": "byte", "contentEncoding": "base64"}
	case pgtype.TextArrayOID, pgtype.VarcharArrayOID:
		return obj{"type": []string{"array", "null"}, "items": obj{"type": []string{"string", "null"}}}
	default:
		return obj{} // json, arrays and the rest: any value
	}
	return obj{"type": []string{typ, "null"}}
}

func (g *oaGen) queryRowSchema(e *Endpoint) obj {
	cols, ok := g.cols[e.Name]
	if !ok {
		return obj{"type": "object", "description": "a row of the query, columns named in shape.casing"}
	}
	props := obj{}
	var names []string
	for _, c := range cols {
		props[c.name] = g.columnSchema(c)
		names = append(names, c.name)
	}
	s := obj{"type": "object", "properties": props, "additionalProperties": false,
		"description": "a row of the query: " + strings.Join(names, ", ")}
	if g.r.Shape.Nulls != "omit" && len(names) > 0 {
		s["required"] = names
	}
	return s
}
