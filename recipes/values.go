package recipes

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
)

// Values of fields inside the runtime: string (string, uuid, bits), int64
// (integer), float64 (number), decimal (decimal), bool (boolean), time.Time
// (timestamp, in UTC, and date), json.RawMessage (json), timeSpan (time),
// blob (binary), stringSet (set), nil (null).

// decimal is an exact decimal number kept as its canonical text with the
// field's scale ("12.50").
type decimal string

func (d decimal) float() float64 { f, _ := strconv.ParseFloat(string(d), 64); return f }

// parseDecimal reads s and rounds it to scale digits; it refuses values that
// do not fit precision digits.
func parseDecimal(s string, scale, precision int) (decimal, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok || strings.ContainsAny(s, "/eE") {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	text := r.FloatString(scale)
	digits := strings.TrimLeft(strings.Replace(strings.TrimPrefix(text, "-"), ".", "", 1), "0")
	if len(digits) > precision {
		return "", fmt.Errorf("%s has more than %d digits", text, precision)
	}
	return decimal(text), nil
}

// timeLayout is the layout a field is written and read with.
func (f *Field) timeLayout(s *Shape) string {
	layout := f.Format
	if layout == "" {
		if f.Type == TypeDate {
			layout = s.DateFormat
		} else {
			layout = s.TimestampFormat
		}
	}
	if layout == "rfc3339" {
		return time.RFC3339Nano
	}
	return layout
}

// parseText reads a value of the field from text: a query-string value, a
// path parameter or a default in the recipe.
func (f *Field) parseText(s string, shape *Shape) (any, error) {
	switch f.Type {
	case TypeString:
		if p := textProblem(s); p != "" {
			return nil, errors.New(p)
		}
		return s, nil
	case TypeUUID:
		if !isUUID(s) {
			return nil, fmt.Errorf("%q is not a UUID", s)
		}
		return strings.ToLower(s), nil
	case TypeInteger:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return i, nil
	case TypeNumber:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return v, nil
	case TypeDecimal:
		return parseDecimal(s, f.Scale, f.Precision)
	case TypeBoolean:
		switch strings.ToLower(s) {
		case "true", "1", "yes":
			return true, nil
		case "false", "0", "no":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case TypeTimestamp, TypeDate:
		return f.parseTime(s, shape)
	case TypeJSON:
		if !json.Valid([]byte(s)) {
			return nil, fmt.Errorf("%q is not JSON", s)
		}
		if p := jsonValueProblem(json.RawMessage(s)); p != "" {
			return nil, errors.New(p)
		}
		return json.RawMessage(s), nil
	case TypeTime:
		return parseTimeSpan(s, f.FSP)
	case TypeBits:
		return parseBits(s, f.Length)
	case TypeBinary:
		return parseBlob(s)
	case TypeSet:
		return f.parseSetText(s)
	}
	return nil, fmt.Errorf("unknown type %q", f.Type)
}

// parseTime reads a timestamp or a date. A timestamp comes back in UTC, so
// that a column without time zone stores the UTC wall-clock time (pgx
// writes a time's wall clock there, whatever its offset).
func (f *Field) parseTime(s string, shape *Shape) (time.Time, error) {
	layouts := f.timeLayouts(shape) // the OpenAPI pattern is built from the same list
	for _, layout := range layouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			if f.Type == TypeTimestamp {
				t = t.UTC()
			}
			return t, nil
		}
	}
	layout := layouts[0]
	kind := "timestamp"
	if f.Type == TypeDate {
		kind = "date"
	}
	return time.Time{}, fmt.Errorf("%q is not a %s in the form %s", s, kind, layout)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// parseJSON reads a value of the field from a decoded JSON request value
// (decoded with UseNumber).
func (f *Field) parseJSON(v any, shape *Shape) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case TypeString, TypeUUID, TypeBits, TypeBinary:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a string, found %s", jsonKind(v))
		}
		return f.parseText(s, shape)
	case TypeTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a string in the form [-]HH:MM:SS, found %s", jsonKind(v))
		}
		return parseTimeSpan(s, f.FSP)
	case TypeSet:
		return f.parseSetJSON(v)
	case TypeInteger:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("expected an integer, found %s", jsonKind(v))
		}
		return f.parseText(n.String(), shape)
	case TypeNumber:
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("expected a number, found %s", jsonKind(v))
		}
		return f.parseText(n.String(), shape)
	case TypeDecimal:
		switch x := v.(type) {
		case json.Number:
			return parseDecimal(x.String(), f.Scale, f.Precision)
		case string:
			return parseDecimal(x, f.Scale, f.Precision)
		}
		return nil, fmt.Errorf("expected a decimal number, found %s", jsonKind(v))
	case TypeBoolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case json.Number:
			if shape.Booleans == "int" && (x == "0" || x == "1") {
				return x == "1", nil
			}
		case string:
			if shape.Booleans == "string" && (x == "true" || x == "false") {
				return x == "true", nil
			}
		}
		return nil, fmt.Errorf("expected a boolean, found %s", jsonKind(v))
	case TypeTimestamp, TypeDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("expected a string in the form %s, found %s", f.timeLayout(shape), jsonKind(v))
		}
		return f.parseTime(s, shape)
	case TypeJSON:
		if p := jsonTextProblem(v); p != "" {
			return nil, errors.New(p)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encoding json value: %w", err)
		}
		return json.RawMessage(b), nil
	}
	return nil, fmt.Errorf("unknown type %q", f.Type)
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// check applies the field's simple rules to a parsed value and returns what
// is wrong, or "".
func (f *Field) check(v any) string {
	if v == nil {
		if !f.Nullable {
			return "must not be null"
		}
		return ""
	}
	switch x := v.(type) {
	case string:
		n := utf8.RuneCountInString(x)
		if f.MinLength != nil && n < *f.MinLength {
			return fmt.Sprintf("must be at least %d characters long", *f.MinLength)
		}
		if f.MaxLength != nil && n > *f.MaxLength {
			return fmt.Sprintf("must be at most %d characters long", *f.MaxLength)
		}
		if f.pattern != nil && !f.pattern.MatchString(x) {
			return fmt.Sprintf("must match %s", f.Pattern)
		}
		if len(f.Enum) > 0 {
			for _, e := range f.Enum {
				if e == x {
					return ""
				}
			}
			return "must be one of " + strings.Join(f.Enum, ", ")
		}
	case int64:
		return f.checkRange(float64(x))
	case float64:
		return f.checkRange(x)
	case decimal:
		return f.checkRange(x.float())
	}
	return ""
}

