package realtime

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// errClosed means the request closed the connection; no error frame follows.
var errClosed = errors.New("connection closed")

// strikesToClose is how many sends over the rate limit a client may make in
// a row before it is closed with 4429.
const strikesToClose = 10

func (h *Hub) handleSend(ctx context.Context, c *Conn, f protocol.ClientFrame) error {
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
			c.enqueue(protocol.Encode(protocol.NewErrorFrame(f.Ref, protocol.Errorf(protocol.CodeRateLimited, "sending too fast"))))
			c.closeWith(protocol.CloseRateLimited, "rate limited", true)
			return errClosed
		}
		return protocol.Errorf(protocol.CodeRateLimited, "sending too fast; slow down")
	}
	if err := h.authorize(ctx, f.Room, c.user); err != nil {
		return err
	}
	start := time.Now()
	return h.Send(ctx, c.user, f.Room, f.Ref, f.Body, func(ack protocol.Ack) {
		sendLatency.Observe(time.Since(start).Seconds())
		c.enqueue(protocol.Encode(ack))
	})
}

// messageFrame is the frame every subscriber receives for m.
func messageFrame(m protocol.Message) []byte {
	return protocol.Encode(protocol.MessageFrame{Type: protocol.TypeMessage, Message: m})
}

func ackOf(m protocol.Message) protocol.Ack {
	return protocol.Ack{Type: protocol.TypeAck, Ref: m.Ref, Room: m.Room, ID: m.ID, Seq: m.Seq, TS: m.TS}
}

// Send posts a message durably and passes its ack to acked: claim (room,
// user, ref) and allocate the seq in one Redis step, append to Kafka and
// wait for the broker, and only then cache and publish it and mark the ref
// done, in a second Redis step. The ack goes out when that step's reply
// arrives or when the message is seen on the room channel, whichever is
// first. A retry of the same ref gets the original ack and never creates a
// second message. The caller has checked membership.
//
// When Kafka or Redis fails, the send answers unavailable but keeps its
// seq (renewing its lease) and goes on in the background until the
// message's fate is known; a retry of the ref waits for that. See fate.go.
func (h *Hub) Send(ctx context.Context, user protocol.User, room, ref, body string, acked func(protocol.Ack)) error {
	draft := protocol.Message{ID: uuid.Must(uuid.NewV7()).String(), Room: room, Sender: user,
		Body: body, TS: protocol.FormatTime(time.Now()), Ref: ref}
	rec, err := h.redis.Begin(ctx, user.ID, draft, h.cfg.DedupTTL, 0, h.store.SeedSeq)
	if err != nil {
		return err
	}
	switch rec.State {
	case bus.RefDone:
		acked(ackOf(*rec.Message))
		return nil
	case bus.RefPending:
		return h.awaitRef(ctx, user, *rec.Message, acked)
	}
	msg := *rec.Message
	stop := h.keepLease(msg.Room, msg.Seq)
	err = h.attempt(ctx, user, msg, acked)
	if err == nil {
		stop()
		return nil
	}
	// Fate unknown: it may be in Kafka already. Settle it in the background,
	// still holding the lease, and let the client retry the ref.
	if !h.settleLater(user, msg, stop) {
		h.settle(ctx, user, msg, stop)
	}
	return protocol.Wrap(protocol.CodeUnavailable, err, "message log unavailable; retry with the same ref")
}

// attempt produces msg and commits it, once.
func (h *Hub) attempt(ctx context.Context, user protocol.User, msg protocol.Message, acked func(protocol.Ack)) error {
	pctx, cancel := context.WithTimeout(ctx, h.cfg.KafkaWriteTimeout)
	err := h.producer.Produce(pctx, msg)
	cancel()
	if err != nil {
		return err
	}
	return h.commit(ctx, user, msg, acked)
}

// commit caches, publishes and marks done a message Kafka accepted.
func (h *Hub) commit(ctx context.Context, user protocol.User, msg protocol.Message, acked func(protocol.Ack)) error {
	at, _ := protocol.ParseTime(msg.TS)
	frame := messageFrame(msg)
	done := &bus.Done{User: user.ID, Ref: msg.Ref, TTL: h.cfg.DedupTTL}
	var once sync.Once
	fired := false
	fire := func() { once.Do(func() { fired = true; acked(ackOf(msg)) }) }
	h.commits.add(msg.Room, msg.Seq, fire)
	err := h.redis.Commit(ctx, msg.Room, msg.Seq, at, frame, done)
	h.commits.take(msg.Room, msg.Seq)
	if err != nil {
		once.Do(func() {}) // from here on, the channel's copy no longer acks
		if fired {
			// The message came back on the channel, so the commit happened
			// and the ack is out; only its reply was lost.
			h.log.Warn("commit reply lost after the message was published", "room", msg.Room, "seq", msg.Seq, "err", err)
			messagesSent.Inc()
			return nil
		}
		return err
	}
	messagesSent.Inc()
	fire()
	return nil
}
