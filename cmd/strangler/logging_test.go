package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "--version")
	require.Equal(t, exitOK, code)
	assert.Regexp(t, `^strangler \S+ \(commit \S+, go1\.\d+`, out)
}

// TestLogFormat: logs are JSON lines unless --log-format text (or a
// terminal) asks for logfmt; --log-level drops what is below it.
func TestLogFormat(t *testing.T) {
	dir := t.TempDir()
	project := dir + "/strangler.yaml"
	writeFile(t, project, "legacy: http://127.0.0.1:9000\ndatabases:\n  legacy: mysql://app:inline@127.0.0.1:3306/shop\n")

	code, _, stderr := runCLI(t, "-c", project, "check")
	require.Equal(t, exitOK, code, stderr)
	line := strings.SplitN(strings.TrimSpace(stderr), "\n", 2)[0]
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &rec), "a JSON log line: %s", line)
	assert.Equal(t, "WARN", rec["level"])
	assert.NotContains(t, stderr, "inline", "the password never reaches a log")

	code, _, stderr = runCLI(t, "-c", project, "--log-format", "text", "check")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "level=WARN")

	code, _, stderr = runCLI(t, "-c", project, "--log-level", "error", "check")
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stderr)

	code, _, stderr = runCLI(t, "--log-format", "xml", "check")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, `--log-format "xml": use json or text`)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}
