// Package realtime is the WebSocket half of the contract: connections,
// per-room fan-out over Redis pub/sub with ordering and gap repair, and the
// durable send path (Redis seq, Kafka, then Redis commit).
package realtime

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/config"
	"github.com/rookery-chat/rookery/apps/server/internal/ratelimit"
	"github.com/rookery-chat/rookery/apps/server/internal/store"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Store is what real-time needs from PostgreSQL.
type Store interface {
	UserByToken(ctx context.Context, hash []byte) (protocol.User, error)
	CheckMember(ctx context.Context, roomID string, user protocol.User) error
	SeedSeq(ctx context.Context, roomID string, set func(epoch int64) (bool, error)) error
	MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]protocol.Message, error)
	MessagesAfter(ctx context.Context, roomID string, after int64, limit int) ([]protocol.Message, error)
	LogAfter(ctx context.Context, roomID string, after int64, limit int) ([]store.LogEntry, int64, error)
	StoredSeq(ctx context.Context, messageID string) (bool, error)
	RoomLastSeq(ctx context.Context, roomID string) (int64, error)
	ReadStore
	RoomMembers(ctx context.Context, roomID string, max int32) ([]protocol.User, error)
	UserRooms(ctx context.Context, userID string) ([]string, error)
	UserByID(ctx context.Context, userID string) (protocol.User, error)
}

// Producer appends a message, or a fence record, to the durable log.
type Producer interface {
	Produce(ctx context.Context, msg protocol.Message) error
	ProduceFence(ctx context.Context, room string, seq int64) error
}

var _ Producer = (*bus.Producer)(nil)

// Hub owns this server's connections and the rooms they watch.
type Hub struct {
	log      *slog.Logger
	cfg      config.Config
	store    Store
	redis    *bus.Redis
	producer Producer
	sub      *bus.Subscriber
	members  *memberCache
	reads    *readCoalescer
	presence *presence
	flusher  *flusher
	commits  *commitWaiters
	jobs     chan job      // client requests for the workers
	settling chan struct{} // slots of sends settled in the background

	ctx    context.Context // ends at Close; parent of every goroutine's context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	rooms   map[string]*room
	conns   map[*Conn]struct{}
	buckets map[string]*userBucket
	// takeovers are the sends of dead owners this server is settling.
	takeovers map[roomSeq]bool
	draining  bool
	closed    bool // Close began: timers no longer start work
}

type userBucket struct {
	mu      sync.Mutex
	b       *ratelimit.Bucket
	conns   int
	strikes int
}

// NewHub starts the hub's Redis subscription.
func NewHub(log *slog.Logger, cfg config.Config, st Store, rb *bus.Redis, p Producer) *Hub {
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{log: log, cfg: cfg, store: st, redis: rb, producer: p, ctx: ctx, cancel: cancel,
		members: newMemberCache(30*time.Second, 100_000),
		rooms:   make(map[string]*room), conns: make(map[*Conn]struct{}), buckets: make(map[string]*userBucket),
		takeovers: make(map[roomSeq]bool), settling: make(chan struct{}, settleSlots)}
	h.reads = &readCoalescer{pending: make(map[memberKey]int64), store: st, log: log}
	h.sub = bus.NewSubscriber(ctx, rb.Client(), rb.Keys(), h, log)
	h.presence = newPresence(h)
	h.flusher = newFlusher(cfg.WriteDelay)
	h.commits = newCommitWaiters()
	h.wg.Add(5)
	go func() { defer h.wg.Done(); h.sub.Run(ctx) }()
	go func() { defer h.wg.Done(); h.reads.run(ctx, time.Second) }()
	go func() { defer h.wg.Done(); h.presence.run(ctx) }()
	go func() { defer h.wg.Done(); h.flusher.run(ctx.Done()) }()
	go func() { defer h.wg.Done(); h.pinger(ctx) }()
	h.jobs = make(chan job)
	for range cfg.Workers {
		h.goConn(h.worker)
	}
	// Writes never block, so a flusher per core keeps up.
	for range max(2, runtime.GOMAXPROCS(0)) {
		h.goConn(h.flusher.work)
	}
	return h
}

// enter counts a timer's work as the hub's, so that Close waits for it;
// false once Close began (the work must then not start). Pair with
// h.wg.Done.
func (h *Hub) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	return true
}

// goConn runs fn on a goroutine the hub waits for at Close.
func (h *Hub) goConn(fn func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn()
	}()
}

// pinger asks every connection for a keep-alive ping each PING_INTERVAL.
func (h *Hub) pinger(ctx context.Context) {
	t := time.NewTicker(h.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		conns := make([]*Conn, 0, len(h.conns))
		for c := range h.conns {
			conns = append(conns, c)
		}
		h.mu.Unlock()
		for _, c := range conns {
			c.wantPing()
		}
	}
}

// authorize checks membership through the cache.
func (h *Hub) authorize(ctx context.Context, room string, user protocol.User) error {
	return h.members.check(ctx, room, user.ID, func(ctx context.Context) error {
		return h.store.CheckMember(ctx, room, user)
	})
}

