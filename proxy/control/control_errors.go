package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// FieldError is bad input in one field of a route change or of stored
// state. The admin API answers it with 400 and names Field.
type FieldError struct {
	Field string // the JSON field, dotted for nested fields ("routes.orders.mode")
	Msg   string // what is wrong with it
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// UnknownRouteError refuses a change naming a route the project file does
// not define. The admin API answers it with 404.
type UnknownRouteError struct {
	Name string
}

func (e *UnknownRouteError) Error() string { return fmt.Sprintf("route %q is not defined", e.Name) }

// describeJSONError turns a encoding/json error into a FieldError naming the
// field (or the byte offset and line for a syntax error).
func describeJSONError(data []byte, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return &FieldError{Msg: "empty body: expected a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Msg: "truncated JSON document"}
	case errors.As(err, &syn):
		line := 1 + bytes.Count(data[:min(int(syn.Offset), len(data))], []byte("\n"))
		return &FieldError{Msg: fmt.Sprintf("invalid JSON at line %d (byte %d): %v", line, syn.Offset, syn)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return &FieldError{Msg: fmt.Sprintf("expected a JSON object, got %s", typ.Value)}
		}
		return &FieldError{Field: field, Msg: fmt.Sprintf("expected %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &FieldError{Field: name, Msg: "unknown field"}
	default:
		return &FieldError{Msg: fmt.Sprintf("invalid JSON: %v", err)}
	}
}

func jsonKind(k string) string {
	switch k {
	case "float64", "float32":
		return "a number"
	case "uint64", "uint", "int", "int64":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "ptr":
		return "a value"
	default:
		return "a " + k
	}
}
