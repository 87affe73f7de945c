package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// EpochBits is how many low bits of a seq count messages within one epoch.
// An epoch starts whenever a room's Redis counter has to be created: the
// first time, after Redis lost or rolled back its data, and when a room
// fences the seqs of its current epoch. Its number comes from PostgreSQL,
// so a seq is never handed out twice. Epoch 1 starts at seq 1.
const EpochBits = 32

// EpochBase is the counter value from which epoch e counts.
func EpochBase(epoch int64) int64 { return (epoch - 1) << EpochBits }

// EpochOf is the epoch of a seq, or of a counter value.
func EpochOf(seq int64) int64 { return seq>>EpochBits + 1 }

// IsEpochStart reports whether seq is the first of an epoch: no message of
// the same epoch can precede it.
func IsEpochStart(seq int64) bool { return seq&(1<<EpochBits-1) == 1 }

// Seeder starts a new epoch for room and calls set with it, while holding
// whatever lock makes epochs of one room start in order. When set reports
// that the epoch was not needed after all (another seeder got there first),
// the seeder must forget it, so epochs are not burnt by races.
type Seeder func(ctx context.Context, room string, set func(epoch int64) (used bool, err error)) error

// Lease is how long a send owns its seq without renewing: a room's gap is
// fenced only once the owner of the missing seq stopped renewing it.
const Lease = 3 * time.Second

// luaRun is the id of the Redis process running the script. It changes
// with every restart, restore and failover: a counter recorded under
// another run may be older than seqs already handed out, so it is not used.
const luaRun = `local function run() return string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') end
`

// luaEpoch is the epoch of a seq or counter value (exact below 2^53).
const luaEpoch = `local function epoch(v) return math.floor(tonumber(v) / 4294967296) + 1 end
`

// newEpoch installs a new epoch's counter. KEYS: seq, run, fly, recent. ARGV: the
// epoch's base, and the epoch to fence (0: only replace a counter that is
// missing or from another run). It returns 0 when nothing was needed, -1
// when it seeded, or the first seq of the fenced epoch, taken for the
// fence's own record. Either way the in-flight leases of older epochs go:
// their commits will be refused. A recent cache written under another run
// goes too: it may lack messages acknowledged after its snapshot, and
// replays must then read PostgreSQL instead of trusting it.
var newEpoch = redis.NewScript(luaRun + luaEpoch + `
local c = redis.call('GET', KEYS[1])
local r = run()
local was = redis.call('GET', KEYS[2])
if c and was == r then
  if ARGV[2] == '0' or epoch(c) ~= tonumber(ARGV[2]) then return 0 end
end
if was ~= r then redis.call('DEL', KEYS[4]) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], r)
redis.call('DEL', KEYS[3])
if ARGV[2] == '0' then return -1 end
return redis.call('INCR', KEYS[1])
`)

// seed starts a new epoch of room's counter unless a valid one exists.
func (r *Redis) seed(ctx context.Context, room string, seed Seeder) error {
	err := seed(ctx, room, func(epoch int64) (bool, error) {
		n, err := r.newEpoch(ctx, room, epoch, 0)
		return n != 0, err
	})
	if err != nil {
		return fmt.Errorf("bus: seed seq: %w", err)
	}
	return nil
}

func (r *Redis) newEpoch(ctx context.Context, room string, epoch, fence int64) (int64, error) {
	keys := []string{r.keys.Seq(room), r.keys.Run(room), r.keys.Fly(room), r.keys.Recent(room)}
	n, err := newEpoch.Run(ctx, r.rdb, keys, EpochBase(epoch), fence).Int64()
	if err != nil {
		return 0, unavailable("new epoch", err)
	}
	return n, nil
}

// ErrNotFenced means the epoch to fence had already ended.
var ErrNotFenced = errors.New("bus: epoch already ended")

// Fence ends epoch e of room: it starts the next epoch (from seed), so
// every seq of e that is still in flight can no longer be committed, and
// returns the new epoch's first seq, which the caller writes to the log as
// the fence record. It returns ErrNotFenced when e had already ended. A
// counter that is missing or from another Redis run is replaced too.
func (r *Redis) Fence(ctx context.Context, room string, e int64, seed Seeder) (int64, error) {
	var first int64
	err := seed(ctx, room, func(epoch int64) (bool, error) {
		n, err := r.newEpoch(ctx, room, epoch, e)
		first = n
		return n != 0, err
	})
	if err != nil {
		return 0, fmt.Errorf("bus: fence: %w", err)
	}
	if first == 0 {
		return 0, ErrNotFenced
	}
	return first, nil
}

// renewLease extends the lease of an in-flight seq; 0 when it is gone
// (committed, or fenced, or Redis lost it). KEYS: fly. ARGV: seq, ms.
var renewLease = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], ARGV[1], t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[2]))
return 1
`)

// RenewLease keeps the send of seq owning it for another Lease. It
// reports false when the seq has no lease any more: the send can then
// only learn its fate from the log.
func (r *Redis) RenewLease(ctx context.Context, room string, seq int64) (bool, error) {
	n, err := renewLease.Run(ctx, r.rdb, []string{r.keys.Fly(room)}, seq, Lease.Milliseconds()).Int64()
	if err != nil {
		return false, unavailable("renew lease", err)
	}
	return n == 1, nil
}

// leaseAlive: 1 when seq's lease has not expired. KEYS: fly. ARGV: seq.
var leaseAlive = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local t = redis.call('TIME')
if tonumber(v) > t[1] * 1000 + math.floor(t[2] / 1000) then return 1 end
return 0
`)

// LeaseAlive reports whether a send still owns seq: it was allocated, is
// not committed, and its owner renewed it within Lease (Redis's clock).
func (r *Redis) LeaseAlive(ctx context.Context, room string, seq int64) (bool, error) {
	n, err := leaseAlive.Run(ctx, r.rdb, []string{r.keys.Fly(room)}, seq).Int64()
	if err != nil {
		return false, unavailable("lease", err)
	}
	return n == 1, nil
}

// Counter returns the room's current seq counter (0 when missing).
func (r *Redis) Counter(ctx context.Context, room string) (int64, error) {
	n, err := r.rdb.Get(ctx, r.keys.Seq(room)).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("counter", err)
	}
	return n, nil
}
