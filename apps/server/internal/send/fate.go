package send

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// A send owns its seq through a lease in Redis, renewed while it works.
// A seq is fenced (its epoch ended, see bus.Redis.Fence) only once its
// owner stopped renewing: it died, or Redis lost the lease. The fence
// record in the log then decides the fate of every message of that epoch
// still in flight: stored if the log has it before the fence, never stored
// otherwise (the persister drops it). So an acknowledged message is never
// lost, a message is never stored twice, and a fenced seq is never
// acknowledged: its commit is refused.

// settleSlots bounds the sends settled in the background at once; past it
// the request's worker settles its send itself (back-pressure).
const settleSlots = 1024

// keepLease renews the lease of seq every Lease/3 until stop is called.
func (s *Sender) keepLease(room string, seq int64) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	renew := func() {
		if !s.enter() {
			return
		}
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, time.Second)
		defer cancel()
		if _, err := s.broker.RenewLease(ctx, room, seq); err != nil {
			s.log.Debug("lease not renewed", "room", room, "seq", seq, "err", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped && s.ctx.Err() == nil {
			t.Reset(bus.Lease / 3)
		}
	}
	mu.Lock()
	t = time.AfterFunc(bus.Lease/3, renew)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}

// settleLater settles msg in the background, if a slot is free, and then
// calls land.
func (s *Sender) settleLater(user protocol.User, msg protocol.Event, stop, land func()) bool {
	select {
	case s.settling <- struct{}{}:
	default:
		return false
	}
	ok := s.goWork(func() {
		defer func() { <-s.settling }()
		defer land()
		s.settle(s.ctx, user, msg, stop)
	})
	if !ok {
		<-s.settling
	}
	return ok
}

// settle drives a send whose first attempt failed until its fate is known.
// While its lease holds it retries the produce and the commit; once the
// commit is refused (the seq was fenced, or Redis lost its epoch) the log
// says whether the message was stored (its ref is then done) or not (it is
// sent again under a new seq, same ref). stop ends the lease's renewal.
func (s *Sender) settle(ctx context.Context, user protocol.User, msg protocol.Event, stop func()) {
	defer func() { stop() }()
	delay := 50 * time.Millisecond
	produced := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
		if !produced {
			pctx, cancel := context.WithTimeout(ctx, s.opts.KafkaWriteTimeout)
			err := s.producer.Produce(pctx, msg)
			cancel()
			if err != nil {
				s.log.Debug("produce retry failed", "room", msg.Room, "seq", msg.Seq, "err", err)
				continue
			}
			produced = true
		}
		err := s.commit(ctx, user, msg, func(protocol.Ack) {})
		if err == nil {
			sendsSettled.WithLabelValues("committed").Inc()
			return
		}
		if !errors.Is(err, bus.ErrFenced) {
			continue
		}
		stop()
		next, ok := s.resolveFenced(ctx, user, msg, false)
		if !ok {
			return
		}
		msg, produced, delay = next, false, 0
		stop = s.keepLease(msg.Room, msg.Seq)
	}
}

// resolveFenced learns the fate of msg, whose seq was fenced, from the
// log: stored, its ref is marked done; not stored, it is begun again under
// a new seq and returned with ok (the caller now owns that one). fenceNow
// fences the seq's epoch at once (its owner is known to be gone).
func (s *Sender) resolveFenced(ctx context.Context, user protocol.User, msg protocol.Event, fenceNow bool) (protocol.Event, bool) {
	for ctx.Err() == nil {
		stored, err := s.awaitFate(ctx, msg, fenceNow)
		if err != nil {
			continue
		}
		if stored {
			if err := s.broker.SetRef(ctx, msg.Room, user.ID, msg.Ref, bus.RefRecord{State: bus.RefDone, Event: &msg}, s.opts.DedupTTL); err != nil {
				continue
			}
			sendsSettled.WithLabelValues("stored").Inc()
			return protocol.Event{}, false
		}
		draft := msg
		draft.ID, draft.Seq, draft.TS = uuid.Must(uuid.NewV7()).String(), 0, protocol.FormatTime(time.Now())
		rec, err := s.broker.Begin(ctx, user.ID, draft, s.opts.DedupTTL, msg.Seq, s.store.SeedSeq)
		if err != nil {
			continue
		}
		if rec.State != bus.RefNew {
			return protocol.Event{}, false // another server took the ref over
		}
		sendsSettled.WithLabelValues("resent").Inc()
		return *rec.Event, true
	}
	return protocol.Event{}, false
}

