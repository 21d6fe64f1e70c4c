package recipes

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// table is a resource compiled for the runtime: its quoted names and the
// select list every read uses. Row values are kept in the order of
// res.Fields; the row's version (xmin) follows them.
type table struct {
	res     *Resource
	name    string // "schema"."table"
	cols    []string
	key     int        // index of the (first) key field
	keys    []int      // indexes of the key fields, in key order
	selects string     // the select list, with casts, ending with xmin::text
	limits  []colLimit // what each field's column accepts, by field index; nil before Start
}

// fits says why field i's column cannot hold v on a write, or "".
func (t *table) fits(i int, v any) string {
	if t.limits == nil {
		return ""
	}
	return t.limits[i].check(v)
}

// fitsRead says why v cannot be compared with field i's column, or "".
// Only what PostgreSQL or pgx refuse counts: a longer string or a number
// with more digits than the column holds compares (and matches nothing).
func (t *table) fitsRead(i int, v any) string {
	if t.limits == nil {
		return ""
	}
	l := t.limits[i]
	l.maxChars, l.precision, l.bits, l.timeUnit = 0, 0, 0, 0
	return l.check(v)
}

func newTable(res *Resource) *table {
	t := &table{res: res, name: pgx.Identifier{res.Schema, res.Table}.Sanitize()}
	var sel []string
	for i := range res.Fields {
		f := &res.Fields[i]
		col := pgx.Identifier{f.Column}.Sanitize()
		t.cols = append(t.cols, col)
		switch f.Type {
		case TypeDecimal, TypeUUID, TypeJSON, TypeBits:
			sel = append(sel, col+"::text")
		default:
			sel = append(sel, col)
		}
	}
	for _, name := range res.keyFields() {
		t.keys = append(t.keys, slices.IndexFunc(res.Fields, func(f Field) bool { return f.Name == name }))
	}
	t.key = t.keys[0]
	t.selects = strings.Join(append(sel, "xmin::text"), ", ")
	return t
}

// keyOf returns the key of a row: its values of the key fields, in key order.
func (t *table) keyOf(r row) []any {
	out := make([]any, len(t.keys))
	for i, k := range t.keys {
		out[i] = r.vals[k]
	}
	return out
}

// keyWhere is the condition selecting the row with key, binding its parts
// to args. A uuid column compares as text, the form the path gave.
func (t *table) keyWhere(key []any, args *sqlArgs) string {
	conds := make([]string, len(t.keys))
	for i, k := range t.keys {
		col := t.cols[k]
		if t.res.Fields[k].Type == TypeUUID {
			col += "::text"
		}
		conds[i] = col + " = " + args.add(key[i])
	}
	return strings.Join(conds, " AND ")
}

// keysText writes a key as text, for messages and event keys: the parts
// separated by "/", as the path of a get names them.
func keysText(key []any) string {
	parts := make([]string, len(key))
	for i, v := range key {
		parts[i] = keyText(v)
	}
	return strings.Join(parts, "/")
}

// row is one row read from a table: field values and version.
type row struct {
	vals    []any
	version string
	extra   any // a column selected after the version (count(*) OVER ())
}

// scanRow converts the values pgx decoded into runtime values.
func (t *table) scanRow(rows pgx.Rows) (row, error) {
	raw, err := rows.Values()
	if err != nil {
		return row{}, fmt.Errorf("reading a row of %s: %w", t.name, err)
	}
	out := row{vals: make([]any, len(t.res.Fields))}
	for i := range t.res.Fields {
		out.vals[i] = fromDB(&t.res.Fields[i], raw[i])
	}
	out.version, _ = raw[len(t.res.Fields)].(string)
	if len(raw) > len(t.res.Fields)+1 {
		out.extra = raw[len(t.res.Fields)+1]
	}
	return out, nil
}

func fromDB(f *Field, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	case string:
		switch f.Type {
		case TypeDecimal:
			if hasScale(x, f.Scale) {
				return decimal(x) // numeric(p,s) already writes s digits
			}
			if d, err := parseDecimal(x, f.Scale, 38); err == nil {
				return d
			}
			return decimal(x)
		case TypeJSON:
			return json.RawMessage(x)
		}
	case time.Time:
		return x.UTC()
	case []byte:
		if f.Type == TypeBinary {
			return blob(x)
		}
	case pgtype.Interval:
		if f.Type == TypeTime {
			return timeSpan(intervalMicros(x))
		}
	case []any:
		if f.Type == TypeSet {
			return setFromDB(x)
		}
	}
	return v
}

// etag is the entity tag of a row: a hash of its key and version.
func (t *table) etag(r row) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(t.res.Name))
	_, _ = h.Write([]byte{0})
	for _, k := range t.keys {
		_, _ = h.Write([]byte(keyText(r.vals[k])))
		_, _ = h.Write([]byte{0})
	}
	_, _ = h.Write([]byte(r.version))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.Sum64())
	return `"` + base64.RawURLEncoding.EncodeToString(b[:]) + `"`
}

// keyText writes a key value as text (paths, cursors, event keys).
func keyText(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return x
	case decimal:
		return string(x)
	case blob:
		return x.text()
	case timeSpan:
		return x.text()
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// byField maps field names to values, for rules and events.
func (t *table) byField(vals []any) map[string]any {
	m := make(map[string]any, len(vals))
	for i := range t.res.Fields {
		m[t.res.Fields[i].Name] = vals[i]
	}
	return m
}

// matchesIfMatch reports whether an If-Match header admits the row's etag.
func matchesIfMatch(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		p := strings.TrimSpace(part)
		p = strings.TrimPrefix(p, "W/")
		if p == "*" || p == etag {
			return true
		}
	}
	return false
}

// hasScale reports whether a decimal's text has exactly scale digits after
// its point, so it can be written as it is.
func hasScale(s string, scale int) bool {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return scale == 0 && s != "" && !strings.ContainsAny(s, "eEN")
	}
	return len(s)-i-1 == scale && !strings.ContainsAny(s, "eEN")
}
