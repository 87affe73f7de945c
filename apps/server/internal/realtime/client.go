package realtime

import (
	"sync"

	"github.com/rookery-chat/rookery/apps/server/internal/fanout"
	"github.com/rookery-chat/rookery/apps/server/internal/socket"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// client is one authenticated connection: its socket, its user and the
// rooms it is subscribed to.
type client struct {
	socket.Conn // first: the fields a delivery touches share its cache lines
	user        protocol.User
	tokenHash   []byte
	bucket      *userBucket

	hub  *Hub
	addr string        // the client's address, whose connection slot it holds
	done chan struct{} // closed once the connection has ended

	mu   sync.Mutex
	subs map[string]*fanout.Sub
}

var (
	_ fanout.Subscriber = (*client)(nil)
	_ socket.Handler    = (*client)(nil)
)

// newClient returns a client whose Conn is still to be upgraded.
func newClient() *client {
	return &client{done: make(chan struct{}), subs: make(map[string]*fanout.Sub)}
}

// UserID implements fanout.Subscriber.
func (c *client) UserID() string { return c.user.ID }

// TooSlow implements fanout.Subscriber.
func (c *client) TooSlow() { c.CloseWith(protocol.CloseTooSlow, "too far behind", false) }

func (c *client) subscribed(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.subs[room]
	return ok
}

// claim reserves the room for a subscription being made; false when it is
// taken.
func (c *client) claim(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.subs[room]; ok {
		return false
	}
	c.subs[room] = nil
	return true
}

// setSub completes a claim (s nil: abandons it).
func (c *client) setSub(room string, s *fanout.Sub) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == nil {
		delete(c.subs, room)
		return
	}
	c.subs[room] = s
}

// removeSub ends the subscription to room, if any.
func (c *client) removeSub(room string) {
	c.mu.Lock()
	s := c.subs[room]
	if s != nil {
		delete(c.subs, room)
	}
	c.mu.Unlock()
	if s != nil {
		s.Leave()
	}
}

// takeSubs removes and returns every complete subscription.
func (c *client) takeSubs() []*fanout.Sub {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*fanout.Sub, 0, len(c.subs))
	for room, s := range c.subs {
		if s != nil {
			out = append(out, s)
			delete(c.subs, room)
		}
	}
	return out
}
