package history

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/rookery-chat/rookery/packages/bus"
)

// emptyCache is a recent cache that holds nothing (the replay then reads
// PostgreSQL); only the methods Replay calls are implemented.
type emptyCache struct{ bus.Cache }

func (emptyCache) RecentAfter(context.Context, string, int64, int64) ([]bus.Cached, error) {
	return nil, nil
}

func (emptyCache) Oldest(context.Context, string) (int64, error) { return 0, nil }

// gatedLog is a store whose log reads wait for release, and are counted.
type gatedLog struct {
	Store
	release chan struct{}
	reads   atomic.Int64
}

func (s *gatedLog) RoomLastSeq(context.Context, string) (int64, error) { return 1000, nil }

func (s *gatedLog) LogBefore(ctx context.Context, _ string, before int64, limit int) ([]bus.Cached, error) {
	s.reads.Add(1)
	<-s.release
	var out []bus.Cached // newest first
	for seq := before - 1; seq > 0 && len(out) < limit; seq-- {
		out = append(out, bus.Cached{Seq: seq})
	}
	return out, nil
}

// Fifty subscribers resuming the same room from the same place at once
// read the log once, and each gets the whole replay; one that gives up
// waiting does not take the read from the others.
func TestConcurrentReplaysReadOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &gatedLog{release: make(chan struct{})}
		h := New(slog.New(slog.DiscardHandler), Options{RecentMax: 500, ReplayMax: 1000}, emptyCache{}, st)
		const n = 50
		got := make([][]bus.Cached, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				msgs, recovered, err := h.Replay(context.Background(), "room", 200, 1000)
				if err != nil || !recovered {
					t.Errorf("replay %d: recovered %v, %v", i, recovered, err)
				}
				got[i] = msgs
			})
		}
		impatient, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error, 1)
		go func() { _, _, err := h.Replay(impatient, "room", 200, 1000); gaveUp <- err }()
		synctest.Wait() // everyone is waiting on the one read
		if r := st.reads.Load(); r != 1 {
			t.Fatalf("%d log reads for %d identical replays", r, n+1)
		}
		cancel()
		if err := <-gaveUp; err != context.Canceled {
			t.Fatalf("the impatient caller: %v", err)
		}
		close(st.release)
		wg.Wait()
		for i, msgs := range got {
			if len(msgs) != 800 || msgs[0].Seq != 201 || msgs[799].Seq != 1000 {
				t.Fatalf("replay %d: %d messages", i, len(msgs))
			}
		}
		// A later replay reads again: nothing is kept past the flight.
		if _, _, err := h.Replay(context.Background(), "room", 200, 1000); err != nil || st.reads.Load() != 2 {
			t.Fatalf("a later replay: %d reads, %v", st.reads.Load(), err)
		}
	})
}
