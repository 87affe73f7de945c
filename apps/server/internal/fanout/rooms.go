// Package fanout delivers each room's stream to this server's subscribers:
// one broker subscription per room watched here, and a sequencer that turns
// the at-most-once, possibly reordered pub/sub stream into each
// subscriber's exactly-once, in-order stream, repairing holes from the
// recent cache and, past GapTimeout, from the stored log.
package fanout

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/store"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Broker is what fan-out needs of the broker: its channels and its cache.
type Broker interface {
	bus.PubSub
	bus.Cache
	// Counter is the room's seq counter: a room with an empty cache
	// stands there.
	Counter(ctx context.Context, room string) (int64, error)
}

// LogReader reads a room's stored log (PostgreSQL).
type LogReader interface {
	LogAfter(ctx context.Context, roomID string, after int64, limit int) ([]store.LogEntry, int64, error)
}

// Hooks are the calls fan-out makes into the rest of the server.
type Hooks struct {
	// Committed is called for every message seen on a room channel,
	// before its fan-out (it wakes the sender waiting for it).
	Committed func(room string, seq int64)
	// ResolveHole is called for a seq a room has waited on for GapTimeout.
	ResolveHole func(ctx context.Context, room string, seq int64, stuck time.Duration)
	// Control gets the payloads of the cluster-wide control channel.
	Control func(payload []byte)
}

// Options tune fan-out.
type Options struct {
	// GapTimeout is how long a room waits for a missing seq before it
	// asks the stored log (GAP_TIMEOUT).
	GapTimeout time.Duration
}

// Rooms are the rooms watched on this server.
type Rooms struct {
	log   *slog.Logger
	opts  Options
	cache Broker
	logs  LogReader
	hooks Hooks
	sub   bus.Subscription

	ctx    context.Context // ends at Close; parent of every goroutine's context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards rooms and closed; never held across I/O
	rooms  map[string]*room
	closed bool
	// subMu orders the broker subscriptions of one room id: a SUBSCRIBE
	// must not reach the broker before the UNSUBSCRIBE of an earlier
	// incarnation of the room. Delivery never takes it.
	subMu sync.Mutex
}

// New opens the broker subscription and starts receiving.
func New(log *slog.Logger, opts Options, b Broker, logs LogReader, hooks Hooks) *Rooms {
	ctx, cancel := context.WithCancel(context.Background())
	rs := &Rooms{log: log, opts: opts, cache: b, logs: logs, hooks: hooks, ctx: ctx, cancel: cancel,
		rooms: make(map[string]*room)}
	rs.sub = b.Subscribe(ctx, rs)
	rs.wg.Add(1)
	go func() { defer rs.wg.Done(); rs.sub.Run(ctx) }()
	return rs
}

var _ bus.Handler = (*Rooms)(nil)

// enter counts a timer's work as the Rooms', so that Close waits for it;
// false once Close began. Pair with rs.wg.Done.
func (rs *Rooms) enter() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.closed {
		return false
	}
	rs.wg.Add(1)
	return true
}

func (rs *Rooms) goWork(fn func()) {
	if !rs.enter() {
		return
	}
	go func() { defer rs.wg.Done(); fn() }()
}

// Close stops receiving and waits for the rooms' work. Subscribers should
// have left.
func (rs *Rooms) Close() {
	rs.mu.Lock()
	rs.closed = true
	rooms := make([]*room, 0, len(rs.rooms))
	for _, r := range rs.rooms {
		rooms = append(rooms, r)
	}
	rs.mu.Unlock()
	rs.cancel()
	rs.sub.Close()
	rs.wg.Wait()
	for _, r := range rooms {
		r.stopTimer()
	}
}

// acquire returns the room with one more reference, subscribed in the
// broker.
func (rs *Rooms) acquire(ctx context.Context, id string) (*room, error) {
	rs.mu.Lock()
	if rs.closed {
		rs.mu.Unlock()
		return nil, protocol.Errorf(protocol.CodeUnavailable, "server shutting down")
	}
	r := rs.rooms[id]
	fresh := r == nil
	if fresh {
		r = newRoom(rs, id)
		rs.rooms[id] = r
		rs.wg.Add(1) // r.init, started below
	}
	r.refs++
	rs.mu.Unlock()
	if fresh {
		rs.subMu.Lock()
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := rs.sub.Subscribe(sctx, id)
		cancel()
		rs.subMu.Unlock()
		go func() { defer rs.wg.Done(); r.init(err) }()
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		rs.release(r)
		return nil, protocol.Wrap(protocol.CodeUnavailable, ctx.Err(), "room subscription timed out")
	}
	if r.readyErr != nil {
		rs.release(r)
		return nil, r.readyErr
	}
	return r, nil
}

// release drops a reference; the last one unsubscribes the room.
func (rs *Rooms) release(r *room) {
	rs.mu.Lock()
	r.refs--
	last := r.refs == 0
	if last && rs.rooms[r.id] == r {
		delete(rs.rooms, r.id)
	}
	rs.mu.Unlock()
	if !last {
		return
	}
	r.stopTimer()
	rs.unsubscribe(r.id)
}

// unsubscribe drops the broker subscription of a room id no longer
// watched. Under subMu: a new incarnation of the room subscribes after it,
// or finds it still subscribed and no UNSUBSCRIBE follows.
func (rs *Rooms) unsubscribe(id string) {
	rs.subMu.Lock()
	defer rs.subMu.Unlock()
	rs.mu.RLock()
	_, again := rs.rooms[id]
	rs.mu.RUnlock()
	if again {
		return
	}
	ctx, cancel := context.WithTimeout(rs.ctx, 2*time.Second)
	defer cancel()
	if err := rs.sub.Unsubscribe(ctx, id); err != nil && rs.ctx.Err() == nil {
		rs.log.Warn("unsubscribe failed", "room", id, "err", err)
	}
}

func (rs *Rooms) lookup(id string) *room {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return rs.rooms[id]
}

// OnSubscribed implements bus.Handler: the first confirmation makes the
// room ready; a later one follows a reconnect, so the room catches up from
// the cache on what the broken connection lost.
func (rs *Rooms) OnSubscribed(id string) {
	r := rs.lookup(id)
	if r == nil {
		return
	}
	select {
	case <-r.ready:
		rs.goWork(r.resync)
	default:
		select {
		case r.confirm <- struct{}{}:
		default:
		}
	}
}

// OnMessage implements bus.Handler.
func (rs *Rooms) OnMessage(id string, frame []byte) {
	r := rs.lookup(id)
	if r == nil {
		return
	}
	h, err := protocol.PeekHeader(frame)
	if err != nil {
		rs.log.Warn("bad frame on room channel", "room", id, "err", err)
		return
	}
	switch h.Type {
	case protocol.TypeMessage, protocol.TypeEdit, protocol.TypeDelete, protocol.TypeReaction:
		if rs.hooks.Committed != nil {
			rs.hooks.Committed(id, h.Seq)
		}
		r.offer(h.Seq, frame)
	case protocol.TypeTyping, protocol.TypeRead:
		r.broadcast(frame, h.User.ID, h.Type == protocol.TypeTyping)
	}
}

// OnSkip implements bus.Handler.
func (rs *Rooms) OnSkip(id string, seq int64) {
	if r := rs.lookup(id); r != nil {
		r.offer(seq, nil)
	}
}

// OnControl implements bus.Handler.
func (rs *Rooms) OnControl(payload []byte) {
	if rs.hooks.Control != nil {
		rs.hooks.Control(payload)
	}
}
