package extract_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/extract"
	"github.com/stranglerfig/strangler/internal/config"
	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/proxy/capture"
	"github.com/stranglerfig/strangler/recipes"
	"github.com/stranglerfig/strangler/sync"
	"github.com/stranglerfig/strangler/testdata/legacyshop"
)

// captureGET asks the legacy API and records the exchange as the facade's
// capture would.
func captureGET(t *testing.T, base, path, query string) capture.Record {
	t.Helper()
	u := base + path
	if query != "" {
		u += "?" + query
	}
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return capture.Record{Route: "legacy", At: time.Now(),
		Request:  capture.Request{Method: "GET", Path: path, Query: query},
		Response: capture.Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}}
}

// TestExtractedShopAnswersAsLegacy: from the shop's schema and captured
// GETs, extract writes a recipe; with the tables synced by sync (the same
// mapper) the recipe service answers every captured GET as legacy did,
// apart from the request id legacy makes up per answer (noise).
//
// The shop HTML-escapes the notes of every 20th order, a legacy bug the
// demo's shadow step shows; the 19 orders here have none.
func TestExtractedShopAnswersAsLegacy(t *testing.T) {
	ctx := context.Background()
	myDSN, pgDSN := dbtest.MySQL(t), dbtest.Postgres(t)
	db, name := legacyOn(t, myDSN)
	require.NoError(t, legacyshop.Create(ctx, db))
	require.NoError(t, legacyshop.Seed(ctx, db, 6, 19, 1))
	shop := httptest.NewServer(legacyshop.New(db))
	defer shop.Close()

	var recs []capture.Record
	for id := 1; id <= 19; id++ {
		recs = append(recs, captureGET(t, shop.URL, fmt.Sprintf("/api/orders/%d", id), ""))
	}
	recs = append(recs, captureGET(t, shop.URL, "/api/orders/7", "")) // asked twice: the request id is seen to change
	for id := 1; id <= 6; id++ {
		recs = append(recs, captureGET(t, shop.URL, fmt.Sprintf("/api/customers/%d", id), ""))
	}
	for _, q := range []string{"status=paid", "status=new&limit=3", "limit=5&offset=5", "status=shipped&limit=2&offset=1", ""} {
		recs = append(recs, captureGET(t, shop.URL, "/api/orders", q))
	}

	res, err := extract.Extract(ctx, db, extract.Options{Database: name, Samples: recs, RoutePrefix: "/api"})
	require.NoError(t, err)
	frag := string(res.Files["strangler.fragment.yaml"])
	assert.Contains(t, frag, "match: {path: /api/orders/{id}, methods: [GET]}\n    target: http://127.0.0.1:9100\n    mode: legacy\n"+
		"    # legacy wrote these differently in two answers to one request\n    shadow: {ignore: [\"$.data.requestId\"]}\n")
	_, err = config.Parse("strangler.yaml", []byte(fmt.Sprintf("legacy: http://127.0.0.1:1\ndatabases: {legacy: %q, new: %q}\n", myDSN, pgDSN)+frag), nil)
	require.NoError(t, err, "the fragment is a valid project file:\n%s", frag)
	r, err := recipes.Parse("customer.yaml", res.Files["customer.yaml"])
	require.NoError(t, err)

	// The tables reach PostgreSQL through sync: the DDL extract wrote is
	// the one sync creates.
	pool, err := pgxpool.New(ctx, pgDSN)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, string(res.Files["schema.sql"]))
	require.NoError(t, err)
	cfg, err := config.Parse("strangler.yaml", []byte(fmt.Sprintf(`legacy: http://127.0.0.1:1
databases: {legacy: %q, new: %q}
sync:
  - name: shop
    tables: [customers, orders]
`, myDSN, pgDSN)), nil)
	require.NoError(t, err)
	p, err := sync.New(cfg.Sync[0], myDSN, pgDSN, sync.Options{})
	require.NoError(t, err)
	require.NoError(t, p.Start(ctx))
	defer p.Close(ctx)
	require.Eventually(t, func() bool { return p.Status().Phase == sync.PhaseStreaming }, time.Minute, 50*time.Millisecond)

	srv := serveRecipe(t, r, pool)

	check, err := extract.Check(ctx, recs, srv.URL, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"$.data.requestId"}, check.Ignored, "the request id legacy makes up is seen as noise")
	assert.Equal(t, len(recs), check.Sent)
	assert.Equal(t, check.Sent, check.Matched, "every captured GET is answered as legacy did:\n%s", check)
	assert.Equal(t, 100.0, check.MatchRate)

	// A row that differs in PostgreSQL shows, with its path.
	_, err = pool.Exec(ctx, "UPDATE orders SET total = total + 1 WHERE id = 3")
	require.NoError(t, err)
	check, err = extract.Check(ctx, recs, srv.URL, nil)
	require.NoError(t, err)
	assert.Less(t, check.Matched, check.Sent)
	var paths []string
	for _, p := range check.Paths {
		paths = append(paths, p.Path)
	}
	assert.Contains(t, paths, "$.data.total", "GET /api/orders/3")
	assert.Contains(t, paths, "$.data[*].total", "the lists that hold order 3")
	assert.Contains(t, check.String(), "answered as legacy did")
}
