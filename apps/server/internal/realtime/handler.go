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

	"github.com/rookery-chat/rookery/apps/server/internal/ratelimit"
	"github.com/rookery-chat/rookery/apps/server/internal/socket"
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
	for _, o := range h.opts.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	return false
}

// ServeHTTP upgrades GET /ws and runs the connection until it ends.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.checkOrigin(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"origin not allowed"}}`))
		return
	}
	// Past the cap, one address gets 429 before any handshake work: a
	// flood of sockets from one place cannot exhaust the server's files.
	addr := ratelimit.ClientAddr(r, h.opts.TrustForwardedFor)
	if !h.addrs.Acquire(addr) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "10")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error":{"code":"rate_limited","message":"too many connections from this address"}}`))
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			h.addrs.Release(addr)
		}
	}()
	up := websocket.Upgrader{
		// Small read buffers (frames are small; bigger ones are read in
		// parts); gorilla never writes after the handshake.
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
		WriteBufferPool: writeBufferPool,
		CheckOrigin:     h.checkOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			http.Error(w, `{"error":{"code":"bad_request","message":"`+reason.Error()+`"}}`, status)
		},
	}
	c := newClient()
	if err := h.writers.Upgrade(&c.Conn, w, r, &up); err != nil {
		return // Upgrade answered the client
	}
	user, hash, code := h.hello(r.Context(), &c.Conn)
	if code != 0 {
		c.CloseWith(code, closeText(code), false)
		return
	}
	c.user, c.tokenHash = user, hash
	if !h.register(c) {
		c.Enqueue(protocol.Encode(protocol.Goodbye{Type: protocol.TypeGoodbye, Reason: "server shutting down", Reconnect: true}))
		c.CloseWith(protocol.CloseGoingAway, "server shutting down", true)
		return
	}
	h.presence.post(presenceOp{user: user, up: true})
	c.Enqueue(protocol.Encode(protocol.Welcome{Type: protocol.TypeWelcome, User: user, Server: h.opts.ServerID}))
	// The connection's reader runs on a goroutine of its own, owned by the
	// hub, and net/http's goroutine returns: its stack, deep with server
	// and router frames, would otherwise be held by every idle connection.
	handedOff = true
	h.goWork(func() {
		defer h.addrs.Release(addr)
		defer close(c.done)
		h.readLoop(c)
		c.CloseWith(protocol.CloseNormal, "", false)
		h.unregister(c)
		select {
		case <-c.Closed(): // the writers wrote the close frame and closed the socket
		case <-h.ctx.Done():
			c.Kill()
		}
	})
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
func (h *Hub) hello(ctx context.Context, c *socket.Conn) (protocol.User, []byte, int) {
	_ = c.SetReadDeadline(time.Now().Add(h.opts.HelloTimeout))
	text, data, err := c.Read()
	if err != nil {
		return protocol.User{}, nil, protocol.CloseUnauthorized // Read closed an oversized frame with 1009
	}
	f, err := protocol.DecodeClientFrame(data)
	if !text || err != nil || f.Type != protocol.TypeHello {
		return protocol.User{}, nil, protocol.CloseUnauthorized
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	user, hash, err := h.opts.Auth.Authenticate(ctx, f.Token)
	if err != nil {
		switch protocol.ErrorCode(err) {
		case protocol.CodeConflict: // a JWT's username is someone else's
			h.log.Warn("hello: token refused", "err", err)
			return protocol.User{}, nil, protocol.CloseUnauthorized
		case protocol.CodeUnauthorized:
			h.log.Debug("hello: token refused", "err", err)
			return protocol.User{}, nil, protocol.CloseUnauthorized
		}
		h.log.Error("hello: token lookup failed", "err", err)
		return protocol.User{}, nil, websocket.CloseTryAgainLater
	}
	return user, hash, 0
}

// readLoop reads frames until the connection ends. A pong or any frame
// proves the client alive and extends the read deadline. One request of a
// connection is handled at a time, in order.
func (h *Hub) readLoop(c *client) {
	alive := 2*h.opts.PingInterval + h.opts.Socket.Timeout
	_ = c.SetReadDeadline(time.Now().Add(alive))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(alive)) })
	for {
		text, data, err := c.Read()
		if err != nil {
			return // closed, timed out, or broke the protocol (Read closed it)
		}
		_ = c.SetReadDeadline(time.Now().Add(alive))
		framesIn.Inc()
		select {
		case h.jobs <- job{c: c, text: text, data: data}:
		case <-h.ctx.Done():
			return
		}
		select {
		case <-c.dispatched:
		case <-h.ctx.Done():
			return
		}
	}
}

