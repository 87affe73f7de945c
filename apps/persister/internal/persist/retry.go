package persist

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// backoff is capped exponential backoff with full jitter.
type backoff struct {
	min, max time.Duration
	attempt  int
}

func (b *backoff) next() time.Duration {
	d := b.min << min(b.attempt, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.attempt++
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// retry runs fn until it succeeds, fails permanently, or ctx ends. It never
// spins: every failure waits a backoff step.
func retry(ctx context.Context, log *slog.Logger, what string, b backoff, permanent func(error) bool, fn func() error) error {
	for {
		err := fn()
		if err == nil || permanent(err) {
			return err
		}
		wait := b.next()
		log.Warn("retrying", "what", what, "attempt", b.attempt, "in", wait, "err", err)
		retries.WithLabelValues(what).Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
