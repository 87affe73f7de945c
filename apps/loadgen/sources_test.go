package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// TestDialerSpreadsLoopbackSources: connections to a loopback server come
// from different addresses of 127.0.0.0/8, one after another; a server
// elsewhere is dialed as usual.
func TestDialerSpreadsLoopbackSources(t *testing.T) {
	var mu sync.Mutex
	var from []string
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from = append(from, host)
		mu.Unlock()
		if ws, err := up.Upgrade(w, r, nil); err == nil {
			ws.Close()
		}
	}))
	defer srv.Close()
	d := dialer(srv.URL)
	for range 3 {
		ws, _, err := d.DialContext(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	for _, a := range from {
		ip := net.ParseIP(a).To4()
		if ip == nil || ip[0] != 127 || ip[1] != 0 || ip[2] != 0 || ip[3] < 1 || ip[3] > loopbackSources {
			t.Fatalf("connection from %s", a)
		}
		seen[a] = true
	}
	if len(from) != 3 || len(seen) != 3 {
		t.Fatalf("three connections came from %v", from)
	}
	if dialer("http://rookery.example:8080").NetDialContext != nil {
		t.Fatal("a server elsewhere is dialed from loopback addresses")
	}
}
