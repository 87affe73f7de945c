package app

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// tokenSweepEvery is how often each server deletes expired login tokens.
// Every server does it; the delete is idempotent and uses the expiry index.
const tokenSweepEvery = time.Hour

// tokenStore is what the sweeper needs of the store.
type tokenStore interface {
	DeleteExpiredTokens(ctx context.Context) (int64, error)
}

// sweeper deletes expired tokens every period until stop is called.
type sweeper struct {
	stop func()
}

func startSweeper(log *slog.Logger, st tokenStore, period time.Duration) *sweeper {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			sctx, done := context.WithTimeout(ctx, time.Minute)
			n, err := st.DeleteExpiredTokens(sctx)
			done()
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("expired tokens not deleted", "err", err)
			case n > 0:
				log.Info("expired tokens deleted", "count", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return &sweeper{stop: func() { cancel(); wg.Wait() }}
}
