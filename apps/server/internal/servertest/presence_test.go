package servertest_test

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/devenv"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// nextPresence returns the next presence frame about user.
func nextPresence(w *servertest.WS, username string) servertest.Frame {
	for {
		f := w.NextOf("presence")
		if u, _ := f.M["user"].(map[string]any); u["username"] == username {
			return f
		}
	}
}

func TestPresenceAcrossServers(t *testing.T) {
	s1, s2, aTok, bTok, room := setup(t, "PRESENCE_TTL", "3s")
	alice := s1.Dial(t, aTok)
	_, sub := alice.Subscribe(room.ID, nil)
	if fmt.Sprint(sub.M["online"]) == "" || len(sub.M["online"].([]any)) != 1 {
		t.Fatalf("snapshot with only alice online: %s", sub.Raw)
	}
	bob := s2.Dial(t, bTok)
	if f := nextPresence(alice, "bob"); f.M["online"] != true {
		t.Fatalf("bob online: %s", f.Raw)
	}
	_, sub = bob.Subscribe(room.ID, nil)
	if on, _ := sub.M["online"].([]any); len(on) != 2 {
		t.Fatalf("snapshot with both online: %s", sub.Raw)
	}
	// A second connection of bob changes nothing; closing one neither.
	bob2 := s1.Dial(t, bTok)
	_ = bob2.Conn.Close()
	_ = bob.Conn.Close()
	// s1 may record bob2's claim only after s2 dropped bob's (each server
	// posts its claims on its own goroutine): bob is then briefly online
	// again on s1 (offline, online, offline). What must hold is that he
	// ends offline, no frame repeats the one before, and there is at most
	// that one flicker.
	var seen []bool // what alice was told, in order
	add := func(fs ...servertest.Frame) {
		for _, f := range fs {
			seen = append(seen, f.M["online"] == true)
		}
		if len(seen) > 3 {
			t.Fatalf("presence of bob after both closed: %v", seen)
		}
	}
	for {
		if len(seen) == 0 || seen[len(seen)-1] {
			add(nextPresence(alice, "bob"))
			continue
		}
		rest := presenceOf(alice.UntilPong(), "bob") // queued behind the offline
		if len(rest) == 0 {
			break
		}
		add(rest...)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] == seen[i-1] {
			t.Fatalf("a repeated presence frame: %v", seen)
		}
	}
}

// presenceOf are the presence frames about username among frames.
func presenceOf(frames []servertest.Frame, username string) []servertest.Frame {
	var out []servertest.Frame
	for _, f := range frames {
		if u, _ := f.M["user"].(map[string]any); f.Type() == "presence" && u["username"] == username {
			out = append(out, f)
		}
	}
	return out
}

// TestPresenceOfKilledServer: a server killed without a goodbye stops
// renewing; its users go offline within the TTL, announced by another server.
func TestPresenceOfKilledServer(t *testing.T) {
	c := servertest.NewCluster(t)
	s1 := c.Start(t, "s1", "PRESENCE_TTL", "3s")
	_, aTok := s1.Signup(t, "alice")
	_, bTok := s1.Signup(t, "bob")
	room := s1.CreateRoom(t, aTok, "lobby", protocol.Public)
	s1.Do(t, "POST", "/api/v1/rooms/"+room.ID+"/join", bTok, nil)
	alice := s1.Dial(t, aTok)
	alice.Subscribe(room.ID, nil)

	// The other server is a separate process, to be killed for real.
	proc, url := startProcess(t, c, "doomed", "PRESENCE_TTL=3s")
	servertest.DialURL(t, url, bTok)
	if f := nextPresence(alice, "bob"); f.M["online"] != true {
		t.Fatalf("bob online: %s", f.Raw)
	}
	proc.Signal(syscall.SIGKILL)
	<-proc.Done()
	start := time.Now()
	if f := nextPresence(alice, "bob"); f.M["online"] != false {
		t.Fatalf("bob offline: %s", f.Raw)
	}
	if took := time.Since(start); took > 6*time.Second {
		t.Fatalf("offline after %s with PRESENCE_TTL=3s", took)
	}
}

func TestTypingIsThrottledAndNotStored(t *testing.T) {
	s1, s2, aTok, bTok, room := setup(t)
	alice := s1.Dial(t, aTok)
	bob := s2.Dial(t, bTok)
	alice.Subscribe(room.ID, nil)
	bob.Subscribe(room.ID, nil)
	for i := 0; i < 5; i++ {
		alice.Send(map[string]string{"type": "typing", "room": room.ID})
	}
	// The message is published after the typing frames: count what came first.
	alice.SendMsg(room.ID, "after-typing", "done typing")
	typing := 0
	for {
		f := bob.Next()
		if f.Type() == "message" {
			break
		}
		if f.Type() == "typing" {
			if u, _ := f.M["user"].(map[string]any); u["username"] != "alice" || f.Str("room") != room.ID {
				t.Fatalf("typing frame: %s", f.Raw)
			}
			typing++
		}
	}
	if typing != 1 {
		t.Fatalf("bob saw %d typing frames for 5 sent within 2 s, want 1", typing)
	}
	for _, f := range alice.Drain() {
		if f.Type() == "typing" {
			t.Fatalf("the typist got her own typing frame: %s", f.Raw)
		}
	}
	var h page
	s1.Do(t, "GET", "/api/v1/rooms/"+room.ID+"/messages", aTok, nil).Decode(t, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("history holds %d entries; typing must not be stored", len(h.Messages))
	}
}

