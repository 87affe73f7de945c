package realtime

import (
	"context"

	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// subscribe adds c to the room: it replays what c missed after `after`
// (in replay frames when the client asked for a batch), answers
// subscribed, then goes live, without a gap or a duplicate between the
// replay and the live stream.
func (h *Hub) subscribe(ctx context.Context, c *client, roomID string, after *int64, batch bool) error {
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

	last := int64(0)
	if after != nil {
		last = *after
	}
	recovered := true
	if after != nil && *after < cutoff {
		r, err := h.history.Replay(ctx, roomID, *after, cutoff)
		if err != nil {
			return fail(err)
		}
		if err := enqueueReplay(ctx, c, r, batch); err != nil {
			return fail(err)
		}
		if n := len(r.Events); n > 0 {
			last = r.Events[n-1].Seq
		}
		recovered = r.Recovered
	}
	last = max(last, cutoff)
	var online []byte
	if snap, err := h.onlineMembers(ctx, roomID); err != nil {
		h.log.Warn("presence snapshot failed", "room", roomID, "err", err)
	} else {
		online = snap.Encoded()
	}
	subscribed := protocol.EncodeSubscribed(roomID, cutoff, recovered, online)
	if err := c.EnqueueWait(ctx, subscribed); err != nil {
		return fail(err)
	}
	if err := s.GoLive(ctx, last); err != nil {
		return fail(err)
	}
	return nil
}

// enqueueReplay queues a replay, waiting for queue space as the writer
// drains: a long replay is not "too slow".
func enqueueReplay(ctx context.Context, c *client, r *history.Replayed, batch bool) error {
	if batch {
		for _, b := range r.Batches() {
			if err := c.EnqueueWait(ctx, b); err != nil {
				return err
			}
		}
		return nil
	}
	for _, e := range r.Events {
		if err := c.EnqueueWait(ctx, e.Frame); err != nil {
			return err
		}
	}
	return nil
}
