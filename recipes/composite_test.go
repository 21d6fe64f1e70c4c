package recipes

import (
	"encoding/json"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const compositeRecipe = "testdata/recipes/composite.yaml"

// loadComposite reads the recipe whose book_tag resource has the
// composite key (book_id, tag), optionally edited by edit.
func loadComposite(t *testing.T, edit func(string) string) *Recipe {
	t.Helper()
	data, err := os.ReadFile(compositeRecipe)
	require.NoError(t, err)
	text := string(data)
	if edit != nil {
		text = edit(text)
	}
	r, err := Parse("composite.yaml", []byte(text))
	require.NoError(t, err)
	return r
}

// seedTags creates two books and five tags, in an order unlike key order.
func (e *env) seedTags() {
	e.t.Helper()
	e.must(201, "POST", "/lib/books", map[string]any{"title": "Dune"})
	e.must(201, "POST", "/lib/books", map[string]any{"title": "War and Peace"})
	for _, bt := range []struct {
		book int
		tag  string
	}{{2, "war"}, {1, "sci-fi"}, {2, "classic"}, {1, "space-opera"}, {1, "classic"}} {
		e.must(201, "POST", "/lib/book-tags", map[string]any{"book_id": bt.book, "tag": bt.tag})
	}
}

// tagKeys lists the "book_id/tag" of each row of a list answer.
func tagKeys(t *testing.T, body string) []string {
	t.Helper()
	var got struct {
		Data []struct {
			BookID int    `json:"book_id"`
			Tag    string `json:"tag"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	var out []string
	for _, r := range got.Data {
		out = append(out, strings.Join([]string{strconv.Itoa(r.BookID), r.Tag}, "/"))
	}
	return out
}

func TestCompositeKey(t *testing.T) {
	r := loadComposite(t, nil)
	assert.Equal(t, []string{"book_id", "tag"}, r.Resources[1].Keys)
	assert.Equal(t, "book_id", r.Resources[1].Key, "Key is the first key field")
	assert.Equal(t, []string{"id"}, r.Resources[0].Keys, "a single key defaults to id")
	e := newEnv(t, r)
	e.seedTags()

	t.Run("create answers with a Location naming every key part", func(t *testing.T) {
		resp, body := e.must(201, "POST", "/lib/book-tags", map[string]any{"book_id": 2, "tag": "russian", "note": "novel"})
		assert.Equal(t, "/lib/book-tags/2/russian", resp.Header.Get("Location"))
		assert.NotEmpty(t, resp.Header.Get("ETag"))
		assert.JSONEq(t, `{"data":{"book_id":2,"tag":"russian","weight":1,"note":"novel"}}`, body)
		e.must(409, "POST", "/lib/book-tags", map[string]any{"book_id": 2, "tag": "russian"})
		e.must(201, "POST", "/lib/book-tags", map[string]any{"book_id": 1, "tag": "russian"}) // one part alike is another row
	})
	t.Run("get with an embedded book", func(t *testing.T) {
		resp, body := e.must(200, "GET", "/lib/book-tags/1/sci-fi", nil)
		assert.JSONEq(t, `{"data":{"book_id":1,"tag":"sci-fi","weight":1,"note":null,"book":{"id":1,"title":"Dune"}}}`, body)
		etag := resp.Header.Get("ETag")
		e.must(304, "GET", "/lib/book-tags/1/sci-fi", nil, "If-None-Match", etag)
		other, _ := e.must(200, "GET", "/lib/book-tags/1/classic", nil)
		assert.NotEqual(t, etag, other.Header.Get("ETag"), "each row has its own tag")
	})
	t.Run("list pages in key order", func(t *testing.T) {
		var all []string
		path, pages := "/lib/book-tags", 0
		for path != "" {
			_, body := e.must(200, "GET", path, nil)
			keys := tagKeys(t, body)
			require.LessOrEqual(t, len(keys), 2)
			all = append(all, keys...)
			pages++
			var meta struct {
				Meta struct {
					NextCursor string `json:"next_cursor"`
				} `json:"meta"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &meta))
			path = ""
			if c := meta.Meta.NextCursor; c != "" {
				path = "/lib/book-tags?cursor=" + url.QueryEscape(c)
			}
			require.Less(t, pages, 10, "pagination ends")
		}
		assert.Equal(t, []string{"1/classic", "1/russian", "1/sci-fi", "1/space-opera", "2/classic", "2/russian", "2/war"}, all)
		assert.Equal(t, 4, pages)
		_, body := e.must(200, "GET", "/lib/book-tags?book_id=2&limit=5", nil)
		assert.Equal(t, []string{"2/classic", "2/russian", "2/war"}, tagKeys(t, body))
	})
	t.Run("patch with If-Match", func(t *testing.T) {
		resp, _ := e.must(200, "GET", "/lib/book-tags/1/space-opera", nil)
		etag := resp.Header.Get("ETag")
		_, body := e.must(200, "PATCH", "/lib/book-tags/1/space-opera", map[string]any{"weight": 5}, "If-Match", etag)
		assert.JSONEq(t, `{"data":{"book_id":1,"tag":"space-opera","weight":5,"note":null}}`, body)
		e.must(409, "PATCH", "/lib/book-tags/1/space-opera", map[string]any{"weight": 6}, "If-Match", etag)
		e.must(200, "PATCH", "/lib/book-tags/1/space-opera", map[string]any{"tag": "space-opera", "book_id": 1}) // the key echoed back
		e.must(422, "PATCH", "/lib/book-tags/1/space-opera", map[string]any{"tag": "opera"})
		e.must(422, "PATCH", "/lib/book-tags/1/space-opera", map[string]any{"book_id": 2})
		_, body = e.must(200, "GET", "/lib/book-tags/1/classic", nil)
		assert.Contains(t, body, `"weight":1`, "only the row of both parts changed")
	})
	t.Run("replace", func(t *testing.T) {
		_, body := e.must(200, "PUT", "/lib/book-tags/2/war", map[string]any{"note": "epic"})
		assert.JSONEq(t, `{"data":{"book_id":2,"tag":"war","weight":1,"note":"epic"}}`, body)
		_, body = e.must(200, "GET", "/lib/book-tags/2/classic", nil)
		assert.Contains(t, body, `"note":null`)
	})
	t.Run("delete", func(t *testing.T) {
		e.must(204, "DELETE", "/lib/book-tags/2/war", nil)
		e.must(404, "GET", "/lib/book-tags/2/war", nil)
		e.must(404, "DELETE", "/lib/book-tags/2/war", nil)
		e.must(200, "GET", "/lib/book-tags/2/classic", nil)
	})
	t.Run("events name every key part", func(t *testing.T) {
		var n int
		require.NoError(t, e.pool.QueryRow(testCtx(t), `SELECT count(*) FROM strangler_outbox WHERE aggregate_key = 'book_tag:2/war'`).Scan(&n))
		assert.Equal(t, 2, n, "BookTagged and BookUntagged")
	})
	t.Run("missing and bad keys", func(t *testing.T) {
		for _, path := range []string{"/lib/book-tags/9/sci-fi", "/lib/book-tags/1/none", "/lib/book-tags/abc/sci-fi", "/lib/book-tags/99999999999999999999/x"} {
			resp, body := e.do("GET", path, nil)
			assert.Equal(t, 404, resp.StatusCode, "%s: %s", path, body)
			resp, body = e.do("PATCH", path, map[string]any{"weight": 2})
			assert.Equal(t, 404, resp.StatusCode, "%s: %s", path, body)
		}
		e.must(404, "GET", "/lib/book-tags/1", nil)
		e.must(400, "GET", "/lib/book-tags?cursor=bm90LWpzb24", nil)        // "not-json"
		e.must(400, "GET", "/lib/book-tags?cursor=WyIxIl0", nil)            // ["1"]: one part of two
		e.must(400, "GET", "/lib/book-tags?cursor=WyJ4IiwiYSJd", nil)       // ["x","a"]: not an integer
		e.must(422, "POST", "/lib/book-tags", map[string]any{"book_id": 1}) // a key part missing
	})
}

