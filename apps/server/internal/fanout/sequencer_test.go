package fanout

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
)

type seqRun struct {
	s   *sequencer
	got []int64
	now time.Time
}

func newSeqRun(start int64) *seqRun {
	r := &seqRun{now: time.Unix(1000, 0)}
	r.s = newSequencer(func(seq int64, frame []byte) {
		if string(frame) != fmt.Sprint(seq) {
			panic(fmt.Sprintf("seq %d delivered with frame %q", seq, frame))
		}
		r.got = append(r.got, seq)
	})
	r.s.start(start)
	return r
}

func (r *seqRun) offer(seqs ...int64) {
	for _, q := range seqs {
		r.s.offer(r.now, q, []byte(fmt.Sprint(q)))
	}
}

func (r *seqRun) want(t *testing.T, seqs ...int64) {
	t.Helper()
	if fmt.Sprint(r.got) != fmt.Sprint(seqs) {
		t.Fatalf("delivered %v, want %v", r.got, seqs)
	}
}

func TestSequencerOrdersAndDeduplicates(t *testing.T) {
	r := newSeqRun(10)
	r.offer(11, 13, 12, 12, 11, 14, 9)
	r.want(t, 11, 12, 13, 14)
	if n := r.s.need(); n.hole != 0 {
		t.Fatalf("no hole expected: %+v", n)
	}
}

// A room at position 0 may still have stored messages of older epochs (the
// broker lost its counter before they were published), so the start of a
// later epoch waits for the log like any newer epoch.
func TestSequencerFreshRoomWaitsForTheLog(t *testing.T) {
	r := newSeqRun(0)
	start := bus.EpochBase(3) + 1
	r.offer(start)
	r.want(t)
	if n := r.s.need(); !n.newEpoch {
		t.Fatalf("a later epoch's start must wait for the log: %+v", n)
	}
	r.s.fromLog(r.now, []logEntry{{seq: 1, frame: []byte("1")}, {seq: start, frame: []byte(fmt.Sprint(start))}}, start, true)
	r.want(t, 1, start)
	// Epoch 1's first seq needs no log.
	r = newSeqRun(0)
	r.offer(1)
	r.want(t, 1)
	// Anything else waits for its predecessors, even in a fresh room.
	r = newSeqRun(0)
	r.offer(5)
	r.want(t)
}

// A hole under continuous traffic still ages: traffic that does not fill
// it does not restart its clock, while progress does.
func TestSequencerHoleAgesUnderTraffic(t *testing.T) {
	r := newSeqRun(1)
	r.offer(3)
	start := r.now
	for i := int64(4); i < 50; i++ {
		r.now = r.now.Add(200 * time.Millisecond)
		r.offer(i)
		if n := r.s.need(); n.hole != 2 || !n.since.Equal(start) || n.newEpoch {
			t.Fatalf("after seq %d: %+v", i, n)
		}
	}
	r.now = r.now.Add(time.Second)
	r.offer(2)
	r.want(t, slices.Collect(seqRange(2, 49))...)
	if n := r.s.need(); n.hole != 0 || !n.since.IsZero() {
		t.Fatalf("after the fill: %+v", n)
	}
	// Progress that leaves another hole restarts the clock for it.
	r.offer(51, 53)
	r.now = r.now.Add(time.Second)
	r.offer(50)
	if n := r.s.need(); n.hole != 52 || !n.since.Equal(r.now) {
		t.Fatalf("second hole: %+v", n)
	}
}

