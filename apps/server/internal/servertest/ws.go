package servertest

import (
	"context"
	"encoding/json"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/packages/client"
)

// Frame is one server frame, decoded loosely.
type Frame struct {
	Raw []byte
	M   map[string]any
}

// Type is the frame's type.
func (f Frame) Type() string { s, _ := f.M["type"].(string); return s }

// Str returns a string field.
func (f Frame) Str(k string) string { s, _ := f.M[k].(string); return s }

// Int returns a number field.
func (f Frame) Int(k string) int64 { n, _ := f.M[k].(json.Number).Int64(); return n }

// Decode decodes the frame into v.
func (f Frame) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(f.Raw, v); err != nil {
		t.Fatalf("decode %s: %v", f.Raw, err)
	}
}

// WS is a test client connection; a goroutine reads every frame into a
// buffer the test consumes with Next.
type WS struct {
	t      testing.TB
	c      *client.Conn
	Conn   *websocket.Conn
	frames chan Frame
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// WSURL is the server's WebSocket URL.
func (s *Server) WSURL() string { return "ws" + strings.TrimPrefix(s.URL, "http") + "/ws" }

// DialRaw opens a WebSocket without saying hello.
func (s *Server) DialRaw(t testing.TB, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(s.WSURL(), header)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

// Dial connects, says hello with token and waits for welcome.
func (s *Server) Dial(t testing.TB, token string) *WS {
	t.Helper()
	return DialURL(t, s.URL, token)
}

// DialURL is Dial for a server given by its base URL (one running in
// another process, say).
func DialURL(t testing.TB, base, token string) *WS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, err := client.Dial(ctx, base, token)
	if err != nil {
		t.Fatalf("dial %s: %v", base, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return wrap(t, c)
}

// Wrap starts reading an open connection whose hello the test handles.
func Wrap(t testing.TB, c *websocket.Conn) *WS { return wrap(t, client.Open(c)) }

func wrap(t testing.TB, c *client.Conn) *WS {
	w := &WS{t: t, c: c, Conn: c.WebSocket(), frames: make(chan Frame, 100_000), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			f, err := c.Read()
			if err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			data := f.Raw
			d := json.NewDecoder(strings.NewReader(string(data)))
			d.UseNumber()
			var m map[string]any
			if err := d.Decode(&m); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
			w.frames <- Frame{Raw: data, M: m}
		}
	}()
	return w
}

// Send writes a frame (a string or []byte is sent as is).
func (w *WS) Send(v any) {
	w.t.Helper()
	if b, ok := v.(string); ok {
		v = []byte(b)
	}
	if err := w.c.Write(v); err != nil {
		w.t.Fatalf("send: %v", err)
	}
}

// Timeout bounds every wait of a test client.
var Timeout = 15 * time.Second

// Next returns the next frame, failing the test after Timeout.
func (w *WS) Next() Frame {
	w.t.Helper()
	select {
	case f := <-w.frames:
		return f
	case <-w.done:
		select {
		case f := <-w.frames:
			return f
		default:
		}
		w.t.Fatalf("connection ended while waiting for a frame: %v", w.Err())
	case <-time.After(Timeout):
		w.t.Fatalf("no frame within %s; goroutines:\n%s", Timeout, stacks())
	}
	return Frame{}
}

// NextOf skips frames until one of the given type.
func (w *WS) NextOf(typ string) Frame {
	w.t.Helper()
	for {
		if f := w.Next(); f.Type() == typ {
			return f
		}
	}
}

// Err is the read error that ended the connection, if it ended.
func (w *WS) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// CloseCode waits until the server closes the connection and returns the
// close code, skipping frames.
func (w *WS) CloseCode() int {
	w.t.Helper()
	select {
	case <-w.done:
	case <-time.After(Timeout):
		w.t.Fatalf("connection not closed within %s", Timeout)
	}
	return client.CloseCode(w.Err())
}

// Drain returns every frame received so far without waiting.
func (w *WS) Drain() []Frame {
	var out []Frame
	for {
		select {
		case f := <-w.frames:
			out = append(out, f)
		default:
			return out
		}
	}
}

// Subscribe subscribes to room and returns the replayed events (messages,
// edits, deletions, reactions) and the subscribed frame.
func (w *WS) Subscribe(room string, after *int64) ([]Frame, Frame) {
	w.t.Helper()
	m := map[string]any{"type": "subscribe", "room": room}
	if after != nil {
		m["after_seq"] = *after
	}
	w.Send(m)
	var replay []Frame
	for {
		f := w.Next()
		switch f.Type() {
		case "message", "edit", "delete", "reaction":
			replay = append(replay, f)
		case "subscribed":
			return replay, f
		case "error":
			w.t.Fatalf("subscribe %s: %s", room, f.Raw)
		}
	}
}

// SendMsg sends a message and waits for its ack (or error), returning it.
// Frames of other types that arrive meanwhile are kept for Next.
func (w *WS) SendMsg(room, ref, body string) Frame {
	w.t.Helper()
	return w.Request(map[string]any{"type": "send", "room": room, "ref": ref, "body": body})
}

// Request sends a frame with a "ref" and waits for its ack (or error),
// returning it. Frames of other types that arrive meanwhile are kept for
// Next.
func (w *WS) Request(frame map[string]any) Frame {
	w.t.Helper()
	ref, _ := frame["ref"].(string)
	w.Send(frame)
	var held []Frame
	defer func() {
		// Put back what we skipped, in order, ahead of anything newer.
		rest := w.Drain()
		for _, f := range append(held, rest...) {
			w.frames <- f
		}
	}()
	for {
		f := w.Next()
		if (f.Type() == "ack" || f.Type() == "error") && f.Str("ref") == ref {
			return f
		}
		held = append(held, f)
	}
}

// stacks dumps every goroutine, to show what a hung test waits on.
func stacks() string {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}

// UntilPong sends a ping and returns every frame that arrives before its
// pong. Frames are queued in order, so this shows all that a server had
// sent the client by the time it read the ping.
func (w *WS) UntilPong() []Frame {
	w.t.Helper()
	w.Send(map[string]string{"type": "ping"})
	var out []Frame
	for {
		f := w.Next()
		if f.Type() == "pong" {
			return out
		}
		out = append(out, f)
	}
}

// Count counts frames of a type.
func Count(frames []Frame, typ string) int {
	n := 0
	for _, f := range frames {
		if f.Type() == typ {
			n++
		}
	}
	return n
}
