package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// NewTransport returns the tuned net/http transport: plain HTTP/1.1 to
// upstreams, many idle connections kept per upstream (the default of 2
// halves a proxy's throughput), no transparent compression (the facade
// never changes a body), response heads of at most 1 MiB. Unless
// WithTransport gives another, the facade sends plain-HTTP requests
// without a body through its own client (upstreamTransport) and the rest
// (bodies, https, protocol upgrades) through this transport.
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		// Each response head at most 1 MiB (net/http's default: 10 MB).
		MaxResponseHeaderBytes: maxResponseHeadBytes,
	}
}

// bufferPool lends ReverseProxy its 32 KiB copy buffers instead of
// allocating one per request. It pools the arrays themselves: a buffer given
// back converts to its array pointer without allocating (a pool of *[]byte
// would allocate a slice header on every Put).
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}
}

func (b *bufferPool) Get() []byte { return b.p.Get().(*[copyBufferSize]byte)[:] }

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < copyBufferSize {
		return
	}
	b.p.Put((*[copyBufferSize]byte)(buf[:copyBufferSize]))
}

// requestIDs makes X-Request-Id values for requests that come without one:
// a random per-process prefix and a counter, unique without a syscall.
type requestIDs struct {
	once   sync.Once
	prefix string
	n      atomic.Uint64
}

func (g *requestIDs) next() string {
	g.once.Do(func() {
		var b [6]byte
		_, _ = rand.Read(b[:])
		g.prefix = hex.EncodeToString(b[:]) + "-"
	})
	var buf [40]byte
	b := append(buf[:0], g.prefix...)
	return string(strconv.AppendUint(b, g.n.Add(1), 36))
}
