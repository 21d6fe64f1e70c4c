package buildinfo

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRead(t *testing.T) {
	in := Read()
	assert.NotEmpty(t, in.Version)
	assert.Equal(t, runtime.Version(), in.Go)
}

func TestString(t *testing.T) {
	tests := []struct {
		name string
		in   Info
		want string
	}{
		{"release", Info{Version: "v1.2.3", Commit: "0123456789abcdef0123", Go: "go1.26.0"}, "v1.2.3 (commit 0123456789ab, go1.26.0)"},
		{"modified work tree", Info{Version: "(devel)", Commit: "abc", Modified: true, Go: "go1.26.0"}, "(devel) (commit abc+modified, go1.26.0)"},
		{"no commit", Info{Version: "(devel)", Go: "go1.26.0"}, "(devel) (commit unknown, go1.26.0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.in.String())
		})
	}
}
