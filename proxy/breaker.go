package proxy

import (
	"context"
	"errors"

	"github.com/sony/gobreaker/v2"

	"github.com/stranglerfig/strangler/internal/config"
)

// breaker guards one route's target. Allow says whether a request may go;
// when it may, done must be called once with the outcome (nil for success).
// An outcome that is context.Canceled (the client went away) counts neither
// as success nor as failure.
type breaker interface {
	Allow() (done func(err error), err error)
	State() breakerState
}

// breakerState is the state of a breaker, valued as
// strangler_breaker_state reports it.
type breakerState int

const (
	breakerClosed   breakerState = 0
	breakerHalfOpen breakerState = 1
	breakerOpen     breakerState = 2
)

func (s breakerState) String() string {
	switch s {
	case breakerHalfOpen:
		return "half-open"
	case breakerOpen:
		return "open"
	}
	return "closed"
}

// errBreakerOpen is returned by Allow when the breaker refuses a request: it
// is open, or half-open with all its probes in flight.
var errBreakerOpen = errors.New("circuit breaker open")

// gobreakerBreaker is a breaker on gobreaker's two-step circuit breaker.
type gobreakerBreaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]
}

var _ breaker = (*gobreakerBreaker)(nil)

// newBreaker builds the breaker of one route: it trips after
// ConsecutiveFailures failures in a row, or when at least MinRequests were
// seen in the interval and FailureRatio of them failed; after OpenTimeout it
// lets HalfOpenRequests probes through and closes when they all succeed.
// onChange is called with every new state.
func newBreaker(name string, c config.Breaker, onChange func(breakerState)) *gobreakerBreaker {
	st := gobreaker.Settings{
		Name:        name,
		MaxRequests: max(c.HalfOpenRequests, 1),
		Interval:    c.Interval.D(),
		Timeout:     c.OpenTimeout.D(),
		ReadyToTrip: func(n gobreaker.Counts) bool {
			if c.ConsecutiveFailures > 0 && n.ConsecutiveFailures >= c.ConsecutiveFailures {
				return true
			}
			return c.FailureRatio > 0 && n.Requests >= max(c.MinRequests, 1) &&
				float64(n.TotalFailures) >= c.FailureRatio*float64(n.Requests)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			if onChange != nil {
				onChange(fromGobreaker(to))
			}
		},
	}
	return &gobreakerBreaker{cb: gobreaker.NewTwoStepCircuitBreaker[struct{}](st)}
}

func fromGobreaker(s gobreaker.State) breakerState {
	switch s {
	case gobreaker.StateHalfOpen:
		return breakerHalfOpen
	case gobreaker.StateOpen:
		return breakerOpen
	}
	return breakerClosed
}

// Allow asks the breaker for one request.
func (b *gobreakerBreaker) Allow() (func(error), error) {
	done, err := b.cb.Allow()
	if err != nil {
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			return nil, errBreakerOpen
		}
		return nil, err
	}
	return done, nil
}

// State returns the breaker's state now.
func (b *gobreakerBreaker) State() breakerState { return fromGobreaker(b.cb.State()) }
