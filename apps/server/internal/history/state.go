package history

import (
	"encoding/json"
	"slices"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Stored is a message as PostgreSQL holds it: its state as of the events
// the persister applied, and the seq of the edit that set its body.
type Stored struct {
	Message protocol.Message
	EditSeq int64
}

// ReactionRow is one stored (message, user, emoji) reaction: whether it
// stands as of its newest event, Seq, and the seq that first added it
// (First, 0 when none did).
type ReactionRow struct {
	Message, User, Emoji string
	On                   bool
	Seq, First           int64
}

// The rules by which a message's state follows its events, the same in
// PostgreSQL (the persister's statements) and here (events the persister
// has not stored yet, read from the recent cache):
//   - an edit sets the body unless a newer edit (higher seq) did;
//   - a deletion is final: body "", no reactions, no more edits;
//   - a reaction event decides its (user, emoji) unless a newer one did;
//     an emoji's place is the seq that first added it.
// Each rule ignores what it has already seen, so an event applied twice,
// or out of seq order, ends in the same state.

type reactKey struct{ user, emoji string }

type reactState struct {
	on         bool
	seq, first int64
}

// state is one message being brought up to date.
type state struct {
	msg     protocol.Message
	editSeq int64
	reacts  map[reactKey]reactState
}

func newState(s Stored) *state {
	return &state{msg: s.Message, editSeq: s.EditSeq, reacts: map[reactKey]reactState{}}
}

// addRow takes a stored reaction row.
func (st *state) addRow(r ReactionRow) {
	st.react(r.User, r.Emoji, r.On, r.Seq, r.First)
}

func (st *state) react(user, emoji string, on bool, seq, first int64) {
	k := reactKey{user, emoji}
	cur := st.reacts[k]
	if seq > cur.seq {
		cur.on, cur.seq = on, seq
	}
	if first > 0 && (cur.first == 0 || first < cur.first) {
		cur.first = first
	}
	st.reacts[k] = cur
}

// apply takes one event about the message.
func (st *state) apply(ev protocol.RoomEvent) {
	switch ev.Type {
	case protocol.TypeEdit:
		if !st.msg.Deleted && ev.Seq > st.editSeq {
			st.msg.Body, st.msg.EditedAt, st.editSeq = ev.Body, ev.EditedAt, ev.Seq
		}
	case protocol.TypeDelete:
		st.msg.Deleted, st.msg.Body = true, ""
	case protocol.TypeReaction:
		first := int64(0)
		if ev.On {
			first = ev.Seq
		}
		st.react(ev.User.ID, ev.Emoji, ev.On, ev.Seq, first)
	}
}

// result is the message as viewer sees it.
func (st *state) result(viewer string) protocol.Message {
	m := st.msg
	m.Reactions = nil
	if m.Deleted {
		m.Body = ""
		return m
	}
	type tally struct {
		count int
		mine  bool
		first int64
		users []string
	}
	byEmoji := map[string]*tally{}
	for k, r := range st.reacts {
		t := byEmoji[k.emoji]
		if t == nil {
			t = &tally{}
			byEmoji[k.emoji] = t
		}
		if r.first > 0 && (t.first == 0 || r.first < t.first) {
			t.first = r.first
		}
		if r.on {
			t.count++
			t.mine = t.mine || k.user == viewer
			if len(t.users) < protocol.ReactionUsersMax {
				t.users = append(t.users, k.user)
			}
		}
	}
	for emoji, t := range byEmoji {
		if t.count > 0 {
			slices.Sort(t.users)
			m.Reactions = append(m.Reactions, protocol.Reaction{Emoji: emoji, Count: t.count, Mine: t.mine, Users: t.users})
		}
	}
	slices.SortFunc(m.Reactions, func(a, b protocol.Reaction) int {
		fa, fb := byEmoji[a.Emoji].first, byEmoji[b.Emoji].first
		switch {
		case fa != fb:
			return int(min(max(fa-fb, -1), 1))
		case a.Emoji < b.Emoji:
			return -1
		case a.Emoji > b.Emoji:
			return 1
		}
		return 0
	})
	return m
}

// distinct counts the emoji standing on the message.
func (st *state) distinct() int {
	on := map[string]bool{}
	for k, r := range st.reacts {
		if r.on {
			on[k.emoji] = true
		}
	}
	return len(on)
}

// has reports whether user's emoji reaction stands.
func (st *state) has(user, emoji string) bool { return st.reacts[reactKey{user, emoji}].on }

// splitCached sorts cached frames into messages and the events about
// messages, both in seq order.
func splitCached(cs []bus.Cached) (msgs []protocol.Message, events []protocol.RoomEvent) {
	for _, c := range cs {
		var ev protocol.RoomEvent
		if err := json.Unmarshal(c.Frame, &ev); err != nil {
			continue
		}
		switch ev.Type {
		case protocol.TypeMessage:
			msgs = append(msgs, ev.Message)
		case protocol.TypeEdit, protocol.TypeDelete, protocol.TypeReaction:
			events = append(events, ev)
		}
	}
	return msgs, events
}
