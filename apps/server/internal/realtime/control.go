package realtime

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// control is a message of the cluster-wide control channel.
type control struct {
	Kind string `json:"kind"` // "member", "token", "presence", "block" or "mention"
	Room string `json:"room,omitempty"`
	User string `json:"user,omitempty"`
	Hash string `json:"hash,omitempty"`
	// Presence events: the user's name, state and rooms.
	Name   string   `json:"name,omitempty"`
	Online bool     `json:"online,omitempty"`
	Rooms  []string `json:"rooms,omitempty"`
	// Mentions: the users to tell, and the frame to give them.
	Users []string        `json:"users,omitempty"`
	Frame json.RawMessage `json:"frame,omitempty"`
}

func (h *Hub) publishControl(ctx context.Context, c control) {
	b, _ := json.Marshal(c)
	if err := h.broker.PublishControl(ctx, b); err != nil {
		h.log.Error("control publish failed; caches expire on their own", "kind", c.Kind, "err", err)
	}
}

// MembershipChanged tells every server that user joined or left room.
func (h *Hub) MembershipChanged(ctx context.Context, room, user string) {
	h.members.invalidate(room, user)
	h.rosters.invalidate(room)
	h.publishControl(ctx, control{Kind: "member", Room: room, User: user})
}

// TokenRevoked tells every server to close the user's connections made
// with the token.
func (h *Hub) TokenRevoked(ctx context.Context, user string, hash []byte) {
	h.publishControl(ctx, control{Kind: "token", User: user, Hash: hex.EncodeToString(hash)})
}

// onControl handles a control message. It runs on the broker's receiving
// goroutine: anything that waits goes to a goroutine of the hub's.
func (h *Hub) onControl(payload []byte) {
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
		h.rosters.invalidate(c.Room)
		if conns := h.conns.user(c.User); len(conns) > 0 {
			h.goWork(func() { h.membershipChanged(c.Room, conns) })
		}
	case "block": // User blocked or unblocked the user whose id is in Room
		h.blocks.invalidate(memberKey{c.User, c.Room})
	case "mention":
		for _, u := range c.Users {
			for _, conn := range h.conns.user(u) {
				conn.Enqueue(c.Frame)
			}
		}
	case "token":
		for _, conn := range h.conns.user(c.User) {
			if hex.EncodeToString(conn.tokenHash) == c.Hash {
				conn.CloseWith(protocol.CloseUnauthorized, "logged out", true)
			}
		}
	}
}

// membershipChanged rechecks a user's membership of room: a member who
// left stops receiving the room at once; a member who was added is told,
// so the client can list and subscribe it.
func (h *Hub) membershipChanged(room string, conns []*client) {
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	err := h.authorize(ctx, room, conns[0].user)
	code := protocol.ErrorCode(err)
	switch {
	case err == nil:
		added := protocol.Encode(protocol.RoomAdded{Type: protocol.TypeRoomAdded, Room: room})
		for _, conn := range conns {
			if !conn.subscribed(room) {
				conn.Enqueue(added)
			}
		}
	case code == protocol.CodeForbidden || code == protocol.CodeNotFound:
		// forbidden even where a private room would now say not_found:
		// the contract's answer to a removed member.
		for _, conn := range conns {
			if conn.subscribed(room) {
				conn.removeSub(room)
				conn.Enqueue(protocol.Encode(protocol.ErrorFrame{Type: protocol.TypeError, Code: protocol.CodeForbidden, Room: room,
					Message: "you are no longer a member of room " + room}))
			}
		}
	}
}
