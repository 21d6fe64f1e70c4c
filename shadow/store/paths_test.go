package store

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestGeneralize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no brackets", "$.data.total", "$.data.total"},
		{"index", "$.items[3].price", "$.items[*].price"},
		{"nested indexes", "$.a[0].b[12][7]", "$.a[*].b[*][*]"},
		{"keyed set element", "$.items[id=42].name", "$.items[*].name"},
		{"keyed with quoted value", `$.items[sku="a]b"].n`, "$.items[*].n"},
		{"unmatched set element", "$.items[#3]", "$.items[*]"},
		{"already general", "$.items[*].x", "$.items[*].x"},
		{"quoted member", `$["quoted [key]"].x`, `$["quoted [key]"].x`},
		{"quoted member with escape", `$["a\"]"][2]`, `$["a\"]"][*]`},
		{"single quoted member", `$['k[1]'][1]`, `$['k[1]'][*]`},
		{"quoted member then index", `$["a=b"][0]`, `$["a=b"][*]`},
		{"unterminated", "$.items[3", "$.items[3"},
		{"empty brackets", "$.a[]", "$.a[]"},
		{"hash alone", "$.a[#]", "$.a[#]"},
		{"header", "header:Content-Type", "header:Content-Type"},
		{"status", "status", "status"},
		{"recursive descent", "$..items[2]", "$..items[*]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, generalize(tt.in))
		})
	}
}

func FuzzGeneralize(f *testing.F) {
	for _, s := range []string{"$.items[3].price", `$["a [b]"][id=4]`, "$.x[#1][", `$[sku="]"]`, "header:X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		g := generalize(p)
		if generalize(g) != g {
			t.Fatalf("generalize is not idempotent: %q -> %q -> %q", p, g, generalize(g))
		}
		if !strings.Contains(p, "[") && g != p {
			t.Fatalf("a path without brackets changed: %q -> %q", p, g)
		}
		if len(g) > len(p)+2*strings.Count(p, "[") {
			t.Fatalf("generalize grew %q to %q", p, g)
		}
	})
}

func TestBoundPath(t *testing.T) {
	short := "$.a.b"
	assert.Equal(t, short, boundPath(short))
	long := "$." + strings.Repeat("é", 400) // 800 bytes
	b := boundPath(long)
	assert.LessOrEqual(t, len(b), maxPathLen)
	assert.True(t, utf8.ValidString(b))
	other := boundPath(long + "x")
	assert.NotEqual(t, b, other, "long paths stay distinct")
}

func TestDiffPathsOncePerRecord(t *testing.T) {
	r := &Record{Diffs: []Diff{
		{Path: "$.items[0].price", Legacy: "1", New: "2"},
		{Path: "$.items[1].price", Legacy: "3", New: "4"},
		{Path: "$.total"},
	}}
	hits := diffPaths(r)
	if assert.Len(t, hits, 2) {
		assert.Equal(t, "$.items[*].price", hits[0].path)
		assert.Equal(t, "$.items[0].price", hits[0].diff.Path, "the first concrete path is the example")
		assert.Equal(t, "$.total", hits[1].path)
	}
	var many []Diff
	for range 20 {
		many = append(many, Diff{Path: "$.a[1]"}, Diff{Path: "$.b"})
	}
	assert.Len(t, diffPaths(&Record{Diffs: many}), 2)
}

func TestReplaceNULEscapes(t *testing.T) {
	assert.Equal(t, `"a\ufffdb"`, string(replaceNULEscapes([]byte(`"a\u0000b"`))))
	assert.Equal(t, `"a\\u0000b"`, string(replaceNULEscapes([]byte(`"a\\u0000b"`))), "an escaped backslash is no escape")
	assert.Equal(t, `"\u00e9"`, string(replaceNULEscapes([]byte(`"\u00e9"`))))
}

func TestPGText(t *testing.T) {
	assert.Equal(t, "ok", pgText("ok"))
	assert.Equal(t, "a\uFFFDb", pgText("a\x00b"))
	assert.Equal(t, "a\uFFFDb", pgText("a\xffb"))
}

func TestInsertNewest(t *testing.T) {
	at := func(e ErrorExample) time.Time { return e.At }
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var s []ErrorExample
	for _, sec := range []int{5, 1, 9, 3, 7, 8} {
		s = insertNewest(s, ErrorExample{ID: string(rune('a' + sec)), At: base.Add(time.Duration(sec) * time.Second)}, 3, at)
	}
	var ids []string
	for _, e := range s {
		ids = append(ids, e.ID)
	}
	assert.Equal(t, []string{"j", "i", "h"}, ids, "the newest three, newest first")
}