func (f *Field) checkRange(v float64) string {
	if f.Minimum != nil && v < *f.Minimum {
		return fmt.Sprintf("must be at least %v", *f.Minimum)
	}
	if f.Maximum != nil && v > *f.Maximum {
		return fmt.Sprintf("must be at most %v", *f.Maximum)
	}
	return ""
}

// bindValue converts a runtime value into what pgx binds.
func bindValue(v any) any {
	switch x := v.(type) {
	case decimal:
		return string(x)
	case json.RawMessage:
		return []byte(x)
	case timeSpan:
		return pgtype.Interval{Microseconds: int64(x), Valid: true}
	case blob:
		return []byte(x)
	case stringSet:
		if x == nil {
			return []string{} // the empty set, not NULL
		}
		return []string(x)
	}
	return v
}

// defaultValue is the value of an omitted field on create or replace, and
// whether the field has one.
func (f *Field) defaultValue(shape *Shape, now time.Time) (any, bool) {
	if f.Default == "" {
		return nil, false
	}
	if f.Default == "now" && (f.Type == TypeTimestamp || f.Type == TypeDate) {
		if f.Type == TypeDate {
			return now.UTC().Truncate(24 * time.Hour), true
		}
		return now.UTC().Truncate(time.Microsecond), true
	}
	v, err := f.parseText(f.Default, shape)
	if err != nil {
		return nil, false // refused at load time
	}
	return v, true
}
