package bus

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig says how to reach Redis.
type RedisConfig struct {
	// URL is redis://[user:password@]host:port/db, or rediss:// for TLS;
	// the user is a Redis ACL user. In cluster mode it names one node and
	// more may follow as query parameters: redis://host:port?addr=host2:port2.
	URL string
	// Cluster: the URL names nodes of a Redis Cluster.
	Cluster bool
	// Sentinel: the URL names Redis Sentinels and the master they watch:
	// redis://sentinel1:26379/0?master_name=rookery&addr=sentinel2:26379.
	Sentinel bool
	// CAFile is the PEM CA a rediss:// server must chain to (empty: the
	// system's roots).
	CAFile string
}

// Fail fast: a sender waiting on a dead Redis must hear "unavailable"
// promptly rather than hang.
const (
	redisTimeout = 2 * time.Second
	redisRetries = 1
)

// OpenRedis connects to Redis, a single server or a cluster, and checks it
// answers.
func OpenRedis(ctx context.Context, cfg RedisConfig) (redis.UniversalClient, error) {
	var c redis.UniversalClient
	if cfg.Cluster {
		opt, err := redis.ParseClusterURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("bus: redis cluster url: %w", err)
		}
		if opt.TLSConfig, err = redisTLS(opt.TLSConfig, cfg.CAFile); err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		// Redirections follow a failover or a slot migration.
		opt.MaxRetries, opt.MaxRedirects = redisRetries, 8
		c = redis.NewClusterClient(opt)
	} else if cfg.Sentinel {
		opt, err := redis.ParseFailoverURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("bus: redis sentinel url: %w", err)
		}
		if opt.MasterName == "" {
			return nil, fmt.Errorf("bus: redis sentinel url: no master_name")
		}
		if opt.TLSConfig, err = redisTLS(opt.TLSConfig, cfg.CAFile); err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		opt.MaxRetries = redisRetries
		// A client that follows the master the Sentinels elect; to the
		// broker it is one server, whose run id changes at a failover.
		c = redis.NewFailoverClient(opt)
	} else {
		opt, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("bus: redis url: %w", err)
		}
		if opt.TLSConfig, err = redisTLS(opt.TLSConfig, cfg.CAFile); err != nil {
			return nil, err
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
		opt.MaxRetries = redisRetries
		c = redis.NewClient(opt)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("bus: redis ping: %w", err)
	}
	return c, nil
}

// redisTLS replaces the TLS config a rediss:// URL asked for with one that
// trusts caFile; nil stays nil (no TLS).
func redisTLS(from *tls.Config, caFile string) (*tls.Config, error) {
	if from == nil {
		return nil, nil
	}
	tc, err := TLSConfig(caFile)
	if err != nil {
		return nil, err
	}
	tc.ServerName = from.ServerName
	return tc, nil
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

// Redis is the Broker on a Redis server or a Redis Cluster. On a cluster
// every script call touches one slot (a room's keys share the room's hash
// tag; presence keys share a partition's), room channels are sharded
// (SPUBLISH, and one subscriber connection per shard), and the control
// channel stays a plain, cluster-wide one.
type Redis struct {
	rdb       redis.UniversalClient
	cluster   *redis.ClusterClient // nil on a single server
	keys      Keys
	recentMax int64
	recentTTL time.Duration
	commit    *redis.Script
}

// NewRedis returns the Redis adapter. recentMax and recentTTL bound each
// room's recent-message cache by count and by age.
func NewRedis(rdb redis.UniversalClient, keys Keys, recentMax int64, recentTTL time.Duration) *Redis {
	r := &Redis{rdb: rdb, keys: keys, recentMax: recentMax, recentTTL: recentTTL, commit: commitScript("PUBLISH")}
	if c, ok := rdb.(*redis.ClusterClient); ok {
		r.cluster, r.commit = c, commitScript("SPUBLISH")
	}
	return r
}

// publish sends a payload on a room channel: sharded on a cluster.
func (r *Redis) publish(ctx context.Context, room string, payload []byte) error {
	if r.cluster != nil {
		return r.cluster.SPublish(ctx, r.keys.Channel(room), payload).Err()
	}
	return r.rdb.Publish(ctx, r.keys.Channel(room), payload).Err()
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
	if err := r.publish(ctx, room, frame); err != nil {
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