func (h *Hub) register(c *Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	h.conns[c] = struct{}{}
	ub := h.buckets[c.user.ID]
	if ub == nil {
		ub = &userBucket{b: ratelimit.NewBucket(h.cfg.SendRate, h.cfg.SendBurst)}
		h.buckets[c.user.ID] = ub
	}
	ub.conns++
	c.bucket = ub
	connections.Inc()
	return true
}

func (h *Hub) unregister(c *Conn) {
	for _, room := range c.rooms() {
		h.unsubscribe(c, room)
	}
	h.mu.Lock()
	if _, ok := h.conns[c]; !ok {
		h.mu.Unlock()
		return
	}
	delete(h.conns, c)
	if ub := h.buckets[c.user.ID]; ub != nil {
		if ub.conns--; ub.conns == 0 {
			delete(h.buckets, c.user.ID)
		}
	}
	h.mu.Unlock()
	connections.Dec()
	h.presence.post(presenceOp{user: c.user, up: false})
}

// control is a message of the cluster-wide control channel.
type control struct {
	Kind string `json:"kind"` // "member", "token" or "presence"
	Room string `json:"room,omitempty"`
	User string `json:"user,omitempty"`
	Hash string `json:"hash,omitempty"`
	// Presence events: the user's name, state and rooms.
	Name   string   `json:"name,omitempty"`
	Online bool     `json:"online,omitempty"`
	Rooms  []string `json:"rooms,omitempty"`
}

func (h *Hub) publishControl(ctx context.Context, c control) {
	b, _ := json.Marshal(c)
	if err := h.redis.Client().Publish(ctx, h.redis.Keys().Control(), b).Err(); err != nil {
		h.log.Error("control publish failed; caches expire on their own", "kind", c.Kind, "err", err)
	}
}

// MembershipChanged tells every server that user joined or left room.
func (h *Hub) MembershipChanged(ctx context.Context, room, user string) {
	h.members.invalidate(room, user)
	h.publishControl(ctx, control{Kind: "member", Room: room, User: user})
}

// TokenRevoked tells every server to close connections made with the token.
func (h *Hub) TokenRevoked(ctx context.Context, hash []byte) {
	h.publishControl(ctx, control{Kind: "token", Hash: hex.EncodeToString(hash)})
}

// OnControl implements bus.Handler.
func (h *Hub) OnControl(payload []byte) {
	var c control
	if err := json.Unmarshal(payload, &c); err != nil {
		h.log.Warn("bad control message", "err", err)
		return
	}
	switch c.Kind {
	case "presence":
		h.deliverPresence(c)
	case "member":
		h.members.invalidate(c.Room, c.User)
		// A member who left must stop receiving the room at once; a member
		// who was added is told, so the client can list and subscribe it.
		h.mu.Lock()
		var conns []*Conn
		for conn := range h.conns {
			if conn.user.ID == c.User {
				conns = append(conns, conn)
			}
		}
		h.mu.Unlock()
		if len(conns) == 0 {
			return
		}
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
			defer cancel()
			err := h.authorize(ctx, c.Room, conns[0].user)
			code := protocol.ErrorCode(err)
			switch {
			case err == nil:
				added := protocol.Encode(protocol.RoomAdded{Type: protocol.TypeRoomAdded, Room: c.Room})
				for _, conn := range conns {
					if !conn.subscribed(c.Room) {
						conn.enqueue(added)
					}
				}
			case code == protocol.CodeForbidden || code == protocol.CodeNotFound:
				for _, conn := range conns {
					if conn.subscribed(c.Room) {
						h.unsubscribe(conn, c.Room)
						conn.enqueue(protocol.Encode(protocol.ErrorFrame{Type: protocol.TypeError, Code: code, Room: c.Room,
							Message: "you are no longer a member of room " + c.Room}))
					}
				}
			}
		}()
	case "token":
		h.mu.Lock()
		var victims []*Conn
		for conn := range h.conns {
			if hex.EncodeToString(conn.tokenHash) == c.Hash {
				victims = append(victims, conn)
			}
		}
		h.mu.Unlock()
		for _, conn := range victims {
			conn.closeWith(protocol.CloseUnauthorized, "logged out", true)
		}
	}
}

// Drain stops accepting connections, says goodbye to every client, closes
// them with 1001 and waits, up to ctx, until they are gone.
func (h *Hub) Drain(ctx context.Context) {
	h.mu.Lock()
	h.draining = true
	conns := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	bye := protocol.Encode(protocol.Goodbye{Type: protocol.TypeGoodbye, Reason: "server shutting down", Reconnect: true})
	for _, c := range conns {
		c.enqueue(bye)
		c.closeWith(protocol.CloseGoingAway, "server shutting down", true)
	}
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			c.kill()
		}
	}
}

// Close stops the hub's goroutines. Drain first.
func (h *Hub) Close() {
	h.mu.Lock()
	h.draining = true
	h.closed = true
	conns := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.kill()
	}
	h.cancel()
	h.sub.Close()
	h.wg.Wait()
	h.mu.Lock()
	for _, r := range h.rooms {
		r.stopTimer()
	}
	h.mu.Unlock()
}
