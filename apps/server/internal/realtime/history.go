package realtime

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/apps/server/internal/httpapi"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

var _ httpapi.Rooms = (*Hub)(nil)

func decodeCached(cs []bus.Cached) []protocol.Message {
	out := make([]protocol.Message, 0, len(cs))
	for _, c := range cs {
		var f protocol.MessageFrame
		if err := json.Unmarshal(c.Frame, &f); err == nil {
			out = append(out, f.Message)
		}
	}
	return out
}

// merge unions two message lists, one entry per seq, ascending.
func merge(a, b []protocol.Message) []protocol.Message {
	seen := make(map[int64]bool, len(a)+len(b))
	out := make([]protocol.Message, 0, len(a)+len(b))
	for _, list := range [][]protocol.Message{a, b} {
		for _, m := range list {
			if !seen[m.Seq] {
				seen[m.Seq] = true
				out = append(out, m)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// History serves a page of a room's history: PostgreSQL merged with the
// Redis recent cache, so a message is readable as soon as it is acked, even
// before the persister stored it. The caller has checked membership.
func (h *Hub) History(ctx context.Context, room string, q httpapi.HistoryQuery) ([]protocol.Message, bool, error) {
	n := q.Limit
	if q.HasAfter {
		stored, err := h.store.MessagesAfter(ctx, room, q.AfterSeq, n+1)
		if err != nil {
			return nil, false, err
		}
		cached, err := h.redis.RecentAfter(ctx, room, q.AfterSeq, int64(n+1))
		if err != nil {
			return nil, false, err
		}
		all := merge(stored, decodeCached(cached))
		if len(all) > n {
			return all[:n], true, nil
		}
		return all, false, nil
	}
	before := int64(0) // no bound: the newest page
	if q.HasBefore {
		if q.BeforeSeq <= 1 {
			return []protocol.Message{}, false, nil
		}
		before = q.BeforeSeq
	}
	cached, err := h.redis.RecentBefore(ctx, room, before, int64(n+1))
	if err != nil {
		return nil, false, err
	}
	stored, err := h.store.MessagesBefore(ctx, room, before, n+1)
	if err != nil {
		return nil, false, err
	}
	all := merge(stored, decodeCached(cached))
	if len(all) > n {
		return all[len(all)-n:], true, nil
	}
	return all, false, nil
}

// Decorate brings each room's LastSeq up to the newest acknowledged
// message, which the persister may not have stored yet, and counts the
// cached messages past both the stored ones and the reader's marker
// (lastRead[i] for rooms[i]) into Unread.
func (h *Hub) Decorate(ctx context.Context, user protocol.User, rooms []protocol.Room, lastRead []int64) {
	if len(rooms) == 0 {
		return
	}
	pipe := h.redis.Client().Pipeline()
	cmds := make([]*redis.ZSliceCmd, len(rooms))
	for i, r := range rooms {
		from := max(r.LastSeq, lastRead[i])
		cmds[i] = pipe.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: h.redis.Keys().Recent(r.ID), ByScore: true,
			Start: "(" + strconv.FormatInt(from, 10), Stop: "+inf", Count: 1000})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		h.log.Warn("room decoration skipped: redis", "err", err)
		return // PostgreSQL's numbers stand
	}
	for i, c := range cmds {
		zs, _ := c.Result()
		for _, z := range zs {
			member, _ := z.Member.(string)
			var f struct {
				Sender protocol.User `json:"sender"`
			}
			if _, frame, ok := strings.Cut(member, "|"); ok && json.Unmarshal([]byte(frame), &f) == nil && f.Sender.ID != user.ID {
				rooms[i].Unread++
			}
			if seq := int64(z.Score); seq > rooms[i].LastSeq {
				rooms[i].LastSeq = seq
			}
		}
	}
}
