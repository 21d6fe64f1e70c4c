package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// StatusClientClosedRequest is the status recorded (nginx's 499) when the
// client went away before its answer was complete.
const StatusClientClosedRequest = 499

// ErrUpstreamTimeout is wrapped by the error of a request to an upstream
// that did not answer within the route's timeout.
var ErrUpstreamTimeout = errors.New("upstream did not answer in time")

// errAborted is the outcome of an exchange whose response was cut off after
// it started (the upstream reset the connection mid-body).
var errAborted = errors.New("response aborted mid-body")

// UpstreamStatusError is the outcome of a target that answered 5xx.
type UpstreamStatusError struct {
	Code int
}

func (e *UpstreamStatusError) Error() string {
	return fmt.Sprintf("target answered %d %s", e.Code, http.StatusText(e.Code))
}

// statusFor maps the error of a proxied request to the status the client
// gets: 504 when the upstream timed out, 499 when the client went away, 503
// when the target's breaker refused the request, else 502. It is the one
// place this mapping lives.
func statusFor(err error) int {
	var ne net.Error
	switch {
	case errors.Is(err, ErrUpstreamTimeout), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return http.StatusGatewayTimeout
	case errors.Is(err, context.Canceled):
		return StatusClientClosedRequest
	case errors.Is(err, errBreakerOpen):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// neverReached reports whether err proves that no byte of the request
// reached the upstream: the breaker refused it, or the connection could not
// be made.
func neverReached(err error) bool {
	if errors.Is(err, errBreakerOpen) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// classify names the error of one attempt: a cancellation caused by the
// attempt's timer becomes a timeout.
func classify(ctx context.Context, name string, err error) error {
	if cause := context.Cause(ctx); errors.Is(cause, ErrUpstreamTimeout) {
		return fmt.Errorf("%s: %w", name, cause)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// safeMethod reports whether a method has no side effects, so that a
// request may be sent again.
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// fallbackReason is the reason label of strangler_fallbacks_total for the
// error of a target attempt that legacy then answered.
func fallbackReason(err error) string {
	var status *UpstreamStatusError
	switch {
	case errors.Is(err, errBreakerOpen):
		return fallbackBreakerOpen
	case neverReached(err):
		return fallbackUnreachable
	case errors.Is(err, ErrUpstreamTimeout):
		return fallbackTimeout
	case errors.As(err, &status):
		return fallbackStatus5xx
	}
	return fallbackError
}
