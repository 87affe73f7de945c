package realtime

import (
	"context"
	"sync"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// memberCache remembers membership answers for a short while, so the send
// path does not ask PostgreSQL on every message. Entries are dropped when
// the control channel announces a membership change, and expire anyway.
type memberCache struct {
	mu  sync.Mutex
	m   map[memberKey]memberEntry
	ttl time.Duration
	max int
}

type memberKey struct{ room, user string }

type memberEntry struct {
	err error // nil: member; else the forbidden / not_found answer
	exp time.Time
}

func newMemberCache(ttl time.Duration, max int) *memberCache {
	return &memberCache{m: make(map[memberKey]memberEntry), ttl: ttl, max: max}
}

// check answers from the cache or asks fetch, caching only definite answers.
func (c *memberCache) check(ctx context.Context, room, user string, fetch func(context.Context) error) error {
	k := memberKey{room, user}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Before(e.exp) {
		return e.err
	}
	err := fetch(ctx)
	switch protocol.ErrorCode(err) {
	case protocol.CodeForbidden, protocol.CodeNotFound:
	default:
		if err != nil {
			return err // unavailable or internal: do not remember
		}
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		// Bounded: start over rather than grow. Entries are cheap to refetch.
		clear(c.m)
	}
	c.m[k] = memberEntry{err: err, exp: now.Add(c.ttl)}
	c.mu.Unlock()
	return err
}

func (c *memberCache) invalidate(room, user string) {
	c.mu.Lock()
	delete(c.m, memberKey{room, user})
	c.mu.Unlock()
}
