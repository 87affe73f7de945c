package fanout

import (
	"context"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/store"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// maxPending bounds the out-of-order buffer of a room; past it the room
// resynchronises from the cache instead of buffering more.
const maxPending = 10_000

// room is one room as this server sees it: the local subscribers and the
// sequencer of its stream.
type room struct {
	id string
	rs *Rooms

	refs int // holders (subscriptions, watchers); guarded by rs.mu

	ready    chan struct{} // closed once the subscription is confirmed
	readyErr error
	confirm  chan struct{} // signalled by OnSubscribed

	mu          sync.Mutex
	subs        map[*Sub]struct{}
	seq         *sequencer
	timer       *time.Timer
	armed       bool      // the timer is set; traffic must not push it back
	lastResolve time.Time // when a stuck hole was last resolved
	closed      bool
}

func newRoom(rs *Rooms, id string) *room {
	r := &room{id: id, rs: rs, ready: make(chan struct{}), confirm: make(chan struct{}, 1), subs: make(map[*Sub]struct{})}
	r.seq = newSequencer(r.deliver)
	return r
}

// init waits for the subscription's confirmation and learns where the
// room's stream stands.
func (r *room) init(err error) {
	defer close(r.ready)
	ctx, cancel := context.WithTimeout(r.rs.ctx, 5*time.Second)
	defer cancel()
	if err == nil {
		select {
		case <-r.confirm:
		case <-ctx.Done():
			err = protocol.Wrap(protocol.CodeUnavailable, ctx.Err(), "room subscription not confirmed")
		}
	}
	if err == nil {
		// The stream stands at the newest cached message. An empty cache
		// means the room was idle for RECENT_TTL (or is new, or the broker
		// lost it): then the counter is the position, and the next seq is
		// the counter's successor or the start of a new epoch.
		var pos int64
		pos, err = r.rs.cache.Newest(ctx, r.id)
		if err == nil && pos == 0 {
			pos, err = r.rs.cache.Counter(ctx, r.id)
		}
		r.mu.Lock()
		r.seq.start(pos)
		r.mu.Unlock()
	}
	r.readyErr = err
}

func (r *room) stopTimer() {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
}

// offer hands the sequencer one seq (frame nil: the seq carries no message).
func (r *room) offer(seq int64, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq.offer(time.Now(), seq, frame)
	if len(r.seq.pending) >= maxPending {
		gapsSkipped.Add(float64(r.seq.giveUp(time.Now())))
	}
	if r.seq.need().hole != 0 {
		r.armTimer()
	}
}

// deliver sends one seq to every subscriber; r.mu is held.
func (r *room) deliver(seq int64, frame []byte) {
	messagesFanout.Inc()
	if ts, ok := frameTime(frame); ok {
		fanoutLatency.Observe(time.Since(ts).Seconds())
	}
	for s := range r.subs {
		s.send(seq, frame)
	}
}

// gapCheck is how often a room with a hole looks into the cache.
const gapCheck = 200 * time.Millisecond

// armTimer makes sure a resync runs within gapCheck; r.mu is held. An
// armed timer is left alone: pushing it back on every message would starve
// a room whose traffic never pauses.
func (r *room) armTimer() {
	if r.closed || r.armed {
		return
	}
	r.armed = true
	if r.timer == nil {
		r.timer = time.AfterFunc(gapCheck, func() { r.rs.goWork(r.resync) })
		return
	}
	r.timer.Reset(gapCheck)
}

// resync repairs what the stream is missing: from the recent cache (pub/sub
// lost it), and from the stored log when a newer epoch waits or a hole has
// been stuck for GapTimeout. A hole stuck that long is handed to
// Hooks.ResolveHole, which fences its epoch if its send is gone; the log
// then says which of that epoch's messages stand.
func (r *room) resync() {
	rs := r.rs
	r.mu.Lock()
	r.armed = false
	after, closed, n := r.seq.last, r.closed, r.seq.need()
	r.mu.Unlock()
	if closed || rs.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(rs.ctx, 5*time.Second)
	defer cancel()
	cached, err := rs.cache.RecentAfter(ctx, r.id, after, maxPending)
	if err != nil {
		rs.log.Warn("room resync failed", "room", r.id, "err", err)
	}
	stuck := n.hole != 0 && time.Since(n.since) >= rs.opts.GapTimeout
	var entries []logEntry
	var top int64
	readLog := false
	if n.newEpoch || stuck {
		var log []store.LogEntry
		log, top, err = rs.logs.LogAfter(ctx, r.id, after, maxPending)
		if err != nil {
			rs.log.Warn("room resync from the log failed", "room", r.id, "err", err)
		} else {
			readLog = true
			entries = logEntries(log)
		}
	}
	now := time.Now()
	r.mu.Lock()
	for _, c := range cached {
		r.seq.offer(now, c.Seq, c.Frame)
	}
	if readLog {
		from := r.seq.last
		r.seq.fromLog(now, entries, top, len(entries) < maxPending)
		if bus.EpochOf(r.seq.last) > bus.EpochOf(from) {
			rs.log.Info("room moved to a new epoch after the log closed the old one",
				"room", r.id, "from", from, "to", r.seq.last, "waited", now.Sub(n.since).Round(time.Millisecond))
		}
	}
	n = r.seq.need()
	resolve := stuck && n.hole != 0 && !n.newEpoch && now.Sub(r.lastResolve) >= rs.opts.GapTimeout
	if resolve {
		r.lastResolve = now
	}
	if n.hole != 0 {
		r.armTimer()
	}
	r.mu.Unlock()
	if resolve && rs.hooks.ResolveHole != nil {
		rs.hooks.ResolveHole(ctx, r.id, n.hole, now.Sub(n.since))
	}
}

// logEntries turns stored log entries into the sequencer's.
func logEntries(log []store.LogEntry) []logEntry {
	out := make([]logEntry, len(log))
	for i, e := range log {
		out[i].seq = e.Seq
		out[i].frame = e.Frame // nil for a fence
	}
	return out
}

// broadcast sends a seq-less frame (typing, read) to the room's live
// subscribers; skipSender leaves out the connections of its user.
func (r *room) broadcast(frame []byte, userID string, skipSender bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		if !s.live || skipSender && s.to.UserID() == userID {
			continue
		}
		s.to.Enqueue(frame)
	}
}
