package socket

import (
	"bytes"
	"errors"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Handler receives a served connection's messages (Conn.Serve).
type Handler interface {
	// Frame handles one complete data message, on a reader goroutine. It
	// returns true when done with it, or false when it will finish later
	// and then call Conn.Next: until then nothing more of the connection
	// is read, so a client's requests are handled one at a time, in order,
	// and a client sending faster than it is served fills its own socket
	// buffers, not the server's memory.
	Frame(c *Conn, text bool, data []byte) bool
	// Ended is called once, on a reader goroutine, when the connection's
	// reading has ended and its socket is closed. It must not block.
	Ended(c *Conn)
}

// Where a served connection's read side is. Only the goroutine that has
// the connection (rBusy) stores a state; the poller, the socket's closing
// and Next move it by compare-and-swap, so it is never read by two
// goroutines at once.
const (
	rNew    int32 = iota // not served yet
	rArmed               // idle: waiting for news of the socket (data, hang-up, closing)
	rQueued              // in the readers' queue
	rBusy                // a reader goroutine has it
	rHanded              // the handler has a message, and will call Next
	rResume              // Next came while the reader was still on its turn
	rEnded               // Ended was called
)

// errPeerClosed ends reading after the client's close frame.
var errPeerClosed = errors.New("socket: closed by the client")

// ReadFirst reads the connection's first message, blocking up to deadline,
// before the connection is served (the hello): control frames before it
// are answered, and a frame breaking the protocol or the size limit closes
// the connection with its code, as a served connection's would.
func (c *Conn) ReadFirst(deadline time.Time) (text bool, data []byte, err error) {
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return false, nil, err
	}
	var buf [2048]byte
	for {
		text, data, n, ok, err := c.next(c.in)
		c.in = c.in[n:]
		if err != nil {
			return false, nil, err
		}
		if ok {
			c.keep(c.in)
			return text, data, c.nc.SetReadDeadline(time.Time{})
		}
		k, err := c.nc.Read(buf[:])
		if err != nil {
			return false, nil, err
		}
		c.in = append(c.in, buf[:k]...)
	}
}

// next parses the next complete data message out of src, handling the
// control frames before it. n is how much of src it consumed; ok is false
// when src holds no complete message yet. On a frame breaking the
// protocol, or the client's close frame, it closes the connection with the
// right code and returns an error.
func (c *Conn) next(src []byte) (text bool, data []byte, n int, ok bool, err error) {
	for {
		f, k, err := parseFrame(src[n:], protocol.FrameMaxBytes)
		if err != nil {
			return false, nil, n, false, c.closeFor(err)
		}
		if k == 0 {
			return false, nil, n, false, nil
		}
		n += k
		switch f.op {
		case opPing:
			c.gotPing(bytes.Clone(f.payload))
		case opPong: // proves the client alive, as every byte read does
		case opClose:
			code, err := closeCode(f.payload)
			if err != nil {
				return false, nil, n, false, c.closeFor(err)
			}
			c.CloseWith(code, "", false) // echo the code (RFC 6455, 5.5.1)
			return false, nil, n, false, errPeerClosed
		case opText, opBinary:
			if c.frag {
				return false, nil, n, false, c.closeFor(errInterleaved)
			}
			if !f.fin {
				c.frag, c.fragText, c.msg = true, f.op == opText, bytes.Clone(f.payload)
				continue
			}
			text, data = f.op == opText, append(make([]byte, 0, len(f.payload)), f.payload...)
			return c.message(text, data, n)
		case opContinuation:
			if !c.frag {
				return false, nil, n, false, c.closeFor(errContinuation)
			}
			if len(c.msg)+len(f.payload) > protocol.FrameMaxBytes {
				return false, nil, n, false, c.closeFor(errTooLarge)
			}
			c.msg = append(c.msg, f.payload...)
			if f.fin {
				text, data = c.fragText, c.msg
				c.frag, c.msg = false, nil
				return c.message(text, data, n)
			}
		}
	}
}

