package servertest_test

import (
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// roomsOf lists token's rooms by id.
func roomsOf(t *testing.T, s *servertest.Server, token string) map[string]protocol.Room {
	t.Helper()
	var body struct{ Rooms []protocol.Room }
	s.Do(t, "GET", "/api/v1/rooms", token, nil).Decode(t, &body)
	out := map[string]protocol.Room{}
	for _, r := range body.Rooms {
		out[r.ID] = r
	}
	return out
}

// TestMentions: @username of a member is resolved at send time (others
// are not), the mentioned user's every connection hears of it on any
// server, subscribed to the room or not, and the rooms list counts
// unread mentions until the read marker passes them.
func TestMentions(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	c.StartPersister(t)
	alice, aTok := s1.Signup(t, "alice")
	carol, cTok := s2.Signup(t, "carol")
	_, _ = s1.Signup(t, "dave") // not a member: named, not mentioned
	room := s1.CreateRoom(t, aTok, "mentions", protocol.Private)
	s1.Do(t, "POST", "/api/v1/rooms/"+room.ID+"/members", aTok, map[string]string{"username": "carol"})
	if r := roomsOf(t, s1, aTok)[room.ID]; r.Owner == nil || r.Owner.ID != alice.ID || r.Mentions != 0 {
		t.Fatalf("room as its owner sees it: %+v", r)
	}
	carolIdle := s2.Dial(t, cTok) // not subscribed to the room
	carolIdle.UntilPong()
	a := s1.Dial(t, aTok)
	ack := expectAck(t, a.SendMsg(room.ID, "m1", "hey @Carol, and @dave, and me@carol.example: look, @carol."))
	f := carolIdle.NextOf("mention")
	if f.Str("room") != room.ID || f.Str("id") != ack.Str("id") || f.Int("seq") != ack.Int("seq") ||
		f.M["sender"].(map[string]any)["id"] != alice.ID {
		t.Fatalf("mention frame: %s", f.Raw)
	}
	h := historyOf(t, s2, cTok, room.ID)[ack.Str("id")]
	if len(h.Mentions) != 1 || h.Mentions[0].ID != carol.ID {
		t.Fatalf("mentions of the message: %+v", h.Mentions)
	}
	if r := roomsOf(t, s2, cTok)[room.ID]; r.Mentions != 1 || r.Unread != 1 {
		t.Fatalf("carol's room before reading: mentions %d, unread %d", r.Mentions, r.Unread)
	}
	// Once stored, the count comes from PostgreSQL; reading clears it.
	waitStored(t, c.Vars["DATABASE_URL"], room.ID, 1)
	if r := roomsOf(t, s2, cTok)[room.ID]; r.Mentions != 1 {
		t.Fatalf("carol's room, stored: mentions %d", r.Mentions)
	}
	carolIdle.Send(map[string]any{"type": "read", "room": room.ID, "seq": ack.Int("seq")})
	waitUntil(t, func() bool { return roomsOf(t, s2, cTok)[room.ID].Mentions == 0 }, "mentions read")
	// Mentioning oneself tells no one, before and after it is stored.
	expectAck(t, a.SendMsg(room.ID, "m2", "note to @alice"))
	if r := roomsOf(t, s1, aTok)[room.ID]; r.Mentions != 0 {
		t.Fatalf("self-mention counted: %+v", r)
	}
	waitStored(t, c.Vars["DATABASE_URL"], room.ID, 2)
	if r := roomsOf(t, s1, aTok)[room.ID]; r.Mentions != 0 {
		t.Fatalf("stored self-mention counted: %+v", r)
	}
}

// TestRemoveMember: the owner removes a member, who is cut off at once on
// another server; nobody else can remove anyone, and the owner cannot be
// removed.
func TestRemoveMember(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	alice, aTok := s1.Signup(t, "alice")
	bob, bTok := s2.Signup(t, "bob")
	carol, cTok := s2.Signup(t, "carol")
	room := s1.CreateRoom(t, aTok, "moderated", protocol.Public)
	for _, tok := range []string{bTok, cTok} {
		s2.Do(t, "POST", "/api/v1/rooms/"+room.ID+"/join", tok, nil)
	}
	b := s2.Dial(t, bTok)
	b.Subscribe(room.ID, nil)
	var list struct{ Users []protocol.User }
	s2.Do(t, "GET", "/api/v1/rooms/"+room.ID+"/members", cTok, nil).Decode(t, &list)
	if len(list.Users) != 3 || list.Users[0].Username != "alice" || list.Users[2].Username != "carol" {
		t.Fatalf("members: %+v", list.Users)
	}

	path := func(u protocol.User) string { return "/api/v1/rooms/" + room.ID + "/members/" + u.ID }
	if r := s2.Do(t, "DELETE", path(carol), bTok, nil); r.Status != 403 || r.Code() != "forbidden" {
		t.Fatalf("a member removing another: %d %s", r.Status, r.Raw)
	}
	if r := s1.Do(t, "DELETE", path(alice), aTok, nil); r.Status != 403 {
		t.Fatalf("the owner removing themself: %d %s", r.Status, r.Raw)
	}
	if r := s1.Do(t, "DELETE", path(bob), aTok, nil); r.Status != 204 {
		t.Fatalf("remove: %d %s", r.Status, r.Raw)
	}
	if f := b.NextOf("error"); f.Str("room") != room.ID || f.Str("code") != "forbidden" {
		t.Fatalf("removed member's subscription: %s", f.Raw)
	}
	if r := s1.Do(t, "DELETE", path(bob), aTok, nil); r.Status != 404 {
		t.Fatalf("removing a non-member: %d %s", r.Status, r.Raw)
	}
	// The removed member receives nothing more and cannot send.
	a := s1.Dial(t, aTok)
	expectAck(t, a.SendMsg(room.ID, "after", "bob is gone"))
	expectCode(t, b.SendMsg(room.ID, "b1", "let me back"), "forbidden")
	for _, f := range b.UntilPong() {
		if f.Type() == "message" {
			t.Fatalf("removed member still fed: %s", f.Raw)
		}
	}
	// A direct room has no owner and no removals.
	dm := struct{ Room protocol.Room }{}
	s1.Do(t, "POST", "/api/v1/dm", aTok, map[string]string{"username": "carol"}).Decode(t, &dm)
	if dm.Room.Owner != nil {
		t.Fatalf("direct room with an owner: %+v", dm.Room)
	}
	if r := s1.Do(t, "DELETE", "/api/v1/rooms/"+dm.Room.ID+"/members/"+carol.ID, aTok, nil); r.Status != 403 {
		t.Fatalf("removal from a direct room: %d %s", r.Status, r.Raw)
	}
}

// TestBlocks: a blocked user can neither start a direct message with the
// blocker nor send in their direct room, on any server, until unblocked.
func TestBlocks(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	alice, aTok := s1.Signup(t, "alice")
	_, bTok := s2.Signup(t, "bob")
	_, mTok := s1.Signup(t, "mallory")
	var dm struct{ Room protocol.Room }
	s2.Do(t, "POST", "/api/v1/dm", bTok, map[string]string{"username": "alice"}).Decode(t, &dm)
	b := s2.Dial(t, bTok)
	expectAck(t, b.SendMsg(dm.Room.ID, "before", "hi"))

	for _, name := range []string{"bob", "mallory"} {
		if r := s1.Do(t, "POST", "/api/v1/blocks", aTok, map[string]string{"username": name}); r.Status != 204 {
			t.Fatalf("block %s: %d %s", name, r.Status, r.Raw)
		}
	}
	var blocked struct{ Users []protocol.User }
	s1.Do(t, "GET", "/api/v1/blocks", aTok, nil).Decode(t, &blocked)
	if len(blocked.Users) != 2 || blocked.Users[0].Username != "bob" {
		t.Fatalf("blocked list: %+v", blocked.Users)
	}
	if r := s1.Do(t, "POST", "/api/v1/blocks", aTok, map[string]string{"username": "nobody-here"}); r.Status != 404 {
		t.Fatalf("blocking an unknown user: %d %s", r.Status, r.Raw)
	}
	if r := s1.Do(t, "POST", "/api/v1/dm", mTok, map[string]string{"username": "alice"}); r.Status != 403 {
		t.Fatalf("blocked user starting a DM: %d %s", r.Status, r.Raw)
	}
	if r := s2.Do(t, "POST", "/api/v1/dm", bTok, map[string]string{"username": "alice"}); r.Status != 403 {
		t.Fatalf("blocked user opening the existing DM: %d %s", r.Status, r.Raw)
	}
	// Other servers hear of the block through the control channel.
	n := 0
	waitUntil(t, func() bool {
		n++
		return b.SendMsg(dm.Room.ID, "after"+itoa(n), "hello?").Str("code") == "forbidden"
	}, "bob's sends refused")
	// The blocker may still write.
	a := s1.Dial(t, aTok)
	expectAck(t, a.SendMsg(dm.Room.ID, "a1", "please stop"))

	var bobID string
	for _, m := range dm.Room.Members {
		if m.ID != alice.ID {
			bobID = m.ID
		}
	}
	if r := s1.Do(t, "DELETE", "/api/v1/blocks/"+bobID, aTok, nil); r.Status != 204 {
		t.Fatalf("unblock: %d %s", r.Status, r.Raw)
	}
	waitUntil(t, func() bool {
		n++
		return b.SendMsg(dm.Room.ID, "again"+itoa(n), "sorry").Type() == "ack"
	}, "bob's sends accepted again")
}
