package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServeGracefulShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		release  bool // the slow request finishes before the deadline
	}{
		{"in-flight request finishes", 10 * time.Second, true},
		{"deadline passes", 200 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arrived, release := make(chan struct{}), make(chan struct{})
			legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
				close(arrived)
				select {
				case <-release:
				case <-r.Context().Done():
				}
				w.Write([]byte("done"))
			})
			defer close(release)
			f, err := New(projectFile(t, legacy.srv.URL, "  []\n"), WithLogger(quietLogger(t)))
			require.NoError(t, err)
			defer f.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- f.Serve(ctx, ln, tc.deadline) }()

			type result struct {
				body string
				err  error
			}
			got := make(chan result, 1)
			go func() {
				resp, err := newClient(t).Get("http://" + ln.Addr().String() + "/slow")
				if err != nil {
					got <- result{err: err}
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				got <- result{string(b), err}
			}()
			<-arrived
			cancel()
			require.Eventually(t, func() bool {
				c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
				if err == nil {
					c.Close()
				}
				return err != nil
			}, 5*time.Second, 10*time.Millisecond, "the listener stops accepting")

			if tc.release {
				release <- struct{}{}
				r := <-got
				require.NoError(t, r.err)
				assert.Equal(t, "done", r.body)
				assert.NoError(t, <-served)
				return
			}
			err = <-served
			require.Error(t, err)
			assert.Contains(t, err.Error(), "requests still running")
			r := <-got
			assert.Error(t, r.err, "the connection was closed at the deadline")
		})
	}
}
