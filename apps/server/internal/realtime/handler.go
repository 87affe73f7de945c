package realtime

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/apps/server/internal/auth"
	"github.com/rookery-chat/rookery/packages/protocol"
)

var writeBufferPool = &sync.Pool{}

// checkOrigin allows same-origin pages, the configured origins, and clients
// that send no Origin at all (not browsers, so not a cross-site risk).
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, o := range h.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// ServeHTTP upgrades GET /ws and runs the connection until it ends.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{
		// Small read buffers (frames are small; bigger ones are read in
		// parts) and pooled write buffers, held only while gorilla writes a
		// control frame: an idle connection should cost little.
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		WriteBufferPool: writeBufferPool,
		CheckOrigin:     h.checkOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			http.Error(w, `{"error":{"code":"forbidden","message":"`+reason.Error()+`"}}`, status)
		},
	}
	if !h.checkOrigin(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"origin not allowed"}}`))
		return
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client
	}
	ws.SetReadLimit(protocol.FrameMaxBytes)
	c := newConn(h, ws)

	user, hash, code := h.hello(r.Context(), ws)
	if code != 0 {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, closeText(code)), time.Now().Add(time.Second))
		_ = ws.Close()
		close(c.done)
		return
	}
	c.user, c.tokenHash = user, hash
	if !h.register(c) {
		_ = ws.WriteMessage(websocket.TextMessage, protocol.Encode(protocol.Goodbye{Type: protocol.TypeGoodbye, Reason: "server shutting down", Reconnect: true}))
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		_ = ws.Close()
		close(c.done)
		return
	}
	h.presence.post(presenceOp{user: user, up: true})
	c.enqueue(protocol.Encode(protocol.Welcome{Type: protocol.TypeWelcome, User: user, Server: h.cfg.ServerID}))
	// The connection's reader runs on a goroutine of its own, owned by the
	// hub, and net/http's goroutine returns: its stack, deep with server
	// and router frames, would otherwise be held by every idle connection.
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer close(c.done)
		h.readLoop(c)
		c.closeWith(protocol.CloseNormal, "", false)
		h.unregister(c)
		select {
		case <-c.closed: // the flusher wrote the close frame and closed the socket
		case <-h.ctx.Done():
			// The hub is closing and its flushers may be gone before they
			// reached this connection.
			c.closeSocket()
		}
	}()
}

func closeText(code int) string {
	switch code {
	case protocol.CloseUnauthorized:
		return "unauthorized"
	case protocol.CloseTooLarge:
		return "frame too large"
	}
	return "try again later"
}

// hello reads and checks the first frame. It returns a close code on failure.
func (h *Hub) hello(ctx context.Context, ws *websocket.Conn) (protocol.User, []byte, int) {
	_ = ws.SetReadDeadline(time.Now().Add(h.cfg.HelloTimeout))
	_, data, err := ws.ReadMessage()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return protocol.User{}, nil, protocol.CloseTooLarge
		}
		return protocol.User{}, nil, protocol.CloseUnauthorized
	}
	f, err := protocol.DecodeClientFrame(data)
	if err != nil || f.Type != protocol.TypeHello {
		return protocol.User{}, nil, protocol.CloseUnauthorized
	}
	hash := auth.HashToken(f.Token)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	user, err := h.store.UserByToken(ctx, hash)
	if err != nil {
		if protocol.ErrorCode(err) == protocol.CodeUnauthorized {
			return protocol.User{}, nil, protocol.CloseUnauthorized
		}
		h.log.Error("hello: token lookup failed", "err", err)
		return protocol.User{}, nil, websocket.CloseTryAgainLater
	}
	return user, hash, 0
}

// readLoop reads frames until the connection ends. A pong or any frame
// proves the client alive and extends the read deadline.
func (h *Hub) readLoop(c *Conn) {
	alive := 2*h.cfg.PingInterval + h.cfg.WriteTimeout
	_ = c.ws.SetReadDeadline(time.Now().Add(alive))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(alive)) })
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return // closed, timed out, or over the read limit (gorilla answered 1009)
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(alive))
		framesIn.Inc()
		select {
		case h.jobs <- job{c: c, text: typ == websocket.TextMessage, data: data}:
		case <-h.ctx.Done():
			return
		}
		<-c.dispatched // one request at a time per connection, in order
	}
}

// job is one client frame for a worker.
type job struct {
	c    *Conn
	text bool
	data []byte
}

// worker handles client frames until the hub closes. Decoding and requests
// run here, not on the connections' readers, so that only a few goroutines
// grow the deep stacks of JSON, database and Redis calls; every idle reader
// keeps a small one.
func (h *Hub) worker() {
	for {
		select {
		case j := <-h.jobs:
			h.handleFrame(j.c, j.text, j.data)
			j.c.dispatched <- struct{}{}
		case <-h.ctx.Done():
			return
		}
	}
}

func (h *Hub) handleFrame(c *Conn, text bool, data []byte) {
	if !text {
		c.enqueue(protocol.Encode(protocol.NewErrorFrame("", protocol.Errorf(protocol.CodeBadRequest, "frames must be text"))))
		return
	}
	f, err := protocol.DecodeClientFrame(data)
	if err != nil {
		ref := f.Ref
		if protocol.ValidateRef(ref) != nil {
			ref = "" // never echo what is not a valid ref
		}
		c.enqueue(protocol.Encode(protocol.NewErrorFrame(ref, err)))
		return
	}
	h.dispatch(c, f)
}

func (h *Hub) dispatch(c *Conn, f protocol.ClientFrame) {
	ctx, cancel := context.WithTimeout(h.ctx, h.cfg.KafkaWriteTimeout+5*time.Second)
	defer cancel()
	var err error
	switch f.Type {
	case protocol.TypePing:
		c.enqueue(protocol.Pong)
	case protocol.TypeHello:
		err = protocol.Errorf(protocol.CodeBadRequest, "already authenticated")
	case protocol.TypeSubscribe:
		err = h.subscribe(ctx, c, f.Room, f.AfterSeq)
	case protocol.TypeUnsubscribe:
		h.unsubscribe(c, f.Room)
	case protocol.TypeSend:
		err = h.handleSend(ctx, c, f)
	case protocol.TypeTyping:
		err = h.typing(ctx, c, f.Room)
	case protocol.TypeRead:
		err = h.read(ctx, c, f.Room, *f.Seq)
	}
	if err != nil {
		if errors.Is(err, errClosed) {
			return
		}
		code := protocol.ErrorCode(err)
		if code == protocol.CodeInternal || code == protocol.CodeUnavailable {
			h.log.Error("request failed", "type", f.Type, "room", f.Room, "user", c.user.ID, "err", err)
		}
		c.enqueue(protocol.Encode(protocol.NewErrorFrame(f.Ref, err)))
	}
}
