package recipes

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// Values PostgreSQL refuses. A value the runtime passes on must never make
// PostgreSQL (or pgx, encoding it) fail: that would answer 500 for bad
// input. Text may hold no NUL and must be UTF-8, in text and in jsonb
// alike; a number must fit its column (smallint, integer, real,
// numeric(p,s)); a string must fit character varying(n). Each is refused
// here, naming the field, before any statement runs. Timestamps and dates
// need no check: the layouts Go parses write years 0000 to 9999, inside
// PostgreSQL's range (4713 BC to 294276 AD).

// textProblem says what PostgreSQL would refuse in s, or "".
func textProblem(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return `holds a NUL character (\u0000), which PostgreSQL does not store`
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

// jsonTextProblem is textProblem for every string and member name of a
// decoded JSON value, which goes to a jsonb column.
func jsonTextProblem(v any) string {
	switch x := v.(type) {
	case string:
		return textProblem(x)
	case []any:
		for _, item := range x {
			if p := jsonTextProblem(item); p != "" {
				return p
			}
		}
	case map[string]any:
		for k, item := range x {
			if p := textProblem(k); p != "" {
				return "has a member name that " + p
			}
			if p := jsonTextProblem(item); p != "" {
				return p
			}
		}
	}
	return ""
}

// badBodyText finds, in the raw text of a JSON object that decoded, a
// string that encoding/json would silently change: a lone UTF-16
// surrogate escape ("\ud800") or bytes that are not UTF-8, both decoded
// as U+FFFD. It returns the top-level member the string is in (or is the
// name of) and what is wrong, or "", "".
func badBodyText(data []byte) (member, msg string) {
	depth := 0
	key := ""          // the current top-level member
	expectKey := false // the next string at depth 1 is a member name
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			depth++
			expectKey = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case '"':
			start := i + 1
			end, problem := scanString(data, start)
			isKey := depth == 1 && expectKey
			if isKey {
				key = ""
				_ = json.Unmarshal(data[i:end+1], &key) // as decoded: a lone surrogate reads U+FFFD
				expectKey = false
			}
			if problem != "" {
				if isKey {
					return key, "is a member name that " + problem
				}
				return key, problem
			}
			i = end
		}
	}
	return "", ""
}

// scanString reads the JSON string whose text starts at data[start] (after
// the quote) and returns the index of its closing quote and what is wrong
// with it for PostgreSQL's text, or "".
func scanString(data []byte, start int) (int, string) {
	problem := ""
	for i := start; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			return i, problem
		case c == '\\' && i+1 < len(data) && data[i+1] == 'u':
			r := hex4(data, i+2)
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				if i+7 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
					if lo := hex4(data, i+8); lo >= 0xDC00 && lo <= 0xDFFF {
						i += 12
						continue
					}
				}
				if problem == "" {
					problem = fmt.Sprintf(`holds a lone UTF-16 surrogate (\u%04x), which is no character`, r)
				}
			case r >= 0xDC00 && r <= 0xDFFF && problem == "":
				problem = fmt.Sprintf(`holds a lone UTF-16 surrogate (\u%04x), which is no character`, r)
			}
			i += 6
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n == 1 && problem == "" {
				problem = "is not valid UTF-8"
			}
			i += n
		}
	}
	return len(data) - 1, problem
}

// hex4 reads four hex digits at data[i:], or -1.
func hex4(data []byte, i int) int {
	if i+4 > len(data) {
		return -1
	}
	n, err := strconv.ParseUint(string(data[i:i+4]), 16, 16)
	if err != nil {
		return -1
	}
	return int(n)
}

// colLimit is what a column, or a query parameter, accepts beyond the
// field's own type. The zero value accepts everything the type does.
type colLimit struct {
	typ              string // the column type, for messages ("integer", "character varying(20)")
	intMin, intMax   int64  // an integer column; both 0: no limit beyond int64
	maxChars         int    // character varying(n) or character(n); 0: none
	precision, scale int    // numeric(p,s); precision 0: none
	float4           bool   // real
	bits             int    // bit(n): exactly n bits; 0: any
	timeUnit         int64  // interval(p), p < 6: microseconds are a multiple of 10^(6-p); 0: any
}

