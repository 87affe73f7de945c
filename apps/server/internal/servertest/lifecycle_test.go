package servertest_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// historyOf reads a room's newest messages as token's user sees them.
func historyOf(t *testing.T, s *servertest.Server, token, room string) map[string]protocol.Message {
	t.Helper()
	var p struct {
		Messages []json.RawMessage `json:"messages"`
	}
	s.Do(t, "GET", "/api/v1/rooms/"+room+"/messages", token, nil).Decode(t, &p)
	out := map[string]protocol.Message{}
	for _, raw := range p.Messages {
		// Every v1.1 field is present, even when empty.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"reply_to", "edited_at", "deleted", "reactions", "mentions"} {
			if _, ok := fields[k]; !ok {
				t.Fatalf("message without %q: %s", k, raw)
			}
		}
		var m protocol.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		out[m.ID] = m
	}
	return out
}

func reactions(m protocol.Message) string {
	s := ""
	for _, r := range m.Reactions {
		s += fmt.Sprintf("%s:%d:%v ", r.Emoji, r.Count, r.Mine)
		if len(r.Users) != r.Count {
			s += "(users " + fmt.Sprint(r.Users) + ") "
		}
	}
	return s
}

func expectCode(t *testing.T, f servertest.Frame, code string) {
	t.Helper()
	if f.Type() != "error" || f.Str("code") != code {
		t.Fatalf("want error %s, got %s", code, f.Raw)
	}
}

func expectAck(t *testing.T, f servertest.Frame) servertest.Frame {
	t.Helper()
	if f.Type() != "ack" {
		t.Fatalf("want ack, got %s", f.Raw)
	}
	return f
}

