// Package realtime is the WebSocket half of the contract: it authenticates
// connections, handles their requests (subscribe with replay, send,
// typing, read) and keeps the cluster-wide events (membership, logout,
// presence). The parts it wires are packages of their own: socket writes
// every frame, fanout delivers each room's ordered stream, send is the
// durable send path, history reads the past, and the bus.Broker is all
// they know of Redis.
package realtime

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/auth"
	"github.com/rookery-chat/rookery/apps/server/internal/fanout"
	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/apps/server/internal/ratelimit"
	"github.com/rookery-chat/rookery/apps/server/internal/send"
	"github.com/rookery-chat/rookery/apps/server/internal/socket"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Options configure the real-time core; the server fills them from its
// environment (README, "Configuration").
type Options struct {
	// ServerID names this server in welcome frames and presence claims.
	ServerID string
	// Workers are the reader goroutines, which read the clients' sockets
	// and handle their fast requests (WORKERS).
	Workers      int
	HelloTimeout time.Duration
	PingInterval time.Duration
	// SendRate and SendBurst are each user's send limit.
	SendRate  float64
	SendBurst int
	// PresenceTTL is how long a presence claim lives unrenewed.
	PresenceTTL time.Duration
	// AllowedOrigins may open WebSockets besides same-origin pages.
	AllowedOrigins []string
	// ConnsPerAddr caps one client address's open WebSockets (0: no
	// cap); TrustForwardedFor takes the address from X-Forwarded-For.
	ConnsPerAddr      int
	TrustForwardedFor bool
	// RequestTimeout bounds one client request.
	RequestTimeout time.Duration
	// Auth finds the user of a hello's token; nil accepts Rookery's own
	// session tokens only.
	Auth Authenticator

	Socket  socket.Options
	Send    send.Options
	Fanout  fanout.Options
	History history.Options
}

// Authenticator finds the user of a bearer token (auth.Authenticator).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (protocol.User, []byte, error)
}

// sessionTokens authenticates Rookery's own session tokens only.
type sessionTokens struct{ st Store }

func (s sessionTokens) Authenticate(ctx context.Context, token string) (protocol.User, []byte, error) {
	hash := auth.HashToken(token)
	u, err := s.st.UserByToken(ctx, hash)
	return u, hash, err
}

// Store is what real-time needs from PostgreSQL.
type Store interface {
	send.Store
	history.Store
	fanout.LogReader
	UserByToken(ctx context.Context, hash []byte) (protocol.User, error)
	CheckMember(ctx context.Context, roomID string, user protocol.User) error
	SetLastRead(ctx context.Context, roomID, userID string, seq int64) error
	RoomMembers(ctx context.Context, roomID string, max int32) ([]protocol.User, error)
	UserRooms(ctx context.Context, userID string) ([]string, error)
	UserByID(ctx context.Context, userID string) (protocol.User, error)
	// v1.1
	MembersNamed(ctx context.Context, roomID string, usernames []string) ([]protocol.User, error)
	RoomOwner(ctx context.Context, roomID string) (string, error)
	DirectPeer(ctx context.Context, roomID string, me protocol.User) (string, error)
	Blocks(ctx context.Context, blockerID, blockedID string) (bool, error)
}

// Hub owns this server's connections and wires the real-time parts.
type Hub struct {
	log     *slog.Logger
	opts    Options
	store   Store
	broker  bus.Broker
	writers *socket.Writers
	readers *socket.Readers
	rooms   *fanout.Rooms
	sender  *send.Sender
	history *history.Reader
	conns   *registry
	members *memberCache
	// rosters caches each room's member list for the presence snapshot of
	// subscribed (a reconnect storm would otherwise query PostgreSQL once
	// per subscribe); a membership change drops the room's entry on
	// every server, like members'.
	rosters   *ttlCache[string, []protocol.User]
	snapshots *snapshots                   // presence snapshots shared by concurrent subscribes
	peers     *ttlCache[memberKey, string] // (direct room, user) -> the other member
	blocks    *ttlCache[memberKey, bool]   // (blocker, blocked) -> blocks
	reads     *readCoalescer
	presence  *presence
	addrs     *ratelimit.Concurrent // open connections per client address
	slow      chan struct{}         // slots of slow requests run off the readers
	spares    *spares               // the goroutines those requests run on

	ctx    context.Context // ends at Close; parent of every goroutine's context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	draining bool
}

