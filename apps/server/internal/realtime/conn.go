package realtime

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Conn is one client's WebSocket. Its reader runs in the HTTP handler's
// goroutine, its writer in a goroutine of its own; they share nothing but
// the bounded outgoing queue and the close signal.
type Conn struct {
	hub       *Hub
	ws        *websocket.Conn
	user      protocol.User
	tokenHash []byte
	bucket    *userBucket

	out   chan []byte
	pongs chan []byte   // client pings to answer; written by the writer only
	kick  chan struct{} // wakes a writer that is gathering: an urgent frame is queued
	quit  chan struct{} // closed by closeWith
	done  chan struct{} // closed when both goroutines are finished

	closeOnce sync.Once
	closeCode int
	closeText string
	flush     bool

	mu   sync.Mutex
	subs map[string]*sub
}

// enqueue queues a frame without ever blocking: a client whose queue is full
// has fallen too far behind and is closed (4408), so it can neither slow the
// room down nor grow the server's memory.
func (c *Conn) enqueue(frame []byte) {
	select {
	case <-c.quit:
		return
	default:
	}
	select {
	case c.out <- frame:
		if urgent(frame) {
			select {
			case c.kick <- struct{}{}:
			default:
			}
		}
	default:
		slowClosed.Inc()
		c.closeWith(protocol.CloseTooSlow, "too slow", false)
	}
}

// enqueueWait queues a frame, waiting for space; for the connection's own
// requests (a replay), never for fan-out.
func (c *Conn) enqueueWait(ctx context.Context, frame []byte) error {
	select {
	case c.out <- frame:
		return nil
	case <-c.quit:
		return errClosed
	case <-ctx.Done():
		return protocol.Wrap(protocol.CodeUnavailable, ctx.Err(), "replay timed out")
	}
}

// closeWith closes the connection with code; with flush, what is queued
// is written first.
func (c *Conn) closeWith(code int, text string, flush bool) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText, c.flush = code, text, flush
		close(c.quit)
	})
}

// kill drops the connection at once.
func (c *Conn) kill() {
	c.closeWith(1001, "server shutting down", false)
	_ = c.ws.NetConn().Close()
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

// writeLoop sends queued frames and keep-alive pings until closeWith, then
// writes the close frame and closes the socket, which ends the reader.
// Whatever is queued when it wakes goes out in one system call. With
// WS_WRITE_DELAY, a connection written to less than that long ago (a busy
// one) waits until that much time has passed, gathering what arrives: at
// most one system call per delay per busy connection, and no added latency
// at all for a quiet one.
func (c *Conn) writeLoop() {
	cfg := c.hub.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	defer c.ws.Close()
	fw := &frameWriter{nc: c.ws.NetConn()}
	batch := make([][]byte, 0, maxBatch)
	var delay *time.Timer
	if cfg.WriteDelay > 0 {
		delay = time.NewTimer(time.Hour)
		delay.Stop()
	}
	var lastWrite time.Time
	backlog := false
	for {
		// The close signal wins over queued frames.
		select {
		case <-c.quit:
			c.finish(fw)
			return
		default:
		}
		select {
		case <-c.quit:
			c.finish(fw)
			return
		case f := <-c.out:
			batch = append(batch[:0], f)
			size := len(f)
			// A busy connection sleeps until a delay has passed since its
			// last write, not woken by each frame that arrives meanwhile
			// (only by an urgent one): one wake-up and one system call per
			// delay, whatever the message rate. A backlog (the last write
			// was full) is written at once.
			if wait := cfg.WriteDelay - time.Since(lastWrite); delay != nil && wait > 0 && !urgent(f) && !backlog {
				delay.Reset(wait)
				select {
				case <-delay.C:
				case <-c.kick:
				case <-c.quit:
				}
				delay.Stop()
			}
			batch = c.take(batch, size)
			backlog = len(batch) == maxBatch || batchBytes(batch) >= maxBatchBytes
			if err := fw.write(batch, time.Now().Add(cfg.WriteTimeout)); err != nil {
				c.closeWith(1006, "write failed", false)
				return
			}
			lastWrite = time.Now()
			framesOut.Add(float64(len(batch)))
			writeBatches.Inc()
			clear(batch)
		case data := <-c.pongs:
			if err := c.ws.WriteControl(websocket.PongMessage, data, time.Now().Add(cfg.WriteTimeout)); err != nil {
				c.closeWith(1006, "pong failed", false)
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				c.closeWith(1006, "ping failed", false)
				return
			}
		}
	}
}

func batchBytes(batch [][]byte) int {
	n := 0
	for _, f := range batch {
		n += len(f)
	}
	return n
}

// take adds what is queued, without waiting, to a batch already holding
// size bytes, within the bounds of one write.
func (c *Conn) take(batch [][]byte, size int) [][]byte {
	for len(batch) < maxBatch && size < maxBatchBytes {
		select {
		case f := <-c.out:
			batch = append(batch, f)
			size += len(f)
		default:
			return batch
		}
	}
	return batch
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

func (c *Conn) finish(fw *frameWriter) {
	if c.flush {
		if batch := c.take(nil, 0); len(batch) > 0 && fw.write(batch, time.Now().Add(c.hub.cfg.WriteTimeout)) != nil {
			return
		}
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}
