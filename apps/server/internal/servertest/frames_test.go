package servertest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/protocol"
)

func TestBadFramesGetErrorsAndKeepTheConnection(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1")
	_, tok := s.Signup(t, "alice")
	_, otherTok := s.Signup(t, "mallory")
	room := s.CreateRoom(t, tok, "r", protocol.Private)
	_ = otherTok
	w := s.Dial(t, tok)
	cases := []struct {
		name  string
		frame string
		code  string
		ref   string
	}{
		{"malformed json", `{"type":`, "bad_request", ""},
		{"not an object", `[1,2]`, "bad_request", ""},
		{"unknown type", `{"type":"dance"}`, "bad_request", ""},
		{"missing type", `{"room":"x"}`, "bad_request", ""},
		{"subscribe without room", `{"type":"subscribe"}`, "bad_request", ""},
		{"send without ref", `{"type":"send","room":"` + room.ID + `","body":"x"}`, "bad_request", ""},
		{"send bad ref", `{"type":"send","room":"` + room.ID + `","ref":"a b","body":"x"}`, "bad_request", ""},
		{"send empty body", `{"type":"send","room":"` + room.ID + `","ref":"e1","body":"   "}`, "bad_request", "e1"},
		{"send body too long", `{"type":"send","room":"` + room.ID + `","ref":"e2","body":"` + strings.Repeat("x", 4001) + `"}`, "too_large", "e2"},
		{"send to unknown room", `{"type":"send","room":"00000000-0000-0000-0000-000000000000","ref":"e3","body":"x"}`, "not_found", "e3"},
		{"read without seq", `{"type":"read","room":"` + room.ID + `"}`, "bad_request", ""},
		{"second hello", `{"type":"hello","token":"x"}`, "bad_request", ""},
	}
	for _, tc := range cases {
		w.Send(tc.frame)
		f := w.Next()
		if f.Type() != "error" || f.Str("code") != tc.code || f.Str("ref") != tc.ref || f.Str("message") == "" {
			t.Errorf("%s: got %s, want code %s ref %q", tc.name, f.Raw, tc.code, tc.ref)
		}
	}
	// 4000 characters (not bytes) is allowed.
	if f := w.SendMsg(room.ID, "ok1", strings.Repeat("é", 4000)); f.Type() != "ack" {
		t.Errorf("4000-character body: %s", f.Raw)
	}
	w.Send(`{"type":"ping"}`)
	if f := w.Next(); f.Type() != "pong" {
		t.Fatalf("connection unusable after errors: %s", f.Raw)
	}

	// A non-member cannot subscribe to, send to, or read a private room.
	m := s.Dial(t, otherTok)
	for _, frame := range []string{
		`{"type":"subscribe","room":"` + room.ID + `"}`,
		`{"type":"send","room":"` + room.ID + `","ref":"x1","body":"hi"}`,
		`{"type":"typing","room":"` + room.ID + `"}`,
		`{"type":"read","room":"` + room.ID + `","seq":1}`,
	} {
		m.Send(frame)
		if f := m.Next(); f.Type() != "error" || f.Str("code") != "not_found" {
			t.Errorf("non-member %s: %s", frame, f.Raw)
		}
	}
	pub := s.CreateRoom(t, tok, "pub", protocol.Public)
	m.Send(`{"type":"subscribe","room":"` + pub.ID + `"}`)
	if f := m.Next(); f.Type() != "error" || f.Str("code") != "forbidden" {
		t.Errorf("non-member of public room: %s", f.Raw)
	}
}

