package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A body of known length that the upstream writes slowly (go-httpbin's
// /drip) reaches the client as it is written, not at its end: each piece
// is at the client before the upstream writes the next.
func TestSlowBodyReachesTheClientAsItIsWritten(t *testing.T) {
	const pieces, gap = 4, 300 * time.Millisecond
	piece := func(i int) string { return fmt.Sprintf("piece %d\n", i) }
	for _, p := range upstreamPaths {
		t.Run(p.name, func(t *testing.T) {
			writing := make(chan time.Time, pieces) // when the upstream began to write each piece
			legacy := newUpstream(t, "legacy", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(pieces*len(piece(0))))
				for i := 0; i < pieces; i++ {
					if i > 0 {
						time.Sleep(gap) // the upstream's pace, not a wait for a state
					}
					writing <- time.Now()
					io.WriteString(w, piece(i))
					w.(http.Flusher).Flush()
				}
			})
			_, base := startFacade(t, projectFile(t, legacy.srv.URL, ""))
			var rd io.Reader
			if p.body != "" {
				rd = strings.NewReader(p.body)
			}
			req, err := http.NewRequest(p.method, base+"/drip", rd)
			require.NoError(t, err)
			resp, err := newClient(t).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			got := make([]time.Time, pieces) // when each piece was whole at the client
			buf := make([]byte, len(piece(0)))
			for i := range got {
				_, err := io.ReadFull(resp.Body, buf)
				require.NoError(t, err, "piece %d", i)
				got[i] = time.Now()
				assert.Equal(t, piece(i), string(buf))
			}
			close(writing)
			var began []time.Time
			for at := range writing {
				began = append(began, at)
			}
			require.Len(t, began, pieces)
			for i := 0; i+1 < pieces; i++ {
				assert.True(t, got[i].Before(began[i+1]),
					"piece %d reached the client %v after the upstream began piece %d", i, got[i].Sub(began[i+1]), i+1)
			}
		})
	}
}
