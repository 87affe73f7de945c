package realtime

import "sync"

// commitWaiters lets the subscriber goroutine answer a sender as soon as the
// sender's message comes back on the room channel, instead of when the
// commit's reply is read. Both arrive together, and the channel's copy
// starts a fan-out that can keep the server's cores busy for milliseconds
// before the sending goroutine is scheduled again. A message on the channel
// was committed (the commit script publishes it) after Kafka accepted it,
// so acking then is as safe as acking after the reply.
type commitWaiters struct {
	mu sync.Mutex
	m  map[roomSeq]func()
}

type roomSeq struct {
	room string
	seq  int64
}

func newCommitWaiters() *commitWaiters {
	return &commitWaiters{m: make(map[roomSeq]func())}
}

// add registers fire, to be called when seq of room is seen on the channel.
// There is at most one entry per in-flight send, removed by take.
func (w *commitWaiters) add(room string, seq int64, fire func()) {
	w.mu.Lock()
	w.m[roomSeq{room, seq}] = fire
	w.mu.Unlock()
}

// take removes and returns the waiter of seq in room, or nil.
func (w *commitWaiters) take(room string, seq int64) func() {
	k := roomSeq{room, seq}
	w.mu.Lock()
	fire := w.m[k]
	delete(w.m, k)
	w.mu.Unlock()
	return fire
}

// seen is called for every message on a room channel, before its fan-out.
func (w *commitWaiters) seen(room string, seq int64) {
	if fire := w.take(room, seq); fire != nil {
		fire()
	}
}
