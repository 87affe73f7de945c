package dispatch

import (
	"sort"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
)

// order puts one webhook's events back in seq order. Kafka keeps a room's
// records in the order the servers produced them, which is not always
// seq order: two servers sending into one room at once may produce seq
// 8 before seq 7. An event whose seq follows the cursor (the last
// delivered or skipped seq) goes out at once; one past a gap waits until
// the gap fills, or for gapWait, after which the gap is skipped (a seq
// whose send was refused never reaches Kafka). An event of a skipped seq
// that shows up later still goes out, late; duplicates and events of an
// epoch a fence closed go nowhere.
type order struct {
	cursor  int64
	gapWait time.Duration
	held    []item // sorted by seq
	// since is when the oldest held event started waiting.
	since time.Time
	// skipped remembers the seqs given up on, so that a late one is
	// still delivered (bounded: the oldest ranges are forgotten).
	skipped []span
}

type span struct{ from, to int64 }

const maxSkipped = 64

// item is an event on its way to one webhook.
type item struct {
	seq   int64
	fence bool // closes older epochs; never delivered
	rec   *record
	body  []byte // the event's frame
	id    string // the event's id
	late  bool
}

// next reports whether seq directly follows the cursor: the seq after
// it, or the first of a newer epoch (of any epoch, when the room had no
// event when the webhook was made).
func (o *order) next(seq int64) bool {
	return seq == o.cursor+1 || (bus.IsEpochStart(seq) && (o.cursor == 0 || bus.EpochOf(seq) > bus.EpochOf(o.cursor)))
}

// late reports whether seq was skipped as a gap.
func (o *order) late(seq int64) bool {
	for _, s := range o.skipped {
		if seq >= s.from && seq <= s.to {
			return true
		}
	}
	return false
}

// offer takes an event and returns those ready to go, in order, and those
// that need no delivery (duplicates, fenced, fences themselves).
func (o *order) offer(it item, now time.Time) (ready, drop []item) {
	switch {
	case it.seq <= o.cursor && o.late(it.seq) && !it.fence:
		it.late = true
		return []item{it}, nil
	case it.seq <= o.cursor || bus.EpochOf(it.seq) < bus.EpochOf(o.cursor):
		return nil, []item{it}
	}
	i := sort.Search(len(o.held), func(i int) bool { return o.held[i].seq >= it.seq })
	if i < len(o.held) && o.held[i].seq == it.seq {
		return nil, []item{it} // a duplicate of a held one
	}
	if len(o.held) == 0 {
		o.since = now
	}
	o.held = append(o.held, item{})
	copy(o.held[i+1:], o.held[i:])
	o.held[i] = it
	return o.release(now)
}

// release moves the held events that may go now: those following the
// cursor, and, once the oldest waited gapWait, the rest past the gap.
func (o *order) release(now time.Time) (ready, drop []item) {
	for len(o.held) > 0 {
		h := o.held[0]
		if !o.next(h.seq) {
			if now.Sub(o.since) < o.gapWait {
				break
			}
			if bus.EpochOf(h.seq) == bus.EpochOf(o.cursor) {
				o.skip(span{o.cursor + 1, h.seq - 1})
			}
			gapsSkipped.Inc()
		}
		o.held = o.held[1:]
		o.cursor = h.seq
		o.since = now
		if h.fence {
			drop = append(drop, h)
		} else {
			ready = append(ready, h)
		}
	}
	if len(o.held) == 0 {
		o.held = nil
	}
	return ready, drop
}

func (o *order) skip(s span) {
	if len(o.skipped) == maxSkipped {
		o.skipped = o.skipped[1:]
	}
	o.skipped = append(o.skipped, s)
}

// wait is how long until the oldest held event stops waiting (0: none held).
func (o *order) wait(now time.Time) time.Duration {
	if len(o.held) == 0 {
		return 0
	}
	return max(time.Millisecond, o.gapWait-now.Sub(o.since))
}
