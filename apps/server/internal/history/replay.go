package history

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// replayWait bounds how long a replay waits for the persister.
const replayWait = 2 * time.Second

// awaitStored waits, up to replayWait, until PostgreSQL holds the room's
// log up to seq: the part of a replay that the cache does not hold (after
// the broker lost it, or for an old position) must not miss messages the
// persister has not written yet. A seq that will never be stored (one the
// room gave up) costs the whole wait.
func (h *Reader) awaitStored(ctx context.Context, roomID string, seq int64) {
	deadline := time.Now().Add(replayWait)
	for {
		top, err := h.store.RoomLastSeq(ctx, roomID)
		if err != nil || top >= seq || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Replay collects the room's events in (after, upto], the newest
// ReplayMax of them, from the cache and, for what the cache no longer
// holds, PostgreSQL.
//
// Concurrent replays of the same room and range are read once and share
// the result, which callers must not modify: when a server restarts, every
// client of a busy room resumes at once from about the same place, and
// each reading the same thousand messages from Redis and PostgreSQL for
// itself multiplied the load by the room's size. A caller whose ctx ends
// stops waiting; the read goes on for the others, within replayTimeout.
func (h *Reader) Replay(ctx context.Context, roomID string, after, upto int64) (*Replayed, error) {
	key := roomID + "/" + strconv.FormatInt(after, 10) + "/" + strconv.FormatInt(upto, 10)
	ch := h.replays.DoChan(key, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replayTimeout)
		defer cancel()
		all, recovered, err := h.replay(rctx, roomID, after, upto)
		if err != nil {
			return nil, err
		}
		return &Replayed{Events: ascending(all, after), Recovered: recovered, room: roomID}, nil
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Replayed), nil
	}
}

// replayTimeout bounds a shared replay's reads, which no single caller's
// context ends.
const replayTimeout = 10 * time.Second

// Replayed is one replay, shared by every subscriber that asked for the
// same room and range at once; nothing in it may be modified.
type Replayed struct {
	// Events are the room's frames after the replay's start, by ascending
	// seq, each once.
	Events []bus.Cached
	// Recovered is false when there were more than ReplayMax.
	Recovered bool

	room    string
	once    sync.Once
	batches [][]byte
}

// Batches is the replay as replay frames (protocol.ReplayFrames), built
// once for all who share it: a restart's resume storm would otherwise copy
// the same thousand frames once per member of the room.
func (r *Replayed) Batches() [][]byte {
	r.once.Do(func() {
		frames := make([][]byte, len(r.Events))
		for i, e := range r.Events {
			frames[i] = e.Frame
		}
		r.batches = protocol.ReplayFrames(r.room, frames, protocol.ReplayBatchBytes)
	})
	return r.batches
}

// ascending keeps the events after seq after, each seq once, in order, so
// that a client never sees a seq twice or out of order, whatever the cache
// and PostgreSQL returned.
func ascending(all []bus.Cached, after int64) []bus.Cached {
	out := all[:0:0]
	last := after
	for _, e := range all {
		if e.Seq > last {
			out = append(out, e)
			last = e.Seq
		}
	}
	return out
}

func (h *Reader) replay(ctx context.Context, roomID string, after, upto int64) ([]bus.Cached, bool, error) {
	ctx, span := tracer.Start(ctx, "history.replay")
	defer span.End()
	limit := h.opts.ReplayMax
	cached, err := h.cache.RecentAfter(ctx, roomID, after, h.opts.RecentMax)
	if err != nil {
		return nil, false, err
	}
	for len(cached) > 0 && cached[len(cached)-1].Seq > upto {
		cached = cached[:len(cached)-1]
	}
	oldest, err := h.cache.Oldest(ctx, roomID)
	if err != nil {
		return nil, false, err
	}
	recovered := true
	var older []bus.Cached
	if oldest == 0 || after < oldest-1 || len(cached) == 0 {
		// The cache may not reach back to `after`: ask PostgreSQL for what
		// lies between, newest first.
		before := upto + 1
		if len(cached) > 0 {
			before = cached[0].Seq
		}
		h.awaitStored(ctx, roomID, before-1)
		need := limit - len(cached) + 1
		if need > 0 {
			log, err := h.store.LogBefore(ctx, roomID, before, need)
			if err != nil {
				return nil, false, err
			}
			for i := len(log) - 1; i >= 0; i-- {
				if log[i].Seq > after {
					older = append(older, log[i])
				}
			}
			if len(log) == need && log[len(log)-1].Seq > after {
				recovered = false
			}
		} else {
			recovered = false
		}
	}
	all := append(older, cached...)
	if len(all) > limit {
		all = all[len(all)-limit:]
		recovered = false
	}
	return all, recovered, nil
}

// recentWindow is how young a message id must be for a lookup that finds
// it nowhere to wait for the persister.
const recentWindow = time.Minute

// recentID reports whether id is a UUIDv7 (the server's message ids) made
// within recentWindow.
func recentID(id string) bool {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return false
	}
	sec, nsec := u.Time().UnixTime()
	return time.Since(time.Unix(sec, nsec)) < recentWindow
}

// awaitMessage polls PostgreSQL for a message, up to replayWait.
func (h *Reader) awaitMessage(ctx context.Context, room, id string) (Stored, bool, error) {
	deadline := time.Now().Add(replayWait)
	for {
		m, ok, err := h.store.Message(ctx, room, id)
		if err != nil || ok || time.Now().After(deadline) {
			return m, ok, err
		}
		select {
		case <-ctx.Done():
			return Stored{}, false, nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}
