package servertest_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
)

// TestHTTPTimeouts: a request body trickled in and an idle keep-alive
// connection are cut by the listener's timeouts, while a WebSocket, which
// outlives them by far, is not.
func TestHTTPTimeouts(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1", "HTTP_READ_TIMEOUT", "1s", "HTTP_WRITE_TIMEOUT", "1s", "HTTP_IDLE_TIMEOUT", "1s")
	_, tok := s.Signup(t, "ann")
	room := s.CreateRoom(t, tok, "timeouts", "public")
	ws := s.Dial(t, tok)
	ws.Subscribe(room.ID, nil)
	opened := time.Now()
	addr := strings.TrimPrefix(s.URL, "http://")

	// A body of 100 bytes trickled at 5 bytes/s would take 20 s.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.ReadAll(conn) // the answer, then EOF, or EOF
	}()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
trickle:
	for range 99 {
		select {
		case <-cut:
			break trickle
		case <-tick.C:
			if _, err := io.WriteString(conn, " "); err != nil {
				break trickle
			}
		}
	}
	<-cut
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("a trickled body held the connection %v", took)
	}

	// An idle keep-alive connection is closed.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start = time.Now()
	_ = idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want EOF", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("an idle connection stayed %v", took)
	}

	// The WebSocket, open longer than every timeout, still works both ways.
	if time.Since(opened) < 1500*time.Millisecond {
		t.Fatalf("the checks above took %v: too little to outlive the timeouts", time.Since(opened))
	}
	if ack := ws.SendMsg(room.ID, "late", "still here"); ack.Type() != "ack" {
		t.Fatalf("WebSocket after the timeouts: %s", ack.Raw)
	}
	ws.UntilPong()
}
