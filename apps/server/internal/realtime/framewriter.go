package realtime

import (
	"encoding/binary"
	"net"
	"time"
)

// maxBatch and maxBatchBytes bound one write: a huge write to a slow
// reader would block the writer while the queue behind it fills.
const (
	maxBatch      = 64
	maxBatchBytes = 64 << 10
)

// frameWriter writes a batch of server text frames with one writev. The
// frames are encoded here rather than by gorilla/websocket, whose
// WriteMessage costs a system call per frame: on a busy connection that,
// not the JSON, is where the CPU goes. Server frames are never masked
// (RFC 6455, 5.1), so a frame is a 2-10 byte header and the shared payload,
// which is not copied. Only the connection's writer goroutine writes, and
// gorilla writes control frames on that same goroutine, so bytes never
// interleave.
type frameWriter struct {
	nc   net.Conn
	hdrs [maxBatch * 10]byte
	bufs net.Buffers
	vec  [2 * maxBatch][]byte
}

func frameHeader(dst []byte, n int) []byte {
	dst = append(dst, 0x81) // FIN, text
	switch {
	case n <= 125:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// write sends frames (at most maxBatch) with one system call where the
// kernel takes it all.
func (w *frameWriter) write(frames [][]byte, deadline time.Time) error {
	hdr := w.hdrs[:0]
	w.bufs = w.vec[:0]
	for _, f := range frames {
		start := len(hdr)
		hdr = frameHeader(hdr, len(f))
		w.bufs = append(w.bufs, hdr[start:len(hdr):len(hdr)], f)
	}
	if err := w.nc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := w.bufs.WriteTo(w.nc)
	return err
}
