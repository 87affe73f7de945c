package persist

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// fakeMerges answers MergeSearchPending from a script, then with 0 pages.
type fakeMerges struct {
	mu     sync.Mutex
	script []any // int64 pages or an error
	calls  int
}

func (f *fakeMerges) MergeSearchPending(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.script) == 0 {
		return 0, nil
	}
	next := f.script[0]
	f.script = f.script[1:]
	if err, ok := next.(error); ok {
		return 0, err
	}
	return next.(int64), nil
}

func (f *fakeMerges) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// startMerger runs a merger on f after pokes pokes.
func startMerger(t *testing.T, f *fakeMerges, pokes int) (*merger, context.CancelFunc, chan struct{}) {
	t.Helper()
	m := newMerger(slog.New(slog.NewTextHandler(io.Discard, nil)), f, backoff{min: time.Second, max: time.Second})
	for range pokes {
		m.poke()
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.run(ctx)
	}()
	return m, cancel, done
}

func TestMergerCoalescesPokesAndMergesWhileRowsCome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeMerges{script: []any{int64(3), int64(2)}}
		m, cancel, done := startMerger(t, f, 10)
		synctest.Wait()
		// Ten pokes are one wake-up; the merges that found pages go again
		// until one finds none.
		if got := f.count(); got != 3 {
			t.Fatalf("merges after 10 pokes: %d, want 3 (3 pages, 2 pages, 0)", got)
		}
		m.poke()
		synctest.Wait()
		if got := f.count(); got != 4 {
			t.Fatalf("merges after one more poke: %d, want 4", got)
		}
		cancel()
		<-done
	})
}

func TestMergerRetriesAfterAFailureAndStopsWhenItCannotMerge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeMerges{script: []any{errors.New("connection refused")}}
		m, cancel, done := startMerger(t, f, 1)
		defer cancel()
		synctest.Wait()
		if got := f.count(); got != 1 {
			t.Fatalf("merges: %d, want 1", got)
		}
		// A failure waits out its backoff, then the next poke merges.
		time.Sleep(2 * time.Second)
		m.poke()
		synctest.Wait()
		if got := f.count(); got != 2 {
			t.Fatalf("merges after the backoff and a poke: %d, want 2", got)
		}
		// No privilege on the index: the merger stops for good.
		f.mu.Lock()
		f.script = []any{&pgconn.PgError{Code: "42501", Message: "must be owner of index messages_search"}}
		f.mu.Unlock()
		m.poke()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("the merger kept running after being refused the index")
		}
		m.poke() // never blocks, even with nobody merging
		if got := f.count(); got != 3 {
			t.Fatalf("merges: %d, want 3", got)
		}
	})
}