// NewHub starts the hub: its broker subscription, readers and writers.
func NewHub(log *slog.Logger, opts Options, st Store, b bus.Broker, p send.Producer) (*Hub, error) {
	if opts.Auth == nil {
		opts.Auth = sessionTokens{st}
	}
	// A client silent for two pings and a write timeout is gone.
	readers, err := socket.NewReaders(socket.ReadOptions{Workers: opts.Workers, Idle: 2*opts.PingInterval + opts.Socket.Timeout})
	if err != nil {
		return nil, fmt.Errorf("realtime: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{log: log, opts: opts, store: st, broker: b, ctx: ctx, cancel: cancel,
		conns:     newRegistry(),
		addrs:     &ratelimit.Concurrent{Max: opts.ConnsPerAddr},
		members:   newMemberCache(30*time.Second, 100_000),
		rosters:   newTTLCache[string, []protocol.User](30*time.Second, 10_000),
		snapshots: newSnapshots(),
		peers:     newTTLCache[memberKey, string](time.Hour, 100_000), // a room's members never change kind
		blocks:    newTTLCache[memberKey, bool](30*time.Second, 100_000),
		slow:      make(chan struct{}, slowSlots), readers: readers}
	h.spares = newSpares(10*time.Second, ctx.Done(), &h.wg)
	h.writers = socket.NewWriters(opts.Socket)
	opts.Send.Committed = h.announceMentions
	h.sender = send.New(log, opts.Send, b, p, st)
	h.history = history.New(log, opts.History, b, st)
	h.rooms = fanout.New(log, opts.Fanout, b, st, fanout.Hooks{
		Committed:   h.sender.Seen,
		ResolveHole: h.sender.ResolveHole,
		Control:     h.onControl,
	})
	h.reads = &readCoalescer{pending: make(map[memberKey]int64), store: st, log: log}
	h.presence = newPresence(h)
	h.goWork(func() { h.reads.run(ctx, time.Second) })
	h.goWork(func() { h.presence.run(ctx) })
	h.goWork(func() { h.pinger(ctx) })
	return h, nil
}

// History is the hub's reader of history, for the HTTP API.
func (h *Hub) History() *history.Reader { return h.history }

// goWork runs fn on a goroutine Close waits for.
func (h *Hub) goWork(fn func()) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn()
	}()
}

// pinger asks every connection for a keep-alive ping each PING_INTERVAL,
// one registry shard per 1/64 of it: pinging all at once would be a burst
// of a system call per connection (and as many pongs to read) that every
// message of that moment waits behind.
func (h *Hub) pinger(ctx context.Context) {
	t := time.NewTicker(max(h.opts.PingInterval/registryShards, time.Millisecond))
	defer t.Stop()
	for i := 0; ; i = (i + 1) % registryShards {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.conns.eachIn(i, func(c *client) { c.WantPing() })
	}
}

// authorize checks membership through the cache.
func (h *Hub) authorize(ctx context.Context, room string, user protocol.User) error {
	return h.members.check(ctx, room, user.ID, func(ctx context.Context) error {
		return h.store.CheckMember(ctx, room, user)
	})
}

// register makes c one of the user's connections, after queueing its
// welcome: from then on frames for the user (room_added, mention) reach
// it, and a client must see welcome first.
func (h *Hub) register(c *client, welcome []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.draining {
		return false
	}
	c.Enqueue(welcome)
	c.bucket = h.conns.add(c, h.opts.SendRate, h.opts.SendBurst)
	connections.Inc()
	return true
}

func (h *Hub) unregister(c *client) {
	for _, s := range c.takeSubs() {
		s.Leave()
	}
	if !h.conns.remove(c) {
		return
	}
	connections.Dec()
	h.presence.post(presenceOp{user: c.user, up: false})
}

// Drain stops accepting connections, says goodbye to every client, closes
// them with 1001 and waits, up to ctx, until they are gone.
func (h *Hub) Drain(ctx context.Context) {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	conns := h.conns.all()
	bye := protocol.Encode(protocol.Goodbye{Type: protocol.TypeGoodbye, Reason: "server shutting down", Reconnect: true})
	for _, c := range conns {
		c.Enqueue(bye)
		c.CloseWith(protocol.CloseGoingAway, "server shutting down", true)
	}
	for _, c := range conns {
		select {
		case <-c.done:
		case <-ctx.Done():
			c.Kill()
		}
	}
}

// Close stops the hub's goroutines, last started first. Drain first.
func (h *Hub) Close() {
	h.mu.Lock()
	h.draining = true
	h.mu.Unlock()
	for _, c := range h.conns.all() {
		c.Kill()
	}
	h.cancel()
	// The readers stop before the wait: a request they start adds to it.
	h.readers.Close()
	h.rooms.Close() // no more broker events
	h.wg.Wait()
	h.sender.Close()
	h.writers.Close()
}
