package realtime

import (
	"context"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// presenceOp is a connection of user opening (up) or closing on this server.
type presenceOp struct {
	user protocol.User
	up   bool
}

// presence keeps this server's claims on its users' presence in Redis and
// announces transitions. One goroutine owns it; connections talk to it
// through a bounded queue.
type presence struct {
	hub   *Hub
	ops   chan presenceOp
	local map[string]*localUser // owned by run
}

type localUser struct {
	user  protocol.User
	conns int
}

// maxPresenceRooms bounds the rooms named in one presence event.
const maxPresenceRooms = 1000

func newPresence(h *Hub) *presence {
	return &presence{hub: h, ops: make(chan presenceOp, 4096), local: make(map[string]*localUser)}
}

// post queues an op; it waits for room in the queue unless the hub is
// closing.
func (p *presence) post(op presenceOp) {
	select {
	case p.ops <- op:
	case <-p.hub.ctx.Done():
	}
}

// run handles ops, renews this server's claims every TTL/3 and sweeps for
// users of dead servers every TTL/6, until ctx ends; then it releases every
// claim, so a clean shutdown announces its users offline at once.
func (p *presence) run(ctx context.Context) {
	ttl := p.hub.opts.PresenceTTL
	beat := time.NewTicker(ttl / 3)
	defer beat.Stop()
	sweep := time.NewTicker(ttl / 6)
	defer sweep.Stop()
	for {
		select {
		case op := <-p.ops:
			p.handle(ctx, op)
		case <-beat.C:
			users := make([]string, 0, len(p.local))
			for id := range p.local {
				users = append(users, id)
			}
			bctx, cancel := context.WithTimeout(ctx, ttl/3)
			if err := p.hub.broker.Renew(bctx, p.hub.opts.ServerID, users, ttl); err != nil {
				p.hub.log.Warn("presence heartbeat failed", "users", len(users), "err", err)
			}
			cancel()
		case <-sweep.C:
			p.sweep(ctx)
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			for {
				select {
				case op := <-p.ops:
					p.handle(fctx, op)
					continue
				default:
				}
				break
			}
			for id, lu := range p.local {
				lu.conns = 1
				p.handle(fctx, presenceOp{user: lu.user, up: false})
				delete(p.local, id)
			}
			cancel()
			return
		}
	}
}

func (p *presence) handle(ctx context.Context, op presenceOp) {
	h := p.hub
	// Not cut short by shutdown: a release at shutdown is the point.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	lu := p.local[op.user.ID]
	if op.up {
		if lu != nil {
			lu.conns++
			return
		}
		p.local[op.user.ID] = &localUser{user: op.user, conns: 1}
		cameOnline, err := h.broker.Claim(ctx, h.opts.ServerID, op.user.ID, h.opts.PresenceTTL)
		if err != nil {
			h.log.Warn("presence claim failed; the next heartbeat retries", "user", op.user.ID, "err", err)
			return
		}
		if cameOnline {
			p.announce(ctx, op.user, true)
		}
		return
	}
	if lu == nil {
		return
	}
	if lu.conns--; lu.conns > 0 {
		return
	}
	delete(p.local, op.user.ID)
	offline, err := h.broker.Release(ctx, h.opts.ServerID, op.user.ID)
	if err != nil {
		h.log.Warn("presence release failed; the claim expires on its own", "user", op.user.ID, "err", err)
		return
	}
	if offline {
		p.announce(ctx, op.user, false)
	}
}

// sweep announces offline the users whose servers stopped renewing.
func (p *presence) sweep(ctx context.Context) {
	h := p.hub
	ctx, cancel := context.WithTimeout(ctx, h.opts.PresenceTTL/6)
	defer cancel()
	gone, err := h.broker.Sweep(ctx, 1000)
	if err != nil {
		h.log.Warn("presence sweep failed", "err", err)
	}
	for _, id := range gone {
		u, err := h.store.UserByID(ctx, id)
		if err != nil {
			h.log.Warn("presence sweep: user lookup failed", "user", id, "err", err)
			continue
		}
		p.announce(ctx, u, false)
	}
}

// announce tells every server that user came online or went offline,
// naming the user's rooms so that each server can find, without asking the
// database, which of its connections share a room with the user.
func (p *presence) announce(ctx context.Context, user protocol.User, online bool) {
	rooms, err := p.hub.store.UserRooms(ctx, user.ID)
	if err != nil {
		p.hub.log.Warn("presence: rooms lookup failed; event not sent", "user", user.ID, "err", err)
		return
	}
	if len(rooms) > maxPresenceRooms {
		rooms = rooms[:maxPresenceRooms]
	}
	p.hub.publishControl(ctx, control{Kind: "presence", User: user.ID, Name: user.Username, Online: online, Rooms: rooms})
}

// deliverPresence sends a presence frame once to every local connection
// subscribed to one of the rooms, except the user's own.
func (h *Hub) deliverPresence(c control) {
	frame := protocol.Encode(protocol.PresenceFrame{Type: protocol.TypePresence,
		User: protocol.User{ID: c.User, Username: c.Name}, Online: c.Online})
	for _, s := range h.rooms.Subscribers(c.Rooms, c.User) {
		s.Enqueue(frame)
	}
}

// onlineMembers is the presence snapshot of a room: its members online
// now. Subscribes that want it at once share one (see snapshots).
func (h *Hub) onlineMembers(ctx context.Context, room string) (*snapshot, error) {
	return h.snapshots.get(ctx, room, func(ctx context.Context) ([]protocol.User, error) {
		return h.takeOnline(ctx, room)
	})
}

// takeOnline reads a room's roster and asks Redis which members are online.
func (h *Hub) takeOnline(ctx context.Context, room string) ([]protocol.User, error) {
	members, err := h.rosters.get(ctx, room, func(ctx context.Context) ([]protocol.User, error) {
		return h.store.RoomMembers(ctx, room, maxPresenceRooms)
	})
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	on, err := h.broker.Online(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.User, 0, len(on))
	for _, m := range members {
		if on[m.ID] {
			out = append(out, m)
		}
	}
	return out, nil
}
