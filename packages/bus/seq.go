package bus

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EpochBits is how many low bits of a seq count messages within one epoch.
// An epoch starts whenever a room's Redis counter has to be created, the
// first time or after Redis lost it, and its number comes from PostgreSQL,
// so a seq is never handed out twice. Epoch 1 starts at seq 1.
const EpochBits = 32

// EpochBase is the counter value from which epoch e counts.
func EpochBase(epoch int64) int64 { return (epoch - 1) << EpochBits }

// IsEpochStart reports whether seq is the first of an epoch: no message of
// the same epoch can precede it.
func IsEpochStart(seq int64) bool { return seq&(1<<EpochBits-1) == 1 }

// Seeder starts a new epoch for room and calls set with it, while holding
// whatever lock makes epochs of one room start in order.
type Seeder func(ctx context.Context, room string, set func(epoch int64) error) error

var nextSeq = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end
return -1
`)

// NextSeq allocates the room's next seq. When the counter is missing it is
// seeded at the start of a fresh epoch; racing seeders are harmless, since
// only the first SET NX wins and every epoch is used at most once.
func (r *Redis) NextSeq(ctx context.Context, room string, seed Seeder) (int64, error) {
	key := r.keys.Seq(room)
	for attempt := 0; attempt < 3; attempt++ {
		n, err := nextSeq.Run(ctx, r.rdb, []string{key}).Int64()
		if err != nil {
			return 0, unavailable("next seq", err)
		}
		if n > 0 {
			return n, nil
		}
		err = seed(ctx, room, func(epoch int64) error {
			return r.rdb.SetNX(ctx, key, EpochBase(epoch), 0).Err()
		})
		if err != nil {
			return 0, fmt.Errorf("bus: seed seq: %w", err)
		}
	}
	return 0, unavailable("next seq", fmt.Errorf("counter of room %s vanished while seeding", room))
}
