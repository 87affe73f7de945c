package send

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Send adds draft to its room's log durably and passes its ack to acked:
// a message, or an edit, deletion or reaction of one (draft carries the
// kind and its fields; Send gives it its id, sender and time). Claim (room,
// user, ref) and allocate the seq in one Redis step, append to Kafka and
// wait for the broker, and only then cache and publish it and mark the ref
// done, in a second Redis step. The ack goes out when that step's reply
// arrives or when the message is seen on the room channel, whichever is
// first. A retry of the same ref gets the original ack and never creates a
// second message. The caller has checked membership and the event's
// validity.
//
// When Kafka or Redis fails, the send answers unavailable but keeps its
// seq (renewing its lease) and goes on in the background until the
// message's fate is known; a retry of the ref waits for that. See fate.go.
func (s *Sender) Send(ctx context.Context, user protocol.User, draft protocol.Event, acked func(protocol.Ack)) error {
	land, err := s.board(ctx, refKey{draft.Room, user.ID, draft.Ref})
	if err != nil {
		return err
	}
	background := false
	defer func() {
		if !background {
			land()
		}
	}()
	draft.ID, draft.Sender, draft.TS = uuid.Must(uuid.NewV7()).String(), user, protocol.FormatTime(time.Now())
	rec, err := s.broker.Begin(ctx, user.ID, draft, s.opts.DedupTTL, 0, s.store.SeedSeq)
	if err != nil {
		return err
	}
	switch rec.State {
	case bus.RefDone:
		acked(rec.Event.Ack())
		return nil
	case bus.RefPending:
		return s.awaitRef(ctx, user, *rec.Event, acked)
	}
	msg := *rec.Event
	stop := s.keepLease(msg.Room, msg.Seq)
	err = s.attempt(ctx, user, msg, acked)
	if err == nil {
		stop()
		return nil
	}
	// Fate unknown: it may be in Kafka already. Settle it in the background,
	// still holding the lease, and let the client retry the ref.
	if background = s.settleLater(user, msg, stop, land); !background {
		s.settle(ctx, user, msg, stop)
	}
	return protocol.Wrap(protocol.CodeUnavailable, err, "message log unavailable; retry with the same ref")
}

// attempt produces msg and commits it, once.
func (s *Sender) attempt(ctx context.Context, user protocol.User, msg protocol.Event, acked func(protocol.Ack)) error {
	pctx, cancel := context.WithTimeout(ctx, s.opts.KafkaWriteTimeout)
	err := s.producer.Produce(pctx, msg)
	cancel()
	if err != nil {
		return err
	}
	return s.commit(ctx, user, msg, acked)
}

// commit caches, publishes and marks done a message Kafka accepted.
func (s *Sender) commit(ctx context.Context, user protocol.User, msg protocol.Event, acked func(protocol.Ack)) error {
	at, _ := protocol.ParseTime(msg.TS)
	frame := msg.Frame()
	done := &bus.Done{User: user.ID, Ref: msg.Ref, TTL: s.opts.DedupTTL, Record: bus.AckRecord(msg.Ack())}
	var once sync.Once
	fired := false
	fire := func() { once.Do(func() { fired = true; acked(msg.Ack()) }) }
	cancel := s.commits.add(msg.Room, msg.Seq, fire)
	err := s.broker.Commit(ctx, msg.Room, msg.Seq, at, frame, done)
	cancel()
	if err != nil {
		once.Do(func() {}) // from here on, the channel's copy no longer acks
		if fired {
			// The message came back on the channel, so the commit happened
			// and the ack is out; only its reply was lost.
			s.log.Warn("commit reply lost after the message was published", "room", msg.Room, "seq", msg.Seq, "err", err)
			s.committed(msg)
			return nil
		}
		return err
	}
	s.committed(msg)
	fire()
	// Wake the retries of the ref waiting here, even when this server
	// does not listen to the room's channel.
	s.commits.seen(msg.Room, msg.Seq)
	return nil
}

// committed counts a committed event and hands it to Options.Committed.
func (s *Sender) committed(ev protocol.Event) {
	messagesSent.Inc()
	if s.opts.Committed != nil {
		s.opts.Committed(ev)
	}
}
