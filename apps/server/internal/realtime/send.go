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
func (h *Hub) Send(ctx context.Context, user protocol.User, room, ref, body string, acked func(protocol.Ack)) error {
	pendingTTL := 2*h.cfg.KafkaWriteTimeout + 5*time.Second
	at := time.Now() // the message's time, also for the cache's age bound
	draft := protocol.Message{ID: uuid.Must(uuid.NewV7()).String(), Room: room, Sender: user,
		Body: body, TS: protocol.FormatTime(at), Ref: ref}
	rec, err := h.redis.Begin(ctx, user.ID, draft, pendingTTL, h.store.SeedSeq)
	if err != nil {
		return err
	}
	var msg protocol.Message
	switch rec.State {
	case bus.RefDone:
		acked(ackOf(*rec.Message))
		return nil
	case bus.RefPending:
		ack, err := h.awaitRef(ctx, user, room, ref)
		if err == nil {
			acked(ack)
		}
		return err
	case bus.RefFailed:
		if rec.Message == nil {
			return protocol.Errorf(protocol.CodeInternal, "corrupt send record")
		}
		// An earlier attempt chose this message and may have reached Kafka:
		// send the very same one (the persister stores it once).
		msg = *rec.Message
		at, _ = protocol.ParseTime(msg.TS)
	default:
		msg = *rec.Message
	}

	pctx, cancel := context.WithTimeout(ctx, h.cfg.KafkaWriteTimeout)
	err = h.producer.Produce(pctx, msg)
	cancel()
	if err != nil {
		h.abandon(ctx, user, msg)
		return protocol.Wrap(protocol.CodeUnavailable, err, "message log unavailable; retry with the same ref")
	}
	frame := messageFrame(msg)
	done := &bus.Done{User: user.ID, Ref: ref, TTL: h.cfg.DedupTTL}
	var once sync.Once
	fired := false
	fire := func() { once.Do(func() { fired = true; acked(ackOf(msg)) }) }
	h.commits.add(room, msg.Seq, fire)
	err = h.redis.Commit(ctx, room, msg.Seq, at, frame, done)
	h.commits.take(room, msg.Seq)
	if err != nil {
		once.Do(func() {}) // from here on, the channel's copy no longer acks
		if fired {
			// The message came back on the channel, so the commit happened
			// and the ack is out; only its reply was lost.
			h.log.Warn("commit reply lost after the message was published", "room", room, "seq", msg.Seq, "err", err)
			messagesSent.Inc()
			return nil
		}
		// Durable but not yet visible: a retry with the same ref commits it.
		h.abandon(ctx, user, msg)
		return err
	}
	messagesSent.Inc()
	fire()
	return nil
}

// abandon records a failed send whose message may have reached Kafka: the
// record keeps the message for a retry, which sends the very same one. The
// room's subscribers are told not to wait for its seq.
func (h *Hub) abandon(ctx context.Context, user protocol.User, msg protocol.Message) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := h.redis.SetRef(ctx, msg.Room, user.ID, msg.Ref, bus.RefRecord{State: bus.RefFailed, Message: &msg}, h.cfg.DedupTTL); err != nil {
		h.log.Warn("failed send not recorded", "ref", msg.Ref, "err", err)
	}
	if err := h.redis.Skip(ctx, msg.Room, msg.Seq); err != nil {
		h.log.Warn("skip not published; subscribers wait out the gap", "room", msg.Room, "seq", msg.Seq, "err", err)
	}
}

// awaitRef waits for another in-flight send of the same ref to finish.
func (h *Hub) awaitRef(ctx context.Context, user protocol.User, room, ref string) (protocol.Ack, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return protocol.Ack{}, protocol.Errorf(protocol.CodeUnavailable, "an earlier send of this ref is still in flight; retry")
		case <-tick.C:
		}
		rec, ok, err := h.redis.GetRef(ctx, room, user.ID, ref)
		if err != nil {
			return protocol.Ack{}, err
		}
		switch {
		case !ok:
			return protocol.Ack{}, protocol.Errorf(protocol.CodeUnavailable, "the earlier send of this ref failed; retry")
		case rec.State == bus.RefDone && rec.Message != nil:
			return ackOf(*rec.Message), nil
		case rec.State == bus.RefFailed:
			return protocol.Ack{}, protocol.Errorf(protocol.CodeUnavailable, "the earlier send of this ref failed; retry")
		}
	}
}
