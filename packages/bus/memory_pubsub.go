package bus

import (
	"context"
	"sync"
	"time"
)

// memQueueMax bounds a subscription's undelivered events. Past it the
// subscription behaves as a Redis client cut off for a full output buffer:
// what was queued is lost, and every room is confirmed again, which tells
// the handler to repair from the cache.
const memQueueMax = 10_000

type memEvent struct {
	kind    byte // 'm' message, 's' subscribed, 'c' control
	room    string
	payload []byte
}

type memSub struct {
	m    *Memory
	h    Handler
	wake chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	rooms map[string]bool
	queue []memEvent
	lost  bool
}

// subscriptions lists the open subscriptions; m.mu is held.
func (m *Memory) subscriptions() []*memSub {
	out := make([]*memSub, 0, len(m.subs))
	for s := range m.subs {
		out = append(out, s)
	}
	return out
}

// Subscribe implements PubSub.
func (m *Memory) Subscribe(_ context.Context, h Handler) Subscription {
	s := &memSub{m: m, h: h, wake: make(chan struct{}, 1), done: make(chan struct{}), rooms: map[string]bool{}}
	m.mu.Lock()
	m.subs[s] = struct{}{}
	m.mu.Unlock()
	return s
}

func (m *Memory) publish(subs []*memSub, room string, frame []byte) {
	for _, s := range subs {
		s.push(memEvent{kind: 'm', room: room, payload: frame}, true)
	}
}

// Publish implements PubSub.
func (m *Memory) Publish(_ context.Context, room string, frame []byte) error {
	m.mu.Lock()
	subs := m.subscriptions()
	m.mu.Unlock()
	m.publish(subs, room, frame)
	return nil
}

// PublishControl implements PubSub.
func (m *Memory) PublishControl(_ context.Context, payload []byte) error {
	m.mu.Lock()
	subs := m.subscriptions()
	m.mu.Unlock()
	for _, s := range subs {
		s.push(memEvent{kind: 'c', payload: payload}, false)
	}
	return nil
}

// push queues ev; a room event only when the room is subscribed.
func (s *memSub) push(ev memEvent, room bool) {
	s.mu.Lock()
	if room && !s.rooms[ev.room] {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= memQueueMax {
		s.queue, s.lost = nil, true
	} else {
		s.queue = append(s.queue, ev)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *memSub) reconnect() {
	s.mu.Lock()
	s.queue, s.lost = nil, true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Subscribe implements Subscription.
func (s *memSub) Subscribe(_ context.Context, room string) error {
	s.mu.Lock()
	s.rooms[room] = true
	s.mu.Unlock()
	s.push(memEvent{kind: 's', room: room}, true)
	return nil
}

// Unsubscribe implements Subscription.
func (s *memSub) Unsubscribe(_ context.Context, room string) error {
	s.mu.Lock()
	delete(s.rooms, room)
	s.mu.Unlock()
	return nil
}

// Close implements Subscription.
func (s *memSub) Close() {
	s.once.Do(func() {
		close(s.done)
		s.m.mu.Lock()
		delete(s.m.subs, s)
		s.m.mu.Unlock()
	})
}

// Run implements Subscription.
func (s *memSub) Run(ctx context.Context) {
	defer s.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		q, lost := s.queue, s.lost
		s.queue, s.lost = nil, false
		var rooms []string
		if lost {
			for r := range s.rooms {
				rooms = append(rooms, r)
			}
		}
		s.mu.Unlock()
		for _, r := range rooms {
			s.h.OnSubscribed(r)
		}
		for _, ev := range q {
			switch ev.kind {
			case 'm':
				deliver(s.h, ev.room, ev.payload)
			case 's':
				s.h.OnSubscribed(ev.room)
			case 'c':
				s.h.OnControl(ev.payload)
			}
		}
	}
}

// Claim implements Presence.
func (m *Memory) Claim(_ context.Context, server, user string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	was := m.onlineLocked(user, now)
	m.claimLocked(server, user, now.Add(ttl))
	return !was, nil
}

func (m *Memory) claimLocked(server, user string, exp time.Time) {
	c := m.claims[user]
	if c == nil {
		c = map[string]time.Time{}
		m.claims[user] = c
	}
	c[server] = exp
	if exp.After(m.index[user]) {
		m.index[user] = exp
	}
}

func (m *Memory) onlineLocked(user string, now time.Time) bool {
	for _, exp := range m.claims[user] {
		if exp.After(now) {
			return true
		}
	}
	return false
}

// pruneLocked drops user's expired claims; true when none is left.
func (m *Memory) pruneLocked(user string, now time.Time) bool {
	for srv, exp := range m.claims[user] {
		if !exp.After(now) {
			delete(m.claims[user], srv)
		}
	}
	if len(m.claims[user]) == 0 {
		delete(m.claims, user)
		return true
	}
	return false
}

// Renew implements Presence.
func (m *Memory) Renew(_ context.Context, server string, users []string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp := time.Now().Add(ttl)
	for _, u := range users {
		m.claimLocked(server, u, exp)
	}
	return nil
}

// Release implements Presence.
func (m *Memory) Release(_ context.Context, server, user string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claims[user], server)
	if m.pruneLocked(user, time.Now()) {
		delete(m.index, user)
		return true, nil
	}
	return false, nil
}

// Sweep implements Presence.
func (m *Memory) Sweep(_ context.Context, limit int64) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	var gone []string
	for u, exp := range m.index {
		if int64(len(gone)) >= limit {
			break
		}
		if exp.After(now) {
			continue
		}
		if m.pruneLocked(u, now) {
			delete(m.index, u)
			gone = append(gone, u)
			continue
		}
		var latest time.Time
		for _, e := range m.claims[u] {
			if e.After(latest) {
				latest = e
			}
		}
		m.index[u] = latest
	}
	return gone, nil
}

// Online implements Presence.
func (m *Memory) Online(_ context.Context, users []string) (map[string]bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	out := make(map[string]bool, len(users))
	for _, u := range users {
		if m.onlineLocked(u, now) {
			out[u] = true
		}
	}
	return out, nil
}
