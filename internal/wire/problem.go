package wire

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ProblemContentType is the media type of every refusal of strangler's own
// HTTP APIs (the admin API and the endpoints it mounts).
const ProblemContentType = "application/problem+json"

// FieldProblem names one invalid field of a request.
type FieldProblem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Problem is the body of every refused request: RFC 9457 problem details,
// the fields at fault listed in errors.
type Problem struct {
	Type     string         `json:"type"`             // "about:blank": the status says it all
	Title    string         `json:"title"`            // the status text
	Status   int            `json:"status"`           // the HTTP status
	Detail   string         `json:"detail,omitempty"` // what was wrong, for people
	Instance string         `json:"instance,omitempty"`
	Errors   []FieldProblem `json:"errors,omitempty"` // the fields at fault
}

// NewProblem builds the Problem of status; a field, if given, is listed in
// errors and named in the detail ("field: msg").
func NewProblem(status int, field, msg string) *Problem {
	p := &Problem{Type: "about:blank", Title: StatusTitle(status), Status: status, Detail: msg}
	if field != "" {
		p.Detail = field + ": " + msg
		p.Errors = []FieldProblem{{Field: field, Message: msg}}
	}
	return p
}

// Error makes a Problem usable as an error: its status and detail.
func (p *Problem) Error() string {
	if p.Detail == "" {
		return strconv.Itoa(p.Status) + " " + p.Title
	}
	return p.Detail
}

// StatusTitle is the status text of a code, or "Status N" for a code
// without one.
func StatusTitle(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Status " + strconv.Itoa(status)
}

// WriteProblem answers a refusal: status code, the problem as
// application/problem+json, with the request's path as its instance.
func WriteProblem(w http.ResponseWriter, r *http.Request, code int, field, msg string) {
	p := NewProblem(code, field, msg)
	p.Instance = r.URL.Path
	WriteBody(w, code, ProblemContentType, p)
}

// WriteJSON answers with v as indented JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	WriteBody(w, code, "application/json", v)
}

// WriteBody answers with v encoded as indented JSON under contentType.
func WriteBody(w http.ResponseWriter, code int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
