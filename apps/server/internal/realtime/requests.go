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

// admit charges one request that adds to a room's log (send, edit,
// delete, react) to the user's rate limit. Past it the request is refused,
// and a client that keeps going is closed with 4429.
func (h *Hub) admit(c *client, ref string) error {
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
	if ok {
		return nil
	}
	rateLimited.Inc()
	if strikes >= strikesToClose {
		c.Enqueue(protocol.Encode(protocol.NewErrorFrame(ref, protocol.Errorf(protocol.CodeRateLimited, "sending too fast"))))
		c.CloseWith(protocol.CloseRateLimited, "rate limited", true)
		return socket.ErrClosed
	}
	return protocol.Errorf(protocol.CodeRateLimited, "sending too fast; slow down")
}

// send checks the user's rate limit, membership, a direct room's block and
// the message a reply answers, resolves the mentions, and sends through
// the durable path; the ack is queued when the message is durable.
func (h *Hub) send(ctx context.Context, c *client, f protocol.ClientFrame) error {
	if err := h.admit(c, f.Ref); err != nil {
		return err
	}
	if err := h.authorizeWrite(ctx, f.Room, c.user); err != nil {
		return err
	}
	draft, err := h.draftMessage(ctx, f.Room, f.Ref, f.Body, f.ReplyTo)
	if err != nil {
		return err
	}
	return h.submit(ctx, c, draft)
}

// draftMessage is a new message of room: the message it answers checked
// (replyTo, if any, must be one of the room's) and its mentions resolved.
func (h *Hub) draftMessage(ctx context.Context, room, ref, body, replyTo string) (protocol.Event, error) {
	draft := protocol.Event{Kind: protocol.KindMessage, Room: room, Ref: ref, Body: body}
	if replyTo != "" {
		if _, err := h.history.Message(ctx, room, replyTo); err != nil {
			if protocol.ErrorCode(err) == protocol.CodeNotFound {
				return draft, protocol.Errorf(protocol.CodeBadRequest, "reply_to must name a message of this room")
			}
			return draft, err
		}
		draft.ReplyTo = replyTo
	}
	mentions, err := h.mentions(ctx, room, body)
	draft.Mentions = mentions
	return draft, err
}

// submit sends draft durably and queues its ack.
func (h *Hub) submit(ctx context.Context, c *client, draft protocol.Event) error {
	start := time.Now()
	return h.sender.Send(ctx, c.user, draft, func(ack protocol.Ack) {
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