func TestReadReceiptsAndUnread(t *testing.T) {
	s1, s2, aTok, bTok, room := setup(t)
	alice := s1.Dial(t, aTok)
	alice.Subscribe(room.ID, nil)
	var seqs []int64
	for i := 0; i < 5; i++ {
		seqs = append(seqs, alice.SendMsg(room.ID, fmt.Sprintf("m%d", i), "hello").Int("seq"))
	}
	unread := func() int64 {
		var l struct{ Rooms []protocol.Room }
		s2.Do(t, "GET", "/api/v1/rooms", bTok, nil).Decode(t, &l)
		for _, r := range l.Rooms {
			if r.ID == room.ID {
				if r.LastSeq < seqs[4] {
					t.Fatalf("last_seq %d, want at least %d", r.LastSeq, seqs[4])
				}
				return r.Unread
			}
		}
		t.Fatal("room not listed")
		return 0
	}
	if n := unread(); n != 5 {
		t.Fatalf("unread %d before reading, want 5", n)
	}
	bob := s2.Dial(t, bTok)
	bob.Subscribe(room.ID, nil)
	bob.Send(map[string]any{"type": "read", "room": room.ID, "seq": seqs[2]})
	// Alice's subscription hears of it.
	f := alice.NextOf("read")
	if f.Int("seq") != seqs[2] || f.Str("room") != room.ID {
		t.Fatalf("read frame: %s", f.Raw)
	}
	// Never backwards: an older read changes nothing.
	bob.Send(map[string]any{"type": "read", "room": room.ID, "seq": seqs[0]})
	alice.NextOf("read")
	waitUntil(t, func() bool { return unread() == 2 }, "unread 2 after reading 3 of 5")
	// From another server, after a reconnect: the same.
	bob.Conn.Close()
	if n := unread(); n != 2 {
		t.Fatalf("unread %d after reconnect", n)
	}
	// Bob's own messages never count as unread for him.
	bob = s1.Dial(t, bTok)
	bob.SendMsg(room.ID, "own", "mine")
	if n := unread(); n != 2 {
		t.Fatalf("unread %d after bob's own message", n)
	}
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by deadline
	}
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	waitUntil(t, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, base+" healthy")
}

// startProcess runs a server of the cluster as a process of its own (to
// be killed or signalled for real), with extra settings KEY=value, and
// waits until it is healthy. It returns the process and its base URL.
func startProcess(t *testing.T, c *servertest.Cluster, id string, vars ...string) (*devenv.Proc, string) {
	t.Helper()
	port, err := devenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"SERVER_ID=" + id, fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port), "ADMIN_ADDR=127.0.0.1:0"}
	for k, v := range c.Vars {
		env = append(env, k+"="+v)
	}
	proc := testenv.StartApp(t, id, testenv.BuildApp(t, "server"), append(env, vars...)...)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitHealthy(t, url)
	return proc, url
}

// TestPresenceSnapshotSeesNewMembers: the member list behind subscribed's
// online snapshot is cached per server; a member who joins through
// another server is in the next snapshot at once, not after the cache's
// 30 s.
func TestPresenceSnapshotSeesNewMembers(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	_, aTok := s1.Signup(t, "alice")
	_, bTok := s2.Signup(t, "bob")
	room := s1.CreateRoom(t, aTok, "lobby", protocol.Public)
	alice := s1.Dial(t, aTok)
	if _, sub := alice.Subscribe(room.ID, nil); len(sub.M["online"].([]any)) != 1 {
		t.Fatalf("snapshot of alice alone: %s", sub.Raw)
	}
	if r := s2.Do(t, "POST", "/api/v1/rooms/"+room.ID+"/join", bTok, nil); r.Status != http.StatusOK {
		t.Fatalf("join: %d %s", r.Status, r.Raw)
	}
	s2.Dial(t, bTok) // bob online
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := s1.Dial(t, aTok)
		_, sub := a.Subscribe(room.ID, nil)
		if on, _ := sub.M["online"].([]any); len(on) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice's snapshot after bob joined on s2 and came online: %s", sub.Raw)
		}
		_ = a.Conn.Close()
		time.Sleep(50 * time.Millisecond) // polling: the join's control message and bob's presence claim travel Redis
	}
}
