package realtime_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/apps/server/internal/fanout"
	"github.com/rookery-chat/rookery/apps/server/internal/history"
	"github.com/rookery-chat/rookery/apps/server/internal/realtime"
	"github.com/rookery-chat/rookery/apps/server/internal/send"
	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/apps/server/internal/socket"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// core is servers sharing an in-memory broker, store and log: the whole
// real-time core without any service.
type core struct {
	t      *testing.T
	broker *bus.Memory
	store  *memStore
	log    *memLog
}

func newCore(t *testing.T) *core {
	st := newMemStore()
	return &core{t: t, broker: bus.NewMemory(500, time.Hour), store: st, log: &memLog{st: st, waiting: make(chan struct{}, 1)}}
}

func testOptions(id string) realtime.Options {
	return realtime.Options{
		ServerID: id, Workers: 4, HelloTimeout: 5 * time.Second, PingInterval: time.Minute,
		SendRate: 1000, SendBurst: 1000, PresenceTTL: 30 * time.Second, RequestTimeout: 5 * time.Second,
		Socket:  socket.Options{Queue: 1024, Delay: 10 * time.Millisecond, Timeout: 5 * time.Second},
		Send:    send.Options{DedupTTL: time.Hour, KafkaWriteTimeout: 300 * time.Millisecond, GapTimeout: 300 * time.Millisecond},
		Fanout:  fanout.Options{GapTimeout: 300 * time.Millisecond},
		History: history.Options{RecentMax: 500, ReplayMax: 1000},
	}
}

