// Package ratelimit limits request rates: cluster-wide fixed windows in
// Redis for authentication, and a local token bucket for WebSocket sends.
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Window counts events per key in fixed windows shared by every server, so
// that spreading login attempts over servers gains an attacker nothing.
type Window struct {
	counter bus.Windows
	window  time.Duration
}

// NewWindow returns a Window counting in the broker's windows.
func NewWindow(counter bus.Windows, window time.Duration) *Window {
	return &Window{counter: counter, window: window}
}

// Allow counts one event for key and returns a rate_limited error, carrying
// the wait, when the window already holds limit events.
func (w *Window) Allow(ctx context.Context, key string, limit int) error {
	n, left, err := w.counter.Incr(ctx, key, w.window)
	if err != nil {
		return protocol.Wrap(protocol.CodeUnavailable, fmt.Errorf("rate limit: %w", err), "rate limiter unavailable")
	}
	if n > int64(limit) {
		return &Limited{RetryAfter: left}
	}
	return nil
}

// Limited is the error of an event over its limit.
type Limited struct{ RetryAfter time.Duration }

// Error implements error.
func (l *Limited) Error() string { return "rate limited" }

// Unwrap makes a Limited a rate_limited protocol error.
func (l *Limited) Unwrap() error {
	return protocol.Errorf(protocol.CodeRateLimited, "too many attempts; retry in %d s", retrySeconds(l.RetryAfter))
}

// RetrySeconds is the Retry-After value: whole seconds, at least one.
func (l *Limited) RetrySeconds() int { return retrySeconds(l.RetryAfter) }

func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}
