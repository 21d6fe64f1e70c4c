package store_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/shadow/store"
)

// openDir opens the file store of dir; the caller closes it.
func openDir(t *testing.T, dir string, ret store.Retention, opts ...store.Option) *store.FileStore {
	t.Helper()
	st, err := store.OpenFile(dir, ret, append([]store.Option{store.WithLogger(quiet())}, opts...)...)
	require.NoError(t, err)
	return st
}

func lines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "records.jsonl"))
	require.NoError(t, err)
	return bytes.Count(b, []byte("\n"))
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// TestFileReopen: everything a file store held is there again after a
// reopen.
func TestFileReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shadow") // created by OpenFile
	c := newClock()
	st := openDir(t, dir, store.Retention{}, store.WithClock(c.Now))
	add(t, st, match("a", c.Now()),
		diff("d1", "a", c.Now(), d("$.items[2].x", "1", "2")),
		failed("e1", "a", c.Now(), "boom"))
	require.NoError(t, st.Dropped(ctx, "a", "too_large", 2))
	require.NoError(t, st.LearnNoise(ctx, "a", "$.t", 4))
	require.NoError(t, st.PinNoise(ctx, "a", "$.p"))
	before := report(t, st, "", store.ReportOptions{})
	require.NoError(t, st.Close())
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	st = openDir(t, dir, store.Retention{}, store.WithClock(c.Now))
	defer st.Close()
	after, err := st.Report(ctx, "", store.ReportOptions{})
	require.NoError(t, err)
	assert.Equal(t, asJSON(t, before), asJSON(t, after))
	assert.Len(t, after[0].Noise, 2)
	assertFound(t, st, "d1")
	assertFound(t, st, "e1")
}

// TestFileTruncatedLastLine: a record line cut short by a crash is
// truncated away on open; the records before it are intact.
func TestFileTruncatedLastLine(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	st := openDir(t, dir, store.Retention{}, store.WithClock(c.Now))
	for k := range 3 {
		add(t, st, diff(fmt.Sprintf("r%d", k), "a", c.Now(), d("$.v", "1", "2")))
	}
	require.NoError(t, st.Close())
	path := filepath.Join(dir, "records.jsonl")
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(bytes.Clone(good), `{"id":"cut","route":"a","at":"20`...), 0o600))

	var logs logBuffer
	st, err = store.OpenFile(dir, store.Retention{}, store.WithLogger(logs.logger()), store.WithClock(c.Now))
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "incomplete")
	for k := range 3 {
		assertFound(t, st, fmt.Sprintf("r%d", k))
	}
	assertNotFound(t, st, "cut")
	now, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, good, now, "the partial line is cut away")

	add(t, st, diff("r3", "a", c.Now(), d("$.v", "1", "2")))
	require.NoError(t, st.Close())
	st = openDir(t, dir, store.Retention{}, store.WithClock(c.Now))
	defer st.Close()
	for k := range 4 {
		assertFound(t, st, fmt.Sprintf("r%d", k))
	}
}

// TestFileCorruptMiddleLine: a corrupt line between good ones is skipped
// and logged.
func TestFileCorruptMiddleLine(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	st := openDir(t, dir, store.Retention{}, store.WithClock(c.Now))
	for k := range 3 {
		add(t, st, diff(fmt.Sprintf("r%d", k), "a", c.Now(), d("$.v", "1", "2")))
	}
	require.NoError(t, st.Close())
	path := filepath.Join(dir, "records.jsonl")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	first := bytes.IndexByte(b, '\n') + 1
	corrupt := append(append(bytes.Clone(b[:first]), "{not json\n"...), b[first:]...)
	require.NoError(t, os.WriteFile(path, corrupt, 0o600))

	var logs logBuffer
	st, err = store.OpenFile(dir, store.Retention{}, store.WithLogger(logs.logger()), store.WithClock(c.Now))
	require.NoError(t, err)
	defer st.Close()
	assert.Contains(t, logs.String(), "corrupt")
	assert.Contains(t, logs.String(), "line=2")
	for k := range 3 {
		assertFound(t, st, fmt.Sprintf("r%d", k))
	}
	add(t, st, diff("r3", "a", c.Now(), d("$.v", "1", "2")))
	flush(t, st)
	assertFound(t, st, "r3")
}

// TestFileSecondOpenRefused: two stores cannot share a directory.
func TestFileSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, store.Retention{})
	_, err := store.OpenFile(dir, store.Retention{}, store.WithLogger(quiet()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), dir)
	assert.Contains(t, err.Error(), "another strangler holds it")
	require.NoError(t, st.Close())

	st = openDir(t, dir, store.Retention{}) // free again once closed
	require.NoError(t, st.Close())
}