func TestUnauthorizedAndOversizedAreClosed(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1", "HELLO_TIMEOUT", "300ms")
	_, tok := s.Signup(t, "alice")
	closeCode := func(first string) int {
		conn, _, err := s.DialRaw(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		w := servertest.Wrap(t, conn)
		if first != "" {
			w.Send(first)
		}
		return w.CloseCode()
	}
	if code := closeCode(`{"type":"hello","token":"wrong"}`); code != protocol.CloseUnauthorized {
		t.Errorf("bad token: close %d", code)
	}
	if code := closeCode(`{"type":"ping"}`); code != protocol.CloseUnauthorized {
		t.Errorf("first frame not hello: close %d", code)
	}
	if code := closeCode(`not json`); code != protocol.CloseUnauthorized {
		t.Errorf("garbage hello: close %d", code)
	}
	if code := closeCode(""); code != protocol.CloseUnauthorized {
		t.Errorf("no hello within the timeout: close %d", code)
	}
	w := s.Dial(t, tok)
	w.Send(`{"type":"ping","pad":"` + strings.Repeat("x", 65*1024) + `"}`)
	if code := w.CloseCode(); code != protocol.CloseTooLarge {
		t.Errorf("oversized frame: close %d", code)
	}
	// Logging out closes the token's connections on every server.
	w = s.Dial(t, tok)
	if r := s.Do(t, "POST", "/api/v1/auth/logout", tok, nil); r.Status != 204 {
		t.Fatalf("logout: %d", r.Status)
	}
	if code := w.CloseCode(); code != protocol.CloseUnauthorized {
		t.Errorf("after logout: close %d", code)
	}
}

func TestOriginCheck(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1", "ALLOWED_ORIGINS", "https://chat.example")
	for origin, ok := range map[string]bool{
		"https://chat.example":  true,
		"https://evil.example":  false,
		"null":                  false,
		s.URL:                   true, // same origin
		"https://chat.example.": false,
	} {
		_, resp, err := s.DialRaw(t, http.Header{"Origin": []string{origin}})
		if ok && err != nil {
			t.Errorf("origin %s refused: %v", origin, err)
		}
		if !ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Errorf("origin %s accepted (err %v)", origin, err)
		}
	}
}

func TestSendRateLimit(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1", "SEND_RATE", "0.001", "SEND_BURST", "2")
	_, tok := s.Signup(t, "alice")
	room := s.CreateRoom(t, tok, "r", protocol.Public)
	w := s.Dial(t, tok)
	for i, want := range []string{"ack", "ack", "error"} {
		f := w.SendMsg(room.ID, "r"+string(rune('a'+i)), "x")
		if f.Type() != want || (want == "error" && f.Str("code") != "rate_limited") {
			t.Fatalf("send %d: %s", i, f.Raw)
		}
	}
	// A client that ignores rate_limited is disconnected with 4429. Once
	// the server has closed, further writes may be refused (reset): that
	// ends the flood, and is not what is checked.
	for i := 0; i < 20; i++ {
		if err := w.Conn.WriteJSON(map[string]string{"type": "send", "room": room.ID, "ref": "x" + string(rune('a'+i)), "body": "x"}); err != nil {
			break
		}
	}
	if code := w.CloseCode(); code != protocol.CloseRateLimited {
		t.Fatalf("close %d, want 4429", code)
	}
}

// TestSlowConsumerIsClosed: a client that stops reading is closed with 4408
// once its queue is full, while the others keep receiving everything.
func TestSlowConsumerIsClosed(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1", "SEND_QUEUE", "64", "WRITE_TIMEOUT", "60s")
	_, aTok := s.Signup(t, "alice")
	_, bTok := s.Signup(t, "bob")
	room := s.CreateRoom(t, aTok, "r", protocol.Public)
	s.Do(t, "POST", "/api/v1/rooms/"+room.ID+"/join", bTok, nil)

	// The slow client: a tiny receive buffer, and nobody reading.
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (netConn, error) {
		return dialSmall(ctx, network, addr)
	}}
	slow, _, err := d.Dial(s.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteJSON(map[string]string{"type": "hello", "token": bTok}); err != nil {
		t.Fatal(err)
	}
	if err := slow.WriteJSON(map[string]string{"type": "subscribe", "room": room.ID}); err != nil {
		t.Fatal(err)
	}
	fast := s.Dial(t, bTok)
	fast.Subscribe(room.ID, nil)
	// 12 MB in all: more than the kernel buffers between the server and
	// the stalled client can hold (4 MB send buffer at most here).
	body := strings.Repeat("€", 4000) // 12 KB a frame
	const senders, each = 4, 250
	const n = senders * each
	var wg sync.WaitGroup
	for k := 0; k < senders; k++ {
		sender := s.Dial(t, aTok)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				sender.Send(map[string]string{"type": "send", "room": room.ID, "ref": "m" + itoa(k*each+i), "body": body})
			}
			for i := 0; i < each; {
				if f := sender.Next(); f.Type() == "ack" {
					i++
				} else if f.Type() == "error" {
					t.Errorf("send: %s", f.Raw)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		fast.NextOf("message")
	}
	// Now read the slow connection: it ends with 4408.
	deadline := time.Now().Add(servertest.Timeout)
	_ = slow.SetReadDeadline(deadline)
	got := 0
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			got++
			continue
		}
		if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != protocol.CloseTooSlow {
			t.Fatalf("slow client ended with %v after %d frames, want close 4408", err, got)
		}
		break
	}
}