// TestCompositeKeyOffsetPages lists a composite-key resource with offset
// pagination and a sort: the key columns break ties in order.
func TestCompositeKeyOffsetPages(t *testing.T) {
	e := newEnv(t, loadComposite(t, func(s string) string {
		s = strings.Replace(s, "pagination: cursor", "pagination: offset", 1)
		s = strings.Replace(s, "meta: [next_cursor, limit]", "meta: [total, limit, offset]", 1)
		return strings.Replace(s, "filters: [book_id]}", "filters: [book_id], sort: [weight]}", 1)
	}))
	e.seedTags()
	var all []string
	for offset := 0; offset < 6; offset += 2 {
		_, body := e.must(200, "GET", "/lib/book-tags?offset="+strconv.Itoa(offset), nil)
		assert.Contains(t, body, `"total":5`)
		all = append(all, tagKeys(t, body)...)
	}
	assert.Equal(t, []string{"1/classic", "1/sci-fi", "1/space-opera", "2/classic", "2/war"}, all)
	e.must(200, "PATCH", "/lib/book-tags/2/classic", map[string]any{"weight": 0})
	_, body := e.must(200, "GET", "/lib/book-tags?sort=weight&limit=3", nil)
	assert.Equal(t, []string{"2/classic", "1/classic", "1/sci-fi"}, tagKeys(t, body))
}

