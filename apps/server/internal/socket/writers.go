// Package socket owns the write side of every WebSocket connection: frames
// are queued per connection (bounded; a client that falls too far behind is
// closed with 4408) and written, batched, by a few shared goroutines. Every
// byte a connection writes after the handshake goes through them, close
// frames included, so two writers can never interleave on one socket.
package socket

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// Options tune the write side.
type Options struct {
	// Queue is how many frames a connection may have waiting (SEND_QUEUE).
	Queue int
	// Delay is how long a busy connection gathers frames (WS_WRITE_DELAY).
	Delay time.Duration
	// Timeout bounds a write to a client whose socket buffer is full
	// (WRITE_TIMEOUT).
	Timeout time.Duration
}

// Writers write the frames of every connection made through them.
type Writers struct {
	opts   Options
	f      *flusher
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewWriters starts the flusher goroutines; Close stops them.
func NewWriters(opts Options) *Writers {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writers{opts: opts, f: newFlusher(opts.Delay), cancel: cancel}
	w.goConn(func() { w.f.run(ctx.Done()) })
	// Writes never block, so a flusher per core keeps up.
	for range max(2, runtime.GOMAXPROCS(0)) {
		w.goConn(w.f.work)
	}
	return w
}

// goConn runs fn on a goroutine Close waits for.
func (w *Writers) goConn(fn func()) { w.wg.Go(fn) }

// Close stops the flushers and waits for every write in progress (each
// bounded by Options.Timeout). Kill the connections first.
func (w *Writers) Close() {
	w.cancel()
	w.wg.Wait()
}
