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

// begin claims a send's ref and, when it is new, allocates the room's next
// seq and records the message as pending, all in one step. A failed send
// is taken over with its message. The message arrives as JSON with
// "seq":0, which the script replaces by the seq it allocates. It returns
// {record, seq}: seq is -1 when the room's counter must be seeded first
// (nothing was claimed), 0 when the ref was already known.
var begin = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 1, 1) == 'F' then
    redis.call('SET', KEYS[1], 'P' .. string.sub(v, 2), 'PX', ARGV[1])
  end
  return {v, 0}
end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'', -1} end
local seq = redis.call('INCR', KEYS[2])
local m = ARGV[2]
local i, j = string.find(m, '"seq":0,', 1, true)
m = string.sub(m, 1, i - 1) .. '"seq":' .. string.format('%d', seq) .. ',' .. string.sub(m, j + 1)
redis.call('SET', KEYS[1], 'P|' .. m, 'PX', ARGV[1])
return {'N|', seq}
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

// Begin starts a send of draft (its Seq is ignored) by user, in one round
// trip to Redis. When (room, user, ref) is new, the caller owns it: Begin
// allocates the room's next seq, records the message as pending for
// pendingTTL and returns RefNew with the message to send. It returns
// RefFailed, with the message to send again, when the caller took over a
// failed send, and RefPending or RefDone when another send owns or finished
// the ref.
//
// A seq is never handed out twice: when the room's counter is missing
// (first message, or Redis lost it) seed starts a new epoch and Begin tries
// again.
func (r *Redis) Begin(ctx context.Context, user string, draft protocol.Message, pendingTTL time.Duration, seed Seeder) (RefRecord, error) {
	draft.Seq = 0
	tmpl, err := json.Marshal(draft)
	if err != nil {
		return RefRecord{}, fmt.Errorf("bus: begin: %w", err)
	}
	keys := []string{r.keys.Dedup(draft.Room, user, draft.Ref), r.keys.Seq(draft.Room)}
	for attempt := 0; attempt < 3; attempt++ {
		out, err := begin.Run(ctx, r.rdb, keys, pendingTTL.Milliseconds(), tmpl).Slice()
		if err != nil {
			return RefRecord{}, unavailable("begin send", err)
		}
		if len(out) != 2 {
			return RefRecord{}, fmt.Errorf("bus: begin: unexpected reply %v", out)
		}
		v, _ := out[0].(string)
		seq, _ := out[1].(int64)
		switch {
		case seq > 0:
			draft.Seq = seq
			return RefRecord{State: RefNew, Message: &draft}, nil
		case seq == 0:
			return parseRecord(v)
		}
		if err := r.seed(ctx, draft.Room, seed); err != nil {
			return RefRecord{}, err
		}
	}
	return RefRecord{}, unavailable("begin send", fmt.Errorf("counter of room %s vanished while seeding", draft.Room))
}

// GetRef reads the record of (room, user, ref); ok is false when there is
// none.
func (r *Redis) GetRef(ctx context.Context, room, user, ref string) (rec RefRecord, ok bool, err error) {
	v, err := r.rdb.Get(ctx, r.keys.Dedup(room, user, ref)).Result()
	if err == redis.Nil {
		return RefRecord{}, false, nil
	}
	if err != nil {
		return RefRecord{}, false, unavailable("get ref", err)
	}
	rec, err = parseRecord(v)
	return rec, err == nil, err
}

// SetRef stores the record of (room, user, ref) for ttl.
func (r *Redis) SetRef(ctx context.Context, room, user, ref string, rec RefRecord, ttl time.Duration) error {
	v := []byte{byte(rec.State), '|'}
	if rec.Message != nil {
		b, err := json.Marshal(rec.Message)
		if err != nil {
			return fmt.Errorf("bus: set ref: %w", err)
		}
		v = append(v, b...)
	}
	if err := r.rdb.Set(ctx, r.keys.Dedup(room, user, ref), v, ttl).Err(); err != nil {
		return unavailable("set ref", err)
	}
	return nil
}
