package realtime

import (
	"context"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// subscribe adds c to the room: it replays what c missed after `after`,
// answers subscribed, then goes live, without a gap or a duplicate between
// the replay and the live stream.
func (h *Hub) subscribe(ctx context.Context, c *client, roomID string, after *int64) error {
	if err := h.authorize(ctx, roomID, c.user); err != nil {
		return err
	}
	if !c.claim(roomID) {
		return protocol.Errorf(protocol.CodeBadRequest, "already subscribed to room %s", roomID)
	}
	s, cutoff, err := h.rooms.Join(ctx, roomID, c)
	if err != nil {
		c.setSub(roomID, nil)
		return err
	}
	c.setSub(roomID, s)
	fail := func(err error) error {
		c.removeSub(roomID)
		return err
	}

	var replay []bus.Cached
	recovered := true
	if after != nil && *after < cutoff {
		replay, recovered, err = h.history.Replay(ctx, roomID, *after, cutoff)
		if err != nil {
			return fail(err)
		}
	}
	// The replay is queued waiting for queue space as the writer drains:
	// a long replay is not "too slow".
	last := int64(0)
	if after != nil {
		last = *after
	}
	for _, m := range replay {
		if m.Seq > last {
			last = m.Seq
			if err := c.EnqueueWait(ctx, m.Frame); err != nil {
				return fail(err)
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
	if err := c.EnqueueWait(ctx, subscribed); err != nil {
		return fail(err)
	}
	if err := s.GoLive(ctx, last); err != nil {
		return fail(err)
	}
	return nil
}
