package proxy

import (
	"encoding/json"
	"fmt"
	"github.com/stranglerfig/strangler/proxy/capture"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/stranglerfig/strangler/internal/config"
)

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
func (w *captureWriter) write(rec *capture.Record, reqBody, respBody []byte) error {
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
