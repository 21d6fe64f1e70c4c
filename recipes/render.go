package recipes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// writer writes answers in the recipe's shape. It appends to a buffer so an
// answer is built without reflection.
type writer struct {
	shape *Shape
	b     bytes.Buffer
}

func (w *writer) str(s string) {
	if safeASCII(s) {
		w.b.WriteByte('"')
		w.b.WriteString(s)
		w.b.WriteByte('"')
		return
	}
	enc, _ := json.Marshal(s)
	w.b.Write(enc)
}

// safeASCII reports whether s can be written between quotes as is.
func safeASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func (w *writer) key(first *bool, name string) {
	if !*first {
		w.b.WriteByte(',')
	}
	*first = false
	w.str(name)
	w.b.WriteByte(':')
}

// value writes one field value in the shape's formats.
func (w *writer) value(f *Field, v any) {
	switch x := v.(type) {
	case nil:
		w.b.WriteString("null")
	case string:
		w.str(x)
	case int64:
		w.b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		w.float(x)
	case decimal:
		if w.shape.Decimals == "string" {
			w.str(string(x))
		} else {
			w.b.WriteString(string(x))
		}
	case bool:
		w.boolean(x)
	case time.Time:
		w.str(x.UTC().Format(f.timeLayout(w.shape)))
	case json.RawMessage:
		w.b.Write(x)
	case timeSpan:
		w.str(x.format(f.FSP))
	case blob:
		w.str(x.json())
	case stringSet:
		w.b.WriteByte('[')
		for i, m := range x {
			if i > 0 {
				w.b.WriteByte(',')
			}
			w.str(m)
		}
		w.b.WriteByte(']')
	default:
		w.any(v)
	}
}

func (w *writer) float(x float64) {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		w.b.WriteString("null")
		return
	}
	w.b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
}

func (w *writer) boolean(x bool) {
	switch w.shape.Booleans {
	case "int":
		if x {
			w.b.WriteByte('1')
		} else {
			w.b.WriteByte('0')
		}
	case "string":
		w.str(strconv.FormatBool(x))
	default:
		w.b.WriteString(strconv.FormatBool(x))
	}
}

// any writes a value of a named query's column, whose type is known only
// from what pgx decoded.
func (w *writer) any(v any) {
	switch x := v.(type) {
	case nil:
		w.b.WriteString("null")
	case string:
		w.str(x)
	case int16:
		w.b.WriteString(strconv.FormatInt(int64(x), 10))
	case int32:
		w.b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		w.b.WriteString(strconv.FormatInt(x, 10))
	case float32:
		w.float(float64(x))
	case float64:
		w.float(x)
	case bool:
		w.boolean(x)
	case time.Time:
		layout := w.shape.TimestampFormat
		if layout == "rfc3339" {
			layout = time.RFC3339Nano
		}
		w.str(x.UTC().Format(layout))
	case pgtype.Numeric:
		val, err := x.Value()
		s, ok := val.(string)
		if err != nil || !ok {
			w.b.WriteString("null")
		} else if w.shape.Decimals == "string" {
			w.str(s)
		} else {
			w.b.WriteString(s)
		}
	case [16]byte:
		w.str(fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]))
	case []byte:
		w.str(blob(x).json())
	case pgtype.Interval:
		if !x.Valid {
			w.b.WriteString("null")
			return
		}
		w.str(timeSpan(intervalMicros(x)).text())
	case pgtype.Bits:
		if !x.Valid {
			w.b.WriteString("null")
			return
		}
		w.str(bitsText(x))
	default:
		enc, err := json.Marshal(v)
		if err != nil {
			w.str(fmt.Sprint(v))
			return
		}
		w.b.Write(enc)
	}
}

// object writes one row of t: every field that is not write-only, then the
// embedded related objects.
func (w *writer) object(t *table, r row, embeds []embedded) {
	w.b.WriteByte('{')
	first := true
	res := t.res
	for i := range res.Fields {
		f := &res.Fields[i]
		if f.WriteOnly {
			continue
		}
		v := r.vals[i]
		if v == nil && w.shape.Nulls == "omit" {
			continue
		}
		w.key(&first, f.JSON)
		w.value(f, v)
	}
	for _, e := range embeds {
		if e.many {
			w.key(&first, e.rel.JSON)
			w.b.WriteByte('[')
			for i, rel := range e.lists[r.vals[t.key]] {
				if i > 0 {
					w.b.WriteByte(',')
				}
				w.object(e.target, rel, nil)
			}
			w.b.WriteByte(']')
			continue
		}
		fk := r.vals[e.field]
		rel, ok := e.rows[fk]
		if !ok && w.shape.Nulls == "omit" {
			continue
		}
		w.key(&first, e.rel.JSON)
		if !ok {
			w.b.WriteString("null")
			continue
		}
		w.object(e.target, rel, nil)
	}
	w.b.WriteByte('}')
}

// embedded holds the related rows of one relation: for kind one by the
// related key, for kind many the lists by this resource's key.
type embedded struct {
	rel    *Relation
	field  int // kind one: index of our foreign-key field; many: of the target's
	target *table
	many   bool
	rows   map[any]row
	lists  map[any][]row
}

// listMeta is what a list's meta member may hold.
type listMeta struct {
	total      int64
	limit      int
	offset     int
	nextCursor string
}

// envelopeOpen starts an answer: in the data envelope, {"data":.
func (w *writer) envelopeOpen() {
	if w.shape.Envelope == "data" {
		w.b.WriteString(`{`)
		w.str(w.shape.DataKey)
		w.b.WriteByte(':')
	}
}

// envelopeClose ends an answer, writing the meta member of lists.
func (w *writer) envelopeClose(meta *listMeta) {
	if w.shape.Envelope != "data" {
		return
	}
	if meta != nil && len(w.shape.Meta) > 0 {
		w.b.WriteByte(',')
		w.str(w.shape.MetaKey)
		w.b.WriteString(":{")
		first := true
		for _, m := range w.shape.Meta {
			w.key(&first, applyCasing(w.shape.Casing, m))
			switch m {
			case "total":
				w.b.WriteString(strconv.FormatInt(meta.total, 10))
			case "limit":
				w.b.WriteString(strconv.Itoa(meta.limit))
			case "offset":
				w.b.WriteString(strconv.Itoa(meta.offset))
			case "next_cursor":
				if meta.nextCursor == "" {
					w.b.WriteString("null")
				} else {
					w.str(meta.nextCursor)
				}
			}
		}
		w.b.WriteByte('}')
	}
	w.b.WriteByte('}')
}
