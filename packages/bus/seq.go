package bus

import (
	"context"
	"fmt"
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

// seed starts a new epoch of room's counter: only the first SET NX of racing
// seeders wins, and every epoch is used at most once.
func (r *Redis) seed(ctx context.Context, room string, seed Seeder) error {
	err := seed(ctx, room, func(epoch int64) error {
		return r.rdb.SetNX(ctx, r.keys.Seq(room), EpochBase(epoch), 0).Err()
	})
	if err != nil {
		return fmt.Errorf("bus: seed seq: %w", err)
	}
	return nil
}
