package realtime

import (
	"hash/maphash"
	"sync"

	"github.com/rookery-chat/rookery/apps/server/internal/ratelimit"
)

// registryShards spreads the connection registry over locks, so that a
// burst of connects, disconnects and user lookups does not queue on one.
const registryShards = 64

// registry indexes this server's connections by user. An event about a
// user (logout, membership) reads that user's connections only; nothing on
// the message path takes its locks.
type registry struct {
	seed   maphash.Seed
	shards [registryShards]regShard
}

type regShard struct {
	mu    sync.Mutex
	users map[string]*userConns
}

// userConns are one user's connections on this server and their shared
// send budget.
type userConns struct {
	conns  map[*client]struct{}
	bucket *userBucket
}

// userBucket is a user's send rate limit, shared by the user's connections.
type userBucket struct {
	mu      sync.Mutex
	b       *ratelimit.Bucket
	strikes int
}

func newRegistry() *registry {
	g := &registry{seed: maphash.MakeSeed()}
	for i := range g.shards {
		g.shards[i].users = make(map[string]*userConns)
	}
	return g
}

func (g *registry) shard(user string) *regShard {
	return &g.shards[maphash.String(g.seed, user)%registryShards]
}

// add registers c and returns its user's send bucket.
func (g *registry) add(c *client, rate float64, burst int) *userBucket {
	s := g.shard(c.user.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[c.user.ID]
	if u == nil {
		u = &userConns{conns: make(map[*client]struct{}), bucket: &userBucket{b: ratelimit.NewBucket(rate, burst)}}
		s.users[c.user.ID] = u
	}
	u.conns[c] = struct{}{}
	return u.bucket
}

// remove unregisters c; false when it was not registered.
func (g *registry) remove(c *client) bool {
	s := g.shard(c.user.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[c.user.ID]
	if u == nil {
		return false
	}
	if _, ok := u.conns[c]; !ok {
		return false
	}
	delete(u.conns, c)
	if len(u.conns) == 0 {
		delete(s.users, c.user.ID)
	}
	return true
}

// user returns the connections of a user.
func (g *registry) user(id string) []*client {
	s := g.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if u == nil {
		return nil
	}
	out := make([]*client, 0, len(u.conns))
	for c := range u.conns {
		out = append(out, c)
	}
	return out
}

// each calls fn for every connection, one shard at a time, outside the
// shard's lock.
func (g *registry) each(fn func(*client)) {
	for i := range g.shards {
		g.eachIn(i, fn)
	}
}

// eachIn calls fn for every connection of shard i, outside its lock.
func (g *registry) eachIn(i int, fn func(*client)) {
	s := &g.shards[i]
	s.mu.Lock()
	var cs []*client
	for _, u := range s.users {
		for c := range u.conns {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cs {
		fn(c)
	}
}

// all lists every connection.
func (g *registry) all() []*client {
	var out []*client
	g.each(func(c *client) { out = append(out, c) })
	return out
}
