package store

import "time"

// WithClock sets the clock a store reads (record expiry, noise times,
// retention timing); tests move it instead of waiting.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}
