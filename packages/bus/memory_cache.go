package bus

import (
	"context"
	"time"
)

// cached copies the room's cache entries selected by keep, in order.
func (m *Memory) cached(room string, rev bool, limit int64, keep func(seq int64) bool) []Cached {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.room(room)
	r.expire(time.Now())
	out := []Cached{}
	n := len(r.recent)
	for i := 0; i < n && int64(len(out)) < limit; i++ {
		c := r.recent[i]
		if rev {
			c = r.recent[n-1-i]
		}
		if keep(c.seq) {
			out = append(out, Cached{Seq: c.seq, Frame: c.frame})
		}
	}
	return out
}

// RecentAfter implements Cache.
func (m *Memory) RecentAfter(_ context.Context, room string, after int64, limit int64) ([]Cached, error) {
	return m.cached(room, false, limit, func(seq int64) bool { return seq > after }), nil
}

// RecentBefore implements Cache.
func (m *Memory) RecentBefore(_ context.Context, room string, before int64, limit int64) ([]Cached, error) {
	return m.cached(room, true, limit, func(seq int64) bool { return before <= 0 || seq < before }), nil
}

// Tails implements Cache.
func (m *Memory) Tails(ctx context.Context, rooms []string, from []int64, limit int64) ([][]Cached, error) {
	out := make([][]Cached, len(rooms))
	for i, room := range rooms {
		out[i], _ = m.RecentAfter(ctx, room, from[i], limit)
	}
	return out, nil
}

// Oldest implements Cache.
func (m *Memory) Oldest(_ context.Context, room string) (int64, error) {
	if c := m.cached(room, false, 1, func(int64) bool { return true }); len(c) > 0 {
		return c[0].Seq, nil
	}
	return 0, nil
}

// Newest implements Cache.
func (m *Memory) Newest(_ context.Context, room string) (int64, error) {
	if c := m.cached(room, true, 1, func(int64) bool { return true }); len(c) > 0 {
		return c[0].Seq, nil
	}
	return 0, nil
}

// Incr implements Windows.
func (m *Memory) Incr(_ context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	w := m.windows[key]
	if !now.Before(w.exp) {
		w = memWindow{exp: now.Add(window)}
	}
	w.n++
	m.windows[key] = w
	return w.n, w.exp.Sub(now), nil
}
