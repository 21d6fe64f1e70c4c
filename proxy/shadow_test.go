package proxy

import (
	"sync"
	"testing"
	"time"

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
