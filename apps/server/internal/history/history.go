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

	"go.opentelemetry.io/otel"
	"golang.org/x/sync/singleflight"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

var tracer = otel.Tracer("github.com/rookery-chat/rookery/apps/server/internal/history")

// Store is what history reads from PostgreSQL.
type Store interface {
	MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]Stored, error)
	MessagesAfter(ctx context.Context, roomID string, after int64, limit int) ([]Stored, error)
	Message(ctx context.Context, roomID, messageID string) (Stored, bool, error)
	Reactions(ctx context.Context, messageIDs []string) ([]ReactionRow, error)
	LogBefore(ctx context.Context, roomID string, before int64, limit int) ([]bus.Cached, error)
	RoomLastSeq(ctx context.Context, roomID string) (int64, error)
	Search(ctx context.Context, user protocol.User, roomID, query string, limit int) ([]Stored, error)
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
	// replays coalesces identical concurrent replays (see Replay).
	replays singleflight.Group
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

// merge unions stored and cached messages, one entry per seq (the stored
// one, which has the events the persister applied), ascending.
func merge(stored []Stored, cached []protocol.Message) []Stored {
	seen := make(map[int64]bool, len(stored)+len(cached))
	out := make([]Stored, 0, len(stored)+len(cached))
	for _, m := range stored {
		if !seen[m.Message.Seq] {
			seen[m.Message.Seq] = true
			out = append(out, m)
		}
	}
	for _, m := range cached {
		if !seen[m.Seq] {
			seen[m.Seq] = true
			out = append(out, Stored{Message: m})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Message.Seq < out[j].Message.Seq })
	return out
}

// Page serves a page of a room's history, each message in its current
// state as viewer sees it. The caller has checked membership.
func (h *Reader) Page(ctx context.Context, viewer protocol.User, room string, q Query) ([]protocol.Message, bool, error) {
	ctx, span := tracer.Start(ctx, "history.page")
	defer span.End()
	n := q.Limit
	var page []Stored
	more := false
	if q.HasAfter {
		stored, err := h.store.MessagesAfter(ctx, room, q.AfterSeq, n+1)
		if err != nil {
			return nil, false, err
		}
		cached, err := h.cache.RecentAfter(ctx, room, q.AfterSeq, int64(n+1))
		if err != nil {
			return nil, false, err
		}
		msgs, _ := splitCached(cached)
		page = merge(stored, msgs)
		if len(page) > n {
			page, more = page[:n], true
		}
	} else {
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
		msgs, events := splitCached(cached)
		page = merge(stored, msgs)
		if len(page) > n {
			page, more = page[len(page)-n:], true
		}
		// The newest page's read of the cache reaches the newest event: when
		// it also reaches back to the page's first message, it holds every
		// cached event about the page, and the cache need not be read again.
		if before == 0 && len(page) > 0 && (len(cached) == 0 || lowest(cached) <= page[0].Message.Seq) {
			out, err := h.fold(ctx, viewer, page, events)
			return out, more, err
		}
	}
	out, err := h.upToDate(ctx, viewer, room, page)
	return out, more, err
}

func lowest(cs []bus.Cached) int64 {
	low := cs[0].Seq
	for _, c := range cs {
		low = min(low, c.Seq)
	}
	return low
}

// upToDate brings stored and cached messages to their current state: the
// reactions PostgreSQL holds, and the events of the recent cache, which
// the persister may not have applied yet.
func (h *Reader) upToDate(ctx context.Context, viewer protocol.User, room string, page []Stored) ([]protocol.Message, error) {
	var events []protocol.RoomEvent
	if room != "" && len(page) > 0 {
		cached, err := h.cache.RecentAfter(ctx, room, page[0].Message.Seq, h.opts.RecentMax)
		if err != nil {
			return nil, err
		}
		_, events = splitCached(cached)
	}
	return h.fold(ctx, viewer, page, events)
}

// fold brings page to its current state with the stored reactions and
// events, the cache's events about the page's messages.
func (h *Reader) fold(ctx context.Context, viewer protocol.User, page []Stored, events []protocol.RoomEvent) ([]protocol.Message, error) {
	out := make([]protocol.Message, 0, len(page))
	if len(page) == 0 {
		return out, nil
	}
	states := make(map[string]*state, len(page))
	ids := make([]string, len(page))
	for i, m := range page {
		states[m.Message.ID] = newState(m)
		ids[i] = m.Message.ID
	}
	rows, err := h.store.Reactions(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if st := states[r.Message]; st != nil {
			st.addRow(r)
		}
	}
	for _, ev := range events {
		if st := states[ev.ID]; st != nil {
			st.apply(ev)
		}
	}
	for _, m := range page {
		out = append(out, states[m.Message.ID].result(viewer.ID))
	}
	return out, nil
}