func seqRange(from, to int64) func(func(int64) bool) {
	return func(yield func(int64) bool) {
		for i := from; i <= to; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

// A newer epoch waits until the log shows it; the log then closes the old
// epoch: its stored messages and those waiting are delivered in order, its
// other seqs never.
func TestSequencerClosesEpochFromLog(t *testing.T) {
	e2 := bus.EpochBase(2)
	r := newSeqRun(5)
	r.offer(7, e2+2, e2+3) // 6 lost on the way; the new epoch's first (fence) too
	r.want(t)
	if n := r.s.need(); n.hole != 6 || !n.newEpoch {
		t.Fatalf("need: %+v", n)
	}
	// The log does not show epoch 2 yet: nothing moves.
	r.s.fromLog(r.now, []logEntry{{7, []byte("7")}}, 7, true)
	r.want(t)
	// Now it does: 6 is stored, 8 is not (never acknowledged), e2+1 is the
	// fence row.
	r.s.fromLog(r.now, []logEntry{{6, []byte("6")}, {7, []byte("7")}, {e2 + 1, nil}, {e2 + 2, []byte(fmt.Sprint(e2 + 2))}}, e2+2, true)
	r.want(t, 6, 7, e2+2, e2+3)
	if n := r.s.need(); n.hole != 0 {
		t.Fatalf("need after closing: %+v", n)
	}
	r.offer(8, e2+4)
	r.want(t, 6, 7, e2+2, e2+3, e2+4)
}

// A log read cut short by its limit closes only what it read.
func TestSequencerPartialLogRead(t *testing.T) {
	e2 := bus.EpochBase(2)
	r := newSeqRun(0)
	r.s.start(1)
	r.offer(e2 + 1)
	r.s.fromLog(r.now, []logEntry{{2, []byte("2")}, {4, []byte("4")}}, e2+1, false)
	r.want(t, 2, 4)
	r.s.fromLog(r.now, []logEntry{{6, []byte("6")}}, e2+1, true)
	r.want(t, 2, 4, 6, e2+1)
}

func TestSequencerGiveUp(t *testing.T) {
	r := newSeqRun(1)
	r.offer(4, 6)
	if skipped := r.s.giveUp(r.now); skipped != 2 {
		t.Fatalf("skipped %d", skipped)
	}
	r.want(t, 4, 6)
	r.offer(5, 7)
	r.want(t, 4, 6, 7)
}

// TestSequencerRandomInterleavings feeds every seq of a stream, with
// duplicates, in random orders split between live delivery, the cache and
// the log (some seqs never acknowledged, an epoch change in the middle),
// and checks the invariants: strictly increasing, nothing twice, every
// acknowledged seq delivered.
func TestSequencerRandomInterleavings(t *testing.T) {
	e2 := bus.EpochBase(2)
	for iter := 0; iter < 500; iter++ {
		rng := rand.New(rand.NewPCG(uint64(iter), 7))
		var acked []int64
		for q := int64(1); q <= 40; q++ {
			if rng.IntN(10) != 0 { // one in ten never acknowledged
				acked = append(acked, q)
			}
		}
		fence := e2 + 1
		for q := e2 + 2; q <= e2+20; q++ {
			acked = append(acked, q)
		}
		r := newSeqRun(0)
		var log []logEntry
		for _, q := range acked {
			log = append(log, logEntry{q, []byte(fmt.Sprint(q))})
		}
		log = append(log, logEntry{fence, nil})
		slices.SortFunc(log, func(a, b logEntry) int { return int(a.seq - b.seq) })
		order := slices.Clone(acked)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for i, q := range order {
			r.now = r.now.Add(time.Millisecond)
			if rng.IntN(3) == 0 {
				r.offer(q) // a duplicate, as a cache read would bring
			}
			if rng.IntN(4) != 0 {
				r.offer(q) // live; the rest was lost on pub/sub
			}
			if i%7 == 0 {
				// A cache read: what was committed so far, in order.
				seen := slices.Clone(order[:i+1])
				slices.Sort(seen)
				for _, c := range seen {
					if rng.IntN(2) == 0 {
						r.offer(c)
					}
				}
			}
		}
		// What a stuck room does in the end: read the whole log.
		r.s.fromLog(r.now, log, e2+20, true)
		if n := r.s.need(); n.hole != 0 {
			t.Fatalf("iter %d: still waiting: %+v", iter, n)
		}
		if fmt.Sprint(r.got) != fmt.Sprint(acked) {
			t.Fatalf("iter %d: delivered %v, acked %v", iter, r.got, acked)
		}
	}
}
