package sync

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stranglerfig/strangler/internal/config"
)

func TestJSONEqual(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`{"b": [1, 2.50, "\u00e9"], "a": null}`, `{"a": null, "b": [1, 2.50, "é"]}`, true},
		{`{"a": 1}`, `{"a":1.0}`, true},
		{`{"a": 1e2}`, `{"a": 100}`, true},
		{`[1, 2]`, `[2, 1]`, false},
		{`{"a": 1}`, `{"a": 1, "b": 2}`, false},
		{`{"a": "1"}`, `{"a": 1}`, false},
		{`"x"`, `"x"`, true},
		{`not json`, `not json`, true},
		{`not json`, `"not json"`, false},
		{`{"a": 1} {"b": 2}`, `{"a": 1}`, false},
	} {
		assert.Equal(t, c.want, jsonEqual([]byte(c.a), []byte(c.b)), "%s vs %s", c.a, c.b)
	}
}

func TestEqualSQL(t *testing.T) {
	assert.Equal(t, "`f` <=> CAST(1.5 AS FLOAT)", equalSQL("`f`", "1.5", kindFloat, true))
	assert.Equal(t, "`j` <=> CAST('{}' AS JSON)", equalSQL("`j`", "'{}'", kindJSON, false))
	assert.Equal(t, "`d` <=> 1.5", equalSQL("`d`", "1.5", kindDouble, true))
}

// TestResolve: the system of record wins, or the newer version; a tie or a
// deleted row goes to the system of record; every conflict is counted and
// logged with both versions, each cut to a bounded length.
func TestResolve(t *testing.T) {
	var logs bytes.Buffer
	p := &Pipeline{both: &config.Pipeline{Record: config.RecordLegacy}, label: "p", log: slog.New(slog.NewTextHandler(&logs, nil))}
	fromNew := &conflictRule{table: "orders", from: sideNew}
	fromLegacy := &conflictRule{table: "orders", from: sideLegacy}
	newest := &conflictRule{table: "stock", from: sideNew, newest: true}

	assert.False(t, p.resolve(fromNew, conflict{key: "1", incoming: "{n}", current: "{l}"}), "legacy is the record: the new change loses")
	assert.True(t, p.resolve(fromLegacy, conflict{key: "1", incoming: "{l}", current: "{n}"}), "the legacy change wins")
	assert.True(t, p.resolve(newest, conflict{key: "2", incoming: "{n}", current: "{l}", newer: 1}), "the newer new version wins")
	assert.False(t, p.resolve(newest, conflict{key: "2", incoming: "{n}", current: "{l}", newer: -1}), "the older new version loses")
	assert.False(t, p.resolve(newest, conflict{key: "2", incoming: "{n}", current: "{l}"}), "a tie goes to the record")
	assert.False(t, p.resolve(newest, conflict{key: "2", incoming: "", current: "{l}", newer: 1}), "a delete goes to the record")
	p.o.Record = func() string { return config.RecordNew }
	assert.True(t, p.resolve(fromNew, conflict{key: "3", incoming: "{n}", current: "{l}"}), "the route is new: new is the record")
	assert.EqualValues(t, 7, p.conflicts.Load())

	p.resolve(fromNew, conflict{key: "4", incoming: strings.Repeat("x", 5000), current: "", differs: "note"})
	line := logs.String()[strings.LastIndex(logs.String(), "conflict on orders key 4"):]
	assert.Contains(t, line, "it differs in note; new wins (the system of record)")
	assert.Contains(t, line, "... (2952 bytes more)")
	assert.Contains(t, line, "legacy=deleted")
}

// TestExpectFirst: a key keeps the row from before its first change in the
// batch; an insert's key, and a key change's new key, expect no row.
func TestExpectFirst(t *testing.T) {
	exp := map[string]string{}
	expectFirst(exp, OpUpdate, "1", "1", "v0")
	expectFirst(exp, OpUpdate, "1", "1", "v1") // the second change of 1: still v0
	expectFirst(exp, OpInsert, "", "2", "")
	expectFirst(exp, OpDelete, "2", "", "v2") // inserted, then deleted: nothing before
	expectFirst(exp, OpUpdate, "3", "4", "v3")
	expectFirst(exp, OpDelete, "5", "", "v5")
	assert.Equal(t, map[string]string{"1": "v0", "2": "", "3": "v3", "4": "", "5": "v5"}, exp)
}
