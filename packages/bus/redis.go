package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// OpenRedis connects to the Redis at url and checks it answers. The URL
// carries the ACL user and password (redis://user:password@host:port/db);
// rediss:// turns TLS on, trusting the PEM CA in caFile (empty: the
// system's roots).
func OpenRedis(ctx context.Context, url, caFile string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("bus: redis url: %w", err)
	}
	if opt.TLSConfig != nil {
		tc, err := TLSConfig(caFile)
		if err != nil {
			return nil, err
		}
		tc.ServerName = opt.TLSConfig.ServerName
		opt.TLSConfig = tc
	}
	// Fail fast: a sender waiting on a dead Redis must hear "unavailable"
	// promptly rather than hang.
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	opt.MaxRetries = 1
	c := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("bus: redis ping: %w", err)
	}
	return c, nil
}

// Keys builds the Redis key and channel names under a prefix, so that
// several clusters (or tests) can share one Redis.
type Keys struct{ Prefix string }

// room keys share the hash tag {roomID}: one cluster slot per room.
func (k Keys) roomKey(room, what string) string { return k.Prefix + what + ":{" + room + "}" }

// Seq is the room's sequence counter.
func (k Keys) Seq(room string) string { return k.roomKey(room, "seq") }

// Recent is the room's recent-message cache (a sorted set by seq).
func (k Keys) Recent(room string) string { return k.roomKey(room, "recent") }

// Run is the id of the Redis run (process) that seeded the room's counter.
func (k Keys) Run(room string) string { return k.roomKey(room, "run") }

// Fly is the room's in-flight seqs: seq -> lease expiry (ms, Redis clock).
func (k Keys) Fly(room string) string { return k.roomKey(room, "fly") }

// Channel is the room's pub/sub channel.
func (k Keys) Channel(room string) string { return k.roomKey(room, "ch") }

// Dedup is the send-deduplication record of (user, ref) in room; it lives
// in the room's slot, so one script can claim the ref and allocate the seq.
func (k Keys) Dedup(room, user, ref string) string {
	return k.Prefix + "dedup:{" + room + "}:" + user + ":" + ref
}

// Limit is a rate-limit window counter.
func (k Keys) Limit(name string) string { return k.Prefix + "rl:" + name }

// Control is the cluster-wide control channel (membership changes, token
// revocations).
func (k Keys) Control() string { return k.Prefix + "control" }

// Redis is the Broker on a Redis server.
type Redis struct {
	rdb       *redis.Client
	keys      Keys
	recentMax int64
	recentTTL time.Duration
}

// NewRedis returns the Redis adapter. recentMax and recentTTL bound each
// room's recent-message cache by count and by age.
func NewRedis(rdb *redis.Client, keys Keys, recentMax int64, recentTTL time.Duration) *Redis {
	return &Redis{rdb: rdb, keys: keys, recentMax: recentMax, recentTTL: recentTTL}
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Publish sends an ephemeral frame on the room's channel.
func (r *Redis) Publish(ctx context.Context, room string, frame []byte) error {
	if err := r.rdb.Publish(ctx, r.keys.Channel(room), frame).Err(); err != nil {
		return unavailable("publish", err)
	}
	return nil
}

// PublishControl sends a payload on the cluster-wide control channel.
func (r *Redis) PublishControl(ctx context.Context, payload []byte) error {
	if err := r.rdb.Publish(ctx, r.keys.Control(), payload).Err(); err != nil {
		return unavailable("control publish", err)
	}
	return nil
}

// incr adds one to a window's count and sets its expiry on the first event.
var incr = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`)

// Incr counts one event of key in its window.
func (r *Redis) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	res, err := incr.Run(ctx, r.rdb, []string{r.keys.Limit(key)}, window.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, 0, unavailable("rate window", err)
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}
