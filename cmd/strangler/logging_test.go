package main

import (
	"encoding/json"
	"path/filepath"
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
	abs, err := filepath.Abs(shopRecipe)
	require.NoError(t, err)
	writeFile(t, project, "databases:\n  new: postgres://app:inline@127.0.0.1:5432/shop\nservices:\n  - recipe: "+abs+"\n    listen: 127.0.0.1:9100\n")
	serveCheck := []string{"-c", project, "serve", "--check"}

	code, _, stderr := runCLI(t, serveCheck...)
	require.Equal(t, exitOK, code, stderr)
	line := strings.SplitN(strings.TrimSpace(stderr), "\n", 2)[0]
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(line), &rec), "a JSON log line: %s", line)
	assert.Equal(t, "WARN", rec["level"])
	assert.NotContains(t, stderr, "inline", "the password never reaches a log")

	code, _, stderr = runCLI(t, append([]string{"--log-format", "text"}, serveCheck...)...)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "level=WARN")

	code, _, stderr = runCLI(t, append([]string{"--log-level", "error"}, serveCheck...)...)
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stderr)

	code, _, stderr = runCLI(t, "--log-format", "xml", "check")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, `--log-format "xml": use json or text`)
}

// TestCheck: check loads the recipes the project file names and prints
// the warnings proxy would log, on top of the file's own.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	project := dir + "/strangler.yaml"
	abs, err := filepath.Abs(shopRecipe)
	require.NoError(t, err)
	routes := "legacy: http://127.0.0.1:9000\nadmin:\n  token_env: STRANGLER_TEST_CHECK_TOKEN\nroutes:\n  - name: orders\n    match: {path: /api/orders/{id}}\n    target: http://127.0.0.1:9100\n    mode: canary\n    percent: 10\n"
	t.Setenv("STRANGLER_TEST_CHECK_TOKEN", "short")

	writeFile(t, project, routes+"services:\n  - recipe: "+abs+"\n    listen: 127.0.0.1:9100\n")
	code, out, stderr := runCLI(t, "-c", project, "check")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "warning: "+project+":5: routes[0].sticky: canary route without sticky")
	assert.Contains(t, out, `warning: admin token "admin" is short; use at least 16 random characters`)
	assert.Contains(t, out, "ok (1 routes, 0 sync pipelines, 1 services, 2 warnings)")
	assert.Empty(t, stderr, "check prints its warnings once, on standard output")

	writeFile(t, dir+"/bad.yaml", "service: x\nresources: []\nendpoints: []\nshape: {casing: shouty}\n")
	writeFile(t, project, routes+"services:\n  - recipe: missing.yaml\n    listen: 127.0.0.1:9100\n  - recipe: bad.yaml\n    listen: 127.0.0.1:9101\n")
	code, _, stderr = runCLI(t, "-c", project, "check")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, filepath.Join(dir, "missing.yaml"))
	assert.Contains(t, stderr, `bad.yaml:4: shape.casing: "shouty" is not one of`)
}
