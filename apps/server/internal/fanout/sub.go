package fanout

import (
	"context"
)

// Subscriber is a connection a room delivers to.
type Subscriber interface {
	// Enqueue queues a frame; it never blocks.
	Enqueue(frame []byte)
	// EnqueueWait queues a frame, waiting for queue space: for catching a
	// joining subscriber up, never for live fan-out.
	EnqueueWait(ctx context.Context, frame []byte) error
	// TooSlow closes a subscriber that fell too far behind (4408).
	TooSlow()
	// UserID is the subscriber's user.
	UserID() string
}

// Sub is one subscriber's subscription to a room.
type Sub struct {
	to   Subscriber
	room *room
	// Guarded by room.mu:
	last int64 // highest seq sent to this subscriber
	live bool  // false while the subscriber is being caught up
	buf  []bufFrame
}

type bufFrame struct {
	seq   int64 // 0 for frames without a seq (typing, read)
	frame []byte
}

// Join subscribes to to the room: frames are held back until GoLive. It
// returns the room's position when it joined: the replay the subscriber
// needs ends there.
func (rs *Rooms) Join(ctx context.Context, roomID string, to Subscriber) (*Sub, int64, error) {
	r, err := rs.acquire(ctx, roomID)
	if err != nil {
		return nil, 0, err
	}
	s := &Sub{to: to, room: r}
	r.mu.Lock()
	cutoff := r.seq.last
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	return s, cutoff, nil
}

// GoLive sends what arrived since Join, past last (the highest seq the
// subscriber has been sent), and then delivers live. Frames are queued
// outside the room lock, waiting for queue space as the writer drains: a
// long catch-up is not "too slow", and the room's fan-out never waits for
// it.
func (s *Sub) GoLive(ctx context.Context, last int64) error {
	r := s.room
	for {
		r.mu.Lock()
		buf := s.buf
		s.buf = nil
		if len(buf) == 0 {
			s.last = last
			s.live = true
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()
		for _, b := range buf {
			if b.seq != 0 && b.seq <= last {
				continue
			}
			last = max(last, b.seq)
			if err := s.to.EnqueueWait(ctx, b.frame); err != nil {
				return err
			}
		}
	}
}

// Leave ends the subscription.
func (s *Sub) Leave() {
	r := s.room
	r.mu.Lock()
	delete(r.subs, s)
	r.mu.Unlock()
	r.rs.release(r)
}

// send queues a frame for the subscriber, once per seq; room.mu is held.
func (s *Sub) send(seq int64, frame []byte) {
	if !s.live {
		if len(s.buf) >= maxPending {
			s.to.TooSlow()
			return
		}
		s.buf = append(s.buf, bufFrame{seq, frame})
		return
	}
	if seq <= s.last {
		return
	}
	s.last = seq
	s.to.Enqueue(frame)
}

// Subscribers returns the distinct live subscribers of the rooms watched
// here, except those of user skip.
func (rs *Rooms) Subscribers(rooms []string, skip string) []Subscriber {
	seen := map[Subscriber]bool{}
	var out []Subscriber
	for _, id := range rooms {
		r := rs.lookup(id)
		if r == nil {
			continue
		}
		r.mu.Lock()
		for s := range r.subs {
			if s.live && !seen[s.to] && s.to.UserID() != skip {
				seen[s.to] = true
				out = append(out, s.to)
			}
		}
		r.mu.Unlock()
	}
	return out
}

// Idle reports whether no room is watched (for tests and shutdown).
func (rs *Rooms) Idle() bool {
	rs.mu.RLock()
	defer rs.mu.RUnlock()
	return len(rs.rooms) == 0
}