// job is one client frame for a worker.
type job struct {
	c    *client
	text bool
	data []byte
}

// slowSlots bounds the slow requests (send, subscribe) running off the
// workers at once; past it a worker runs one itself (back-pressure).
const slowSlots = 8192

// worker handles client frames until the hub closes. Decoding and fast
// requests run here, not on the connections' readers, so that only a few
// goroutines grow the deep stacks of JSON, database and Redis calls; every
// idle reader keeps a small one. A slow request (a send waits for Kafka, a
// subscribe for its replay) gets a goroutine of its own, so that it never
// holds a worker while other clients wait.
func (h *Hub) worker() {
	for {
		select {
		case j := <-h.jobs:
			h.handleFrame(j)
		case <-h.ctx.Done():
			return
		}
	}
}

func (h *Hub) handleFrame(j job) {
	c := j.c
	if !j.text {
		c.Enqueue(protocol.Encode(protocol.NewErrorFrame("", protocol.Errorf(protocol.CodeBadRequest, "frames must be text"))))
		c.dispatched <- struct{}{}
		return
	}
	f, err := protocol.DecodeClientFrame(j.data)
	if err != nil {
		ref := f.Ref
		if protocol.ValidateRef(ref) != nil {
			ref = "" // never echo what is not a valid ref
		}
		c.Enqueue(protocol.Encode(protocol.NewErrorFrame(ref, err)))
		c.dispatched <- struct{}{}
		return
	}
	switch f.Type {
	case protocol.TypeSend, protocol.TypeSubscribe, protocol.TypeEdit, protocol.TypeDelete, protocol.TypeReact:
		select {
		case h.slow <- struct{}{}:
			h.goWork(func() {
				defer func() { <-h.slow }()
				h.dispatch(c, f)
				c.dispatched <- struct{}{}
			})
			return
		default:
		}
	}
	h.dispatch(c, f)
	c.dispatched <- struct{}{}
}

func (h *Hub) dispatch(c *client, f protocol.ClientFrame) {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RequestTimeout)
	defer cancel()
	var err error
	ctx, span := startRequest(ctx, c, f)
	defer func() { endRequest(span, err) }()
	switch f.Type {
	case protocol.TypePing:
		c.Enqueue(protocol.Pong)
	case protocol.TypeHello:
		err = protocol.Errorf(protocol.CodeBadRequest, "already authenticated")
	case protocol.TypeSubscribe:
		err = h.subscribe(ctx, c, f.Room, f.AfterSeq)
	case protocol.TypeUnsubscribe:
		c.removeSub(f.Room)
	case protocol.TypeSend:
		err = h.send(ctx, c, f)
	case protocol.TypeEdit, protocol.TypeDelete, protocol.TypeReact:
		err = h.event(ctx, c, f)
	case protocol.TypeTyping:
		err = h.typing(ctx, c, f.Room)
	case protocol.TypeRead:
		err = h.read(ctx, c, f.Room, *f.Seq)
	}
	if err != nil {
		if errors.Is(err, socket.ErrClosed) {
			return
		}
		code := protocol.ErrorCode(err)
		if code == protocol.CodeInternal || code == protocol.CodeUnavailable {
			h.log.Error("request failed", "type", f.Type, "room", f.Room, "user", c.user.ID, "err", err)
		}
		c.Enqueue(protocol.Encode(protocol.NewErrorFrame(f.Ref, err)))
	}
}
