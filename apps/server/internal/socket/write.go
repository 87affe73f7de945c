package socket

import (
	"time"

	"github.com/gorilla/websocket"
)

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
	if c.waited < busyTicks && c.gap < c.w.f.delay {
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
		c.w.goConn(c.finish)
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
		c.wmu.Lock()
		c.blocked = true
		c.wmu.Unlock()
		c.w.goConn(func() { c.drain(rest) })
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
	timeout := c.w.opts.Timeout
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
			c.state, c.blocked = wIdle, false
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
	deadline := time.Now().Add(c.w.opts.Timeout)
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
	if w.writeBlocking(c.nc, time.Now().Add(time.Second)) == nil {
		c.linger()
	}
}

// lingerTime bounds how long a closed connection waits for the client to
// close its side.
const lingerTime = time.Second

// linger half-closes the socket after the close frame and reads, and
// drops, what the client still sends until it closes its side (RFC 6455,
// 7.1.1) or lingerTime passes. Closing a socket with unread data in it
// makes the kernel answer with a reset, and a reset makes the client's
// kernel drop what the client has not read yet: the close frame, and the
// frames before it. A pong or a request on its way as the server closes
// is enough.
func (c *Conn) linger() {
	hc, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil || c.nc.SetReadDeadline(time.Now().Add(lingerTime)) != nil {
		return
	}
	var buf [512]byte
	for {
		if _, err := c.nc.Read(buf[:]); err != nil {
			return // the client's FIN, the deadline, or the socket closed (Kill)
		}
	}
}
