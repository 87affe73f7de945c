package persist

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// stuckReader is an in-process stand-in for a kafka-go reader, for the
// replacement logic only: unless it holds records its fetch waits for its
// context, even once the reader is closed (the worst a stuck client can do).
type stuckReader struct {
	records chan kafka.Message
	closed  chan struct{}
	once    sync.Once
	commits atomic.Int64
}

func newStuckReader(records ...kafka.Message) *stuckReader {
	r := &stuckReader{records: make(chan kafka.Message, len(records)), closed: make(chan struct{})}
	for _, m := range records {
		r.records <- m
	}
	return r
}

func (r *stuckReader) FetchMessage(ctx context.Context) (kafka.Message, error) {
	select {
	case m := <-r.records:
		return m, nil
	case <-ctx.Done():
		return kafka.Message{}, ctx.Err()
	}
}

func (r *stuckReader) CommitMessages(context.Context, ...kafka.Message) error {
	r.commits.Add(1)
	return nil
}

func (r *stuckReader) Stats() kafka.ReaderStats { return kafka.ReaderStats{} }

func (r *stuckReader) Close() error { r.once.Do(func() { close(r.closed) }); return nil }

func (r *stuckReader) isClosed() bool {
	select {
	case <-r.closed:
		return true
	default:
		return false
	}
}

// A reader that waits forever while the watch says records are due is
// replaced; the fetch in progress goes on with the new reader, commits go to
// it, and the old one is closed.
func TestRenewingReplacesAStalledReader(t *testing.T) {
	stuck := newStuckReader()
	fresh := newStuckReader(kafka.Message{Offset: 7})
	readers := []*stuckReader{stuck, fresh}
	var opened atomic.Int64
	r := NewRenewing(slog.New(slog.DiscardHandler), func() Reader {
		if i := opened.Add(1) - 1; i < int64(len(readers)) {
			return readers[i]
		}
		return newStuckReader()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The watch's verdict: records are due, once.
	var stalled atomic.Bool
	once := func() bool { return stalled.CompareAndSwap(true, false) }
	wctx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() { defer close(watched); r.Watch(wctx, 5*time.Millisecond, 50*time.Millisecond, once) }()
	defer func() { stopWatch(); <-watched }()

	fetched := make(chan kafka.Message, 1)
	go func() {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Errorf("fetch: %v", err)
		}
		fetched <- m
	}()
	// Quiet, but nothing says records are due: the reader is kept.
	select {
	case <-fetched:
		t.Fatal("a record from nowhere")
	case <-time.After(200 * time.Millisecond): // four times the threshold
	}
	if n := r.Renewals(); n != 0 || stuck.isClosed() {
		t.Fatalf("replaced %d times with no backlog", n)
	}
	stalled.Store(true)
	select {
	case m := <-fetched:
		if m.Offset != 7 {
			t.Fatalf("fetched offset %d", m.Offset)
		}
	case <-ctx.Done():
		t.Fatal("the fetch never moved to a new reader")
	}
	if r.Renewals() != 1 {
		t.Fatalf("renewals %d", r.Renewals())
	}
	if err := r.CommitMessages(ctx, kafka.Message{Offset: 7}); err != nil || fresh.commits.Load() != 1 {
		t.Fatalf("commit went elsewhere (%v)", err)
	}
	// Close waits for the replaced reader's Close, which runs on its own.
	if err := r.Close(time.Second); err != nil || !fresh.isClosed() || !stuck.isClosed() {
		t.Fatalf("close: %v; new reader closed %v, old %v", err, fresh.isClosed(), stuck.isClosed())
	}
}

// A fetch ended by its caller is not retried on another reader.
func TestRenewingFetchEndsWithItsContext(t *testing.T) {
	r := NewRenewing(slog.New(slog.DiscardHandler), func() Reader { return newStuckReader() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.FetchMessage(ctx); err != context.Canceled {
		t.Fatalf("fetch: %v", err)
	}
}
