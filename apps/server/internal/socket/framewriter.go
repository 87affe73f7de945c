package socket

import (
	"encoding/binary"
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxBatch and maxBatchBytes bound one write, so that one connection's
// backlog cannot hold a flusher for long.
const (
	maxBatch      = 64
	maxBatchBytes = 64 << 10
)

// appendHeader appends the header of an unmasked, final frame: server
// frames are never masked (RFC 6455, 5.1), so a frame is a 2-10 byte
// header and the payload, which is shared, not copied.
func appendHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// frameWriter gathers frames into one writev. The frames are encoded here
// rather than by gorilla/websocket, whose WriteMessage costs a system call
// per frame: on a busy server that, not the JSON, is where the CPU goes.
// Each flusher goroutine owns one; it is reused for every connection.
type frameWriter struct {
	hdrs  [(maxBatch + 3) * 10]byte
	nhdr  int
	vec   [2 * (maxBatch + 3)][]byte
	bufs  net.Buffers
	total int
}

func (w *frameWriter) reset() {
	w.nhdr, w.total = 0, 0
	w.bufs = w.vec[:0]
}

// add appends one frame. Callers add at most maxBatch text frames and three
// control frames between resets.
func (w *frameWriter) add(op byte, payload []byte) {
	start := w.nhdr
	hdr := appendHeader(w.hdrs[start:start], op, len(payload))
	w.nhdr += len(hdr)
	w.bufs = append(w.bufs, w.hdrs[start:w.nhdr:w.nhdr])
	if len(payload) > 0 {
		w.bufs = append(w.bufs, payload)
	}
	w.total += len(hdr) + len(payload)
}

func (w *frameWriter) empty() bool { return w.total == 0 }

// tryWrite writes what was added without ever blocking. It returns the
// bytes the kernel did not take (a copy: the writer is reused), which the
// caller must write, in order, before anything else.
func (w *frameWriter) tryWrite(nc net.Conn) ([]byte, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return w.tail(0), nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var n int
	var werr error
	// RawConn.Write holds the socket's write lock; returning true means
	// "do not wait for writability": the socket is non-blocking, so a full
	// send buffer answers EAGAIN at once.
	err = rc.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Writev(int(fd), w.bufs)
			if !errors.Is(werr, unix.EINTR) {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return nil, err
	case errors.Is(werr, unix.EAGAIN):
		n = 0
	case werr != nil:
		return nil, werr
	}
	if n >= w.total {
		return nil, nil
	}
	return w.tail(n), nil
}

// tail copies what follows the first n bytes.
func (w *frameWriter) tail(n int) []byte {
	out := make([]byte, 0, w.total-n)
	for _, b := range w.bufs {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		out = append(out, b[n:]...)
		n = 0
	}
	return out
}

// writeBlocking writes what was added, waiting up to deadline.
func (w *frameWriter) writeBlocking(nc net.Conn, deadline time.Time) error {
	if err := nc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := w.bufs.WriteTo(nc)
	return err
}
