package realtime

import (
	"bytes"
	"context"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

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

// Conn is one client's WebSocket. Its reader runs on a goroutine of its
// own; its frames are written by the hub's flusher from a bounded queue.
type Conn struct {
	hub       *Hub
	ws        *websocket.Conn
	nc        net.Conn
	user      protocol.User
	tokenHash []byte
	bucket    *userBucket

	wmu        sync.Mutex // guards the write side, up to closeFlush
	queue      [][]byte   // frames to write, at most SEND_QUEUE
	state      wstate
	urgent     bool   // an ack, error or pong is queued: never held back
	pong       []byte // payload of the client's latest ping, to answer
	hasPong    bool
	ping       bool          // a keep-alive ping is due
	lastIn     time.Time     // when the latest fan-out frame was queued
	gap        time.Duration // moving average of the time between fan-out frames
	waited     int           // ticks a busy connection has let pass
	inUrgent   bool          // in the flusher's urgent list
	closing    bool
	closeCode  int
	closeText  string
	closeFlush bool // write what is queued before the close frame

	dispatched chan struct{} // a worker finished the reader's request
	space      chan struct{} // signalled when the queue shrinks, for enqueueWait
	quit       chan struct{} // closed by closeWith
	closed     chan struct{} // closed once the socket is closed
	closeOnce  sync.Once
	done       chan struct{} // closed when the reader has finished and the socket is closed

	mu   sync.Mutex
	subs map[string]*sub
}

func newConn(h *Hub, ws *websocket.Conn) *Conn {
	c := &Conn{hub: h, ws: ws, nc: ws.NetConn(), gap: maxGap, dispatched: make(chan struct{}, 1), space: make(chan struct{}, 1), quit: make(chan struct{}),
		closed: make(chan struct{}), done: make(chan struct{}), subs: make(map[string]*sub)}
	// gorilla would answer pings and close frames from the reader goroutine
	// itself; only the flusher may write, so hand them over.
	ws.SetPingHandler(func(data string) error {
		c.wmu.Lock()
		if !c.closing {
			c.pong, c.hasPong = []byte(data), true
		}
		c.scheduleAndUnlock()
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		c.closeWith(code, "", false) // echo the code (RFC 6455, 5.5.1)
		return nil
	})
	return c
}

// enqueue queues a frame without ever blocking: a client whose queue is full
// has fallen too far behind and is closed (4408), so it can neither slow the
// room down nor grow the server's memory.
func (c *Conn) enqueue(frame []byte) {
	c.wmu.Lock()
	if c.closing {
		c.wmu.Unlock()
		return
	}
	if len(c.queue) >= c.hub.cfg.SendQueue {
		c.wmu.Unlock()
		slowClosed.Inc()
		c.closeWith(protocol.CloseTooSlow, "too slow", false)
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

// enqueueWait queues a frame, waiting for space; for the connection's own
// requests (a replay), never for fan-out.
func (c *Conn) enqueueWait(ctx context.Context, frame []byte) error {
	for {
		c.wmu.Lock()
		if c.closing {
			c.wmu.Unlock()
			return errClosed
		}
		if len(c.queue) < c.hub.cfg.SendQueue {
			c.queue = append(c.queue, frame)
			c.scheduleAndUnlock()
			return nil
		}
		c.wmu.Unlock()
		select {
		case <-c.space:
		case <-c.quit:
			return errClosed
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
	case c.state == wIdle && c.gap >= c.hub.flusher.delay:
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
		c.hub.flusher.push(c, list)
	}
}

// busyTicks is how many ticks a busy connection (one whose frames arrive
// less than WS_WRITE_DELAY apart) lets pass between writes.
const busyTicks = 2

// What a tick does with a connection waiting for it.
const (
	dropped  = iota // it no longer waits: an urgent frame moved it, or it was written
	promoted        // ready now
	kept            // busy: it waits for the next tick
)

// promote moves a connection waiting for the tick to ready, or keeps a busy
// one for the next tick.
func (c *Conn) promote() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.state != wLater {
		return dropped
	}
	if c.waited < busyTicks && c.gap < c.hub.flusher.delay {
		c.waited++
		return kept
	}
	c.state, c.waited = wReady, 0
	return promoted
}

// flush is a flusher's turn on the connection: one non-blocking write of
// what is queued, then back to idle, or to a list if more is waiting.
func (c *Conn) flush(w *frameWriter) {
	c.wmu.Lock()
	if c.state != wReady {
		c.wmu.Unlock()
		return
	}
	c.state, c.inUrgent = wBusy, false
	if c.closing {
		c.wmu.Unlock()
		c.hub.goConn(c.finish)
		return
	}
	w.reset()
	frames, backlog := c.takeLocked(w)
	c.wmu.Unlock()
	c.signalSpace()
	rest, err := w.tryWrite(c.nc)
	if err != nil {
		c.fail()
		return
	}
	framesOut.Add(float64(frames))
	writeBatches.Inc()
	if rest != nil {
		// The client's receive window is full: wait for it on a goroutine
		// of the connection's own, not on the flusher.
		slowWrites.Inc()
		c.hub.goConn(func() { c.drain(rest) })
		return
	}
	c.wmu.Lock()
	c.state = wIdle
	if backlog {
		c.urgent = true // written at once, not held for the tick
	}
	c.scheduleAndUnlock()
}

// takeLocked adds the pending control frames and up to a batch of queued
// frames to w. It returns how many queued frames it took and whether more
// remain.
func (c *Conn) takeLocked(w *frameWriter) (int, bool) {
	if c.hasPong {
		w.add(opPong, c.pong)
		c.pong, c.hasPong = nil, false
	}
	if c.ping {
		w.add(opPing, nil)
		c.ping = false
	}
	n, size := 0, 0
	for n < len(c.queue) && n < maxBatch && size < maxBatchBytes {
		w.add(opText, c.queue[n])
		size += len(c.queue[n])
		n++
	}
	rem := copy(c.queue, c.queue[n:])
	clear(c.queue[rem:])
	c.queue = c.queue[:rem]
	if rem == 0 && cap(c.queue) > 16 {
		c.queue = nil // an idle connection keeps no large queue
	}
	c.urgent = false
	return n, rem > 0
}

func (c *Conn) signalSpace() {
	select {
	case c.space <- struct{}{}:
	default:
	}
}

// drain writes, blocking up to WRITE_TIMEOUT per write, the bytes the
// socket did not take and then everything queued, until the queue is empty
// or the connection closes.
func (c *Conn) drain(rest []byte) {
	timeout := c.hub.cfg.WriteTimeout
	if err := c.nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		c.fail()
		return
	}
	if _, err := c.nc.Write(rest); err != nil {
		c.fail()
		return
	}
	w := &frameWriter{}
	for {
		c.wmu.Lock()
		if c.closing {
			c.wmu.Unlock()
			c.finish()
			return
		}
		w.reset()
		frames, _ := c.takeLocked(w)
		if w.empty() {
			// Back to non-blocking writes, which a past deadline would fail.
			err := c.nc.SetWriteDeadline(time.Time{})
			c.state = wIdle
			c.wmu.Unlock()
			if err != nil {
				c.fail()
			}
			return
		}
		c.wmu.Unlock()
		c.signalSpace()
		if err := w.writeBlocking(c.nc, time.Now().Add(timeout)); err != nil {
			c.fail()
			return
		}
		framesOut.Add(float64(frames))
		writeBatches.Inc()
	}
}

// finish writes what is queued when the close asked for it, then the close
// frame, then closes the socket, which ends the reader.
func (c *Conn) finish() {
	defer c.closeSocket()
	c.wmu.Lock()
	code, text, flush := c.closeCode, c.closeText, c.closeFlush
	c.wmu.Unlock()
	w := &frameWriter{}
	deadline := time.Now().Add(c.hub.cfg.WriteTimeout)
	for flush {
		c.wmu.Lock()
		w.reset()
		_, more := c.takeLocked(w)
		c.wmu.Unlock()
		if w.empty() {
			break
		}
		if err := w.writeBlocking(c.nc, deadline); err != nil {
			return
		}
		flush = more
	}
	w.reset()
	w.add(opClose, websocket.FormatCloseMessage(code, text))
	_ = w.writeBlocking(c.nc, time.Now().Add(time.Second))
}

// closeWith closes the connection with code; with flush, what is queued
// is written first. Frames queued after it are dropped.
func (c *Conn) closeWith(code int, text string, flush bool) {
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
	c.closeWith(1006, "write failed", false)
	c.closeSocket()
}

// kill drops the connection at once.
func (c *Conn) kill() {
	c.closeWith(1001, "server shutting down", false)
	c.closeSocket()
}

func (c *Conn) closeSocket() {
	c.closeOnce.Do(func() {
		_ = c.ws.Close()
		close(c.closed)
	})
}

// wantPing schedules a keep-alive ping.
func (c *Conn) wantPing() {
	c.wmu.Lock()
	if !c.closing {
		c.ping = true
	}
	c.scheduleAndUnlock()
}

func (c *Conn) subscribed(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.subs[room]
	return ok
}

func (c *Conn) addSub(room string, s *sub) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.subs[room]; ok {
		return false
	}
	c.subs[room] = s
	return true
}

func (c *Conn) removeSub(room string) *sub {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.subs[room]
	delete(c.subs, room)
	return s
}

func (c *Conn) rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.subs))
	for r := range c.subs {
		out = append(out, r)
	}
	return out
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
