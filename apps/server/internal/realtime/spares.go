package realtime

import (
	"sync"
	"time"
)

// spares run the slow requests (send, subscribe...) on goroutines that are
// kept a while after their request, for the next one. A request on a fresh
// goroutine grew its stack through the Redis and Kafka clients' call chains
// every time: copying stacks was 8 % of a server's CPU under a send load.
// There is no queue: a request goes to a spare only if one is waiting at
// that moment, else to a new goroutine, so the spares are never more than
// the requests that ran at once (slowSlots bounds those), and each leaves
// after idle with nothing to do, or when the hub closes.
type spares struct {
	handoff chan func() // unbuffered: taken only by a waiting spare
	idle    time.Duration
	quit    <-chan struct{}
	wg      *sync.WaitGroup // the hub's: Close waits for every spare
}

func newSpares(idle time.Duration, quit <-chan struct{}, wg *sync.WaitGroup) *spares {
	return &spares{handoff: make(chan func()), idle: idle, quit: quit, wg: wg}
}

// Go runs fn on a waiting spare, or on a new goroutine that becomes one.
func (s *spares) Go(fn func()) {
	select {
	case s.handoff <- fn:
	default:
		s.wg.Go(func() { s.run(fn) })
	}
}

func (s *spares) run(fn func()) {
	t := time.NewTimer(s.idle)
	defer t.Stop()
	for {
		fn()
		t.Reset(s.idle)
		select {
		case fn = <-s.handoff:
		case <-t.C:
			return
		case <-s.quit:
			return
		}
	}
}