// TestCompositeKeyRecipeErrors checks what validation refuses of a
// composite key.
func TestCompositeKeyRecipeErrors(t *testing.T) {
	data, err := os.ReadFile(compositeRecipe)
	require.NoError(t, err)
	good := string(data)
	for _, tc := range []struct{ name, old, new, want string }{
		{"a path naming one part", `path: "/book-tags/{book_id}/{tag}", resource: book_tag, action: get`, `path: "/book-tags/{book_id}", resource: book_tag, action: get`,
			"get needs one path parameter per key field (book_id, tag); found 1"},
		{"a path naming another field", `path: "/book-tags/{book_id}/{tag}", resource: book_tag, action: get`, `path: "/book-tags/{book_id}/{weight}", resource: book_tag, action: get`,
			"path parameter {weight} is not one of the key fields (book_id, tag)"},
		{"a part named twice", "key: [book_id, tag]", "key: [book_id, book_id]", `the key names "book_id" twice`},
		{"a part that is no field", "key: [book_id, tag]", "key: [book_id, label]", `"label" is not a field of resource "book_tag"`},
		{"a nullable part", "key: [book_id, tag]", "key: [book_id, note]", `the key "note" cannot be nullable`},
		{"an empty list", "key: [book_id, tag]", "key: []", "at least one key field is needed"},
		{"a relation to a composite key", "  - name: book\n    table: books\n", "  - name: book\n    table: books\n    relations:\n      - {name: tags, resource: book_tag, field: book_id}\n",
			`the key of "book_tag" has 2 fields (book_id, tag); a relation of kind one needs a single-field key there`},
		{"a relation from a composite key", "      - {name: book, resource: book, field: book_id}", "      - {name: book, resource: book, field: book_id}\n      - {name: same, resource: book, field: id, kind: many}",
			`the key of "book_tag" has 2 fields (book_id, tag); a relation of kind many needs a single-field key there`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(good, tc.old, tc.new, 1)
			require.NotEqual(t, good, src, "the case must change the recipe")
			_, err := Parse("composite.yaml", []byte(src))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestEncodeCompositeKey checks that a composite key is written as a list
// and a single one as a name, or not at all when it is the default id.
func TestEncodeCompositeKey(t *testing.T) {
	r := loadComposite(t, nil)
	out, err := Encode(r)
	require.NoError(t, err)
	assert.Contains(t, string(out), "key: [book_id, tag]\n")
	assert.Equal(t, 1, strings.Count(string(out), "key:"), "the default key id is left out:\n%s", out)
	r.Resources[0].Keys, r.Resources[0].Key = []string{"title"}, "title"
	out, err = Encode(r)
	require.NoError(t, err)
	assert.Contains(t, string(out), "key: title\n")
	built := &Recipe{Service: "s", Resources: []Resource{{Name: "tag", Key: "label", Fields: []Field{{Name: "label", Type: TypeString}}}},
		Endpoints: []Endpoint{{Method: "GET", Path: "/tags/{label}", Resource: "tag", Action: ActionGet}}}
	out, err = Encode(built)
	require.NoError(t, err)
	assert.Contains(t, string(out), "key: label\n", "a Resource built in Go may set Key alone")
	back, err := Parse("built.yaml", out)
	require.NoError(t, err, string(out))
	assert.Equal(t, []string{"label"}, back.Resources[0].Keys)
}
