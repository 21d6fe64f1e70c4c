package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// started runs the program with args until the test ends and returns the
// lines it printed up to where it listens, and its URL.
func started(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw, io.Discard)
		pw.CloseWithError(errors.New("the program ended"))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "the program stops cleanly")
		case <-time.After(10 * time.Second):
			t.Error("the program did not stop")
		}
	})
	var lines []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if u, ok := strings.CutPrefix(sc.Text(), "legacyshop listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			return lines, u
		}
	}
	t.Fatalf("the program ended before it listened: %v\n%s", <-done, strings.Join(lines, "\n"))
	return nil, ""
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var v map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

// TestRunMigratesSeedsAndServes: -migrate creates a missing database and
// the tables, -seed fills it once with the sizes asked, and the shop
// answers; a second run leaves the rows as they are.
func TestRunMigratesSeedsAndServes(t *testing.T) {
	cfg, err := mysql.ParseDSN(dbtest.MySQL(t))
	require.NoError(t, err)
	// A database that does not exist yet, dropped at the end.
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	cfg.DBName += "_cmd"
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS `" + cfg.DBName + "`") })
	dsn := cfg.FormatDSN()

	lines, url := started(t, "-dsn", dsn, "-listen", "127.0.0.1:0", "-migrate", "-seed",
		"-customers", "7", "-products", "12", "-orders", "33", "-random-seed", "5")
	assert.Equal(t, "migrated database "+cfg.DBName, lines[0])
	assert.Regexp(t, `^seeded 7 customers, 12 products, 33 orders \(random seed 5\) in `, lines[1])
	assert.Equal(t, 12.0, getJSON(t, url+"/api/products")["meta"].(map[string]any)["total"])
	assert.Equal(t, 33.0, getJSON(t, url+"/api/orders?limit=1")["meta"].(map[string]any)["total"])

	lines, url = started(t, "-dsn", dsn, "-listen", "127.0.0.1:0", "-migrate", "-seed")
	assert.Equal(t, "not seeding: the shop already holds 7 customers", lines[1])
	assert.Equal(t, 33.0, getJSON(t, url+"/api/orders?limit=1")["meta"].(map[string]any)["total"])
}

// TestBadCommandLines are refused before anything is done.
func TestBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool
		msg   string
	}{
		{"unknown flag", []string{"-nosuch"}, true, "flag provided but not defined"},
		{"arguments", []string{"serve"}, true, "unexpected arguments: serve"},
		{"bad size", []string{"-orders", "many"}, true, "invalid value"},
		{"no database", []string{"-dsn", "root@tcp(127.0.0.1:1)/"}, false, "names no database"},
		{"bad DSN", []string{"-dsn", "mysql://root:hunter2@[::1"}, false, "parsing MySQL URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, io.Discard, io.Discard)
			require.ErrorContains(t, err, tc.msg)
			var u usageError
			assert.Equal(t, tc.usage, errors.As(err, &u))
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}
