package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// RefState is where a send with a given (user, ref) stands.
type RefState byte

// The states of a send record. Stored as the record's first byte.
const (
	// RefNew: nobody had claimed the ref; the caller now owns it.
	RefNew RefState = 'N'
	// RefPending: a send owns the ref and is in flight.
	RefPending RefState = 'P'
	// RefDone: the message is durable and was acknowledged.
	RefDone RefState = 'D'
	// RefFailed: the send failed after choosing its message; a retry must
	// reuse that message (it may have reached Kafka) and now owns the ref.
	RefFailed RefState = 'F'
)

// RefRecord is the deduplication record of one (user, ref).
type RefRecord struct {
	State RefState
	// Message is set once the send has chosen its id and seq.
	Message *protocol.Message
}

// claimRef owns a missing ref, retakes a failed one, or reports the record.
var claimRef = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'P|', 'PX', ARGV[1])
  return 'N|'
end
if string.sub(v, 1, 1) == 'F' then
  redis.call('SET', KEYS[1], 'P' .. string.sub(v, 2), 'PX', ARGV[1])
  return v
end
return v
`)

func parseRecord(v string) (RefRecord, error) {
	if len(v) < 2 || v[1] != '|' {
		return RefRecord{}, fmt.Errorf("bus: malformed send record %q", v)
	}
	rec := RefRecord{State: RefState(v[0])}
	if len(v) > 2 {
		rec.Message = new(protocol.Message)
		if err := json.Unmarshal([]byte(v[2:]), rec.Message); err != nil {
			return RefRecord{}, fmt.Errorf("bus: send record: %w", err)
		}
	}
	return rec, nil
}

// ClaimRef tries to take ownership of (user, ref) for pendingTTL. It
// returns RefNew when the caller now owns a fresh ref, RefFailed (with the
// message to reuse) when the caller took over a failed send, and RefPending
// or RefDone when another send owns or finished it.
func (r *Redis) ClaimRef(ctx context.Context, user, ref string, pendingTTL time.Duration) (RefRecord, error) {
	v, err := claimRef.Run(ctx, r.rdb, []string{r.keys.Dedup(user, ref)}, pendingTTL.Milliseconds()).Text()
	if err != nil {
		return RefRecord{}, unavailable("claim ref", err)
	}
	return parseRecord(v)
}

// GetRef reads the record of (user, ref); ok is false when there is none.
func (r *Redis) GetRef(ctx context.Context, user, ref string) (rec RefRecord, ok bool, err error) {
	v, err := r.rdb.Get(ctx, r.keys.Dedup(user, ref)).Result()
	if err == redis.Nil {
		return RefRecord{}, false, nil
	}
	if err != nil {
		return RefRecord{}, false, unavailable("get ref", err)
	}
	rec, err = parseRecord(v)
	return rec, err == nil, err
}

// SetRef stores the record of (user, ref) for ttl.
func (r *Redis) SetRef(ctx context.Context, user, ref string, rec RefRecord, ttl time.Duration) error {
	v := []byte{byte(rec.State), '|'}
	if rec.Message != nil {
		b, err := json.Marshal(rec.Message)
		if err != nil {
			return fmt.Errorf("bus: set ref: %w", err)
		}
		v = append(v, b...)
	}
	if err := r.rdb.Set(ctx, r.keys.Dedup(user, ref), v, ttl).Err(); err != nil {
		return unavailable("set ref", err)
	}
	return nil
}

// DropRef forgets (user, ref), for a send that failed before choosing its
// message: nothing of it can exist anywhere.
func (r *Redis) DropRef(ctx context.Context, user, ref string) error {
	if err := r.rdb.Del(ctx, r.keys.Dedup(user, ref)).Err(); err != nil {
		return unavailable("drop ref", err)
	}
	return nil
}
