package recipes

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// fieldProblem names one invalid field of a request.
type fieldProblem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details body, with the invalid fields of
// the request listed in errors.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Errors   []fieldProblem `json:"errors,omitempty"`
}

// Error makes a Problem usable as an error.
func (p *Problem) Error() string { return strconv.Itoa(p.Status) + " " + p.Title + ": " + p.Detail }

// problem builds a Problem for status with a detail and the fields at fault.
func problem(status int, detail string, fields ...fieldProblem) *Problem {
	title := http.StatusText(status)
	if status == statusClientClosed {
		title = "Client Closed Request"
	}
	return &Problem{Type: "about:blank", Title: title, Status: status, Detail: detail, Errors: fields}
}

// statusClientClosed is logged when the client went away before the answer
// (nginx's 499); the client never sees it.
const statusClientClosed = 499

// writeProblem writes p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.Instance = r.URL.Path
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(p.Status)
	_, _ = w.Write(b)
}
