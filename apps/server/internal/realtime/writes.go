package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// authorizeWrite is authorize for requests that add to a room's log as
// the user: in a direct room, also that the other member does not block
// the user.
func (h *Hub) authorizeWrite(ctx context.Context, room string, user protocol.User) error {
	if err := h.authorize(ctx, room, user); err != nil {
		return err
	}
	peer, err := h.peers.get(ctx, memberKey{room, user.ID}, func(ctx context.Context) (string, error) {
		return h.store.DirectPeer(ctx, room, user)
	})
	if err != nil || peer == "" {
		return err
	}
	blocked, err := h.blocks.get(ctx, memberKey{peer, user.ID}, func(ctx context.Context) (bool, error) {
		return h.store.Blocks(ctx, peer, user.ID)
	})
	if err != nil {
		return err
	}
	if blocked {
		return protocol.Errorf(protocol.CodeForbidden, "this user does not accept direct messages from you")
	}
	return nil
}

// BlocksChanged tells every server that blocker blocked or unblocked
// blocked.
func (h *Hub) BlocksChanged(ctx context.Context, blocker, blocked string) {
	h.blocks.invalidate(memberKey{blocker, blocked})
	h.publishControl(ctx, control{Kind: "block", User: blocker, Room: blocked})
}

// ttlCache remembers successful lookups for ttl, up to max entries (then
// it starts over: an entry is one query to refetch).
type ttlCache[K comparable, V any] struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration, max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, max: max, m: make(map[K]ttlEntry[V])}
}

func (c *ttlCache[K, V]) get(ctx context.Context, k K, fetch func(context.Context) (V, error)) (V, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Before(e.exp) {
		return e.v, nil
	}
	v, err := fetch(ctx)
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = ttlEntry[V]{v: v, exp: now.Add(c.ttl)}
	c.mu.Unlock()
	return v, nil
}

func (c *ttlCache[K, V]) invalidate(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
