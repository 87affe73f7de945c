package dispatch

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/bus"
)

func seqs(items []item) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, it.seq)
	}
	return out
}

// TestOrderReorders: events of one room arriving in any order go out in
// seq order, each once; duplicates and fences go nowhere.
func TestOrderReorders(t *testing.T) {
	for round := 0; round < 200; round++ {
		o := &order{cursor: 10, gapWait: time.Hour}
		in := []int64{11, 12, 13, 14, 15, 16, 17, 18}
		rand.Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
		in = append(in, in[:3]...) // replays
		var out []int64
		now := time.Unix(0, 0)
		for _, s := range in {
			ready, _ := o.offer(item{seq: s}, now)
			out = append(out, seqs(ready)...)
		}
		if want := []int64{11, 12, 13, 14, 15, 16, 17, 18}; !slices.Equal(out, want) {
			t.Fatalf("in %v: out %v", in, out)
		}
	}
}

// TestOrderSkipsGapsAndDeliversLate: a gap is waited for gapWait, then
// skipped; an event of the skipped seq that turns up later still goes out,
// marked late; one of an epoch a fence closed does not.
func TestOrderSkipsGapsAndDeliversLate(t *testing.T) {
	o := &order{cursor: 5, gapWait: time.Second}
	now := time.Unix(100, 0)
	if ready, _ := o.offer(item{seq: 7}, now); len(ready) != 0 {
		t.Fatalf("7 went out past the gap at 6: %v", seqs(ready))
	}
	if w := o.wait(now); w != time.Second {
		t.Fatalf("wait %v", w)
	}
	if ready, _ := o.release(now.Add(999 * time.Millisecond)); len(ready) != 0 {
		t.Fatal("released before gapWait")
	}
	ready, _ := o.release(now.Add(time.Second))
	if !slices.Equal(seqs(ready), []int64{7}) {
		t.Fatalf("after gapWait: %v", seqs(ready))
	}
	ready, drop := o.offer(item{seq: 6}, now.Add(2*time.Second))
	if !slices.Equal(seqs(ready), []int64{6}) || !ready[0].late || len(drop) != 0 {
		t.Fatalf("late 6: ready %v drop %v", seqs(ready), seqs(drop))
	}
	if ready, drop := o.offer(item{seq: 7}, now); len(ready) != 0 || len(drop) != 1 {
		t.Fatal("a duplicate of 7 went out")
	}

	// A fence opens epoch 2 at its first seq; the rest of epoch 1 is dropped.
	fence := bus.EpochBase(2) + 1
	ready, drop = o.offer(item{seq: fence, fence: true}, now)
	if len(ready) != 0 || len(drop) != 1 {
		t.Fatalf("fence: ready %v drop %v", seqs(ready), seqs(drop))
	}
	if ready, drop := o.offer(item{seq: 8}, now); len(ready) != 0 || len(drop) != 1 {
		t.Fatal("an event of the fenced epoch went out")
	}
	ready, _ = o.offer(item{seq: fence + 1}, now)
	if !slices.Equal(seqs(ready), []int64{fence + 1}) {
		t.Fatalf("first event after the fence: %v", seqs(ready))
	}
}

// TestOffsetsCommitOnlyFinishedPrefix: a partition's offset moves only
// past records every webhook finished.
func TestOffsetsCommitOnlyFinishedPrefix(t *testing.T) {
	o := newOffsets()
	var recs []*record
	for i := 0; i < 4; i++ {
		recs = append(recs, o.add(kafkaMsg(0, int64(i)), 2))
	}
	o.add(kafkaMsg(1, 7), 0)
	o.done(recs[1])
	o.done(recs[1])
	o.done(recs[0])
	got := o.take()
	if len(got) != 1 || got[0].Partition != 1 || got[0].Offset != 7 {
		t.Fatalf("took %v: partition 0 moved though record 0 waits on a webhook", got)
	}
	o.done(recs[0])
	got = o.take()
	if len(got) != 1 || got[0].Partition != 0 || got[0].Offset != 1 {
		t.Fatalf("took %v, want partition 0 up to offset 1", got)
	}
	if n := o.unfinished(); n != 2 {
		t.Fatalf("unfinished %d, want 2", n)
	}
}

func kafkaMsg(partition int, offset int64) kafka.Message {
	return kafka.Message{Partition: partition, Offset: offset}
}