// Target is the message an edit, deletion or reaction is about, in its
// current state.
type Target struct {
	st *state
}

// Sender is the id of the message's author.
func (t Target) Sender() string { return t.st.msg.Sender.ID }

// Deleted reports whether the message was deleted.
func (t Target) Deleted() bool { return t.st.msg.Deleted }

// Emoji counts the distinct emoji standing on the message.
func (t Target) Emoji() int { return t.st.distinct() }

// HasEmoji reports whether anyone's emoji reaction stands.
func (t Target) HasEmoji(emoji string) bool {
	for k, r := range t.st.reacts {
		if r.on && k.emoji == emoji {
			return true
		}
	}
	return false
}

// Reacted reports whether user's emoji reaction stands.
func (t Target) Reacted(user, emoji string) bool { return t.st.has(user, emoji) }

// Message looks up message id of room in its current state, from
// PostgreSQL and the recent cache: it is not_found when neither holds it.
func (h *Reader) Message(ctx context.Context, room, id string) (Target, error) {
	ctx, span := tracer.Start(ctx, "history.message")
	defer span.End()
	// With PostgreSQL down the recent cache may still know the message: a
	// reaction to, or an edit of, a recent message then goes on (only the
	// reactions the persister stored are missing from the emoji limit).
	stored, ok, dbErr := h.store.Message(ctx, room, id)
	if dbErr != nil && protocol.ErrorCode(dbErr) != protocol.CodeUnavailable {
		return Target{}, dbErr
	}
	var after int64
	if ok {
		after = stored.Message.Seq
	}
	cached, err := h.cache.RecentAfter(ctx, room, after, h.opts.RecentMax)
	if err != nil {
		return Target{}, err
	}
	msgs, events := splitCached(cached)
	if !ok {
		for _, m := range msgs {
			if m.ID == id {
				stored, ok = Stored{Message: m}, true
				break
			}
		}
	}
	if !ok && dbErr != nil {
		return Target{}, dbErr
	}
	if !ok && recentID(id) {
		// A message acknowledged a moment ago may be in neither yet: the
		// broker lost its cache, and the persister has not caught up.
		if stored, ok, err = h.awaitMessage(ctx, room, id); err != nil {
			return Target{}, err
		}
	}
	if !ok {
		return Target{}, protocol.Errorf(protocol.CodeNotFound, "no such message in this room")
	}
	st := newState(stored)
	if dbErr == nil {
		rows, err := h.store.Reactions(ctx, []string{id})
		if err != nil && protocol.ErrorCode(err) != protocol.CodeUnavailable {
			return Target{}, err
		}
		for _, r := range rows {
			st.addRow(r)
		}
	}
	for _, ev := range events {
		if ev.ID == id {
			st.apply(ev)
		}
	}
	return Target{st: st}, nil
}

// Decorate brings each room's LastSeq up to the newest acknowledged
// event, which the persister may not have stored yet, and counts the
// cached messages past both the stored ones and the reader's marker
// (lastRead[i] for rooms[i]) into Unread, and those of them that mention
// the user into Mentions.
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
				Type     string          `json:"type"`
				Sender   protocol.User   `json:"sender"`
				Mentions []protocol.User `json:"mentions"`
			}
			if json.Unmarshal(c.Frame, &f) == nil && f.Type == protocol.TypeMessage && f.Sender.ID != user.ID {
				rooms[i].Unread++
				for _, u := range f.Mentions {
					if u.ID == user.ID {
						rooms[i].Mentions++
					}
				}
			}
			rooms[i].LastSeq = max(rooms[i].LastSeq, c.Seq)
		}
	}
}

// Search finds messages of the user's rooms (or of room) matching query,
// in the state PostgreSQL holds, reactions included.
func (h *Reader) Search(ctx context.Context, viewer protocol.User, room, query string, limit int) ([]protocol.Message, error) {
	ctx, span := tracer.Start(ctx, "history.search")
	defer span.End()
	found, err := h.store.Search(ctx, viewer, room, query, limit)
	if err != nil {
		return nil, err
	}
	return h.upToDate(ctx, viewer, "", found)
}
