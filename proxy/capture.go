package proxy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/stranglerfig/strangler/internal/config"
)

// CaptureRecord is one line of a capture file: a request to legacy and
// legacy's answer, for `strangler extract`.
type CaptureRecord struct {
	Route     string          `json:"route"`
	At        time.Time       `json:"at"`
	RequestID string          `json:"request_id,omitempty"`
	Request   CaptureRequest  `json:"request"`
	Response  CaptureResponse `json:"response"`
}

// CaptureRequest is the request part of a capture record.
type CaptureRequest struct {
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

// CaptureResponse is the response part of a capture record.
type CaptureResponse struct {
	Status     int         `json:"status"`
	Header     http.Header `json:"header,omitempty"`
	Body       string      `json:"body,omitempty"`
	BodyBase64 []byte      `json:"body_base64,omitempty"`
	Truncated  bool        `json:"truncated,omitempty"`
	DurationMS float64     `json:"duration_ms"`
}

// captureWriter appends sampled records of one route to its file.
type captureWriter struct {
	route  string
	sample float64
	max    int64
	taken  atomic.Int64
	red    *redaction

	mu   sync.Mutex
	file *os.File
}

func openCapture(path, route string, c *config.Capture, red *redaction) (*captureWriter, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("capture: creating directory of %s: %w", path, err)
	}
	file, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("capture: opening %s: %w", path, err)
	}
	return &captureWriter{route: route, sample: c.Sample, max: int64(c.Max), file: file, red: red}, nil
}

// take decides whether to record one more request: drawn with the sample
// rate, up to max records.
func (w *captureWriter) take() bool {
	if w.sample < 1 && rand.Float64() >= w.sample {
		return false
	}
	if w.max > 0 && w.taken.Add(1) > w.max {
		return false
	}
	return true
}

// write appends one record, redacted: headers, query, path variables (in
// the path too) and bodies.
func (w *captureWriter) write(rec *CaptureRecord, reqBody, respBody []byte) error {
	e := w.red.redact(recorded{
		path: rec.Request.Path, query: rec.Request.Query, vars: rec.Request.Vars,
		reqHeader: rec.Request.Header, respHeader: rec.Response.Header,
		reqBody: reqBody, respBody: respBody,
	})
	rec.Request.Path, rec.Request.Query, rec.Request.Vars = e.path, e.query, e.vars
	rec.Request.Header, rec.Response.Header = e.reqHeader, e.respHeader
	rec.Request.Body, rec.Request.BodyBase64 = bodyField(e.reqBody)
	rec.Response.Body, rec.Response.BodyBase64 = bodyField(e.respBody)
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("capture of %s: encoding record: %w", w.route, err)
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return fmt.Errorf("capture of %s: closed", w.route)
	}
	if _, err := w.file.Write(line); err != nil {
		return fmt.Errorf("capture of %s: writing: %w", w.route, err)
	}
	return nil
}

func bodyField(b []byte) (string, []byte) {
	if len(b) == 0 {
		return "", nil
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	return "", b
}

// Close flushes and closes the file.
func (w *captureWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return nil
	}
	err := w.file.Sync()
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	w.file = nil
	if err != nil {
		return fmt.Errorf("capture of %s: closing: %w", w.route, err)
	}
	return nil
}
