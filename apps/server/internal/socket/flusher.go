package socket

import (
	"sync"
	"time"
)

// flusher writes every connection's queued frames from a few shared
// goroutines instead of one writer goroutine per connection: an idle
// connection costs no goroutine stack, and a busy server writes many
// connections per wake-up.
//
// A connection with something to write is scheduled once, in one of three
// lists. Frames that answer the client (ack, error, pong) put it in the
// urgent list, written before anything else: an ack must not wait behind a
// fan-out to a thousand connections. A connection whose fan-out frames
// arrive WS_WRITE_DELAY or more apart on average goes to the ready list and
// is written at once. One whose frames come faster (a busy one) waits in
// the later list for three ticks (one every WS_WRITE_DELAY), gathering what
// arrives meanwhile. On loopback a system call costs more than the rest of
// a delivery, so a busy connection is written once per three delays,
// several frames at a time, while a quiet one gets no added latency.
//
// Writes never block a flusher: the socket is written without waiting, and
// a connection whose send buffer is full gets a goroutine of its own that
// waits (up to WRITE_TIMEOUT) until the backlog is out.
type flusher struct {
	delay time.Duration

	mu      sync.Mutex
	cond    *sync.Cond
	urgent  []*Conn // to write first
	ready   []*Conn // to write as soon as a goroutine is free
	later   []*Conn // to write at the next tick
	stopped bool
}

func newFlusher(delay time.Duration) *flusher {
	f := &flusher{delay: delay}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// The flusher's lists.
const (
	none = iota
	urgentList
	readyList
	laterList
)

// push schedules c, which the caller has just marked for list.
func (f *flusher) push(c *Conn, list int) {
	f.mu.Lock()
	switch list {
	case urgentList:
		f.urgent = append(f.urgent, c)
		f.cond.Signal()
	case readyList:
		f.ready = append(f.ready, c)
		f.cond.Signal()
	default:
		f.later = append(f.later, c)
	}
	f.mu.Unlock()
}

// next waits for a connection to write, urgent ones first; nil once
// stopped. A connection may be listed twice (moved to the urgent list while
// in the ready list); Conn.flush ignores the entry that finds it written.
func (f *flusher) next() *Conn {
	f.mu.Lock()
	defer f.mu.Unlock()
	for len(f.urgent) == 0 && len(f.ready) == 0 && !f.stopped {
		f.cond.Wait()
	}
	if f.stopped {
		return nil
	}
	if len(f.urgent) > 0 {
		return pop(&f.urgent)
	}
	return pop(&f.ready)
}

func pop(list *[]*Conn) *Conn {
	l := *list
	c := l[0]
	l[0] = nil
	l = l[1:]
	if len(l) == 0 {
		l = l[:0:0] // let the backing array go after a burst
	}
	*list = l
	return c
}

// work writes connections until stop.
func (f *flusher) work() {
	w := &frameWriter{}
	for {
		c := f.next()
		if c == nil {
			return
		}
		c.flush(w)
	}
}

// tick moves every connection waiting for the next tick to the ready list.
func (f *flusher) tick() {
	f.mu.Lock()
	due := f.later
	f.later = nil
	f.mu.Unlock()
	n := 0
	var keep []*Conn
	for _, c := range due {
		switch c.promote() {
		case promoted:
			due[n] = c
			n++
		case kept:
			keep = append(keep, c)
		}
	}
	f.mu.Lock()
	f.later = append(f.later, keep...)
	if n > 0 {
		f.ready = append(f.ready, due[:n]...)
		f.cond.Broadcast()
	}
	f.mu.Unlock()
}

// run ticks until done is closed, then stops the workers.
func (f *flusher) run(done <-chan struct{}) {
	defer f.stop()
	if f.delay <= 0 {
		<-done
		return
	}
	t := time.NewTicker(f.delay)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			f.tick()
		}
	}
}

func (f *flusher) stop() {
	f.mu.Lock()
	f.stopped = true
	f.cond.Broadcast()
	f.mu.Unlock()
}
