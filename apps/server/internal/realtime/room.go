package realtime

import (
	"context"
	"encoding/json"
	"math"
	"sort"
	"sync"
	"time"

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

	mu       sync.Mutex
	subs     map[*sub]struct{}
	last     int64            // highest seq handled (delivered or given up)
	pending  map[int64][]byte // out-of-order frames; nil value: a skipped seq
	gapSince time.Time
	timer    *time.Timer
	closed   bool
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
			subs: make(map[*sub]struct{}), pending: make(map[int64][]byte)}
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
		if pos > r.last {
			r.last = pos
		}
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
		go func() { defer h.wg.Done(); r.resync(false) }()
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

// offer hands the sequencer one seq (frame nil: the seq will never come).
func (r *room) offer(seq int64, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq <= r.last {
		return // duplicate or too late
	}
	// Anything else waits, the start of a new epoch too, unless the room
	// has no position yet: the end of the old epoch may have been lost
	// with Redis (see resync).
	if seq == r.last+1 || r.last == 0 && bus.IsEpochStart(seq) {
		r.deliver(seq, frame)
		r.drain()
		return
	}
	if len(r.pending) >= maxPending {
		r.giveUp()
	}
	r.pending[seq] = frame
	if r.gapSince.IsZero() {
		r.gapSince = time.Now()
	}
	r.armTimer()
}

// deliver sends one seq to every subscriber; r.mu is held.
func (r *room) deliver(seq int64, frame []byte) {
	r.last = seq
	if frame == nil {
		return
	}
	messagesFanout.Inc()
	for s := range r.subs {
		s.send(seq, frame)
	}
}

// drain delivers pending seqs that are now next in line; r.mu is held.
func (r *room) drain() {
	for {
		f, ok := r.pending[r.last+1]
		if !ok {
			break
		}
		delete(r.pending, r.last+1)
		r.deliver(r.last+1, f)
	}
	for s := range r.pending {
		if s <= r.last {
			delete(r.pending, s)
		}
	}
	if len(r.pending) == 0 {
		r.gapSince = time.Time{}
		if r.timer != nil {
			r.timer.Stop()
		}
	}
}

// giveUp delivers everything pending in order, accepting the gaps; r.mu is
// held. Called once a gap outlived GapTimeout: its seq was allocated by a
// sender that then failed without saying so.
func (r *room) giveUp() {
	from := r.last
	if seqs := r.deliverThrough(math.MaxInt64); len(seqs) > 0 {
		gapsSkipped.Add(float64(seqs[0] - from - 1))
	}
	r.gapSince = time.Time{}
}

// deliverThrough delivers, in order and accepting gaps, every pending seq up
// to limit, and returns the seqs it took, lowest first; r.mu is held.
func (r *room) deliverThrough(limit int64) []int64 {
	seqs := make([]int64, 0, len(r.pending))
	for s := range r.pending {
		if s <= limit {
			seqs = append(seqs, s)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs {
		if s > r.last {
			r.deliver(s, r.pending[s])
		}
		delete(r.pending, s)
	}
	return seqs
}

// gapCheck is how often a room with a gap looks into the cache.
const gapCheck = 200 * time.Millisecond

func (r *room) armTimer() {
	if r.closed {
		return
	}
	if r.timer == nil {
		r.timer = time.AfterFunc(gapCheck, func() { r.resync(true) })
		return
	}
	r.timer.Reset(gapCheck)
}

// resync reads what the cache holds after the room's position and feeds it
// to the sequencer: this repairs anything pub/sub lost. With fromTimer, a
// gap older than GapTimeout that neither the cache nor the history can
// fill is given up.
//
// A new epoch starts when Redis lost the room's counter, and it may have
// lost the old epoch's last messages with it: from the cache, and from
// pub/sub if they were in flight. Nobody knows how many there were, so the
// epoch's first seq is delivered only once PostgreSQL holds it: the
// persister stores a room's messages in log order, so by then it holds
// every acknowledged message of the old epoch too, and those come first.
func (r *room) resync(fromTimer bool) {
	r.mu.Lock()
	after, closed := r.last, r.closed
	r.mu.Unlock()
	if closed {
		return
	}
	ctx, cancel := context.WithTimeout(r.hub.ctx, 5*time.Second)
	defer cancel()
	cached, err := r.hub.redis.RecentAfter(ctx, r.id, after, maxPending)
	if err != nil {
		r.hub.log.Warn("room resync failed", "room", r.id, "err", err)
	}
	epoch := r.waitingEpoch()
	var stored []protocol.Message
	if epoch > 0 {
		stored, err = r.hub.store.MessagesAfter(ctx, r.id, after, maxPending)
		if err != nil {
			r.hub.log.Warn("room resync from history failed", "room", r.id, "err", err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cached {
		r.hold(c.Seq, c.Frame)
	}
	if epoch > 0 && len(stored) > 0 && stored[len(stored)-1].Seq >= epoch {
		for _, m := range stored {
			if m.Seq < epoch {
				r.hold(m.Seq, messageFrame(m))
			}
		}
		r.deliverThrough(epoch) // the old epoch's end, then the new epoch's first
	}
	if len(r.pending) > 0 && r.gapSince.IsZero() {
		r.gapSince = time.Now()
	}
	r.drain()
	if len(r.pending) == 0 {
		return
	}
	if fromTimer && time.Since(r.gapSince) >= r.hub.cfg.GapTimeout {
		r.giveUp()
		return
	}
	r.armTimer()
}

// hold adds a frame the sequencer has not handled yet; r.mu is held.
func (r *room) hold(seq int64, frame []byte) {
	if seq > r.last {
		if _, ok := r.pending[seq]; !ok {
			r.pending[seq] = frame
		}
	}
}

// waitingEpoch is the first seq of a new epoch that the room holds back,
// when nothing older is pending; 0 otherwise.
func (r *room) waitingEpoch() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var low int64
	for s := range r.pending {
		if low == 0 || s < low {
			low = s
		}
	}
	if r.last > 0 && low > r.last+1 && bus.IsEpochStart(low) {
		return low
	}
	return 0
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
	cutoff := r.last
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
