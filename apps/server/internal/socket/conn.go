package socket

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// wstate is where a connection's write side is.
type wstate uint8

const (
	wIdle  wstate = iota // nothing to write, not scheduled
	wLater               // in the flusher's list for the next tick
	wReady               // in the flusher's ready list
	wBusy                // being written: by a flusher, or by a goroutine of its own (slow client, closing)
)

// Conn is one client's WebSocket. Its frames are written only by the
// Writers (from a bounded queue), close frames included; once served, it is
// read by the Readers, which hand its messages to a Handler.
type Conn struct {
	w  *Writers
	nc net.Conn // the socket

	wmu      sync.Mutex // guards the write side, up to closeFlush
	queue    [][]byte   // frames to write, at most Options.Queue
	state    wstate
	urgent   bool   // an ack, error or pong is queued: never held back
	pong     []byte // payload of the client's latest ping, to answer
	hasPong  bool
	ping     bool          // a keep-alive ping is due
	lastIn   time.Time     // when the latest fan-out frame was queued
	gap      time.Duration // moving average of the time between fan-out frames
	waited   int           // ticks a busy connection has let pass
	inUrgent bool          // in the flusher's urgent list
	// blocked: the client's socket took less than it was given, and a
	// goroutine waits for it to drain (drain). Only then is a full queue a
	// slow client; otherwise it is a burst (a room catching up after a
	// gap) that the next flush writes.
	blocked    bool
	closing    bool
	closeCode  int
	closeText  string
	closeFlush bool // write what is queued before the close frame

	space     chan struct{} // signalled when the queue shrinks, for EnqueueWait
	quit      chan struct{} // closed by CloseWith
	closed    chan struct{} // closed once the socket is closed
	closeOnce sync.Once

	// The read side, last: a delivery touches only the fields above. It is
	// owned by whichever goroutine has the connection (rstate), except
	// lastRead, which the idle sweep reads.
	rd        *Readers
	h         Handler
	rc        syscall.RawConn
	id        uint64 // the poller's name for it
	rstate    atomic.Int32
	lastRead  atomic.Int64 // unix ns of the latest read
	in        []byte       // received, not yet handed over: part of a frame, or messages waiting for Next
	msg       []byte       // a fragmented message so far
	frag      bool         // inside a fragmented message
	fragText  bool
	pending   atomic.Bool // news of the socket came while the connection was busy
	polled    bool        // added to the poller
	full      bool        // the latest read filled the buffer
	readEnded bool        // waiting for the socket to close
}

// ErrClosed means the connection is closing: nothing more is written.
var ErrClosed = errors.New("socket: connection closed")

// init readies a zero Conn in place (it may live inside its owner's
// struct: one allocation, and one less pointer to follow per delivery).
func (c *Conn) init(w *Writers, nc net.Conn) {
	c.w, c.nc, c.gap = w, nc, maxGap
	c.space, c.quit, c.closed = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
}

// Closed is closed once the socket is.
func (c *Conn) Closed() <-chan struct{} { return c.closed }

// burstFactor bounds a burst: a connection whose socket takes what it is
// given may queue this many times Options.Queue before it counts as slow.
const burstFactor = 8

// Enqueue queues a frame without ever blocking: a client whose queue is full
// while its socket is not taking the bytes has fallen too far behind and is
// closed (4408), so it can neither slow the room down nor grow the server's
// memory. A burst to a client that keeps up (a room catching up on seconds
// of messages after a gap) may queue up to burstFactor times the limit.
func (c *Conn) Enqueue(frame []byte) {
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		return
	}
	if len(c.queue) >= c.w.opts.Queue && (c.blocked || len(c.queue) >= burstFactor*c.w.opts.Queue) {
		c.wmu.Unlock()
		slowClosed.Inc()
		c.CloseWith(protocol.CloseTooSlow, "too slow", false)
		return
	}
	c.queue = append(c.queue, frame)
	if urgent(frame) {
		c.urgent = true
	} else {
		c.arrived(time.Now())
	}
	c.scheduleAndUnlock()
}

