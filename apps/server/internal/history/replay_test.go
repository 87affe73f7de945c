package history

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
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
		out = append(out, bus.Cached{Seq: seq, Frame: []byte(`{"seq":` + strconv.FormatInt(seq, 10) + `}`)})
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
		got := make([]*Replayed, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r, err := h.Replay(context.Background(), "room", 200, 1000)
				if err != nil || !r.Recovered {
					t.Errorf("replay %d: %v", i, err)
					return
				}
				got[i] = r
			})
		}
		impatient, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error, 1)
		go func() { _, err := h.Replay(impatient, "room", 200, 1000); gaveUp <- err }()
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
		for i, r := range got {
			if msgs := r.Events; len(msgs) != 800 || msgs[0].Seq != 201 || msgs[799].Seq != 1000 {
				t.Fatalf("replay %d: %d messages", i, len(msgs))
			}
			// The replay frames are built once, for everyone.
			if b := r.Batches(); len(b) == 0 || &b[0][0] != &got[0].Batches()[0][0] {
				t.Fatalf("replay %d: its replay frames are a copy of its own", i)
			}
		}
		// A later replay reads again: nothing is kept past the flight.
		if _, err := h.Replay(context.Background(), "room", 200, 1000); err != nil || st.reads.Load() != 2 {
			t.Fatalf("a later replay: %d reads, %v", st.reads.Load(), err)
		}
	})
}

func TestAscendingDropsRepeatsAndOlder(t *testing.T) {
	in := []bus.Cached{{Seq: 3}, {Seq: 5}, {Seq: 6}, {Seq: 6}, {Seq: 4}, {Seq: 7}}
	var got []int64
	for _, e := range ascending(in, 4) {
		got = append(got, e.Seq)
	}
	if want := []int64{5, 6, 7}; !slices.Equal(got, want) {
		t.Fatalf("ascending after 4: %v, want %v", got, want)
	}
	if in[0].Seq != 3 {
		t.Fatal("ascending modified its input, which replays share")
	}
}
