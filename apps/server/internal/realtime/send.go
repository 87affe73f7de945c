package realtime

import (
	"context"
	"errors"
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

func ackOf(m protocol.Message) protocol.Ack {
	return protocol.Ack{Type: protocol.TypeAck, Ref: m.Ref, Room: m.Room, ID: m.ID, Seq: m.Seq, TS: m.TS}
}

// Send posts a message durably and passes its ack to acked: dedup by
// (user, ref), allocate the seq in Redis, append to Kafka and wait for the
// broker, and only then cache and publish it. A retry of the same ref gets
// the original ack and never creates a second message. acked is called as
// soon as the message is committed, before the send record is marked done
// (one Redis round trip less before the ack; a retry meanwhile waits for
// the record). The caller has checked membership.
func (h *Hub) Send(ctx context.Context, user protocol.User, room, ref, body string, acked func(protocol.Ack)) error {
	ack, err := h.send(ctx, user, room, ref, body, acked)
	if err == nil && ack != nil {
		acked(*ack)
	}
	return err
}

// send does the work of Send. It calls acked itself once committed, or
// returns the ack of an earlier send of the ref.
func (h *Hub) send(ctx context.Context, user protocol.User, room, ref, body string, acked func(protocol.Ack)) (*protocol.Ack, error) {
	pendingTTL := 2*h.cfg.KafkaWriteTimeout + 5*time.Second
	rec, err := h.redis.ClaimRef(ctx, user.ID, ref, pendingTTL)
	if err != nil {
		return nil, err
	}
	var msg protocol.Message
	var at time.Time // the message's time, for the cache's age bound
	switch rec.State {
	case bus.RefDone:
		a := ackOf(*rec.Message)
		return &a, nil
	case bus.RefPending:
		a, err := h.awaitRef(ctx, user, ref)
		if err != nil {
			return nil, err
		}
		return &a, nil
	case bus.RefFailed:
		if rec.Message == nil {
			return nil, protocol.Errorf(protocol.CodeInternal, "corrupt send record")
		}
		// An earlier attempt chose this message and may have reached Kafka:
		// send the very same one (the persister stores it once).
		msg = *rec.Message
		at, _ = protocol.ParseTime(msg.TS)
	default:
		seq, err := h.redis.NextSeq(ctx, room, h.store.SeedSeq)
		if err != nil {
			_ = h.redis.DropRef(context.WithoutCancel(ctx), user.ID, ref)
			return nil, err
		}
		at = time.Now()
		msg = protocol.Message{ID: uuid.Must(uuid.NewV7()).String(), Room: room, Seq: seq, Sender: user,
			Body: body, TS: protocol.FormatTime(at), Ref: ref}
		if err := h.redis.SetRef(ctx, user.ID, ref, bus.RefRecord{State: bus.RefPending, Message: &msg}, pendingTTL); err != nil {
			h.abandon(ctx, user, msg, false)
			return nil, err
		}
	}

	pctx, cancel := context.WithTimeout(ctx, h.cfg.KafkaWriteTimeout)
	err = h.producer.Produce(pctx, msg)
	cancel()
	if err != nil {
		h.abandon(ctx, user, msg, true)
		return nil, protocol.Wrap(protocol.CodeUnavailable, err, "message log unavailable; retry with the same ref")
	}
	frame := protocol.Encode(protocol.MessageFrame{Type: protocol.TypeMessage, Message: msg})
	if err := h.redis.Commit(ctx, room, msg.Seq, at, frame); err != nil {
		// Durable but not yet visible: a retry with the same ref commits it.
		h.abandon(ctx, user, msg, true)
		return nil, err
	}
	messagesSent.Inc()
	acked(ackOf(msg))
	if err := h.redis.SetRef(ctx, user.ID, ref, bus.RefRecord{State: bus.RefDone, Message: &msg}, h.cfg.DedupTTL); err != nil {
		h.log.Warn("send record not saved; a retry of this ref may post again", "ref", ref, "err", err)
	}
	return nil, nil
}

// abandon records a failed send. If the message may have reached Kafka
// (mayExist) the record keeps it for a retry; otherwise the ref is freed.
// Either way subscribers are told not to wait for its seq.
func (h *Hub) abandon(ctx context.Context, user protocol.User, msg protocol.Message, mayExist bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if mayExist {
		if err := h.redis.SetRef(ctx, user.ID, msg.Ref, bus.RefRecord{State: bus.RefFailed, Message: &msg}, h.cfg.DedupTTL); err != nil {
			h.log.Warn("failed send not recorded", "ref", msg.Ref, "err", err)
		}
	} else {
		_ = h.redis.DropRef(ctx, user.ID, msg.Ref)
	}
	if err := h.redis.Skip(ctx, msg.Room, msg.Seq); err != nil {
		h.log.Warn("skip not published; subscribers wait out the gap", "room", msg.Room, "seq", msg.Seq, "err", err)
	}
}

// awaitRef waits for another in-flight send of the same ref to finish.
func (h *Hub) awaitRef(ctx context.Context, user protocol.User, ref string) (protocol.Ack, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return protocol.Ack{}, protocol.Errorf(protocol.CodeUnavailable, "an earlier send of this ref is still in flight; retry")
		case <-tick.C:
		}
		rec, ok, err := h.redis.GetRef(ctx, user.ID, ref)
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
