package realtime

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/store"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// maxPending bounds the out-of-order buffer of a room; past it the room
// resynchronises from the cache instead of buffering more.
const maxPending = 10_000

// room is one room as this server sees it: the local subscribers and a
// sequencer that turns the at-most-once, possibly reordered pub/sub stream
// into each subscriber's exactly-once, in-order stream.
type room struct {
	id  string
	hub *Hub

	refs int // subscriptions holding the room; guarded by hub.mu

	ready    chan struct{} // closed once the Redis subscription is confirmed
	readyErr error
	confirm  chan struct{} // signalled by OnSubscribed

	mu          sync.Mutex
	subs        map[*sub]struct{}
	seq         *sequencer
	timer       *time.Timer
	armed       bool      // the timer is set; traffic must not push it back
	lastResolve time.Time // when a stuck hole was last resolved
	closed      bool
}

// sub is one connection's subscription to a room.
type sub struct {
	conn *Conn
	room *room
	last int64 // highest seq sent to this subscriber
	live bool  // false while the replay is being prepared
	buf  []bufFrame
}

type bufFrame struct {
	seq   int64 // 0 for frames without a seq (typing, read)
	frame []byte
}

// payload is the part of a room channel frame the sequencer reads.
type payload struct {
	Type string        `json:"type"`
	Seq  int64         `json:"seq"`
	User protocol.User `json:"user"`
}

// acquire returns the room with one more reference, subscribed in Redis.
func (h *Hub) acquire(ctx context.Context, id string) (*room, error) {
	h.mu.Lock()
	r := h.rooms[id]
	if r == nil {
		r = &room{id: id, hub: h, ready: make(chan struct{}), confirm: make(chan struct{}, 1),
			subs: make(map[*sub]struct{})}
		r.seq = newSequencer(r.deliver)
		h.rooms[id] = r
		// Subscribe under h.mu, so that this SUBSCRIBE reaches Redis after
		// the UNSUBSCRIBE of an earlier incarnation of the room.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := h.sub.Subscribe(sctx, id)
		cancel()
		h.wg.Add(1)
		go func() { defer h.wg.Done(); r.init(err) }()
	}
	r.refs++
	h.mu.Unlock()
	select {
	case <-r.ready:
	case <-ctx.Done():
		h.release(r)
		return nil, protocol.Wrap(protocol.CodeUnavailable, ctx.Err(), "room subscription timed out")
	}
	if r.readyErr != nil {
		h.release(r)
		return nil, r.readyErr
	}
	return r, nil
}

// init subscribes the room's channel and learns where its stream stands.
func (r *room) init(err error) {
	ctx, cancel := context.WithTimeout(r.hub.ctx, 5*time.Second)
	defer cancel()
	if err == nil {
		select {
		case <-r.confirm:
		case <-ctx.Done():
			err = protocol.Wrap(protocol.CodeUnavailable, ctx.Err(), "redis subscription not confirmed")
		}
	}
	if err == nil {
		// The stream stands at the newest cached message. An empty cache
		// means the room was idle for RECENT_TTL (or is new, or Redis lost
		// it): then the counter is the position, and the next seq is the
		// counter's successor or the start of a new epoch.
		var pos int64
		pos, err = r.hub.redis.Newest(ctx, r.id)
		if err == nil && pos == 0 {
			pos, err = r.hub.redis.Counter(ctx, r.id)
		}
		r.mu.Lock()
		r.seq.start(pos)
		r.mu.Unlock()
	}
	if err != nil {
		r.readyErr = err
		r.hub.mu.Lock()
		if r.hub.rooms[r.id] == r {
			delete(r.hub.rooms, r.id)
			_ = r.hub.sub.Unsubscribe(ctx, r.id)
		}
		r.hub.mu.Unlock()
	}
	close(r.ready)
}

// release drops a reference; the last one unsubscribes the room.
func (h *Hub) release(r *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r.refs--
	if r.refs > 0 {
		return
	}
	r.stopTimer()
	if h.rooms[r.id] == r {
		delete(h.rooms, r.id)
		// Under h.mu: see acquire.
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
		defer cancel()
		if err := h.sub.Unsubscribe(ctx, r.id); err != nil {
			h.log.Warn("unsubscribe failed", "room", r.id, "err", err)
		}
	}
}

func (r *room) stopTimer() {
	r.mu.Lock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
}

func (h *Hub) lookup(id string) *room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[id]
}

// OnSubscribed implements bus.Handler: the first confirmation makes the room
// ready; a later one follows a reconnect, so the room catches up from the
// cache on what the broken connection lost.
func (h *Hub) OnSubscribed(id string) {
	r := h.lookup(id)
	if r == nil {
		return
	}
	select {
	case <-r.ready:
		h.wg.Add(1)
		go func() { defer h.wg.Done(); r.resync() }()
	default:
		select {
		case r.confirm <- struct{}{}:
		default:
		}
	}
}

