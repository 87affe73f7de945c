package servertest_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// setup starts two servers and a public room that alice and bob are in.
func setup(t *testing.T, vars ...string) (s1, s2 *servertest.Server, aTok, bTok string, room protocol.Room) {
	t.Helper()
	return setupOn(t, servertest.NewCluster(t), vars...)
}

// setupOn is setup on a cluster the test prepared (its own Redis or Kafka).
func setupOn(t *testing.T, c *servertest.Cluster, vars ...string) (s1, s2 *servertest.Server, aTok, bTok string, room protocol.Room) {
	t.Helper()
	s1 = c.Start(t, "s1", vars...)
	s2 = c.Start(t, "s2", vars...)
	_, aTok = s1.Signup(t, "alice")
	_, bTok = s1.Signup(t, "bob")
	room = s1.CreateRoom(t, aTok, "lobby", protocol.Public)
	if r := s2.Do(t, "POST", "/api/v1/rooms/"+room.ID+"/join", bTok, nil); r.Status != 200 {
		t.Fatalf("join: %d %s", r.Status, r.Raw)
	}
	return
}

func TestCrossServerDelivery(t *testing.T) {
	s1, s2, aTok, bTok, room := setup(t)
	alice := s1.Dial(t, aTok)
	bob := s2.Dial(t, bTok)
	alice.Subscribe(room.ID, nil)
	bob.Subscribe(room.ID, nil)

	ack := alice.SendMsg(room.ID, "r1", "  hello <b>bob</b>  ")
	if ack.Type() != "ack" || ack.Str("room") != room.ID || ack.Str("id") == "" || ack.Int("seq") <= 0 || ack.Str("ts") == "" {
		t.Fatalf("ack: %s", ack.Raw)
	}
	got := bob.NextOf("message")
	var m protocol.MessageFrame
	got.Decode(t, &m)
	if m.Body != "hello <b>bob</b>" || m.Seq != ack.Int("seq") || m.ID != ack.Str("id") || m.Sender.Username != "alice" ||
		m.Ref != "r1" || m.Room != room.ID || m.TS != ack.Str("ts") {
		t.Fatalf("bob got %s for ack %s", got.Raw, ack.Raw)
	}
	// The sender's own subscription gets it too.
	if f := alice.NextOf("message"); f.Int("seq") != ack.Int("seq") {
		t.Fatalf("alice got %s", f.Raw)
	}
	// And back the other way.
	ack2 := bob.SendMsg(room.ID, "r2", "hi alice")
	if f := alice.NextOf("message"); f.Int("seq") != ack2.Int("seq") || f.Str("body") != "hi alice" {
		t.Fatalf("alice got %s", f.Raw)
	}
	if ack2.Int("seq") <= ack.Int("seq") {
		t.Fatalf("seq did not grow: %d then %d", ack.Int("seq"), ack2.Int("seq"))
	}
	// History has both, right after the acks.
	r := s2.Do(t, "GET", "/api/v1/rooms/"+room.ID+"/messages", bTok, nil)
	var h struct {
		Messages []protocol.Message
		HasMore  bool `json:"has_more"`
	}
	r.Decode(t, &h)
	if len(h.Messages) != 2 || h.Messages[0].Seq != ack.Int("seq") || h.Messages[1].Seq != ack2.Int("seq") || h.HasMore {
		t.Fatalf("history: %s", r.Raw)
	}
}

