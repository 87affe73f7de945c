package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// RefState is where a send with a given (user, ref) stands.
type RefState byte

// The states of a send record. Stored as the record's first byte.
const (
	// RefNew: nobody had claimed the ref; the caller now owns it.
	RefNew RefState = 'N'
	// RefPending: a send chose the record's message and seq; it is in
	// flight, or its owner died and the message's fate is unknown until
	// the log settles it (see Redis.LeaseAlive and Redis.Fence).
	RefPending RefState = 'P'
	// RefDone: the message is durable and was acknowledged.
	RefDone RefState = 'D'
)

// RefRecord is the deduplication record of one (user, ref).
type RefRecord struct {
	State RefState
	// Event is set once the send has chosen its id and seq.
	Event *protocol.Event
}

// begin claims a send's ref and, when it is new, allocates the room's next
// seq, records the message as pending and gives the seq a lease, all in
// one step. KEYS: dedup, seq, run, fly. ARGV: record TTL (ms), the message
// as JSON with "seq":0 (replaced by the seq), lease (ms), and a seq whose
// pending record may be replaced (0: none). It returns {record, seq}: seq
// is -1 when the room's counter must be seeded first (it is missing, or
// from another Redis run), 0 when the ref was already known.
var begin = redis.NewScript(luaRun + `
local v = redis.call('GET', KEYS[1])
if v and not (ARGV[4] ~= '0' and string.sub(v, 1, 1) == 'P' and string.match(v, '"seq":(%d+)') == ARGV[4]) then
  return {v, 0}
end
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('GET', KEYS[3]) ~= run() then return {'', -1} end
local seq = redis.call('INCR', KEYS[2])
local m = ARGV[2]
local i, j = string.find(m, '"seq":0,', 1, true)
m = string.sub(m, 1, i - 1) .. '"seq":' .. string.format('%d', seq) .. ',' .. string.sub(m, j + 1)
redis.call('SET', KEYS[1], 'P|' .. m, 'PX', ARGV[1])
local t = redis.call('TIME')
redis.call('HSET', KEYS[4], seq, t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[3]))
return {'N|', seq}
`)

// ackRecord is the JSON of a done record: the fields of protocol.Event
// that its Ack reads.
type ackRecord struct {
	ID   string `json:"id"`
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
	TS   string `json:"ts"`
	Ref  string `json:"ref"`
}

// AckRecord is what a done send record keeps: the ack, as the JSON of an
// event whose Ack is a, and nothing else. A record lives for DEDUP_TTL
// (a day by default) and there is one per message, so keeping the whole
// message (a body is up to 16 KiB) would fill Redis with bodies nobody
// reads: a retried ref is only ever answered with its ack. An event's ack names its target, so the record reads back as a
// message with the target's id, whose Ack is the same.
func AckRecord(a protocol.Ack) []byte {
	b, _ := json.Marshal(ackRecord{ID: a.ID, Room: a.Room, Seq: a.Seq, TS: a.TS, Ref: a.Ref})
	return b
}

// formatRecord is a send record as stored: its state, '|', and its event
// as JSON (a done record: only the ack, AckRecord). parseRecord reads it.
func formatRecord(rec RefRecord) ([]byte, error) {
	v := []byte{byte(rec.State), '|'}
	switch {
	case rec.Event == nil:
		return v, nil
	case rec.State == RefDone:
		return append(v, AckRecord(rec.Event.Ack())...), nil
	}
	b, err := json.Marshal(rec.Event)
	if err != nil {
		return nil, fmt.Errorf("bus: set ref: %w", err)
	}
	return append(v, b...), nil
}

func parseRecord(v string) (RefRecord, error) {
	if len(v) < 2 || v[1] != '|' {
		return RefRecord{}, fmt.Errorf("bus: malformed send record %q", v)
	}
	rec := RefRecord{State: RefState(v[0])}
	if len(v) > 2 {
		rec.Event = new(protocol.Event)
		if err := json.Unmarshal([]byte(v[2:]), rec.Event); err != nil {
			return RefRecord{}, fmt.Errorf("bus: send record: %w", err)
		}
	}
	return rec, nil
}

// Begin starts a send of draft (its Seq is ignored) by user, in one round
// trip to Redis. When (room, user, ref) is new, or its pending record is
// for seq replace (a send whose seq was fenced and not stored), the caller
// owns it: Begin allocates the room's next seq, records the message as
// pending for ttl, gives the seq a Lease and returns RefNew with the
// message to send. Otherwise it returns the record: RefPending or RefDone.
//
// A seq is never handed out twice: when the room's counter is missing or
// was written by another Redis run (a restart, a restore, a failover), seed
// starts a new epoch and Begin tries again.
func (r *Redis) Begin(ctx context.Context, user string, draft protocol.Event, ttl time.Duration, replace int64, seed Seeder) (rec RefRecord, err error) {
	ctx, span := startSpan(ctx, "redis.begin", "redis", draft.Room, trace.SpanKindClient)
	defer func() { endSpan(span, err) }()
	draft.Seq = 0
	tmpl, err := json.Marshal(draft)
	if err != nil {
		return RefRecord{}, fmt.Errorf("bus: begin: %w", err)
	}
	keys := []string{r.keys.Dedup(draft.Room, user, draft.Ref), r.keys.Seq(draft.Room), r.keys.Run(draft.Room), r.keys.Fly(draft.Room)}
	for attempt := 0; attempt < 3; attempt++ {
		out, err := begin.Run(ctx, r.rdb, keys, ttl.Milliseconds(), tmpl, Lease.Milliseconds(), replace).Slice()
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
			return RefRecord{State: RefNew, Event: &draft}, nil
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

// SetRef stores the record of (room, user, ref) for ttl; a done record
// keeps only its event's ack (AckRecord).
func (r *Redis) SetRef(ctx context.Context, room, user, ref string, rec RefRecord, ttl time.Duration) error {
	v, err := formatRecord(rec)
	if err != nil {
		return err
	}
	if err := r.rdb.Set(ctx, r.keys.Dedup(room, user, ref), v, ttl).Err(); err != nil {
		return unavailable("set ref", err)
	}
	return nil
}
