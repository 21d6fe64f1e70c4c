package store_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stranglerfig/strangler/internal/localdb/dbtest"
	"github.com/stranglerfig/strangler/shadow/store"
)

func openDSN(t *testing.T, dsn string, ret store.Retention, opts ...store.Option) *store.PostgresStore {
	t.Helper()
	st, err := store.OpenPostgres(context.Background(), dsn, ret, append([]store.Option{store.WithLogger(quiet())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	return st
}

// TestPostgresTwoReplicas: two stores on one database add up; each reads
// what the other wrote.
func TestPostgresTwoReplicas(t *testing.T) {
	dsn := dbtest.Postgres(t)
	a := openDSN(t, dsn, store.Retention{})
	b := openDSN(t, dsn, store.Retention{})
	now := time.Now()
	for k := range 3 {
		add(t, a, diff(fmt.Sprintf("a%d", k), "orders", now, d("$.items[0].total", "1", "2")))
	}
	for k := range 4 {
		add(t, b, diff(fmt.Sprintf("b%d", k), "orders", now, d("$.items[1].total", "1", "2")))
	}
	add(t, b, match("orders", now))
	require.NoError(t, a.Dropped(ctx, "orders", "queue_full", 1))
	require.NoError(t, b.Dropped(ctx, "orders", "queue_full", 2))
	require.NoError(t, a.LearnNoise(ctx, "orders", "$.id", 1))
	require.NoError(t, b.LearnNoise(ctx, "orders", "$.id", 2))
	flush(t, b)

	rep := one(t, a, "orders", store.ReportOptions{})
	assert.Equal(t, int64(8), rep.Compared)
	assert.Equal(t, int64(7), rep.Differed)
	assert.Equal(t, map[string]int64{"queue_full": 3}, rep.Drops)
	require.Len(t, rep.Paths, 1)
	assert.Equal(t, int64(7), rep.Paths[0].Count)
	assert.Len(t, rep.Paths[0].Examples, 3)
	require.Len(t, rep.Noise, 1)
	assert.Equal(t, int64(3), rep.Noise[0].Count)
	assertFound(t, a, "b3")
	assertFound(t, b, "a0")
	assert.Equal(t, asJSON(t, rep), asJSON(t, one(t, b, "orders", store.ReportOptions{})))
}

// TestPostgresConcurrentSchema: replicas starting together create the
// schema once, without an error.
func TestPostgresConcurrentSchema(t *testing.T) {
	dsn := dbtest.Postgres(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*store.PostgresStore, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = store.OpenPostgres(context.Background(), dsn, store.Retention{}, store.WithLogger(quiet()))
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "replica %d", i)
		add(t, stores[i], match("r", time.Now()))
	}
	for i := range n {
		require.NoError(t, stores[i].Close())
	}
	st := openDSN(t, dsn, store.Retention{})
	assert.Equal(t, int64(n), one(t, st, "r", store.ReportOptions{}).Matched)
}

// TestPostgresRestart: comparisons added while PostgreSQL is down stay
// buffered and are written once it is back.
func TestPostgresRestart(t *testing.T) {
	srv := dbtest.PostgresServer(t)
	dsn := dbtest.Postgres(t)
	st := openDSN(t, dsn, store.Retention{})
	now := time.Now()
	for k := range 3 {
		add(t, st, diff(fmt.Sprintf("before%d", k), "a", now, d("$.v", "1", "2")))
	}
	flush(t, st)

	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.Stop(stopCtx))
	for k := range 3 {
		add(t, st, diff(fmt.Sprintf("during%d", k), "a", now, d("$.v", "1", "2")))
	}
	add(t, st, match("a", now))
	require.NoError(t, st.Dropped(ctx, "a", "queue_full", 1))
	err := st.Flush(ctx)
	require.Error(t, err, "the server is down")
	assert.Contains(t, err.Error(), "writing to PostgreSQL")
	require.NoError(t, srv.Start(stopCtx))

	require.Eventually(t, func() bool { return st.Flush(ctx) == nil }, 20*time.Second, 50*time.Millisecond,
		"a flush succeeds once the server is back")
	rep := one(t, st, "a", store.ReportOptions{})
	assert.Equal(t, int64(6), rep.Differed, "nothing lost, nothing counted twice")
	assert.Equal(t, int64(1), rep.Matched)
	assert.Equal(t, int64(1), rep.Dropped)
	for k := range 3 {
		assertFound(t, st, fmt.Sprintf("before%d", k))
		assertFound(t, st, fmt.Sprintf("during%d", k))
	}
}

// TestPostgresTextPostgreSQLRefuses: NUL and invalid UTF-8, which
// PostgreSQL's text and jsonb refuse, do not block a flush; a text body
// holding NUL comes back as the same bytes.
func TestPostgresTextPostgreSQLRefuses(t *testing.T) {
	st := openPostgres(t, store.Retention{})
	r := diff("nul", "a", time.Now(), d("$.k\x00\xff", "\"a\x00\"", "b"))
	r.Legacy.Body = store.Body{Text: "bin\x00ary"}
	r.Error = "x\x00y"
	add(t, st, r)
	flush(t, st)
	got := assertFound(t, st, "nul")
	require.NotNil(t, got)
	b, err := base64.StdEncoding.DecodeString(got.Legacy.Body.Base64)
	require.NoError(t, err)
	assert.Equal(t, "bin\x00ary", string(b))
	assert.Equal(t, `{"v":2}`, got.New.Body.Text)
	rep := one(t, st, "a", store.ReportOptions{})
	require.Len(t, rep.Paths, 1)
	assert.Equal(t, int64(1), rep.Paths[0].Count)
}

// TestPostgresErrorsHidePassword: a DSN's password appears in no error.
func TestPostgresErrorsHidePassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://shop:s3cret-pw@127.0.0.1:1/shop?connect_timeout=2",
		"postgres://shop:s3cret-pw@127.0.0.1:notaport/shop",
		"host=127.0.0.1 port=1 user=shop password=s3cret-pw dbname=shop connect_timeout=2",
	} {
		_, err := store.OpenPostgres(context.Background(), dsn, store.Retention{}, store.WithLogger(quiet()))
		require.Error(t, err, dsn)
		assert.NotContains(t, err.Error(), "s3cret-pw")
		assert.True(t, strings.HasPrefix(err.Error(), "shadow store: "), err.Error())
	}
}