// TestConcurrentSendersOrdering: senders on both servers race in one room;
// every receiver, on either server, sees the identical strictly increasing
// list of seqs, which is exactly the set of acks.
func TestConcurrentSendersOrdering(t *testing.T) {
	s1, s2, aTok, bTok, room := setup(t)
	const perSender = 100
	recv := []*servertest.WS{s1.Dial(t, aTok), s2.Dial(t, bTok), s1.Dial(t, bTok), s2.Dial(t, aTok)}
	for _, w := range recv {
		w.Subscribe(room.ID, nil)
	}
	senders := []*servertest.WS{s1.Dial(t, aTok), s2.Dial(t, bTok)}
	acked := make(chan int64, 2*perSender)
	var wg sync.WaitGroup
	for i, w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perSender; j++ {
				ref := fmt.Sprintf("s%d-%d", i, j)
				w.Send(map[string]string{"type": "send", "room": room.ID, "ref": ref, "body": ref})
			}
			for j := 0; j < perSender; {
				f := w.Next()
				switch f.Type() {
				case "ack":
					acked <- f.Int("seq")
					j++
				case "error":
					t.Errorf("send failed: %s", f.Raw)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(acked)
	want := map[int64]bool{}
	for s := range acked {
		want[s] = true
	}
	if len(want) != 2*perSender {
		t.Fatalf("%d distinct acked seqs, want %d", len(want), 2*perSender)
	}
	var first []int64
	for i, w := range recv {
		var seqs []int64
		for len(seqs) < 2*perSender {
			f := w.NextOf("message")
			seqs = append(seqs, f.Int("seq"))
		}
		for j, s := range seqs {
			if !want[s] {
				t.Fatalf("receiver %d got unacked seq %d", i, s)
			}
			if j > 0 && s <= seqs[j-1] {
				t.Fatalf("receiver %d: seq %d after %d", i, s, seqs[j-1])
			}
		}
		if i == 0 {
			first = seqs
		} else if fmt.Sprint(seqs) != fmt.Sprint(first) {
			t.Fatalf("receivers disagree:\n%v\n%v", first, seqs)
		}
	}
	for i, w := range recv {
		for _, f := range w.Drain() {
			if f.Type() == "message" {
				t.Fatalf("receiver %d got an extra message %s", i, f.Raw)
			}
		}
	}
}

func TestRetriedRefIsOneMessage(t *testing.T) {
	s1, s2, aTok, bTok, room := setup(t)
	bob := s2.Dial(t, bTok)
	bob.Subscribe(room.ID, nil)
	alice := s1.Dial(t, aTok)
	first := alice.SendMsg(room.ID, "same-ref", "only once")
	again := alice.SendMsg(room.ID, "same-ref", "only once")
	// After a "reconnect" to the other server, too.
	alice2 := s2.Dial(t, aTok)
	third := alice2.SendMsg(room.ID, "same-ref", "only once")
	for _, a := range []servertest.Frame{again, third} {
		if a.Type() != "ack" || a.Str("id") != first.Str("id") || a.Int("seq") != first.Int("seq") || a.Str("ts") != first.Str("ts") {
			t.Fatalf("retry answered %s, original %s", a.Raw, first.Raw)
		}
	}
	// One message reached bob.
	if n := servertest.Count(bob.UntilPong(), "message"); n != 1 {
		t.Fatalf("bob got %d messages", n)
	}
	r := s1.Do(t, "GET", "/api/v1/rooms/"+room.ID+"/messages", aTok, nil)
	var h struct{ Messages []protocol.Message }
	r.Decode(t, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("history: %s", r.Raw)
	}
}

func TestReconnectReplaysMissed(t *testing.T) {
	s1, s2, aTok, bTok, room := setup(t)
	alice := s1.Dial(t, aTok)
	bob := s2.Dial(t, bTok)
	bob.Subscribe(room.ID, nil)
	var seen int64
	for i := 0; i < 3; i++ {
		ack := alice.SendMsg(room.ID, fmt.Sprintf("a%d", i), "before")
		if f := bob.NextOf("message"); f.Int("seq") != ack.Int("seq") {
			t.Fatalf("bob: %s", f.Raw)
		}
		seen = ack.Int("seq")
	}
	_ = bob.Conn.Close()
	var missed []int64
	for i := 0; i < 5; i++ {
		missed = append(missed, alice.SendMsg(room.ID, fmt.Sprintf("b%d", i), "while away").Int("seq"))
	}
	// Reconnect to the other server and resume.
	bob = s1.Dial(t, bTok)
	replay, sub := bob.Subscribe(room.ID, &seen)
	if len(replay) != len(missed) {
		t.Fatalf("replayed %d, missed %d", len(replay), len(missed))
	}
	for i, f := range replay {
		if f.Int("seq") != missed[i] {
			t.Fatalf("replay %d: seq %d, want %d", i, f.Int("seq"), missed[i])
		}
	}
	if sub.M["recovered"] != true || sub.Int("last_seq") != missed[len(missed)-1] {
		t.Fatalf("subscribed: %s", sub.Raw)
	}
	// Live continues without a duplicate.
	ack := alice.SendMsg(room.ID, "c", "live")
	if f := bob.NextOf("message"); f.Int("seq") != ack.Int("seq") {
		t.Fatalf("live after replay: %s", f.Raw)
	}
}

func TestReplayBeyondLimitIsNotRecovered(t *testing.T) {
	s1, _, aTok, bTok, room := setup(t, "REPLAY_MAX", "3", "RECENT_MAX", "4")
	alice := s1.Dial(t, aTok)
	var seqs []int64
	for i := 0; i < 8; i++ {
		seqs = append(seqs, alice.SendMsg(room.ID, fmt.Sprintf("m%d", i), "x").Int("seq"))
	}
	bob := s1.Dial(t, bTok)
	zero := int64(0)
	replay, sub := bob.Subscribe(room.ID, &zero)
	if sub.M["recovered"] != false || len(replay) != 3 {
		t.Fatalf("replayed %d, subscribed %s", len(replay), sub.Raw)
	}
	// The newest three, in order: the rest is paged by history.
	for i, f := range replay {
		if f.Int("seq") != seqs[5+i] {
			t.Fatalf("replay %d = %d, want %d", i, f.Int("seq"), seqs[5+i])
		}
	}
}

func TestRoomAddedFrame(t *testing.T) {
	c := servertest.NewCluster(t)
	s1 := c.Start(t, "s1")
	s2 := c.Start(t, "s2")
	_, aTok := s1.Signup(t, "alice")
	_, bTok := s1.Signup(t, "bob")
	bob := s2.Dial(t, bTok)
	r := s1.Do(t, "POST", "/api/v1/dm", aTok, map[string]string{"username": "bob"})
	var dm struct{ Room protocol.Room }
	r.Decode(t, &dm)
	if f := bob.NextOf("room_added"); f.Str("room") != dm.Room.ID {
		t.Fatalf("room_added: %s", f.Raw)
	}
	priv := s1.CreateRoom(t, aTok, "secret", protocol.Private)
	s1.Do(t, "POST", "/api/v1/rooms/"+priv.ID+"/members", aTok, map[string]string{"username": "bob"})
	if f := bob.NextOf("room_added"); f.Str("room") != priv.ID {
		t.Fatalf("room_added: %s", f.Raw)
	}
	// Removed from the room while subscribed: told, and no longer fed.
	bob.Subscribe(priv.ID, nil)
	s1.Do(t, "POST", "/api/v1/rooms/"+priv.ID+"/leave", bTok, nil)
	if f := bob.NextOf("error"); f.Str("room") != priv.ID || f.Str("code") != "forbidden" {
		t.Fatalf("after leaving: %s", f.Raw)
	}
}