// message checks a complete message: a text one must be UTF-8 (RFC 6455, 8.1).
func (c *Conn) message(text bool, data []byte, n int) (bool, []byte, int, bool, error) {
	if text && !utf8.Valid(data) {
		return false, nil, n, false, c.closeFor(errUTF8)
	}
	return text, data, n, true, nil
}

func (c *Conn) closeFor(err error) error {
	var pe *protoError
	if errors.As(err, &pe) {
		c.CloseWith(pe.code, pe.text, false)
	}
	return err
}

// gotPing has the writers answer a client's ping with its payload.
func (c *Conn) gotPing(payload []byte) {
	c.wmu.Lock()
	if !c.closing {
		c.pong, c.hasPong = payload, true
	}
	c.scheduleAndUnlock()
}

// keep stores what is left of src, a part of a frame or messages not yet
// handed over, as a copy of its own (src may be a reader's buffer); an
// idle connection keeps nothing.
func (c *Conn) keep(src []byte) {
	if len(src) == 0 {
		c.in = nil
		return
	}
	c.in = bytes.Clone(src)
}

// What a reader's turn on a connection ends with.
const (
	tWait    = iota // nothing more to read: wait until the socket is readable
	tAgain          // the read filled the buffer: more may be waiting
	tHandler        // the handler has a message and will call Next
	tEnd            // reading has ended
)

// turn is a reader goroutine's turn on the connection: it hands over the
// messages already received, then reads the socket once without waiting,
// into buf, and hands over what came.
func (c *Conn) turn(buf []byte) int {
	if len(c.in) > 0 {
		src := c.in
		c.in = nil
		if t := c.handle(src); t != tWait {
			return t
		}
	}
	k, err := c.readSocket(buf)
	c.full = k == len(buf) // more may be waiting, and no news will say so
	switch {
	case errors.Is(err, unix.EAGAIN):
		return tWait
	case err != nil || k == 0: // 0: the client shut its side
		return tEnd
	}
	c.lastRead.Store(time.Now().UnixNano())
	src := buf[:k]
	if len(c.in) > 0 {
		src = append(c.in, src...)
		c.in = nil
	}
	t := c.handle(src)
	if t == tWait && c.full {
		return tAgain
	}
	return t
}

// handle hands the complete messages in src to the handler, keeping the
// rest.
func (c *Conn) handle(src []byte) int {
	for {
		text, data, n, ok, err := c.next(src)
		src = src[n:]
		if err != nil {
			return tEnd
		}
		if !ok {
			c.keep(src)
			return tWait
		}
		if !c.h.Frame(c, text, data) {
			c.keep(src)
			return tHandler
		}
	}
}

// readSocket reads what the socket has, without waiting (EAGAIN when it
// has nothing). The raw connection holds the descriptor while it reads, so
// a concurrent close cannot hand the number to another socket meanwhile.
func (c *Conn) readSocket(buf []byte) (int, error) {
	var n int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if !errors.Is(rerr, unix.EINTR) {
				return true
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	return n, nil
}

// socketClosed reports whether the socket is closed.
func (c *Conn) socketClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Next resumes reading a connection whose handler took a message (Frame
// returned false) and is done with it. It may come before the reader
// goroutine that called Frame has finished its turn: that goroutine then
// goes on with the connection itself.
func (c *Conn) Next() {
	c.lastRead.Store(time.Now().UnixNano())
	for {
		if c.rstate.CompareAndSwap(rHanded, rBusy) {
			if len(c.in) == 0 && !c.full {
				c.rd.idle(c) // nothing received meanwhile is lost: it is news (pending)
				return
			}
			c.rstate.Store(rQueued)
			c.rd.push(c)
			return
		}
		if c.rstate.CompareAndSwap(rBusy, rResume) {
			return
		}
	}
}
