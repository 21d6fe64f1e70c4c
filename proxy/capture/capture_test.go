package capture_test

import (
	"strings"
	"testing"

	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadToleratesATruncatedLastLine(t *testing.T) {
	in := `{"route":"a","request":{"method":"GET","path":"/a/1"},"response":{"status":200,"body":"{}"}}
{"route":"a","request":{"method":"GET","path":"/a/2"},"response":{"status":404}}
{"route":"a","request":{"method":"GE`
	recs, err := capture.Read("a.jsonl", strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, "/a/2", recs[1].Request.Path)
	assert.Equal(t, 404, recs[1].Response.Status)
}

func TestReadRefusesACorruptLineInTheMiddle(t *testing.T) {
	in := "{\"route\":\"a\"}\nnot json\n{\"route\":\"b\"}\n"
	_, err := capture.Read("a.jsonl", strings.NewReader(in))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "a.jsonl:2: not a capture record")
}