// server starts a hub behind an HTTP test server on loopback.
func (c *core) server(id string, tune ...func(*realtime.Options)) string {
	opts := testOptions(id)
	for _, f := range tune {
		f(&opts)
	}
	log := slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := realtime.NewHub(log, opts, c.store, c.broker, c.log)
	if err != nil {
		c.t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	c.t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return srv.URL
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func ptr(n int64) *int64 { return &n }

// pair connects ann to server a and bob to server b, both members of room
// r; bob subscribes to it, and ann too when annSubscribes.
func (c *core) pair(a, b string, annSubscribes bool) (ann, bob *servertest.WS) {
	c.store.addUser("ann", "ta", "r")
	c.store.addUser("bob", "tb", "r")
	ann, bob = servertest.DialURL(c.t, a, "ta"), servertest.DialURL(c.t, b, "tb")
	if annSubscribes {
		ann.Subscribe("r", nil)
	}
	bob.Subscribe("r", nil)
	return ann, bob
}

// expect reads the next messages of w and checks their seqs.
func expect(t *testing.T, w *servertest.WS, seqs ...int64) {
	t.Helper()
	for _, want := range seqs {
		if f := w.NextOf("message"); f.Int("seq") != want {
			t.Fatalf("got %s, want seq %d", f.Raw, want)
		}
	}
}

// expectNoMore checks that w has no message queued for it.
func expectNoMore(t *testing.T, w *servertest.WS) {
	t.Helper()
	if n := servertest.Count(w.UntilPong(), "message"); n != 0 {
		t.Fatalf("%d messages more than expected", n)
	}
}

// TestCoreCrossServer: a message sent on one server reaches the room's
// subscribers on both, once and in order, and a retried ref is the same
// message.
func TestCoreCrossServer(t *testing.T) {
	c := newCore(t)
	s1, s2 := c.server("s1"), c.server("s2")
	ann, bob := c.pair(s1, s2, true)
	for i, ref := range []string{"a", "b", "c"} {
		ack := ann.SendMsg("r", ref, "hello "+ref)
		if ack.Type() != "ack" || ack.Int("seq") != int64(i+1) {
			t.Fatalf("ack of %s: %s", ref, ack.Raw)
		}
	}
	expect(t, bob, 1, 2, 3)
	again := ann.SendMsg("r", "b", "hello b")
	if again.Type() != "ack" || again.Int("seq") != 2 {
		t.Fatalf("retried ref: %s", again.Raw)
	}
	expectNoMore(t, bob)
}

// TestCoreReplayAfterBrokerLoss: the broker loses every key; sends go on
// in a new epoch, live subscribers get every message once, and a client
// resuming from an old position gets what it missed from the log.
func TestCoreReplayAfterBrokerLoss(t *testing.T) {
	c := newCore(t)
	s1, s2 := c.server("s1"), c.server("s2")
	ann, bob := c.pair(s1, s2, true)
	var acked []int64
	for _, ref := range []string{"1", "2"} {
		acked = append(acked, ann.SendMsg("r", ref, ref).Int("seq"))
	}
	c.broker.Restart()
	for _, ref := range []string{"3", "4"} {
		ack := ann.SendMsg("r", ref, ref)
		if ack.Type() != "ack" {
			t.Fatalf("send after the loss: %s", ack.Raw)
		}
		acked = append(acked, ack.Int("seq"))
	}
	if acked[2] != bus.EpochBase(2)+1 || acked[3] != acked[2]+1 {
		t.Fatalf("seqs after the loss: %v", acked)
	}
	expect(t, bob, acked...)
	late := servertest.DialURL(t, s2, "tb")
	replay, sub := late.Subscribe("r", ptr(acked[0]))
	if len(replay) != 3 || replay[0].Int("seq") != acked[1] || replay[2].Int("seq") != acked[3] || sub.Int("last_seq") != acked[3] {
		t.Fatalf("replay after the loss: %d messages, subscribed %s", len(replay), sub.Raw)
	}
}

// TestCoreStalledSendHoldsNoWorker: a send waiting on a stalled log does
// not hold a reader goroutine (WORKERS): with a single one, another
// client's ping is answered meanwhile; and the send completes, once, when
// the log flows.
func TestCoreStalledSendHoldsNoWorker(t *testing.T) {
	c := newCore(t)
	s1 := c.server("s1", func(o *realtime.Options) {
		o.Workers = 1
		o.Send.KafkaWriteTimeout = time.Minute // the send waits, it does not give up
		o.RequestTimeout = 2 * time.Minute
	})
	ann, bob := c.pair(s1, s1, false)
	c.log.stall()
	ann.Send(map[string]string{"type": "send", "room": "r", "ref": "x", "body": "x"})
	select {
	case <-c.log.waiting:
	case <-time.After(servertest.Timeout):
		t.Fatal("the send never reached the log")
	}
	bob.UntilPong() // fails after servertest.Timeout if the send held the reader
	c.log.resume()
	if ack := ann.NextOf("ack"); ack.Str("ref") != "x" || ack.Int("seq") != 1 {
		t.Fatalf("ack after the stall: %s", ack.Raw)
	}
	expect(t, bob, 1)
	expectNoMore(t, bob)
}

// TestCoreBrokerLossBetweenProduceAndCommit: the broker loses every key
// after a send's message reached the log and before its commit; the
// client retries the ref at once. The retry must get the first copy's ack
// (the log has it), not a second message under a new seq.
func TestCoreBrokerLossBetweenProduceAndCommit(t *testing.T) {
	c := newCore(t)
	s1 := c.server("s1")
	ann, bob := c.pair(s1, s1, false)
	c.log.mu.Lock()
	c.log.afterProduce = c.broker.Restart
	c.log.mu.Unlock()
	var ack servertest.Frame
	deadline := time.Now().Add(servertest.Timeout)
	for {
		ack = ann.SendMsg("r", "x", "x")
		if ack.Type() == "ack" || time.Now().After(deadline) {
			break
		}
	}
	if ack.Type() != "ack" || ack.Int("seq") != 1 {
		t.Fatalf("ack of the retried ref: %s", ack.Raw)
	}
	expect(t, bob, 1)
	expectNoMore(t, bob)
	if n := c.store.refs("r", "x"); n != 1 {
		t.Fatalf("ref stored %d times", n)
	}
}

// TestCoreCloseCodes: the server alone writes the socket, and closes a
// connection that breaks the rules with the RFC's code.
func TestCoreCloseCodes(t *testing.T) {
	c := newCore(t)
	c.store.addUser("ann", "ta", "r")
	s1 := c.server("s1")
	for name, tc := range map[string]struct {
		typ  int
		data []byte
		code int
	}{
		"oversized":   {websocket.TextMessage, []byte(`{"type":"ping","x":"` + strings.Repeat("x", protocol.FrameMaxBytes) + `"}`), protocol.CloseTooLarge},
		"invalid utf": {websocket.TextMessage, []byte("{\"type\":\"ping\",\"x\":\"\xff\"}"), websocket.CloseInvalidFramePayloadData},
	} {
		t.Run(name, func(t *testing.T) {
			w := servertest.DialURL(t, s1, "ta")
			if err := w.Conn.WriteMessage(tc.typ, tc.data); err != nil {
				t.Fatal(err)
			}
			if code := w.CloseCode(); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
		})
	}
	// A bad token is refused with 4401 before anything else is written.
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s1, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := servertest.Wrap(t, conn)
	w.Send(map[string]string{"type": "hello", "token": "nope"})
	if code := w.CloseCode(); code != protocol.CloseUnauthorized {
		t.Fatalf("bad token: close code %d", code)
	}
}

// TestCoreSilentClientIsClosed: a client that stops reading and answers no
// ping (its machine lost power) is closed after 2 × PING_INTERVAL +
// WRITE_TIMEOUT without a byte from it; one that answers pings stays.
func TestCoreSilentClientIsClosed(t *testing.T) {
	c := newCore(t)
	c.store.addUser("ann", "ta", "r")
	c.store.addUser("bob", "tb", "r")
	s1 := c.server("s1", func(o *realtime.Options) {
		o.PingInterval = 100 * time.Millisecond
		o.Socket.Timeout = 200 * time.Millisecond
	})
	live := servertest.DialURL(t, s1, "tb") // its reader answers every ping
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s1, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]string{"type": "hello", "token": "ta"}); err != nil {
		t.Fatal(err)
	}
	// From here the socket is read raw: gorilla would answer the pings.
	nc := ws.NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(servertest.Timeout))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the silent client was not closed: %v", err)
		}
	}
	if !bytes.Contains(got, []byte{0x88, 0x02, 0x03, 0xE8}) { // close 1000
		t.Errorf("no close frame before the end: %q", got)
	}
	live.UntilPong()
}
