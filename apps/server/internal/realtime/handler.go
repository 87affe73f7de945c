package realtime

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/apps/server/internal/ratelimit"
	"github.com/rookery-chat/rookery/apps/server/internal/socket"
	"github.com/rookery-chat/rookery/packages/protocol"
)

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
		// No buffers of gorilla's own: it only does the handshake, with
		// the ones net/http hands over (socket.Writers.Upgrade).
		CheckOrigin: h.checkOrigin,
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
	if !h.register(c, protocol.Encode(protocol.Welcome{Type: protocol.TypeWelcome, User: user, Server: h.opts.ServerID})) {
		c.Enqueue(protocol.Encode(protocol.Goodbye{Type: protocol.TypeGoodbye, Reason: "server shutting down", Reconnect: true}))
		c.CloseWith(protocol.CloseGoingAway, "server shutting down", true)
		return
	}
	h.presence.post(presenceOp{user: user, up: true})
	// From here the readers have the connection: no goroutine waits on it,
	// and net/http's returns (its stack, deep with server and router
	// frames, would otherwise be held by every idle connection).
	c.hub, c.addr = h, addr
	if err := c.Serve(h.readers, c); err != nil {
		h.log.Error("serve connection", "err", err)
		c.Kill()
		h.unregister(c)
		close(c.done)
		return
	}
	handedOff = true
}

// Frame implements socket.Handler: one client frame, on a reader
// goroutine. Decoding and fast requests run there; a slow request (a send
// waits for Kafka, a subscribe for its replay) gets a goroutine of its
// own, so that it never holds a reader while other clients wait, and the
// connection's next frame is read once it is done.
func (c *client) Frame(_ *socket.Conn, text bool, data []byte) bool {
	framesIn.Inc()
	return c.hub.handleFrame(c, text, data)
}

// Ended implements socket.Handler: the client is gone and its socket closed.
func (c *client) Ended(*socket.Conn) {
	c.hub.unregister(c)
	c.hub.addrs.Release(c.addr)
	close(c.done)
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
	text, data, err := c.ReadFirst(time.Now().Add(h.opts.HelloTimeout))
	if err != nil {
		return protocol.User{}, nil, protocol.CloseUnauthorized // ReadFirst closed an oversized frame with 1009
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

// slowSlots bounds the slow requests (send, subscribe) running off the
// readers at once; past it a reader runs one itself (back-pressure).
const slowSlots = 8192

// handleFrame handles one client frame; false when a goroutine of its own
// finishes it and then resumes the connection's reading.
func (h *Hub) handleFrame(c *client, text bool, data []byte) bool {
	if !text {
		c.Enqueue(protocol.Encode(protocol.NewErrorFrame("", protocol.Errorf(protocol.CodeBadRequest, "frames must be text"))))
		return true
	}
	f, err := protocol.DecodeClientFrame(data)
	if err != nil {
		ref := f.Ref
		if protocol.ValidateRef(ref) != nil {
			ref = "" // never echo what is not a valid ref
		}
		c.Enqueue(protocol.Encode(protocol.NewErrorFrame(ref, err)))
		return true
	}
	switch f.Type {
	case protocol.TypeSend, protocol.TypeSubscribe, protocol.TypeEdit, protocol.TypeDelete, protocol.TypeReact:
		select {
		case h.slow <- struct{}{}:
			h.spares.Go(func() {
				defer func() { <-h.slow }()
				h.dispatch(c, f)
				c.Next()
			})
			return false
		default:
		}
	}
	h.dispatch(c, f)
	return true
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
		err = h.subscribe(ctx, c, f.Room, f.AfterSeq, f.Batch)
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
