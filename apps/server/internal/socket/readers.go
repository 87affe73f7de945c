package socket

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// ReadOptions tune the read side.
type ReadOptions struct {
	// Workers read the sockets and run the handler's Frame (WORKERS).
	Workers int
	// Idle ends a connection from which nothing came for this long.
	Idle time.Duration
}

// readBuf is one reader goroutine's buffer: a read takes at most this much
// from one socket before other connections get their turn.
const readBuf = 8 << 10

// Readers read every served connection. One poller goroutine waits for
// readable sockets (epoll on Linux) and a pool of reader goroutines reads
// them without blocking and runs the handler: an idle connection costs no
// goroutine and no buffer, only its Conn.
//
// The queue of connections to read needs no bound of its own: a connection
// is queued only from rArmed, by compare-and-swap, so it is in it at most
// once and the queue never holds more than the connections.
type Readers struct {
	opts ReadOptions
	p    *poller

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*Conn
	stopped bool

	cmu    sync.Mutex
	conns  map[uint64]*Conn // served and not ended, by poller id
	lastID uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewReaders starts the poller, the reader goroutines and the idle sweep;
// Close stops them.
func NewReaders(opts ReadOptions) (*Readers, error) {
	p, err := newPoller()
	if err != nil {
		return nil, fmt.Errorf("socket: poller: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Readers{opts: opts, p: p, conns: make(map[uint64]*Conn), cancel: cancel}
	r.cond = sync.NewCond(&r.mu)
	r.wg.Go(r.poll)
	r.wg.Go(func() { r.sweep(ctx.Done()) })
	for range max(1, opts.Workers) {
		r.wg.Go(r.work)
	}
	return r, nil
}

// Close stops the readers; connections still served are no longer read
// and get no Ended. Kill them first.
func (r *Readers) Close() {
	r.cancel()
	r.mu.Lock()
	r.stopped = true
	r.cond.Broadcast()
	r.mu.Unlock()
	r.p.close()
	r.wg.Wait()
}

// Serve hands the connection to the readers: from now on its messages go
// to h, starting with any that came with the first (Conn.ReadFirst).
func (c *Conn) Serve(r *Readers, h Handler) error {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return fmt.Errorf("socket: %T has no file descriptor", c.nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	c.rd, c.h, c.rc = r, h, rc
	c.lastRead.Store(time.Now().UnixNano())
	r.cmu.Lock()
	r.lastID++
	c.id = r.lastID
	r.conns[c.id] = c
	r.cmu.Unlock()
	c.rstate.Store(rQueued)
	r.push(c)
	return nil
}

func (r *Readers) push(c *Conn) {
	r.mu.Lock()
	if !r.stopped {
		r.queue = append(r.queue, c)
		r.cond.Signal()
	}
	r.mu.Unlock()
}

func (r *Readers) pushAll(cs []*Conn) {
	r.mu.Lock()
	if !r.stopped {
		r.queue = append(r.queue, cs...)
		r.cond.Broadcast()
	}
	r.mu.Unlock()
}

// pop waits for a connection to read; nil once stopped.
func (r *Readers) pop() *Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.queue) == 0 && !r.stopped {
		r.cond.Wait()
	}
	if r.stopped {
		return nil
	}
	return pop(&r.queue)
}

// work reads connections until Close.
func (r *Readers) work() {
	buf := make([]byte, readBuf)
	for {
		c := r.pop()
		if c == nil {
			return
		}
		c.rstate.Store(rBusy)
		r.run(c, buf)
	}
}

// run is one turn on c, and more while the handler finishes a message
// before the turn is over.
func (r *Readers) run(c *Conn, buf []byte) {
	for {
		switch {
		case c.socketClosed():
			r.end(c)
			return
		case c.readEnded:
			r.idle(c) // until the socket closes
			return
		}
		switch c.turn(buf) {
		case tWait:
			r.idle(c)
		case tAgain: // to the back of the queue: others get their turn
			c.rstate.Store(rQueued)
			r.push(c)
		case tHandler:
			if c.rstate.CompareAndSwap(rBusy, rHanded) {
				return
			}
			c.rstate.Store(rBusy) // Next came already
			continue
		case tEnd:
			c.readEnded = true
			c.CloseWith(protocol.CloseNormal, "", false)
			r.idle(c)
		}
		return
	}
}

// idle leaves c until its socket has news: data, a hang-up, or its
// closing. News that came while c was busy (pending) brings it back at
// once. The state is stored before pending is read, and ready stores
// pending before it reads the state, so one of them always sees the other.
func (r *Readers) idle(c *Conn) {
	if err := r.p.watch(c); err != nil {
		c.pending.Store(true) // closed meanwhile: the next turn ends it
	}
	c.rstate.Store(rArmed)
	if c.pending.Swap(false) && c.rstate.CompareAndSwap(rArmed, rQueued) {
		r.push(c)
	}
}

// ready is news of c's socket (readable, hung up, or closed). It reports
// whether the caller must queue c; when c is busy, it leaves the news for
// its idle step.
func (c *Conn) ready() bool {
	for {
		if c.rstate.CompareAndSwap(rArmed, rQueued) {
			return true
		}
		c.pending.Store(true)
		if c.rstate.Load() != rArmed {
			return false
		}
	}
}

// kick is the news that the socket closed: a served connection then ends.
// Unserved (rNew), nothing happens but a pending flag; c.rd is read only
// after the swap, which orders it after Serve's writes.
func (c *Conn) kick() {
	if c.ready() {
		c.rd.push(c)
	}
}

func (r *Readers) end(c *Conn) {
	c.rstate.Store(rEnded)
	c.in, c.msg = nil, nil
	r.cmu.Lock()
	delete(r.conns, c.id)
	r.cmu.Unlock()
	c.h.Ended(c)
}

// poll hands readable connections to the reader goroutines until Close.
func (r *Readers) poll() {
	evs := make([]pollEvent, 256)
	var ids []uint64
	var ready []*Conn
	for {
		var stop bool
		ids, stop = r.p.wait(evs, ids[:0])
		if stop {
			return
		}
		ready = ready[:0]
		r.cmu.Lock()
		for _, id := range ids {
			if c := r.conns[id]; c != nil && c.ready() {
				ready = append(ready, c)
			}
		}
		r.cmu.Unlock()
		if len(ready) > 0 {
			r.pushAll(ready)
			clear(ready)
		}
	}
}

// sweep closes, every quarter of Idle, the connections silent for longer
// than Idle: a client that is gone without a word (its machine lost
// power) answers no ping, and its socket would stay open for ever.
func (r *Readers) sweep(done <-chan struct{}) {
	if r.opts.Idle <= 0 {
		return
	}
	t := time.NewTicker(max(r.opts.Idle/4, 10*time.Millisecond))
	defer t.Stop()
	var idle []*Conn
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		cutoff := time.Now().Add(-r.opts.Idle).UnixNano()
		idle = idle[:0]
		r.cmu.Lock()
		for _, c := range r.conns {
			if c.rstate.Load() == rArmed && c.lastRead.Load() < cutoff {
				idle = append(idle, c)
			}
		}
		r.cmu.Unlock()
		for _, c := range idle {
			idleClosed.Inc()
			c.CloseWith(protocol.CloseNormal, "", false)
		}
		clear(idle)
	}
}
