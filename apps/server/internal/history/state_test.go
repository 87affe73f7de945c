package history

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rookery-chat/rookery/packages/protocol"
)

func ev(typ string, seq int64, user string, f func(*protocol.RoomEvent)) protocol.RoomEvent {
	e := protocol.RoomEvent{Type: typ, User: protocol.User{ID: user}}
	e.Seq, e.ID = seq, "m"
	if f != nil {
		f(&e)
	}
	return e
}

func edit(seq int64, body string) protocol.RoomEvent {
	return ev(protocol.TypeEdit, seq, "a", func(e *protocol.RoomEvent) {
		at := fmt.Sprint(seq)
		e.Body, e.EditedAt = body, &at
	})
}

func react(seq int64, user, emoji string, on bool) protocol.RoomEvent {
	return ev(protocol.TypeReaction, seq, user, func(e *protocol.RoomEvent) { e.Emoji, e.On = emoji, on })
}

func show(m protocol.Message) string {
	s := fmt.Sprintf("%q deleted=%v edited=%v |", m.Body, m.Deleted, m.EditedAt != nil)
	for _, r := range m.Reactions {
		s += fmt.Sprintf(" %s:%d:%v", r.Emoji, r.Count, r.Mine)
	}
	return s
}

// TestStateOrderIndependent: however the events arrive (out of seq order,
// twice, some of them already applied by the persister), a message ends in
// the state its seq order gives.
func TestStateOrderIndependent(t *testing.T) {
	base := Stored{Message: protocol.Message{ID: "m", Seq: 1, Body: "v0", Sender: protocol.User{ID: "a"}}}
	events := []protocol.RoomEvent{
		react(2, "b", "👍", true), edit(3, "v1"), react(4, "a", "🎉", true), react(5, "b", "👍", false),
		react(6, "c", "👍", true), edit(7, "v2"), react(8, "a", "❤", true), react(9, "a", "❤", false),
	}
	inOrder := newState(base)
	for _, e := range events {
		inOrder.apply(e)
	}
	want := show(inOrder.result("a"))
	if want != `"v2" deleted=false edited=true | 👍:1:false 🎉:1:true` {
		t.Fatalf("in order: %s", want)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		st := newState(base)
		shuffled := append([]protocol.RoomEvent(nil), events...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for _, e := range shuffled {
			st.apply(e)
			if rng.IntN(3) == 0 {
				st.apply(e) // a replay
			}
		}
		if got := show(st.result("a")); got != want {
			t.Fatalf("order %d: %s, want %s", i, got, want)
		}
	}
	// Deletion is final, whatever its seq.
	st := newState(base)
	st.apply(ev(protocol.TypeDelete, 5, "a", nil))
	for _, e := range events {
		st.apply(e)
	}
	if got := show(st.result("a")); got != `"" deleted=true edited=false |` {
		t.Fatalf("deleted: %s", got)
	}
}

// TestStateFromStoredRows: the persister's rows and the cache's events
// fold together, and the emoji keep their order of first use.
func TestStateFromStoredRows(t *testing.T) {
	st := newState(Stored{Message: protocol.Message{ID: "m", Seq: 1, Body: "v1"}, EditSeq: 3})
	st.addRow(ReactionRow{User: "b", Emoji: "👍", On: false, Seq: 5, First: 2})
	st.addRow(ReactionRow{User: "a", Emoji: "🎉", On: true, Seq: 4, First: 4})
	st.apply(edit(3, "stale")) // applied already
	st.apply(react(5, "b", "👍", true))
	st.apply(react(10, "c", "👍", true))
	if got := show(st.result("c")); got != `"v1" deleted=false edited=false | 👍:1:true 🎉:1:false` {
		t.Fatalf("folded: %s", got)
	}
	if st.distinct() != 2 || !st.has("a", "🎉") || st.has("b", "👍") {
		t.Fatalf("distinct %d", st.distinct())
	}
}