// TestMessageLifecycle edits, reacts to, replies to and deletes messages
// across two servers: every event gets its own seq and reaches the other
// server's subscriber in order, a retried ref changes nothing, everyone
// else is refused, and history shows each message's current state, from
// the recent cache at once and from PostgreSQL once the cache is gone.
func TestMessageLifecycle(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	c.StartPersister(t)
	alice, aTok := s1.Signup(t, "alice")
	bob, bTok := s2.Signup(t, "bob")
	room := s1.CreateRoom(t, aTok, "lifecycle", protocol.Public)
	s2.Do(t, "POST", "/api/v1/rooms/"+room.ID+"/join", bTok, nil)
	a, b := s1.Dial(t, aTok), s2.Dial(t, bTok)
	a.Subscribe(room.ID, nil)
	b.Subscribe(room.ID, nil)

	m1 := expectAck(t, a.SendMsg(room.ID, "m1", "hello wrld"))
	id := m1.Str("id")
	if f := b.NextOf("message"); f.Str("id") != id || f.M["edited_at"] != nil || f.M["deleted"] != false {
		t.Fatalf("message: %s", f.Raw)
	}
	req := func(w *servertest.WS, m map[string]any) servertest.Frame {
		t.Helper()
		m["room"] = room.ID
		return w.Request(m)
	}

	// Alice edits; Bob cannot.
	edit := expectAck(t, req(a, map[string]any{"type": "edit", "ref": "e1", "id": id, "body": "hello world"}))
	if edit.Str("id") != id || edit.Int("seq") != m1.Int("seq")+1 {
		t.Fatalf("edit ack: %s", edit.Raw)
	}
	if f := b.NextOf("edit"); f.Str("id") != id || f.Str("body") != "hello world" || f.Int("seq") != edit.Int("seq") ||
		f.Str("edited_at") == "" || f.M["user"].(map[string]any)["id"] != alice.ID {
		t.Fatalf("edit frame: %s", f.Raw)
	}
	if again := req(a, map[string]any{"type": "edit", "ref": "e1", "id": id, "body": "hello world"}); again.Int("seq") != edit.Int("seq") {
		t.Fatalf("a retried edit made a new event: %s", again.Raw)
	}
	expectCode(t, req(b, map[string]any{"type": "edit", "ref": "e2", "id": id, "body": "mine now"}), "forbidden")
	expectCode(t, req(a, map[string]any{"type": "edit", "ref": "e3", "id": "01a22955-0000-7000-8000-000000000000", "body": "x"}), "not_found")
	expectCode(t, req(a, map[string]any{"type": "edit", "ref": "e4", "id": "nope", "body": "x"}), "not_found")
	expectCode(t, req(a, map[string]any{"type": "edit", "ref": "e5", "id": id, "body": "   "}), "bad_request")
	expectCode(t, req(a, map[string]any{"type": "edit", "ref": "e6", "body": "no id"}), "bad_request")

	// Reactions: Bob adds, adds again (no change), Alice adds another.
	r1 := expectAck(t, req(b, map[string]any{"type": "react", "ref": "r1", "id": id, "emoji": "👍", "on": true}))
	if f := a.NextOf("reaction"); f.Str("emoji") != "👍" || f.M["on"] != true || f.Int("seq") != r1.Int("seq") ||
		f.M["user"].(map[string]any)["id"] != bob.ID {
		t.Fatalf("reaction frame: %s", f.Raw)
	}
	expectAck(t, req(b, map[string]any{"type": "react", "ref": "r2", "id": id, "emoji": "👍", "on": true}))
	expectAck(t, req(a, map[string]any{"type": "react", "ref": "r3", "id": id, "emoji": "🎉", "on": true}))
	expectAck(t, req(a, map[string]any{"type": "react", "ref": "r4", "id": id, "emoji": "👍", "on": true}))
	expectAck(t, req(a, map[string]any{"type": "react", "ref": "r5", "id": id, "emoji": "👍", "on": false}))
	for _, bad := range []map[string]any{
		{"type": "react", "ref": "r6", "id": id, "emoji": "two words", "on": true},
		{"type": "react", "ref": "r7", "id": id, "emoji": "", "on": true},
		{"type": "react", "ref": "r8", "id": id, "emoji": "👍"},
		{"type": "react", "ref": "r9", "id": id, "emoji": "123456789012345678901234567890123", "on": true},
	} {
		expectCode(t, req(b, bad), "bad_request")
	}

	// A reply, and a reply to nothing.
	reply := expectAck(t, req(b, map[string]any{"type": "send", "ref": "re1", "body": "yes", "reply_to": id}))
	expectCode(t, req(b, map[string]any{"type": "send", "ref": "re2", "body": "?", "reply_to": "01a22955-0000-7000-8000-000000000000"}), "bad_request")

	check := func(when string) {
		t.Helper()
		for _, v := range []struct {
			tok, mine string
		}{{aTok, "👍:1:false 🎉:1:true "}, {bTok, "👍:1:true 🎉:1:false "}} {
			h := historyOf(t, s2, v.tok, room.ID)
			m := h[id]
			if m.Body != "hello world" || m.EditedAt == nil || m.Deleted || reactions(m) != v.mine {
				t.Fatalf("%s: history of the edited message: %+v (reactions %s, want %s)", when, m, reactions(m), v.mine)
			}
			if r := h[reply.Str("id")]; r.ReplyTo == nil || *r.ReplyTo != id {
				t.Fatalf("%s: history of the reply: %+v", when, r)
			}
		}
	}
	check("from the cache")

	// The room's owner deletes Bob's reply; Bob cannot delete Alice's message.
	expectCode(t, req(b, map[string]any{"type": "delete", "ref": "d1", "id": id}), "forbidden")
	del := expectAck(t, req(a, map[string]any{"type": "delete", "ref": "d2", "id": reply.Str("id")}))
	if f := b.NextOf("delete"); f.Str("id") != reply.Str("id") || f.Int("seq") != del.Int("seq") {
		t.Fatalf("delete frame: %s", f.Raw)
	}
	expectCode(t, req(b, map[string]any{"type": "edit", "ref": "e7", "id": reply.Str("id"), "body": "undo"}), "bad_request")
	expectCode(t, req(a, map[string]any{"type": "react", "ref": "r10", "id": reply.Str("id"), "emoji": "👍", "on": true}), "bad_request")
	if r := historyOf(t, s1, bTok, room.ID)[reply.Str("id")]; !r.Deleted || r.Body != "" || len(r.Reactions) != 0 {
		t.Fatalf("deleted reply: %+v", r)
	}

	// Once the persister has stored everything, history reads the same
	// from PostgreSQL alone.
	last := del.Int("seq")
	pool := testenvPool(t, c.Vars["DATABASE_URL"])
	waitUntil(t, func() bool {
		var top int64
		err := pool.QueryRow(testenv.Ctx(t), "SELECT last_seq FROM rooms WHERE id = $1", room.ID).Scan(&top)
		return err == nil && top >= last
	}, "the room's log stored")
	rdb := testenv.Redis(t)
	if err := rdb.Del(testenv.Ctx(t), bus.Keys{Prefix: c.Vars["REDIS_PREFIX"]}.Recent(room.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	check("from PostgreSQL")
	if r := historyOf(t, s1, bTok, room.ID)[reply.Str("id")]; !r.Deleted || r.Body != "" {
		t.Fatalf("deleted reply from PostgreSQL: %+v", r)
	}

	// A late subscriber replays every event, in seq order, from PostgreSQL.
	late := s2.Dial(t, bTok)
	zero := int64(0)
	replay, _ := late.Subscribe(room.ID, &zero)
	var kinds string
	for i, f := range replay {
		if i > 0 && f.Int("seq") <= replay[i-1].Int("seq") {
			t.Fatalf("replay out of order: %d after %d", f.Int("seq"), replay[i-1].Int("seq"))
		}
		kinds += f.Type() + " "
	}
	want := "message edit reaction reaction reaction reaction reaction message delete "
	if kinds != want {
		t.Fatalf("replay: %s, want %s", kinds, want)
	}
}

// TestReactionLimit: a message takes at most 20 different emoji; more
// reactions with those 20 are fine.
func TestReactionLimit(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1")
	_, tok := s.Signup(t, "alice")
	room := s.CreateRoom(t, tok, "emoji", protocol.Public)
	w := s.Dial(t, tok)
	id := expectAck(t, w.SendMsg(room.ID, "m", "react to me")).Str("id")
	for i := range protocol.ReactionsMaxEmoji {
		expectAck(t, w.Request(map[string]any{"type": "react", "room": room.ID, "ref": "r" + itoa(i), "id": id,
			"emoji": fmt.Sprintf("e%d", i), "on": true}))
	}
	expectCode(t, w.Request(map[string]any{"type": "react", "room": room.ID, "ref": "over", "id": id,
		"emoji": "one-too-many", "on": true}), "bad_request")
	expectAck(t, w.Request(map[string]any{"type": "react", "room": room.ID, "ref": "off", "id": id,
		"emoji": "e0", "on": false}))
	expectAck(t, w.Request(map[string]any{"type": "react", "room": room.ID, "ref": "fits", "id": id,
		"emoji": "one-too-many", "on": true}))
}