func TestDrainSaysGoodbye(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1")
	_, tok := s.Signup(t, "alice")
	w := s.Dial(t, tok)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { s.App.Drain(ctx); close(done) }()
	f := w.NextOf("goodbye")
	if f.M["reconnect"] != true || f.Str("reason") == "" {
		t.Fatalf("goodbye: %s", f.Raw)
	}
	if code := w.CloseCode(); code != protocol.CloseGoingAway {
		t.Fatalf("close %d, want 1001", code)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("drain did not finish")
	}
	// New connections are turned away while draining.
	conn, _, err := s.DialRaw(t, nil)
	if err == nil {
		w := servertest.Wrap(t, conn)
		w.Send(map[string]string{"type": "hello", "token": tok})
		if code := w.CloseCode(); code != protocol.CloseGoingAway {
			t.Fatalf("connection during drain: close %d", code)
		}
	}
}

// TestCORS: the API answers cross-origin calls only from ALLOWED_ORIGINS;
// without it, no foreign page may call it (same-origin only).
func TestCORS(t *testing.T) {
	c := servertest.NewCluster(t)
	open := c.Start(t, "s1", "ALLOWED_ORIGINS", "https://chat.example")
	closed := c.Start(t, "s2")
	allowed := func(s *servertest.Server, method, origin string) string {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+"/api/v1/auth/login", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	for _, method := range []string{http.MethodOptions, http.MethodPost} {
		if got := allowed(open, method, "https://chat.example"); got != "https://chat.example" {
			t.Errorf("%s from the allowed origin: Access-Control-Allow-Origin %q", method, got)
		}
		if got := allowed(open, method, "https://evil.example"); got != "" {
			t.Errorf("%s from a foreign origin: Access-Control-Allow-Origin %q", method, got)
		}
		if got := allowed(closed, method, "https://evil.example"); got != "" {
			t.Errorf("%s without ALLOWED_ORIGINS: Access-Control-Allow-Origin %q", method, got)
		}
	}
}

// TestConnectionsPerAddress: one address holds at most WS_CONNS_PER_ADDR
// WebSockets; the next upgrade gets 429 rate_limited, and a closed
// connection gives its place back.
func TestConnectionsPerAddress(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1", "WS_CONNS_PER_ADDR", "2")
	_, tok := s.Signup(t, "alice")
	first := s.Dial(t, tok)
	s.Dial(t, tok)
	_, resp, err := s.DialRaw(t, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third connection from one address: err %v, response %v", err, resp)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	first.Conn.Close()
	deadline := time.Now().Add(servertest.Timeout)
	for {
		conn, _, err := s.DialRaw(t, nil)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed connection's place was not given back: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the server, bounded by the deadline
	}
}

// TestAdminEndpointsOffThePublicPort: with PUBLIC_METRICS=false, metrics
// and the profiler are served by the admin handler (ADMIN_ADDR) only; the
// probes by both. By default /metrics is on the public port too, where
// the contract lists it; the profiler never is.
func TestAdminEndpointsOffThePublicPort(t *testing.T) {
	c := servertest.NewCluster(t)
	byDefault := c.Start(t, "s0", "PPROF", "true")
	s := c.Start(t, "s1", "PPROF", "true", "PUBLIC_METRICS", "false")
	get := func(h http.Handler, path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec.Code, rec.Body.String()
	}
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		if code, _ := get(s.App.Handler(), path); code != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", path, code)
		}
		if code, _ := get(s.App.AdminHandler(), path); code != http.StatusOK {
			t.Errorf("admin %s: %d", path, code)
		}
	}
	if code, _ := get(byDefault.App.Handler(), "/metrics"); code != http.StatusOK {
		t.Errorf("public /metrics by default: %d", code)
	}
	if code, _ := get(byDefault.App.Handler(), "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("public /debug/pprof/ by default: %d", code)
	}
	if _, body := get(s.App.AdminHandler(), "/metrics"); !strings.Contains(body, "rookery_ws_connections") {
		t.Error("admin /metrics has no rookery metrics")
	}
	for _, h := range []http.Handler{s.App.Handler(), s.App.AdminHandler()} {
		if code, _ := get(h, "/healthz"); code != http.StatusOK {
			t.Errorf("/healthz: %d", code)
		}
		if code, _ := get(h, "/readyz"); code != http.StatusOK {
			t.Errorf("/readyz: %d", code)
		}
	}
}
