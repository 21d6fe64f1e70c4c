// Package capture is the capture record: one line of a capture file, a
// request to legacy and legacy's answer, written (redacted) by the facade
// for routes with capture on and read by strangler extract and contract
// infer. It is a leaf: it imports nothing of strangler.
package capture

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Record is one line of a capture file.
type Record struct {
	Route     string    `json:"route"`
	At        time.Time `json:"at"`
	RequestID string    `json:"request_id,omitempty"`
	Request   Request   `json:"request"`
	Response  Response  `json:"response"`
}

// Request is the request part of a record.
type Request struct {
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  string            `json:"query,omitempty"`
	Vars   map[string]string `json:"vars,omitempty"` // the route template's variables
	Header http.Header       `json:"header,omitempty"`
	// Body is the body as text when it is UTF-8, else BodyBase64 holds it.
	Body       string `json:"body,omitempty"`
	BodyBase64 []byte `json:"body_base64,omitempty"`
	Truncated  bool   `json:"truncated,omitempty"` // the body was longer than proxy.max_body_copy
}

// Response is the response part of a record.
type Response struct {
	Status     int         `json:"status"`
	Header     http.Header `json:"header,omitempty"`
	Body       string      `json:"body,omitempty"`
	BodyBase64 []byte      `json:"body_base64,omitempty"`
	Truncated  bool        `json:"truncated,omitempty"`
	DurationMS float64     `json:"duration_ms"`
}

// maxLine is the longest line a capture file may hold: a record with two
// bodies of proxy.max_body_copy (at most 64 MiB each) and their headers.
const maxLine = 160 << 20

// Read reads every record of r; name (the file's name) is in errors, with
// the line number. A truncated last line (a facade stopped mid-write) is
// left out; any other line that is not a record is an error.
func Read(name string, r io.Reader) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var out []Record
	var pending error
	for line := 1; sc.Scan(); line++ {
		if pending != nil {
			return nil, pending // a bad line that was not the last
		}
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(b, &rec); err != nil {
			pending = fmt.Errorf("%s:%d: not a capture record: %v", name, line, err)
			continue
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// ReadFile reads every record of the capture file at path.
func ReadFile(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(path, f)
}