// TestFileRetentionRewrite: past Max by a quarter, records.jsonl is
// rewritten with the newest Max; Get and the report's examples agree with
// it, before and after a reopen.
func TestFileRetentionRewrite(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	ret := store.Retention{Max: 10}
	st := openDir(t, dir, ret, store.WithClock(c.Now))
	at := func(k int) time.Time { return c.Now().Add(time.Duration(k-100) * time.Second) }
	for k := range 12 {
		add(t, st, diff(fmt.Sprintf("r%02d", k), "a", at(k), d("$.v", "1", "2")))
	}
	flush(t, st)
	assert.Equal(t, 12, lines(t, dir), "within Max and a quarter: no rewrite yet")
	for k := 12; k < 30; k++ {
		add(t, st, diff(fmt.Sprintf("r%02d", k), "a", at(k), d("$.v", "1", "2")))
	}
	flush(t, st)
	assert.Equal(t, 10, lines(t, dir))
	check := func(st store.Store, newest int) {
		t.Helper()
		for k := range newest + 1 {
			if id := fmt.Sprintf("r%02d", k); k > newest-10 {
				assertFound(t, st, id)
			} else {
				assertNotFound(t, st, id)
			}
		}
		rep := one(t, st, "a", store.ReportOptions{})
		for _, id := range exampleIDs(rep.Paths[0]) {
			assertFound(t, st, id)
		}
		assert.Equal(t, int64(newest+1), rep.Paths[0].Count)
	}
	check(st, 29)

	for k := 30; k < 35; k++ { // appended after the rewrite, then rewritten again
		add(t, st, diff(fmt.Sprintf("r%02d", k), "a", at(k), d("$.v", "1", "2")))
	}
	flush(t, st)
	assert.Equal(t, 10, lines(t, dir))
	check(st, 34)
	require.NoError(t, st.Close())

	st = openDir(t, dir, ret, store.WithClock(c.Now))
	defer st.Close()
	check(st, 34)
}

// TestFileRetentionAge: a record older than Age is hidden at once and
// removed from records.jsonl once it is a quarter of Age over.
func TestFileRetentionAge(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	st := openDir(t, dir, store.Retention{Age: time.Hour}, store.WithClock(c.Now))
	defer st.Close()
	for k := range 5 {
		add(t, st, diff(fmt.Sprintf("old%d", k), "a", c.Now(), d("$.v", "1", "2")))
	}
	flush(t, st)
	c.Advance(70 * time.Minute)
	flush(t, st)
	assert.Equal(t, 5, lines(t, dir), "hidden, not yet rewritten")
	assertNotFound(t, st, "old0")
	c.Advance(10 * time.Minute)
	add(t, st, diff("new0", "a", c.Now(), d("$.v", "1", "2")))
	flush(t, st)
	assert.Equal(t, 1, lines(t, dir))
	assertFound(t, st, "new0")
	assert.Equal(t, []string{"new0"}, exampleIDs(one(t, st, "a", store.ReportOptions{}).Paths[0]))
}

// TestFileStateIsReadable: state.json is plain JSON with the counters.
func TestFileStateIsReadable(t *testing.T) {
	dir := t.TempDir()
	st := openDir(t, dir, store.Retention{})
	add(t, st, match("a", time.Now()))
	require.NoError(t, st.Close())
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	require.NoError(t, err)
	var state struct {
		Version int `json:"version"`
		Routes  map[string]struct {
			Matched int64 `json:"matched"`
		} `json:"routes"`
	}
	require.NoError(t, json.Unmarshal(b, &state))
	assert.Equal(t, 1, state.Version)
	assert.Equal(t, int64(1), state.Routes["a"].Matched)
	left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	assert.Empty(t, left, "no temporary file is left")
}

// TestFileBadState: a state.json that does not parse is refused, naming
// the file.
func TestFileBadState(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), []byte("{"), 0o600))
	_, err := store.OpenFile(dir, store.Retention{}, store.WithLogger(quiet()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "state.json"))
	require.NoError(t, os.Remove(filepath.Join(dir, "state.json")))
	st := openDir(t, dir, store.Retention{}) // the failed open released the lock
	require.NoError(t, st.Close())
	_, err = store.OpenFile(t.TempDir(), store.Retention{Max: -1})
	assert.ErrorContains(t, err, "retention.max")
}
