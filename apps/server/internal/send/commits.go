package send

import "sync"

// commitWaiters let the broker's subscriber goroutine wake whoever waits
// for a seq as soon as its message comes back on the room channel: the
// sender, sooner than the commit's reply (both arrive together, and the
// channel's copy starts a fan-out that can keep the cores busy for
// milliseconds before the sending goroutine runs again), and a retry of
// the same ref, without polling. A message on the channel was committed
// (the commit publishes it) after Kafka accepted it, so acking then is as
// safe as acking after the reply.
type commitWaiters struct {
	mu sync.Mutex
	m  map[roomSeq][]*waiter
}

type roomSeq struct {
	room string
	seq  int64
}

type waiter struct{ fire func() }

func newCommitWaiters() *commitWaiters {
	return &commitWaiters{m: make(map[roomSeq][]*waiter)}
}

// add registers fire, called at most once when seq of room is seen. The
// returned cancel removes it; entries live only while someone waits.
func (c *commitWaiters) add(room string, seq int64, fire func()) (cancel func()) {
	k := roomSeq{room, seq}
	w := &waiter{fire: fire}
	c.mu.Lock()
	c.m[k] = append(c.m[k], w)
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		ws := c.m[k]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(c.m, k)
		} else {
			c.m[k] = ws
		}
	}
}

// seen fires and removes every waiter of seq in room.
func (c *commitWaiters) seen(room string, seq int64) {
	k := roomSeq{room, seq}
	c.mu.Lock()
	ws := c.m[k]
	delete(c.m, k)
	c.mu.Unlock()
	for _, w := range ws {
		w.fire()
	}
}
