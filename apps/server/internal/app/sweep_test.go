package app

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

type countingStore struct {
	calls atomic.Int32
	swept chan struct{}
}

func (c *countingStore) DeleteExpiredTokens(context.Context) (int64, error) {
	if c.calls.Add(1) == 2 {
		close(c.swept)
	}
	return 1, nil
}

// TestSweeperRunsAndStops: the sweeper deletes at once and then every
// period, and stop waits for its goroutine.
func TestSweeperRunsAndStops(t *testing.T) {
	st := &countingStore{swept: make(chan struct{})}
	s := startSweeper(slog.New(slog.NewTextHandler(io.Discard, nil)), st, time.Millisecond)
	select {
	case <-st.swept:
	case <-time.After(10 * time.Second):
		t.Fatal("the sweeper did not run twice")
	}
	s.stop() // returns only once the goroutine has ended
}
