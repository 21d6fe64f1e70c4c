package httpstatus

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRecorder(t *testing.T) {
	tests := []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, 0},
		{"implicit 200", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, 200},
		{"explicit status", func(w http.ResponseWriter) { w.WriteHeader(404) }, 404},
		{"first status wins", func(w http.ResponseWriter) { w.WriteHeader(201); w.WriteHeader(500) }, 201},
		{"1xx passed on, not recorded", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(204) }, 204},
		{"flush starts the answer", func(w http.ResponseWriter) { w.(http.Flusher).Flush() }, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &Recorder{ResponseWriter: httptest.NewRecorder()}
			tt.write(rec)
			assert.Equal(t, tt.want, rec.Status)
		})
	}
}
