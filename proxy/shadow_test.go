package proxy

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingShadower keeps every copy it gets.
type recordingShadower struct {
	mu     sync.Mutex
	copies []*ShadowCopy
}

func (r *recordingShadower) Shadow(c *ShadowCopy) {
	r.mu.Lock()
	r.copies = append(r.copies, c)
	r.mu.Unlock()
}

func (r *recordingShadower) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.copies)
}

// waitFor waits until n copies arrived and returns the nth.
func (r *recordingShadower) waitFor(t *testing.T, n int) *ShadowCopy {
	t.Helper()
	require.Eventually(t, func() bool { return r.count() >= n }, 5*time.Second, 5*time.Millisecond)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copies[n-1]
}

// TestShadowQueueBoundedByBytes fills the queue behind a blocked shadower
// with copies of about 10 kB each: the byte bound (35,000) is reached at the
// fourth copy, long before the count bound (100), and further copies are
// dropped and counted; once the shadower takes the copies, their bytes are
// free again.
func TestShadowQueueBoundedByBytes(t *testing.T) {
	body := strings.Repeat("b", 10000)
	legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body))
	})
	cfg := projectFile(t, legacy.srv.URL, `
  - name: carts
    match: {path: "/api/carts/{id}"}
    target: http://127.0.0.1:1
    mode: shadow
`)
	cfg.Proxy.ShadowQueue = 100
	cfg.Proxy.ShadowQueueBytes = 35000
	sh := &blockingShadower{got: make(chan struct{}, 100), release: make(chan struct{})}
	f, base := startFacade(t, cfg, WithShadower(sh))
	released := false
	t.Cleanup(func() {
		if !released {
			close(sh.release)
		}
	})
	c := newClient(t)
	dropped := func() float64 { return counterValue(t, f, "strangler_shadow_comparisons_total", "carts", "dropped") }

	do(t, c, "GET", base+"/api/carts/0", "", nil)
	select {
	case <-sh.got: // the dispatcher holds the first copy: the queue is empty
	case <-time.After(10 * time.Second):
		t.Fatal("the shadower got no copy")
	}
	require.Zero(t, f.shadowBytes.Load(), "a copy the shadower took holds no queue bytes")
	for i := 1; i <= 6; i++ {
		do(t, c, "GET", base+"/api/carts/"+strconv.Itoa(i), "", nil)
		require.Eventually(t, func() bool { return len(f.shadowQ)+int(dropped()) == i }, 10*time.Second, time.Millisecond,
			"copy %d neither queued nor dropped", i)
	}
	assert.Equal(t, 3, len(f.shadowQ), "three copies of ~10 kB fit in 35,000 bytes")
	assert.Equal(t, 3.0, dropped(), "the fourth and later copies are dropped")
	held := f.shadowBytes.Load()
	assert.Greater(t, held, int64(30000))
	assert.LessOrEqual(t, held, int64(35000))

	close(sh.release)
	released = true
	for i := 0; i < 3; i++ {
		select {
		case <-sh.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("the shadower got %d of the 3 queued copies", i)
		}
	}
	require.Eventually(t, func() bool { return f.shadowBytes.Load() == 0 }, 10*time.Second, time.Millisecond,
		"the bytes are released when the shadower takes the copies")
	do(t, c, "GET", base+"/api/carts/7", "", nil)
	select {
	case <-sh.got:
	case <-time.After(10 * time.Second):
		t.Fatal("a copy after the queue drained was not shadowed")
	}
	assert.Equal(t, 3.0, dropped())
}

func TestShadowCopySize(t *testing.T) {
	c := &ShadowCopy{Route: "r", RequestID: "id", Method: "GET",
		URL:    &url.URL{Scheme: "http", Host: "h", Path: "/p", RawQuery: "q=1"},
		Header: http.Header{"A": {"bc", "d"}}, Body: []byte("12345"),
		Legacy: ShadowResponse{Header: http.Header{"E": {"f"}}, Body: []byte("6789")}}
	assert.Equal(t, int64(1+2+3+(4+1+2+3)+(1+2+1+1)+5+(1+1)+4), c.size())
}
