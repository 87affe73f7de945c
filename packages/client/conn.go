package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Conn is one WebSocket to a server, after hello. Read it from one
// goroutine; Write is safe from any.
type Conn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	welcome protocol.Welcome
	// rbuf is the reading goroutine's: a message is read into it and
	// copied out at its size, instead of into a slice grown from 512 bytes
	// per message (gorilla's ReadMessage), which was a quarter of a
	// resuming client's CPU.
	rbuf bytes.Buffer
}

// rbufKeep bounds the read buffer kept between messages: one huge message
// does not pin its size for the life of the connection. It holds a replay
// frame (protocol.ReplayBatchBytes) with the room to grow that reading
// one needs.
const rbufKeep = 2 * protocol.ReplayBatchBytes

// Options tune Dial.
type Options struct {
	// Dialer opens the socket (default: 10 s handshake timeout).
	Dialer *websocket.Dialer
	// Header is sent with the upgrade request (an Origin, say).
	Header http.Header
}

// Dial connects to the server at base (http or https URL), says hello with
// token and waits for welcome.
func Dial(ctx context.Context, base, token string, opts ...Options) (*Conn, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	d := o.Dialer
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}
	}
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws"
	ws, _, err := d.DialContext(ctx, url, o.Header)
	if err != nil {
		return nil, fmt.Errorf("rookery: dial %s: %w", url, err)
	}
	c := &Conn{ws: ws}
	if err := c.Write(map[string]string{"type": protocol.TypeHello, "token": token}); err != nil {
		ws.Close()
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	} else {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	f, err := c.Read()
	if err == nil && f.Type != protocol.TypeWelcome {
		err = fmt.Errorf("rookery: hello answered with %.100s", f.Raw)
	}
	if err == nil {
		err = f.Decode(&c.welcome)
	}
	if err != nil {
		ws.Close()
		return nil, err
	}
	_ = ws.SetReadDeadline(time.Time{})
	return c, nil
}

// Welcome is the server's welcome: who the connection is, and where.
func (c *Conn) Welcome() protocol.Welcome { return c.welcome }

// WebSocket is the underlying connection, for tuning it.
func (c *Conn) WebSocket() *websocket.Conn { return c.ws }

// Read returns the next frame. After an error the connection is done;
// CloseCode says how the server closed it.
func (c *Conn) Read() (Frame, error) {
	data, err := c.next()
	if err != nil {
		return Frame{}, err
	}
	return parseFrame(bytes.Clone(data))
}

// next reads the next message into the read buffer; the slice is valid
// until the next read.
func (c *Conn) next() ([]byte, error) {
	if c.rbuf.Cap() > rbufKeep {
		c.rbuf = bytes.Buffer{}
	}
	c.rbuf.Reset()
	_, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	if _, err := c.rbuf.ReadFrom(r); err != nil {
		return nil, err
	}
	return c.rbuf.Bytes(), nil
}

// Write sends a frame: a []byte as is, anything else as JSON.
func (c *Conn) Write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	if b, ok := v.([]byte); ok {
		err = c.ws.WriteMessage(websocket.TextMessage, b)
	} else {
		err = c.ws.WriteJSON(v)
	}
	if err != nil {
		return fmt.Errorf("rookery: write: %w", err)
	}
	return nil
}

// Close closes the connection without a close handshake.
func (c *Conn) Close() error { return c.ws.Close() }

// CloseCode is the close code a read error carries (see docs/protocol.md),
// or -1 when the connection ended without a close frame.
func CloseCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// Subscribe subscribes to room, resuming after seq when after is not nil,
// and reads up to the subscribed frame, returning the replayed messages
// (oldest first; other replayed events are left out) and the subscribed
// frame. For a Conn read by this goroutine only; a Session subscribes for
// itself.
func (c *Conn) Subscribe(ctx context.Context, room string, after *int64) ([]protocol.Message, protocol.Subscribed, error) {
	if err := c.Write(subscribeFrame(room, after)); err != nil {
		return nil, protocol.Subscribed{}, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.ws.SetReadDeadline(dl)
		defer c.ws.SetReadDeadline(time.Time{})
	}
	var replay []protocol.Message
	for {
		// Decoded here and not kept, so read in place (see next).
		data, err := c.next()
		if err != nil {
			return nil, protocol.Subscribed{}, err
		}
		f, err := parseFrame(data)
		if err != nil {
			return nil, protocol.Subscribed{}, err
		}
		switch f.Type {
		case protocol.TypeMessage:
			if replay, err = appendMessage(replay, f, room); err != nil {
				return nil, protocol.Subscribed{}, err
			}
		case protocol.TypeReplay:
			r, frames, err := f.Replay()
			if err != nil {
				return nil, protocol.Subscribed{}, err
			}
			for _, g := range frames {
				if r != room || g.Type != protocol.TypeMessage {
					continue
				}
				if replay, err = appendMessage(replay, g, room); err != nil {
					return nil, protocol.Subscribed{}, err
				}
			}
		case protocol.TypeSubscribed:
			s, err := f.Subscribed()
			if err == nil && s.Room == room {
				return replay, s, nil
			}
		case protocol.TypeError:
			return nil, protocol.Subscribed{}, frameError(f)
		}
	}
}

// appendMessage appends the message frame f carries when it is room's.
func appendMessage(replay []protocol.Message, f Frame, room string) ([]protocol.Message, error) {
	m, err := f.Message()
	if err != nil {
		return replay, err
	}
	if m.Room == room {
		replay = append(replay, m)
	}
	return replay, nil
}

// subscribeFrame asks for the replay in replay frames: a resume then
// costs both ends a few large frames instead of one per missed message. A
// server that does not know batches sends one frame each, which the
// readers take as well.
func subscribeFrame(room string, after *int64) map[string]any {
	m := map[string]any{"type": protocol.TypeSubscribe, "room": room, "batch": true}
	if after != nil {
		m["after_seq"] = *after
	}
	return m
}

// NewRef returns a fresh ref for a send: 16 random bytes, hex.
func NewRef() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Open wraps a WebSocket whose hello its caller handles (a test of the
// handshake, say).
func Open(ws *websocket.Conn) *Conn { return &Conn{ws: ws} }
