// Package httpstatus holds the one http.ResponseWriter wrapper that
// remembers the status of an answer, shared by the facade and the recipe
// runtime for their metrics and logs.
package httpstatus

import "net/http"

// Recorder remembers the final status written through it (informational
// 1xx answers are passed on, not recorded). It passes Flush and, through
// Unwrap, Hijack and deadlines to the server's writer, so that streams and
// upgrades go through.
type Recorder struct {
	http.ResponseWriter
	Status int // 0 until the answer starts
}

// WriteHeader records the first final status.
func (w *Recorder) WriteHeader(code int) {
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *Recorder) Write(p []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Flush records an implicit 200 and flushes the server's writer.
func (w *Recorder) Flush() {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *Recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
