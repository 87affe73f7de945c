package bus

import (
	"context"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Presence keys, in presenceParts partitions (a user's partition is a hash
// of its id), so that each script touches one Redis Cluster slot:
//
//	pres:{pN}:user  sorted set: server id -> expiry (unix ms) of that server's claim
//	pres:index:{pN} sorted set: user id -> latest expiry of any claim (for sweeping)
//
// A user is online while any claim is unexpired. Servers renew their claims
// in one pipelined round trip per heartbeat: the cost per connected user is
// constant, whatever the number of rooms or room members. A server that dies
// stops renewing; its claims expire, and any server's sweep finds them in
// pres:index and announces the users offline, exactly once.

// presenceParts is how many partitions presence is spread over: enough to
// spread the sweep index over a cluster's shards.
const presenceParts = 16

// presencePart is user's partition.
func presencePart(user string) int { return int(crc32.ChecksumIEEE([]byte(user)) % presenceParts) }

func partTag(part int) string { return "{p" + strconv.Itoa(part) + "}" }

// PresenceUser is the per-user claims key.
func (k Keys) PresenceUser(user string) string {
	return k.Prefix + "pres:" + partTag(presencePart(user)) + ":" + user
}

// PresenceIndex is the sweep index of a partition.
func (k Keys) PresenceIndex(part int) string { return k.Prefix + "pres:index:" + partTag(part) }

// presenceKeys are the two keys a presence script of user touches.
func (k Keys) presenceKeys(user string) []string {
	return []string{k.PresenceUser(user), k.PresenceIndex(presencePart(user))}
}

// claim adds or renews a server's claim; returns 1 if the user was offline.
var claim = redis.NewScript(`
local live = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], '+inf')
local wasOnline = live > 0
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
if wasOnline then return 0 end
return 1
`)

// release drops a server's claim; returns 1 if the user is now offline.
var release = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
return 0
`)

// sweepOne removes a user whose claims all expired; 1 if this call did.
var sweepOne = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('ZADD', KEYS[2], redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2], ARGV[2])
  return 0
end
return redis.call('ZREM', KEYS[2], ARGV[2])
`)

// Claim marks user online through server until ttl from now; it reports
// whether the user just came online.
func (r *Redis) Claim(ctx context.Context, server, user string, ttl time.Duration) (bool, error) {
	now := time.Now()
	n, err := claim.Run(ctx, r.rdb, r.keys.presenceKeys(user),
		server, now.Add(ttl).UnixMilli(), now.UnixMilli(), user).Int()
	if err != nil {
		return false, unavailable("presence claim", err)
	}
	return n == 1, nil
}

// Renew extends the claims of many users in one round trip.
func (r *Redis) Renew(ctx context.Context, server string, users []string, ttl time.Duration) error {
	if len(users) == 0 {
		return nil
	}
	exp := time.Now().Add(ttl).UnixMilli()
	pipe := r.rdb.Pipeline()
	for _, u := range users {
		pipe.ZAdd(ctx, r.keys.PresenceUser(u), redis.Z{Score: float64(exp), Member: server})
		pipe.PExpireAt(ctx, r.keys.PresenceUser(u), time.UnixMilli(exp))
		pipe.ZAddGT(ctx, r.keys.PresenceIndex(presencePart(u)), redis.Z{Score: float64(exp), Member: u})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("presence renew", err)
	}
	return nil
}

// Release drops server's claim on user; it reports whether the user is now
// offline everywhere.
func (r *Redis) Release(ctx context.Context, server, user string) (bool, error) {
	n, err := release.Run(ctx, r.rdb, r.keys.presenceKeys(user),
		server, time.Now().UnixMilli(), user).Int()
	if err != nil {
		return false, unavailable("presence release", err)
	}
	return n == 1, nil
}

// Sweep finds users whose every claim expired (their servers died) and
// returns those this call removed: each is announced by one server only.
func (r *Redis) Sweep(ctx context.Context, limit int64) ([]string, error) {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	var gone []string
	for part := 0; part < presenceParts && int64(len(gone)) < limit; part++ {
		users, err := r.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: r.keys.PresenceIndex(part), ByScore: true,
			Start: "-inf", Stop: now, Count: limit - int64(len(gone))}).Result()
		if err != nil {
			return gone, unavailable("presence sweep", err)
		}
		for _, u := range users {
			n, err := sweepOne.Run(ctx, r.rdb, r.keys.presenceKeys(u), now, u).Int()
			if err != nil {
				return gone, unavailable("presence sweep", err)
			}
			if n == 1 {
				gone = append(gone, u)
			}
		}
	}
	return gone, nil
}

// Online reports which of users are online now, in one round trip.
func (r *Redis) Online(ctx context.Context, users []string) (map[string]bool, error) {
	now := "(" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(users))
	for i, u := range users {
		cmds[i] = pipe.ZCount(ctx, r.keys.PresenceUser(u), now, "+inf")
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, unavailable("presence online", err)
	}
	out := make(map[string]bool, len(users))
	for i, c := range cmds {
		if n, _ := c.Result(); n > 0 {
			out[users[i]] = true
		}
	}
	return out, nil
}