// limitOfColumn is the limit of a column as information_schema.columns
// describes it.
func limitOfColumn(dataType string, charMax, precision, scale, timePrecision *int32) colLimit {
	l := colLimit{typ: dataType}
	switch dataType {
	case "bit":
		if charMax != nil {
			l.bits = int(*charMax)
			l.typ = fmt.Sprintf("bit(%d)", *charMax)
		}
	case "interval":
		if timePrecision != nil && *timePrecision >= 0 && *timePrecision < maxFSP {
			l.timeUnit = 1
			for range maxFSP - int(*timePrecision) {
				l.timeUnit *= 10
			}
			l.typ = fmt.Sprintf("interval(%d)", *timePrecision)
		}
	case "smallint":
		l.intMin, l.intMax = math.MinInt16, math.MaxInt16
	case "integer":
		l.intMin, l.intMax = math.MinInt32, math.MaxInt32
	case "real":
		l.float4 = true
	case "character varying", "character":
		if charMax != nil {
			l.maxChars = int(*charMax)
			l.typ = fmt.Sprintf("%s(%d)", dataType, *charMax)
		}
	case "numeric":
		if precision != nil && scale != nil {
			l.precision, l.scale = int(*precision), int(*scale)
			l.typ = fmt.Sprintf("numeric(%d,%d)", *precision, *scale)
		}
	}
	return l
}

// limitOfParam is the limit of a query parameter PostgreSQL typed oid.
func limitOfParam(oid uint32) colLimit {
	switch oid {
	case pgtype.Int2OID:
		return colLimit{typ: "smallint", intMin: math.MinInt16, intMax: math.MaxInt16}
	case pgtype.Int4OID:
		return colLimit{typ: "integer", intMin: math.MinInt32, intMax: math.MaxInt32}
	case pgtype.Float4OID:
		return colLimit{typ: "real", float4: true}
	}
	return colLimit{}
}

// check says why the column cannot hold v, or "".
func (l colLimit) check(v any) string {
	switch x := v.(type) {
	case int64:
		if (l.intMin != 0 || l.intMax != 0) && (x < l.intMin || x > l.intMax) {
			return fmt.Sprintf("must be from %d to %d (the column is %s)", l.intMin, l.intMax, l.typ)
		}
	case float64:
		if l.float4 && math.Abs(x) > math.MaxFloat32 {
			return fmt.Sprintf("is out of range of the column (%s: at most %g)", l.typ, math.MaxFloat32)
		}
		if l.precision > 0 {
			return l.checkDigits(strconv.FormatFloat(x, 'f', l.scale, 64))
		}
	case decimal:
		if l.precision > 0 {
			return l.checkDigits(string(x))
		}
	case string:
		if l.maxChars > 0 && utf8.RuneCountInString(x) > l.maxChars {
			return fmt.Sprintf("must be at most %d characters long (the column is %s)", l.maxChars, l.typ)
		}
		if l.bits > 0 && len(x) != l.bits {
			return fmt.Sprintf("must have exactly %d bits (the column is %s)", l.bits, l.typ)
		}
	case timeSpan:
		if l.timeUnit > 1 && int64(x)%l.timeUnit != 0 {
			return fmt.Sprintf("has more fractional digits than the column holds (the column is %s)", l.typ)
		}
	}
	return ""
}

// checkDigits checks the digits before the point of a number's decimal
// text against numeric(p,s), which holds p-s of them.
func (l colLimit) checkDigits(text string) string {
	whole, _, _ := strings.Cut(strings.TrimPrefix(text, "-"), ".")
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > l.precision-l.scale {
		return fmt.Sprintf("has more than %d digits before the point (the column is %s)", l.precision-l.scale, l.typ)
	}
	return ""
}

// describeColumns reads the limits of the columns of r's tables, by
// resource and field index. A table not created yet has none.
func describeColumns(ctx context.Context, db DB, r *Recipe) (map[string][]colLimit, error) {
	out := map[string][]colLimit{}
	for i := range r.Resources {
		res := &r.Resources[i]
		rows, err := db.Query(ctx, `SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale,
			datetime_precision FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, res.Schema, res.Table)
		if err != nil {
			return nil, fmt.Errorf("reading the columns of %s.%s: %w", res.Schema, res.Table, err)
		}
		byName := map[string]colLimit{}
		for rows.Next() {
			var name, typ string
			var charMax, prec, scale, timePrec *int32
			if err := rows.Scan(&name, &typ, &charMax, &prec, &scale, &timePrec); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading the columns of %s.%s: %w", res.Schema, res.Table, err)
			}
			byName[name] = limitOfColumn(typ, charMax, prec, scale, timePrec)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("reading the columns of %s.%s: %w", res.Schema, res.Table, err)
		}
		limits := make([]colLimit, len(res.Fields))
		for j := range res.Fields {
			limits[j] = byName[res.Fields[j].Column]
		}
		out[res.Name] = limits
	}
	return out, nil
}

// jsonValueProblem is what PostgreSQL would refuse in a json field's
// value, decoded from raw, or "".
func jsonValueProblem(raw json.RawMessage) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return ""
	}
	return jsonTextProblem(v)
}