// OnMessage implements bus.Handler.
func (h *Hub) OnMessage(id string, frame []byte) {
	r := h.lookup(id)
	if r == nil {
		return
	}
	var p payload
	if err := json.Unmarshal(frame, &p); err != nil {
		h.log.Warn("bad frame on room channel", "room", id, "err", err)
		return
	}
	switch p.Type {
	case protocol.TypeMessage:
		h.commits.seen(id, p.Seq)
		r.offer(p.Seq, frame)
	case "skip":
		r.offer(p.Seq, nil)
	case protocol.TypeTyping, protocol.TypeRead:
		r.broadcast(frame, p.User.ID, p.Type == protocol.TypeTyping)
	}
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
		r.timer = time.AfterFunc(gapCheck, r.onTimer)
		return
	}
	r.timer.Reset(gapCheck)
}

// onTimer runs a resync as the hub's work (Close waits for it).
func (r *room) onTimer() {
	if !r.hub.enter() {
		return
	}
	defer r.hub.wg.Done()
	r.resync()
}

// resync repairs what the stream is missing: from the recent cache (pub/sub
// lost it), and from the stored log when a newer epoch waits or a hole has
// been stuck for GapTimeout. A hole stuck that long whose seq's owner is
// gone (its lease expired) is fenced: its epoch ends, and the log then says
// which of that epoch's messages stand.
func (r *room) resync() {
	r.mu.Lock()
	r.armed = false
	after, closed, n := r.seq.last, r.closed, r.seq.need()
	r.mu.Unlock()
	if closed || r.hub.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.hub.ctx, 5*time.Second)
	defer cancel()
	cached, err := r.hub.redis.RecentAfter(ctx, r.id, after, maxPending)
	if err != nil {
		r.hub.log.Warn("room resync failed", "room", r.id, "err", err)
	}
	stuck := n.hole != 0 && time.Since(n.since) >= r.hub.cfg.GapTimeout
	var entries []logEntry
	var top int64
	readLog := false
	if n.newEpoch || stuck {
		var log []store.LogEntry
		log, top, err = r.hub.store.LogAfter(ctx, r.id, after, maxPending)
		if err != nil {
			r.hub.log.Warn("room resync from the log failed", "room", r.id, "err", err)
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
			r.hub.log.Info("room moved to a new epoch after the log closed the old one",
				"room", r.id, "from", from, "to", r.seq.last, "waited", now.Sub(n.since).Round(time.Millisecond))
		}
	}
	n = r.seq.need()
	resolve := stuck && n.hole != 0 && !n.newEpoch && now.Sub(r.lastResolve) >= r.hub.cfg.GapTimeout
	if resolve {
		r.lastResolve = now
	}
	if n.hole != 0 {
		r.armTimer()
	}
	r.mu.Unlock()
	if resolve {
		r.hub.resolveHole(ctx, r.id, n.hole, now.Sub(n.since))
	}
}

// logEntries turns stored log entries into the sequencer's.
func logEntries(log []store.LogEntry) []logEntry {
	out := make([]logEntry, len(log))
	for i, e := range log {
		out[i].seq = e.Seq
		if !e.Fence {
			out[i].frame = messageFrame(e.Message)
		}
	}
	return out
}

// broadcast sends a seq-less frame (typing, read) to the room's local
// subscribers; skipSender leaves out the connections of its user.
func (r *room) broadcast(frame []byte, userID string, skipSender bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.subs {
		if skipSender && s.conn.user.ID == userID {
			continue
		}
		if !s.live {
			continue
		}
		s.conn.enqueue(frame)
	}
}

// send queues a frame for the subscriber, once per seq; r.mu is held.
func (s *sub) send(seq int64, frame []byte) {
	if !s.live {
		if len(s.buf) >= maxPending {
			s.conn.closeWith(protocol.CloseTooSlow, "too far behind", false)
			return
		}
		s.buf = append(s.buf, bufFrame{seq, frame})
		return
	}
	if seq <= s.last {
		return
	}
	s.last = seq
	s.conn.enqueue(frame)
}

