package socket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// recorder is a Handler that keeps what it got, finishing every other
// message later on a goroutine of its own (as a send does), and checks
// that a connection's messages never overlap.
type recorder struct {
	t     *testing.T
	async bool

	mu    sync.Mutex
	msgs  map[*Conn][]string
	ended map[*Conn]int
	busy  map[*Conn]*atomic.Bool
	endCh chan *Conn
}

func newRecorder(t *testing.T, async bool) *recorder {
	return &recorder{t: t, async: async, msgs: map[*Conn][]string{}, ended: map[*Conn]int{},
		busy: map[*Conn]*atomic.Bool{}, endCh: make(chan *Conn, 1000)}
}

func (r *recorder) Frame(c *Conn, text bool, data []byte) bool {
	r.mu.Lock()
	b := r.busy[c]
	if b == nil {
		b = new(atomic.Bool)
		r.busy[c] = b
	}
	r.msgs[c] = append(r.msgs[c], string(data))
	n := len(r.msgs[c])
	r.mu.Unlock()
	if !b.CompareAndSwap(false, true) {
		r.t.Errorf("two messages of one connection handled at once")
	}
	if !text {
		c.Enqueue([]byte(`{"type":"error","binary":true}`))
	}
	if r.async && n%2 == 0 {
		go func() {
			if rand.IntN(2) == 0 {
				time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond) // a request taking a while
			}
			b.Store(false)
			c.Next()
		}()
		return false
	}
	b.Store(false)
	return true
}

func (r *recorder) Ended(c *Conn) {
	r.mu.Lock()
	r.ended[c]++
	r.mu.Unlock()
	r.endCh <- c
}

// readServer serves WebSockets whose first message is recorded like the
// others, with Idle as given.
func readServer(t *testing.T, h *recorder, idle time.Duration) (url string, conns chan *Conn) {
	t.Helper()
	w := NewWriters(Options{Queue: 64, Delay: time.Millisecond, Timeout: time.Second})
	r, err := NewReaders(ReadOptions{Workers: 4, Idle: idle})
	if err != nil {
		t.Fatal(err)
	}
	conns = make(chan *Conn, 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		c := &Conn{}
		if err := w.Upgrade(c, rw, req, &websocket.Upgrader{}); err != nil {
			return
		}
		text, data, err := c.ReadFirst(time.Now().Add(5 * time.Second))
		if err != nil {
			return
		}
		h.Frame(c, text, data)
		conns <- c
		if err := c.Serve(r, h); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(func() {
		srv.Close()
		r.Close()
		w.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http"), conns
}

func dial(t *testing.T, url string) (*websocket.Conn, net.Conn) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws, ws.NetConn()
}

// writeChopped writes b in pieces of random sizes, so frames arrive split
// anywhere.
func writeChopped(t *testing.T, nc net.Conn, b []byte) {
	for len(b) > 0 {
		n := min(len(b), 1+rand.IntN(3000))
		if _, err := nc.Write(b[:n]); err != nil {
			t.Error(err)
			return
		}
		b = b[n:]
	}
}

func waitEnded(t *testing.T, h *recorder, c *Conn) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-h.endCh:
			if e == c {
				return
			}
		case <-deadline:
			t.Fatal("Ended was not called")
		}
	}
}

// Messages of many clients, written split at random points, some
// fragmented, some over the read buffer, arrive whole, in order, one at a
// time per connection, with half of them finished asynchronously.
func TestReadersDeliverInOrder(t *testing.T) {
	h := newRecorder(t, true)
	url, conns := readServer(t, h, time.Minute)
	const clients, per = 20, 150
	want := make([][]string, clients)
	var wg sync.WaitGroup
	servers := make([]*Conn, clients)
	for i := range clients {
		ws, nc := dial(t, url)
		_ = ws
		var out []byte
		key := [4]byte{byte(i), 1, 2, 3}
		for j := range per {
			msg := fmt.Sprintf(`{"client":%d,"n":%d,"pad":"%s"}`, i, j, strings.Repeat("x", rand.IntN(200)))
			if j%25 == 7 {
				msg += strings.Repeat("y", 3*readBuf) // spans several reads
			}
			want[i] = append(want[i], msg)
			if j%10 == 3 { // fragmented, with a ping in the middle
				out = append(out, clientFrame(false, opText, []byte(msg[:5]), key)...)
				out = append(out, clientFrame(true, opPing, []byte("p"), key)...)
				out = append(out, clientFrame(false, opContinuation, []byte(msg[5:9]), key)...)
				out = append(out, clientFrame(true, opContinuation, []byte(msg[9:]), key)...)
				continue
			}
			out = append(out, clientFrame(true, opText, []byte(msg), key)...)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeChopped(t, nc, out)
		}()
		servers[i] = <-conns // once its first message came
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		done := 0
		for i, c := range servers {
			if len(h.msgs[c]) == per {
				done++
				for j, m := range h.msgs[c] {
					if m != want[i][j] {
						h.mu.Unlock()
						t.Fatalf("client %d message %d: %.60q, want %.60q", i, j, m, want[i][j])
					}
				}
			}
		}
		h.mu.Unlock()
		if done == clients {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d clients got every message", done, clients)
		}
		time.Sleep(5 * time.Millisecond) // polling the recorder, bounded by the deadline
	}
}