// awaitFate waits until the stored log shows an epoch newer than msg's,
// fencing msg's epoch if that takes GapTimeout (or at once with fenceNow),
// and then says whether msg is stored.
func (s *Sender) awaitFate(ctx context.Context, msg protocol.Event, fenceNow bool) (bool, error) {
	e := bus.EpochOf(msg.Seq)
	fenced := time.Now()
	if fenceNow {
		s.closeEpoch(ctx, msg.Room, e, false)
	}
	for {
		top, err := s.store.RoomLastSeq(ctx, msg.Room)
		if err == nil && bus.EpochOf(top) > e {
			return s.store.StoredSeq(ctx, msg.ID)
		}
		if time.Since(fenced) >= s.opts.GapTimeout {
			s.closeEpoch(ctx, msg.Room, e, true)
			fenced = time.Now()
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// closeEpoch makes the log close epoch e of room: it fences e and writes
// the fence record. With escalate, when e has ended already but the log
// still does not show a newer epoch (whoever started it died before
// writing), the current epoch is fenced instead.
func (s *Sender) closeEpoch(ctx context.Context, room string, e int64, escalate bool) {
	if escalate {
		if c, err := s.broker.Counter(ctx, room); err == nil && c > 0 {
			e = max(e, bus.EpochOf(c))
		}
	}
	first, err := s.broker.Fence(ctx, room, e, s.store.SeedSeq)
	if errors.Is(err, bus.ErrNotFenced) {
		return
	}
	if err != nil {
		s.log.Warn("fence failed", "room", room, "epoch", e, "err", err)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, s.opts.KafkaWriteTimeout)
	err = s.producer.ProduceFence(pctx, room, first)
	cancel()
	if err != nil {
		s.log.Warn("fence record not written; retried later", "room", room, "seq", first, "err", err)
		return
	}
	epochsFenced.Inc()
	s.log.Info("epoch fenced", "room", room, "epoch", e, "fence_seq", first)
	if err := s.broker.Skip(ctx, room, first); err != nil {
		s.log.Debug("fence skip not published", "room", room, "err", err)
	}
}

// ResolveHole is called for a seq a room has waited on for GapTimeout:
// if its send still holds the lease, the room goes on waiting; otherwise
// the epoch is fenced, and the room learns from the log what stands. An
// epoch fenced already is left to its fence record, unless the room has
// been stuck for three GapTimeouts (whoever fenced it died before writing).
func (s *Sender) ResolveHole(ctx context.Context, room string, seq int64, stuck time.Duration) {
	alive, err := s.broker.LeaseAlive(ctx, room, seq)
	if err != nil || alive {
		return
	}
	s.closeEpoch(ctx, room, bus.EpochOf(seq), stuck >= 3*s.opts.GapTimeout)
}

// recheck is how often a retry waiting for an in-flight ref reads its
// record again, for what no event announces: the ref settled by the log,
// or its owner gone.
const recheck = 250 * time.Millisecond

// awaitRef waits for the send that owns msg's ref: it wakes when the seq
// is committed (seen on the room channel, or committed here), and rechecks
// the record every recheck. One whose owner is alive finishes by itself;
// one whose owner is gone is taken over here (once per server). After
// KafkaWriteTimeout the client is told to retry.
func (s *Sender) awaitRef(ctx context.Context, user protocol.User, msg protocol.Event, acked func(protocol.Ack)) error {
	deadline := time.NewTimer(s.opts.KafkaWriteTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(recheck)
	defer tick.Stop()
	for {
		rec, ok, err := s.broker.GetRef(ctx, msg.Room, user.ID, msg.Ref)
		if err != nil {
			return err
		}
		if !ok || rec.Event == nil {
			return protocol.Errorf(protocol.CodeUnavailable, "the earlier send of this ref was lost; retry")
		}
		if rec.State == bus.RefDone {
			acked(rec.Event.Ack())
			return nil
		}
		alive, err := s.broker.LeaseAlive(ctx, msg.Room, rec.Event.Seq)
		if err != nil {
			return err
		}
		if !alive {
			s.takeOver(user, *rec.Event)
		}
		committed := make(chan struct{})
		var once sync.Once
		cancel := s.commits.add(msg.Room, rec.Event.Seq, func() { once.Do(func() { close(committed) }) })
		select {
		case <-committed:
		case <-tick.C:
		case <-deadline.C:
			cancel()
			return protocol.Errorf(protocol.CodeUnavailable, "an earlier send of this ref is still in flight; retry")
		case <-ctx.Done():
			cancel()
			return protocol.Errorf(protocol.CodeUnavailable, "an earlier send of this ref is still in flight; retry")
		}
		cancel()
	}
}

// takeOver settles, in the background, a send whose owner is gone.
func (s *Sender) takeOver(user protocol.User, msg protocol.Event) {
	k := roomSeq{msg.Room, msg.Seq}
	s.mu.Lock()
	if s.takeovers[k] {
		s.mu.Unlock()
		return
	}
	s.takeovers[k] = true
	s.mu.Unlock()
	ok := s.goWork(func() {
		defer func() { s.mu.Lock(); delete(s.takeovers, k); s.mu.Unlock() }()
		next, ok := s.resolveFenced(s.ctx, user, msg, true)
		if ok {
			s.settle(s.ctx, user, next, s.keepLease(next.Room, next.Seq))
		}
	})
	if !ok {
		s.mu.Lock()
		delete(s.takeovers, k)
		s.mu.Unlock()
	}
}
