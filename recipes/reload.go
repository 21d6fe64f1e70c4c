package recipes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// ReloadFile reads the recipe at path and swaps it in. A recipe that does
// not load or compile is refused and the running one kept; the error says
// why, with file:line.
func (s *Service) ReloadFile(path string) error {
	r, err := Load(path)
	if err != nil {
		s.metrics.reloads.WithLabelValues("refused").Inc()
		return fmt.Errorf("reloading recipe: %w", err)
	}
	return s.Reload(r)
}

// Watch reloads the recipe at path whenever its content changes, checking
// every interval until ctx is done. A bad recipe is logged and refused;
// the running one stays until a good one replaces it. Requests are never
// dropped: a swap only changes what the next request sees.
func (s *Service) Watch(ctx context.Context, path string, every time.Duration) error {
	if every <= 0 {
		return errors.New("watching a recipe: the interval must be positive")
	}
	last, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("watching recipe %s: %w", path, err)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		data, err := os.ReadFile(path)
		if err != nil || bytes.Equal(data, last) {
			continue // a file being replaced may be missing for a moment
		}
		last = data
		r, err := Parse(path, data)
		if err == nil {
			err = s.Reload(r)
		} else {
			s.metrics.reloads.WithLabelValues("refused").Inc()
		}
		if err != nil {
			s.log.Error("recipe refused; the running one is kept", "service", s.Recipe().Service, "error", err)
			continue
		}
		s.log.Info("recipe reloaded", "service", r.Service, "file", path)
	}
}
