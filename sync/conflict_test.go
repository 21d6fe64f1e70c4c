package sync

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// TestOwnTransactionEndsTheBatch: a transaction strangler's forward
// applier wrote (its origin) ends the new-to-legacy batch before it, so a
// change after it is compared with the row as the forward write left it,
// not as it was before the batch: were they one batch, a later change made
// on top of the winning version would look like a conflict and be lost.
func TestOwnTransactionEndsTheBatch(t *testing.T) {
	rt, rel := revTestTable(t, false)
	rt.rule = &conflictRule{table: "t", from: sideNew}
	items := make(chan revItem, 16)
	p := &Pipeline{cfg: config.Pipeline{Name: "p", BatchSize: 1000}, pieceRows: 1000}
	h := &reverseHandler{p: p, byRel: map[uint32]*revTable{rel.ID: rt}, cur: newRevBatch(), applyCh: items}
	ctx := t.Context()
	update := func(oldV, newV string) LogicalChange {
		return LogicalChange{Relation: rel, Op: OpUpdate, OldKind: 'O', Old: tv("1", oldV, "\x00n"), New: tv("1", newV, "\x00n")}
	}
	txn := func(lsn LSN, origin string, c LogicalChange) {
		assert.NoError(t, h.OnBegin(ctx, LogicalBegin{FinalLSN: lsn}))
		if origin != "" {
			assert.NoError(t, h.OnOrigin(ctx, LogicalOrigin{Name: origin}))
		}
		assert.NoError(t, h.OnChange(ctx, c))
		assert.NoError(t, h.OnCommit(ctx, LogicalCommit{EndLSN: lsn + 1}))
	}
	// The applier is busy while the new side's first change arrives (no
	// one reads the channel): it waits in the open batch.
	ch := make(chan revItem)
	h.applyCh = ch
	txn(10, "", update("base", "n1")) // the new side's change, in conflict
	read := make(chan struct{})
	go func() {
		defer close(read)
		for it := range ch {
			items <- it
		}
	}()
	txn(20, "strangler_p_0123", update("n1", "legacy")) // the forward write of the winning version
	txn(30, "", update("legacy", "n2"))                 // made on top of it
	if !h.cur.empty() {
		require.NoError(t, h.send(ctx, revItem{batch: h.cur}))
	}
	close(ch)
	<-read
	close(items)

	var exps []string
	for it := range items {
		if it.batch == nil || it.batch.changes == 0 {
			continue
		}
		for _, tb := range it.batch.order {
			exps = append(exps, string(tb.exp["1"].lits[1]))
		}
	}
	assert.Equal(t, []string{"'base'", "'legacy'"}, exps, "each batch expects the row before its own first change")
	assert.EqualValues(t, 1, p.ownSkipped.Load())
}
