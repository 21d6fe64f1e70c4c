package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// Serve serves client traffic on ln, HTTP/1.1 and h2c (HTTP/2 without TLS),
// until ctx is done; then it stops accepting and lets requests in flight
// finish for up to shutdownTimeout before closing their connections. It
// returns nil after a clean shutdown.
//
// Request headers must arrive within 10s and idle connections close after
// 2m. Bodies have no read deadline of their own (uploads and WebSockets may
// be long); the route's timeout bounds each upstream exchange.
func (f *Facade) Serve(ctx context.Context, ln net.Listener, shutdownTimeout time.Duration) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           f,
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(f.log.Handler(), slog.LevelWarn),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close()
			return fmt.Errorf("shutting down %s: requests still running after %v: %w", ln.Addr(), shutdownTimeout, err)
		}
		return nil
	})
	return g.Wait()
}