// maxGap bounds the gaps averaged into Conn.gap, so that a connection
// quiet for a long time needs only a few frames to count as busy.
const maxGap = 100 * time.Millisecond

// arrived folds the gap since the previous fan-out frame into the moving
// average (weight 1/4) that decides whether the connection's frames are
// worth gathering.
func (c *Conn) arrived(now time.Time) {
	g := min(now.Sub(c.lastIn), maxGap)
	c.lastIn = now
	c.gap += (g - c.gap) / 4
}

// EnqueueWait queues a frame, waiting for space; for the connection's own
// requests (a replay), never for fan-out.
func (c *Conn) EnqueueWait(ctx context.Context, frame []byte) error {
	for {
		c.wmu.Lock()
		if c.closing {
			c.wmu.Unlock()
			return ErrClosed
		}
		if len(c.queue) < c.w.opts.Queue {
			c.queue = append(c.queue, frame)
			c.scheduleAndUnlock()
			return nil
		}
		c.wmu.Unlock()
		select {
		case <-c.space:
		case <-c.quit:
			return ErrClosed
		case <-ctx.Done():
			return protocol.Wrap(protocol.CodeUnavailable, ctx.Err(), "replay timed out")
		}
	}
}

// scheduleAndUnlock hands the connection to the flusher if it has
// something to write and is not yet scheduled (or is scheduled behind
// others and now has something urgent), then unlocks wmu.
//
// A connection whose frames arrive less than WS_WRITE_DELAY apart on
// average waits for the next tick, gathering frames; one written at once
// would cost a system call per frame. Others are written at once: waiting
// would add latency and gather nothing.
func (c *Conn) scheduleAndUnlock() {
	pending := len(c.queue) > 0 || c.hasPong || c.ping || c.closing
	hurry := c.urgent || c.hasPong || c.closing
	list := none
	switch {
	case !pending:
	case hurry && (c.state == wIdle || c.state == wLater || c.state == wReady && !c.inUrgent):
		list = urgentList
	case c.state == wIdle && c.gap >= c.w.f.delay:
		list = readyList
	case c.state == wIdle:
		list = laterList
	}
	switch list {
	case urgentList:
		c.state, c.inUrgent = wReady, true
	case readyList:
		c.state = wReady
	case laterList:
		c.state = wLater
	}
	c.wmu.Unlock()
	if list != none {
		c.w.f.push(c, list)
	}
}

// CloseWith closes the connection with code; with flush, what is queued
// is written first. Frames queued after it are dropped.
func (c *Conn) CloseWith(code int, text string, flush bool) {
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		return
	}
	c.closing, c.closeCode, c.closeText, c.closeFlush = true, code, text, flush
	close(c.quit)
	c.scheduleAndUnlock()
}

// fail drops a connection whose socket failed.
func (c *Conn) fail() {
	c.CloseWith(1006, "write failed", false)
	c.closeSocket()
}

// Kill drops the connection at once.
func (c *Conn) Kill() {
	c.CloseWith(1001, "server shutting down", false)
	c.closeSocket()
}

func (c *Conn) closeSocket() {
	c.closeOnce.Do(func() {
		_ = c.nc.Close()
		close(c.closed)
		c.kick() // a served connection ends once its socket is closed
	})
}

// WantPing schedules a keep-alive ping.
func (c *Conn) WantPing() {
	c.wmu.Lock()
	if !c.closing {
		c.ping = true
	}
	c.scheduleAndUnlock()
}

// urgent frames answer the client's own requests (ack, error, pong): they
// are never held back to gather a batch.
func urgent(frame []byte) bool {
	return bytes.HasPrefix(frame, ackPrefix) || bytes.HasPrefix(frame, errorPrefix) || bytes.HasPrefix(frame, protocol.Pong)
}

var (
	ackPrefix   = []byte(`{"type":"ack"`)
	errorPrefix = []byte(`{"type":"error"`)
)