// Each way a connection can end closes it with the RFC's code and calls
// Ended exactly once.
func TestReadersEndings(t *testing.T) {
	h := newRecorder(t, false)
	url, conns := readServer(t, h, 300*time.Millisecond)
	key := [4]byte{9, 8, 7, 6}
	hello := clientFrame(true, opText, []byte("hello"), key)
	closeCode := func(ws *websocket.Conn) int {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, _, err := ws.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			if err != nil {
				return -1
			}
		}
	}
	for _, tc := range []struct {
		name string
		send []byte
		code int
	}{
		{"client close", clientFrame(true, opClose, []byte{0x0F, 0xA0}, key), 4000},
		{"unmasked", []byte{0x81, 0x01, 'x'}, websocket.CloseProtocolError},
		{"too large", clientFrame(true, opText, make([]byte, 65*1024), key), websocket.CloseMessageTooBig},
		{"invalid UTF-8", clientFrame(true, opText, []byte{0xff, 0xfe}, key), websocket.CloseInvalidFramePayloadData},
		{"continuation first", clientFrame(true, opContinuation, []byte("x"), key), websocket.CloseProtocolError},
		{"silent past Idle", nil, websocket.CloseNormalClosure},
	} {
		ws, nc := dial(t, url)
		if _, err := nc.Write(append(bytes.Clone(hello), tc.send...)); err != nil {
			t.Fatal(err)
		}
		c := <-conns
		if code := closeCode(ws); code != tc.code {
			t.Errorf("%s: close %d, want %d", tc.name, code, tc.code)
		}
		waitEnded(t, h, c)
	}

	// A ping is answered while the connection lives; a client that goes
	// away, and a connection the server kills, end too.
	ws, nc := dial(t, url)
	pong := make(chan string, 1)
	ws.SetPongHandler(func(s string) error { pong <- s; return nil })
	if _, err := nc.Write(append(bytes.Clone(hello), clientFrame(true, opPing, []byte("are you there"), key)...)); err != nil {
		t.Fatal(err)
	}
	c := <-conns
	go func() { _, _, _ = ws.ReadMessage() }()
	select {
	case s := <-pong:
		if s != "are you there" {
			t.Errorf("pong %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
	nc.Close()
	waitEnded(t, h, c)

	_, nc = dial(t, url)
	if _, err := nc.Write(hello); err != nil {
		t.Fatal(err)
	}
	c = <-conns
	c.Kill()
	waitEnded(t, h, c)

	h.mu.Lock()
	defer h.mu.Unlock()
	for c, n := range h.ended {
		if n != 1 {
			t.Errorf("Ended %d times for %p", n, c)
		}
	}
	if len(h.ended) != 8 {
		t.Errorf("%d connections ended, want 8", len(h.ended))
	}
}

// A client still sending as the server closes gets every frame and the
// close frame, not a reset: the server reads until the client closes its
// side. Without that, the server's close with the client's bytes unread
// resets the connection and drops what its send buffer still holds.
func TestCloseFrameSurvivesClientWrites(t *testing.T) {
	h := newRecorder(t, false)
	url, conns := readServer(t, h, time.Minute)
	key := [4]byte{1, 2, 3, 4}
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(32 << 10) // the server's frames wait in its send buffer
		}
		return c, err
	}}
	const frames = 400
	for i := 0; i < 5; i++ {
		ws, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		nc := ws.NetConn()
		if _, err := nc.Write(clientFrame(true, opText, []byte("hello"), key)); err != nil {
			t.Fatal(err)
		}
		c := <-conns
		for j := 0; j < frames; j++ {
			c.Enqueue([]byte(`{"type":"message","pad":"` + strings.Repeat("x", 500) + `"}`))
		}
		c.CloseWith(4408, "too slow", true)
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { // a client that keeps talking while it reads
			defer close(done)
			frame := clientFrame(true, opText, []byte(`{"type":"ping"}`), key)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := nc.Write(frame); err != nil {
					return
				}
				time.Sleep(time.Millisecond) // pacing the chatter, not synchronisation
			}
		}()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := 0
		for err == nil {
			if _, _, err = ws.ReadMessage(); err == nil {
				got++
			}
		}
		close(stop)
		<-done
		ws.Close()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4408 || got != frames {
			t.Fatalf("try %d: the client read %d of %d frames and ended with %v, want close 4408", i, got, frames, err)
		}
	}
}
