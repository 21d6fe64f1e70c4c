package proxy

import (
	"github.com/stranglerfig/strangler/internal/httpstatus"
	"io"
	"net/http"
	"time"
)

// WithFlushInterval sets how long the bytes of an answer may wait in the
// facade before they go on to the client. Default, and any negative value:
// not at all; what was read from the upstream is sent on before the facade
// waits for more, so that a body the upstream writes slowly reaches the
// client as it is written, while an answer that is there whole goes in one
// write. Positive: at most that long (the ReverseProxy's FlushInterval).
// Zero: as net/http's ReverseProxy does by default: a body of known length
// waits in the server's 4 KiB buffer until it is full or ends (streams of
// unknown length and event streams go on at once in every case).
func WithFlushInterval(d time.Duration) Option {
	return func(f *Facade) error {
		f.flushInterval = d
		return nil
	}
}

// flushResponse is the ReverseProxy's ModifyResponse: modifyResponse, then,
// unless WithFlushInterval says otherwise, the body of known length is
// wrapped so that it flushes the client's writer before a read of the
// upstream that would wait. The ReverseProxy's own FlushInterval of -1
// would flush after every write, with a timer, a goroutine and three
// allocations per answer; an answer read whole in one go needs no flush at
// all (the server writes it when the handler returns). Bodies of unknown
// length and event streams the ReverseProxy flushes itself; an upgrade's
// body must stay the connection.
func (f *Facade) flushResponse(resp *http.Response) error {
	if err := f.modifyResponse(resp); err != nil {
		return err
	}
	if f.flushInterval >= 0 || resp.ContentLength <= 0 || resp.StatusCode == http.StatusSwitchingProtocols ||
		resp.Body == nil || resp.Body == http.NoBody {
		return nil
	}
	resp.Body = &flushingBody{rc: resp.Body, w: &exchangeOf(resp.Request).rec}
	return nil
}

// flushingBody is an upstream body that flushes what was written to the
// client before a read that would wait for the upstream.
type flushingBody struct {
	rc      io.ReadCloser
	w       *httpstatus.Recorder
	pending bool // bytes were read since the last flush, so written by now (the ReverseProxy writes each read before the next)
}

// buffered is a body that can tell how many of its bytes are at hand
// (upstreamBody); for others, every read may wait.
type buffered interface{ Buffered() int }

func (b *flushingBody) Read(p []byte) (int, error) {
	if b.pending {
		if br, ok := b.rc.(buffered); !ok || br.Buffered() == 0 {
			b.pending = false
			b.w.Flush()
		}
	}
	n, err := b.rc.Read(p)
	b.pending = n > 0 && err == nil
	return n, err
}

func (b *flushingBody) Close() error { return b.rc.Close() }
