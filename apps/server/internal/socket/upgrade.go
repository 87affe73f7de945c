package socket

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Upgrade completes the WebSocket handshake into c, a zero Conn. From then
// on gorilla only reads the connection: the writes it would make itself (a
// close frame on a protocol error or an oversized frame) are discarded,
// and Read has the Writers write the close frame instead.
func (w *Writers) Upgrade(c *Conn, rw http.ResponseWriter, r *http.Request, up *websocket.Upgrader) error {
	h := &hijacker{ResponseWriter: rw}
	ws, err := up.Upgrade(h, r, nil)
	if err != nil {
		return err // Upgrade answered the client
	}
	h.guard.readOnly.Store(true)
	// net/http documents that a hijacked connection may keep the deadlines
	// of its read and write timeouts (today it clears them); a WebSocket
	// lives far longer, and sets its own.
	if err := h.guard.Conn.SetDeadline(time.Time{}); err != nil {
		_ = ws.Close()
		return err
	}
	ws.SetReadLimit(protocol.FrameMaxBytes)
	c.init(w, ws, h.guard.Conn)
	return nil
}

// hijacker hands gorilla a connection whose writes it can switch off.
type hijacker struct {
	http.ResponseWriter
	guard *guardConn
}

// Hijack implements http.Hijacker.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("socket: response cannot be hijacked")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.guard = &guardConn{Conn: nc}
	return h.guard, brw, nil
}

// guardConn is the socket as gorilla sees it: after the handshake its
// writes go nowhere.
type guardConn struct {
	net.Conn
	readOnly atomic.Bool
}

func (g *guardConn) Write(p []byte) (int, error) {
	if g.readOnly.Load() {
		return len(p), nil
	}
	return g.Conn.Write(p)
}

// SetReadDeadline sets the deadline of the next Read.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }

// SetPongHandler sets what a client's pong does (on the reader's goroutine).
func (c *Conn) SetPongHandler(fn func(string) error) { c.ws.SetPongHandler(fn) }

// Read returns the next data frame. A frame over the size limit, a frame
// breaking RFC 6455, and a text frame that is not UTF-8 end the connection
// with the close code the RFC asks for (1009, 1002, 1007); Read then
// returns an error, as it does once the connection is closed.
func (c *Conn) Read() (text bool, data []byte, err error) {
	typ, data, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, websocket.ErrReadLimit):
		c.CloseWith(protocol.CloseTooLarge, "frame too large", false)
		return false, nil, err
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return false, nil, err // the close handler echoed a close frame; or the peer is gone
	default:
		c.CloseWith(websocket.CloseProtocolError, "protocol error", false)
		return false, nil, err
	}
	text = typ == websocket.TextMessage
	if text && !utf8.Valid(data) {
		c.CloseWith(websocket.CloseInvalidFramePayloadData, "invalid UTF-8", false)
		return false, nil, errors.New("socket: invalid UTF-8 in a text frame")
	}
	return text, data, nil
}
