package socket

import (
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// Upgrade completes the WebSocket handshake into c, a zero Conn. gorilla
// does the handshake and nothing more: from then on the connection is read
// by ReadFirst and the Readers and written by the Writers, and gorilla's
// Conn, with its buffers, is dropped.
func (w *Writers) Upgrade(c *Conn, rw http.ResponseWriter, r *http.Request, up *websocket.Upgrader) error {
	ws, err := up.Upgrade(rw, r, nil)
	if err != nil {
		return err // Upgrade answered the client
	}
	nc := ws.NetConn()
	// net/http documents that a hijacked connection may keep the deadlines
	// of its read and write timeouts (today it clears them); a WebSocket
	// lives far longer, and sets its own.
	if err := nc.SetDeadline(time.Time{}); err != nil {
		_ = nc.Close()
		return err
	}
	c.init(w, nc)
	return nil
}
