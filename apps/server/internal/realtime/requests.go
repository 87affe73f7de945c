package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/socket"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// strikesToClose is how many sends over the rate limit a client may make in
// a row before it is closed with 4429.
const strikesToClose = 10

// send checks the user's rate limit and membership and sends through the
// durable path; the ack is queued when the message is durable.
func (h *Hub) send(ctx context.Context, c *client, f protocol.ClientFrame) error {
	ub := c.bucket
	ub.mu.Lock()
	ok := ub.b.Allow(time.Now())
	if ok {
		ub.strikes = 0
	} else {
		ub.strikes++
	}
	strikes := ub.strikes
	ub.mu.Unlock()
	if !ok {
		rateLimited.Inc()
		if strikes >= strikesToClose {
			c.Enqueue(protocol.Encode(protocol.NewErrorFrame(f.Ref, protocol.Errorf(protocol.CodeRateLimited, "sending too fast"))))
			c.CloseWith(protocol.CloseRateLimited, "rate limited", true)
			return socket.ErrClosed
		}
		return protocol.Errorf(protocol.CodeRateLimited, "sending too fast; slow down")
	}
	if err := h.authorize(ctx, f.Room, c.user); err != nil {
		return err
	}
	start := time.Now()
	return h.sender.Send(ctx, c.user, f.Room, f.Ref, f.Body, func(ack protocol.Ack) {
		sendLatency.Observe(time.Since(start).Seconds())
		c.Enqueue(protocol.Encode(ack))
	})
}

// typingEvery is the least time between two forwarded typing frames of one
// user in one room.
const typingEvery = 2 * time.Second

// throttle remembers when a (room, user) last passed.
type throttle struct {
	mu   sync.Mutex
	last map[memberKey]time.Time
}

func (t *throttle) allow(k memberKey, now time.Time, every time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = make(map[memberKey]time.Time)
	}
	if now.Sub(t.last[k]) < every {
		return false
	}
	if len(t.last) > 50_000 {
		for key, at := range t.last {
			if now.Sub(at) >= every {
				delete(t.last, key)
			}
		}
	}
	t.last[k] = now
	return true
}

var typingThrottle throttle

// typing forwards "user is typing" to the room's other subscribers, at most
// once per typingEvery; it is never stored.
func (h *Hub) typing(ctx context.Context, c *client, room string) error {
	if err := h.authorize(ctx, room, c.user); err != nil {
		return err
	}
	if !typingThrottle.allow(memberKey{room, c.user.ID}, time.Now(), typingEvery) {
		return nil
	}
	frame := protocol.Encode(protocol.TypingFrame{Type: protocol.TypeTyping, Room: room, User: c.user})
	if err := h.broker.Publish(ctx, room, frame); err != nil {
		return protocol.Wrap(protocol.CodeUnavailable, err, "typing not delivered")
	}
	return nil
}

// read records that the user read the room up to seq and tells the room.
func (h *Hub) read(ctx context.Context, c *client, room string, seq int64) error {
	if err := h.authorize(ctx, room, c.user); err != nil {
		return err
	}
	h.reads.add(room, c.user.ID, seq)
	frame := protocol.Encode(protocol.ReadFrame{Type: protocol.TypeRead, Room: room, User: c.user, Seq: seq})
	if err := h.broker.Publish(ctx, room, frame); err != nil {
		return protocol.Wrap(protocol.CodeUnavailable, err, "read receipt not delivered")
	}
	return nil
}
