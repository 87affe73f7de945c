package fanout

import (
	"slices"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
)

// sequencer turns a room's stream of seqs, which pub/sub may lose or
// reorder, into one that is in seq order with every seq at most once. It
// does no I/O and reads no clock: the room feeds it what arrives live, what
// it reads back from the recent cache and from the stored log, with the
// time, and asks it what is missing (need). Not safe for concurrent use.
//
// The rules:
//   - the next seq (last+1) is delivered at once, with whatever it unblocks;
//   - any other seq waits; the hole below it is repaired from the cache,
//     or, once the owner of the missing seq is gone, by fencing the epoch
//     (the room's job);
//   - a seq of a newer epoch than the last one delivered waits until the
//     stored log shows that epoch: by then every acknowledged message of
//     the older epochs is stored (the log is in order and the persister
//     drops what an older epoch sends after a newer one), so they are
//     delivered from the log first and the rest of those epochs is closed.
type sequencer struct {
	last    int64            // highest seq handled (delivered or closed)
	pending map[int64][]byte // waiting seqs; nil: a seq that carries no message
	// holeSince is when the room last made progress while something waited,
	// so that a hole under continuous traffic still ages.
	holeSince time.Time
	deliver   func(seq int64, frame []byte)
}

func newSequencer(deliver func(seq int64, frame []byte)) *sequencer {
	return &sequencer{pending: make(map[int64][]byte), deliver: deliver}
}

// start sets the position of a room that had none; it never goes back.
func (s *sequencer) start(pos int64) {
	s.last = max(s.last, pos)
}

// offer hands over one seq, live or from the cache. A nil frame marks a
// seq that will never carry a message (a fence record's seq).
func (s *sequencer) offer(now time.Time, seq int64, frame []byte) {
	if seq <= s.last {
		return // duplicate or closed
	}
	// The start of a later epoch is not delivered at once even in a room
	// at position 0: messages of older epochs may be stored that were never
	// published (the broker lost its data between a send's produce and its
	// commit), and only the log can say (need().newEpoch).
	if seq == s.last+1 {
		s.emit(seq, frame)
		s.drain(now)
		return
	}
	if _, ok := s.pending[seq]; !ok {
		s.pending[seq] = frame
	}
	if s.holeSince.IsZero() {
		s.holeSince = now
	}
}

// need says what the room must find out: hole is the lowest missing seq (0
// when nothing waits), since when the room has been stuck on it, and
// newEpoch whether a seq of a newer epoch waits, which only the stored log
// can let through.
type need struct {
	hole     int64
	since    time.Time
	newEpoch bool
}

func (s *sequencer) need() need {
	if len(s.pending) == 0 {
		return need{}
	}
	var high int64
	for q := range s.pending {
		high = max(high, q)
	}
	return need{hole: s.last + 1, since: s.holeSince, newEpoch: bus.EpochOf(high) > bus.EpochOf(s.last)}
}

// logEntry is one stored seq: a message's frame, or nil for a fence.
type logEntry struct {
	seq   int64
	frame []byte
}

// fromLog takes what PostgreSQL holds after last (ascending) and top, the
// newest seq stored, read before the entries. Every epoch older than top's
// is closed: its stored entries and waiting seqs are delivered in order,
// and its other seqs never will be. complete is false when entries were cut
// short by a limit; then only what was read is closed.
func (s *sequencer) fromLog(now time.Time, entries []logEntry, top int64, complete bool) {
	for _, e := range entries {
		if e.seq > s.last {
			if _, ok := s.pending[e.seq]; !ok || s.pending[e.seq] == nil {
				s.pending[e.seq] = e.frame
			}
		}
	}
	open := bus.EpochOf(top)
	if top > 0 && bus.EpochOf(s.last) < open {
		through := bus.EpochBase(open)
		if !complete && len(entries) > 0 {
			through = min(through, entries[len(entries)-1].seq)
		}
		s.closeThrough(through)
	}
	s.drain(now)
}

// closeThrough delivers, in order and accepting gaps, every waiting seq up
// to limit and moves the position there.
func (s *sequencer) closeThrough(limit int64) {
	seqs := make([]int64, 0, len(s.pending))
	for q := range s.pending {
		if q <= limit {
			seqs = append(seqs, q)
		}
	}
	slices.Sort(seqs)
	for _, q := range seqs {
		s.emit(q, s.pending[q])
		delete(s.pending, q)
	}
	s.last = max(s.last, limit)
}

// giveUp delivers everything waiting, accepting the holes: for a room that
// must not wait any longer (its buffer is full).
func (s *sequencer) giveUp(now time.Time) int64 {
	from := s.last
	if len(s.pending) == 0 {
		return 0
	}
	low, top := s.lowest(), int64(0)
	for q := range s.pending {
		top = max(top, q)
	}
	s.closeThrough(top)
	s.drain(now)
	return low - from - 1
}

func (s *sequencer) lowest() int64 {
	var low int64
	for q := range s.pending {
		if low == 0 || q < low {
			low = q
		}
	}
	return low
}

func (s *sequencer) emit(seq int64, frame []byte) {
	s.last = seq
	if frame != nil {
		s.deliver(seq, frame)
	}
}

// drain delivers waiting seqs that are now next in line.
func (s *sequencer) drain(now time.Time) {
	progressed := false
	for {
		f, ok := s.pending[s.last+1]
		if !ok {
			break
		}
		delete(s.pending, s.last+1)
		s.emit(s.last+1, f)
		progressed = true
	}
	for q := range s.pending {
		if q <= s.last {
			delete(s.pending, q)
		}
	}
	switch {
	case len(s.pending) == 0:
		s.holeSince = time.Time{}
	case progressed || s.holeSince.IsZero():
		s.holeSince = now
	}
}
