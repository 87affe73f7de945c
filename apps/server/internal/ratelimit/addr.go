package ratelimit

import (
	"net"
	"net/http"
	"strings"
	"sync"
)

// ClientAddr is the caller's IP address, for per-address limits: the first
// X-Forwarded-For entry when trustForwardedFor (behind a proxy that sets
// it), else the peer's address.
func ClientAddr(r *http.Request, trustForwardedFor bool) string {
	if trustForwardedFor {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			return strings.TrimSpace(first)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Concurrent caps how many things (connections) one key (a client address)
// may hold at once. The zero value of Max means no cap.
type Concurrent struct {
	Max int

	mu   sync.Mutex
	held map[string]int
}

// Acquire takes one for key; false when key already holds Max.
func (c *Concurrent) Acquire(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held == nil {
		c.held = map[string]int{}
	}
	if c.Max > 0 && c.held[key] >= c.Max {
		return false
	}
	c.held[key]++
	return true
}

// Release gives back one that Acquire took for key.
func (c *Concurrent) Release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[key] <= 1 {
		delete(c.held, key) // the map holds only addresses with connections
		return
	}
	c.held[key]--
}
