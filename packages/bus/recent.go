package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// commit adds a durable message to the room's cache and publishes it, in one
// step, so no subscriber can see it on the channel yet miss it in the cache.
// Cache members are "<unix ms>|<frame>", so age trimming needs no decoding.
// With a sixth key it also marks the send record done: its message is the
// frame, whose extra "type" field a reader ignores. It refuses (0) a seq
// whose epoch has ended, or whose counter Redis lost or rolled back: that
// seq may have been fenced, and only the log can say whether it stands.
//
// publish is PUBLISH, or SPUBLISH on a cluster (the channel is in the
// room's slot).
func commitScript(publish string) *redis.Script {
	return redis.NewScript(luaRun + luaEpoch + `
local c = redis.call('GET', KEYS[3])
if not c or epoch(c) ~= epoch(ARGV[1]) or redis.call('GET', KEYS[4]) ~= run() then return 0 end
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
if n > tonumber(ARGV[3]) then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - tonumber(ARGV[3]) - 1) end
local cutoff = tonumber(ARGV[5])
for i = 1, 100 do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then break end
  local ms = tonumber(string.match(oldest[1], '^(%d+)|'))
  if ms == nil or ms >= cutoff then break end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('` + publish + `', KEYS[2], ARGV[6])
if #KEYS == 6 then
  local rec = ARGV[6]
  if #ARGV >= 8 then rec = ARGV[8] end
  redis.call('SET', KEYS[6], 'D|' .. rec, 'PX', ARGV[7])
end
return 1
`)
}

// Done names the send record that Commit marks done, kept for TTL so that a
// retry of the ref gets the original ack.
type Done struct {
	User, Ref string
	TTL       time.Duration
	// Record is the event to keep in the record, as JSON (AckRecord: only
	// what answering a retry needs); nil keeps the frame.
	Record []byte
}

// ErrFenced means a commit was refused: the seq's epoch ended (or Redis
// lost it) while the send was in flight, so the message is stored only if
// the log has it before the epoch's fence.
var ErrFenced = errors.New("bus: seq fenced")

// Commit caches and publishes a message frame that Kafka has accepted and,
// when done is not nil, marks its send record done, in one round trip.
// frame is the complete {"type":"message",...} JSON that clients receive.
// It returns ErrFenced, and does nothing, when the seq's epoch has ended.
func (r *Redis) Commit(ctx context.Context, room string, seq int64, at time.Time, frame []byte, done *Done) (err error) {
	ctx, span := startSpan(ctx, "redis.commit", "redis", room, trace.SpanKindClient)
	defer func() { endSpan(span, err) }()
	member := make([]byte, 0, len(frame)+16)
	member = strconv.AppendInt(member, at.UnixMilli(), 10)
	member = append(member, '|')
	member = append(member, frame...)
	cutoff := time.Now().Add(-r.recentTTL).UnixMilli()
	keys := []string{r.keys.Recent(room), r.keys.Channel(room), r.keys.Seq(room), r.keys.Run(room), r.keys.Fly(room)}
	args := []any{seq, member, r.recentMax, r.recentTTL.Milliseconds(), cutoff, frame}
	if done != nil {
		keys = append(keys, r.keys.Dedup(room, done.User, done.Ref))
		args = append(args, done.TTL.Milliseconds())
		if done.Record != nil {
			args = append(args, done.Record)
		}
	}
	n, err := r.commit.Run(ctx, r.rdb, keys, args...).Int64()
	if err != nil {
		return unavailable("commit", err)
	}
	if n == 0 {
		return ErrFenced
	}
	return nil
}

// Skip tells the room's subscribers that seq will never be committed (a
// fence record's seq), so they need not wait for it.
func (r *Redis) Skip(ctx context.Context, room string, seq int64) error {
	b, _ := json.Marshal(skipFrame{Type: "skip", Room: room, Seq: seq})
	if err := r.publish(ctx, room, b); err != nil {
		return unavailable("skip", err)
	}
	return nil
}

type skipFrame struct {
	Type string `json:"type"`
	Room string `json:"room"`
	Seq  int64  `json:"seq"`
}

var skipPrefix = []byte(`{"type":"skip"`)

// deliver hands a room channel's frame to h: skips (which only the
// broker writes) as OnSkip, everything else as OnMessage.
func deliver(h Handler, room string, frame []byte) {
	if bytes.HasPrefix(frame, skipPrefix) {
		var f skipFrame
		if json.Unmarshal(frame, &f) == nil {
			h.OnSkip(room, f.Seq)
		}
		return
	}
	h.OnMessage(room, frame)
}

func decodeCached(zs []redis.Z) []Cached {
	out := make([]Cached, 0, len(zs))
	for _, z := range zs {
		m, _ := z.Member.(string)
		_, frame, ok := bytes.Cut([]byte(m), []byte{'|'})
		if !ok {
			continue
		}
		out = append(out, Cached{Seq: int64(z.Score), Frame: frame})
	}
	return out
}

// RecentAfter returns up to limit cached messages with seq > after, oldest
// first.
func (r *Redis) RecentAfter(ctx context.Context, room string, after int64, limit int64) ([]Cached, error) {
	zs, err := r.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: r.keys.Recent(room), ByScore: true,
		Start: "(" + strconv.FormatInt(after, 10), Stop: "+inf", Count: limit}).Result()
	if err != nil {
		return nil, unavailable("recent", err)
	}
	return decodeCached(zs), nil
}

// RecentBefore returns up to limit cached messages with seq < before (0: no
// bound), newest first.
func (r *Redis) RecentBefore(ctx context.Context, room string, before int64, limit int64) ([]Cached, error) {
	start := "+inf"
	if before > 0 {
		start = "(" + strconv.FormatInt(before, 10)
	}
	zs, err := r.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: r.keys.Recent(room), ByScore: true, Rev: true,
		Start: start, Stop: "-inf", Count: limit}).Result()
	if err != nil {
		return nil, unavailable("recent", err)
	}
	return decodeCached(zs), nil
}

// Oldest returns the lowest cached seq (0 when the cache is empty).
func (r *Redis) Oldest(ctx context.Context, room string) (int64, error) {
	zs, err := r.rdb.ZRangeWithScores(ctx, r.keys.Recent(room), 0, 0).Result()
	if err != nil {
		return 0, unavailable("oldest", err)
	}
	if len(zs) == 0 {
		return 0, nil
	}
	return int64(zs[0].Score), nil
}

// Newest returns the highest cached seq (0 when the cache is empty).
func (r *Redis) Newest(ctx context.Context, room string) (int64, error) {
	zs, err := r.rdb.ZRevRangeWithScores(ctx, r.keys.Recent(room), 0, 0).Result()
	if err != nil {
		return 0, unavailable("newest", err)
	}
	if len(zs) == 0 {
		return 0, nil
	}
	return int64(zs[0].Score), nil
}

// Tails returns, for each room, up to limit cached messages after from[i],
// in one pipelined round trip.
func (r *Redis) Tails(ctx context.Context, rooms []string, from []int64, limit int64) ([][]Cached, error) {
	if len(rooms) == 0 {
		return nil, nil
	}
	pipe := r.rdb.Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(rooms))
	for i, room := range rooms {
		cmds[i] = pipe.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: r.keys.Recent(room), ByScore: true,
			Start: "(" + strconv.FormatInt(from[i], 10), Stop: "+inf", Count: limit})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable("recent tails", err)
	}
	out := make([][]Cached, len(rooms))
	for i, c := range cmds {
		zs, _ := c.Result()
		out[i] = decodeCached(zs)
	}
	return out, nil
}
