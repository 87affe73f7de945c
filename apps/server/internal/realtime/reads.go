package realtime

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// ReadStore persists read markers.
type ReadStore interface {
	SetLastRead(ctx context.Context, roomID, userID string, seq int64) error
}

// readCoalescer gathers read markers and writes each (room, user) at most
// once per interval, the highest seq only: one database write per reader
// per interval, not per read frame.
type readCoalescer struct {
	mu      sync.Mutex
	pending map[memberKey]int64
	store   ReadStore
	log     *slog.Logger
}

func (r *readCoalescer) add(room, user string, seq int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := memberKey{room, user}
	if seq > r.pending[k] {
		r.pending[k] = seq
	}
}

func (r *readCoalescer) flush(ctx context.Context) {
	r.mu.Lock()
	batch := r.pending
	r.pending = make(map[memberKey]int64)
	r.mu.Unlock()
	for k, seq := range batch {
		if err := r.store.SetLastRead(ctx, k.room, k.user, seq); err != nil {
			r.log.Warn("read marker not saved; keeping it for the next flush", "room", k.room, "err", err)
			r.add(k.room, k.user, seq)
		}
	}
}

// run flushes every interval until ctx ends, then once more.
func (r *readCoalescer) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.flush(fctx)
			cancel()
			return
		case <-t.C:
			r.flush(ctx)
		}
	}
}