// subscribe adds c to the room: it replays what c missed after `after`,
// answers subscribed, then goes live, without a gap or a duplicate between
// the replay and the live stream.
func (h *Hub) subscribe(ctx context.Context, c *Conn, roomID string, after *int64) error {
	if err := h.authorize(ctx, roomID, c.user); err != nil {
		return err
	}
	if c.subscribed(roomID) {
		return protocol.Errorf(protocol.CodeBadRequest, "already subscribed to room %s", roomID)
	}
	r, err := h.acquire(ctx, roomID)
	if err != nil {
		return err
	}
	s := &sub{conn: c, room: r}
	r.mu.Lock()
	cutoff := r.seq.last
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	if !c.addSub(roomID, s) {
		h.dropSub(s)
		return protocol.Errorf(protocol.CodeBadRequest, "already subscribed to room %s", roomID)
	}

	var replay []bus.Cached
	recovered := true
	if after != nil && *after < cutoff {
		replay, recovered, err = h.replay(ctx, roomID, *after, cutoff)
		if err != nil {
			h.unsubscribe(c, roomID)
			return err
		}
	}
	// The replay and whatever arrived live meanwhile are queued outside the
	// room lock, waiting for queue space as the writer drains: a long replay
	// is not "too slow", and the room's fan-out never waits for it.
	last := int64(0)
	if after != nil {
		last = *after
	}
	for _, m := range replay {
		if m.Seq > last {
			last = m.Seq
			if err := c.enqueueWait(ctx, m.Frame); err != nil {
				h.unsubscribe(c, roomID)
				return err
			}
		}
	}
	last = max(last, cutoff)
	online, err := h.onlineMembers(ctx, roomID)
	if err != nil {
		h.log.Warn("presence snapshot failed", "room", roomID, "err", err)
	}
	subscribed := protocol.Encode(protocol.Subscribed{Type: protocol.TypeSubscribed, Room: roomID, LastSeq: cutoff,
		Recovered: recovered, Online: online})
	if err := c.enqueueWait(ctx, subscribed); err != nil {
		h.unsubscribe(c, roomID)
		return err
	}
	for {
		r.mu.Lock()
		buf := s.buf
		s.buf = nil
		if len(buf) == 0 {
			s.last = last
			s.live = true
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()
		for _, b := range buf {
			if b.seq != 0 && b.seq <= last {
				continue
			}
			last = max(last, b.seq)
			if err := c.enqueueWait(ctx, b.frame); err != nil {
				h.unsubscribe(c, roomID)
				return err
			}
		}
	}
}

// unsubscribe removes c's subscription to the room, if any.
func (h *Hub) unsubscribe(c *Conn, roomID string) {
	if s := c.removeSub(roomID); s != nil {
		h.dropSub(s)
	}
}

func (h *Hub) dropSub(s *sub) {
	s.room.mu.Lock()
	delete(s.room.subs, s)
	s.room.mu.Unlock()
	h.release(s.room)
}

// replayWait bounds how long a replay waits for the persister.
const replayWait = 2 * time.Second

// awaitStored waits, up to replayWait, until PostgreSQL holds the room's
// log up to seq: the part of a replay that the cache does not hold (after
// Redis lost it, or for an old position) must not miss messages the
// persister has not written yet. A seq that will never be stored (one the
// room gave up) costs the whole wait.
func (h *Hub) awaitStored(ctx context.Context, roomID string, seq int64) {
	deadline := time.Now().Add(replayWait)
	for {
		top, err := h.store.RoomLastSeq(ctx, roomID)
		if err != nil || top >= seq || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// replay collects the messages in (after, upto], the newest ReplayMax of
// them, from the cache and, for what the cache no longer holds, PostgreSQL.
// recovered is false when there were more.
func (h *Hub) replay(ctx context.Context, roomID string, after, upto int64) ([]bus.Cached, bool, error) {
	limit := h.cfg.ReplayMax
	cached, err := h.redis.RecentAfter(ctx, roomID, after, h.cfg.RecentMax)
	if err != nil {
		return nil, false, err
	}
	for len(cached) > 0 && cached[len(cached)-1].Seq > upto {
		cached = cached[:len(cached)-1]
	}
	oldest, err := h.redis.Oldest(ctx, roomID)
	if err != nil {
		return nil, false, err
	}
	recovered := true
	var older []bus.Cached
	if oldest == 0 || after < oldest-1 || len(cached) == 0 {
		// The cache may not reach back to `after`: ask PostgreSQL for what
		// lies between, newest first.
		before := oldest
		if len(cached) > 0 {
			before = cached[0].Seq
		} else {
			before = upto + 1
		}
		h.awaitStored(ctx, roomID, before-1)
		need := limit - len(cached) + 1
		if need > 0 {
			msgs, err := h.store.MessagesBefore(ctx, roomID, before, need)
			if err != nil {
				return nil, false, err
			}
			for i := len(msgs) - 1; i >= 0; i-- {
				if msgs[i].Seq <= after {
					continue
				}
				older = append(older, bus.Cached{Seq: msgs[i].Seq,
					Frame: messageFrame(msgs[i])})
			}
			if len(msgs) == need && msgs[len(msgs)-1].Seq > after {
				recovered = false
			}
		} else {
			recovered = false
		}
	}
	all := append(older, cached...)
	if len(all) > limit {
		all = all[len(all)-limit:]
		recovered = false
	}
	return all, recovered, nil
}
