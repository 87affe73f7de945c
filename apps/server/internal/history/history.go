// Package history reads a room's past: pages of history, the replay a
// resubscribing client missed, and the live numbers of the rooms list.
// Each merges PostgreSQL with the broker's recent cache, so a message can
// be read as soon as it is acknowledged, before the persister stored it.
package history

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Store is what history reads from PostgreSQL.
type Store interface {
	MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]protocol.Message, error)
	MessagesAfter(ctx context.Context, roomID string, after int64, limit int) ([]protocol.Message, error)
	RoomLastSeq(ctx context.Context, roomID string) (int64, error)
}

// Options bound what is read.
type Options struct {
	// RecentMax is the recent cache's size (RECENT_MAX): a replay reads at
	// most that many messages from it.
	RecentMax int64
	// ReplayMax is the most messages a replay returns (REPLAY_MAX).
	ReplayMax int
}

// Reader reads history.
type Reader struct {
	log   *slog.Logger
	opts  Options
	cache bus.Cache
	store Store
}

// New returns a Reader.
func New(log *slog.Logger, opts Options, cache bus.Cache, st Store) *Reader {
	return &Reader{log: log, opts: opts, cache: cache, store: st}
}

// Query is a parsed history request.
type Query struct {
	BeforeSeq, AfterSeq int64
	// HasBefore and HasAfter say whether the bounds were given; a given 0
	// is a real bound (after_seq=0 pages from the very first message).
	HasBefore, HasAfter bool
	Limit               int
}

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

// Page serves a page of a room's history. The caller has checked
// membership.
func (h *Reader) Page(ctx context.Context, room string, q Query) ([]protocol.Message, bool, error) {
	n := q.Limit
	if q.HasAfter {
		stored, err := h.store.MessagesAfter(ctx, room, q.AfterSeq, n+1)
		if err != nil {
			return nil, false, err
		}
		cached, err := h.cache.RecentAfter(ctx, room, q.AfterSeq, int64(n+1))
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
	cached, err := h.cache.RecentBefore(ctx, room, before, int64(n+1))
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
func (h *Reader) Decorate(ctx context.Context, user protocol.User, rooms []protocol.Room, lastRead []int64) {
	if len(rooms) == 0 {
		return
	}
	ids := make([]string, len(rooms))
	from := make([]int64, len(rooms))
	for i, r := range rooms {
		ids[i], from[i] = r.ID, max(r.LastSeq, lastRead[i])
	}
	tails, err := h.cache.Tails(ctx, ids, from, 1000)
	if err != nil {
		h.log.Warn("room decoration skipped: broker", "err", err)
		return // PostgreSQL's numbers stand
	}
	for i, tail := range tails {
		for _, c := range tail {
			var f struct {
				Sender protocol.User `json:"sender"`
			}
			if json.Unmarshal(c.Frame, &f) == nil && f.Sender.ID != user.ID {
				rooms[i].Unread++
			}
			rooms[i].LastSeq = max(rooms[i].LastSeq, c.Seq)
		}
	}
}
