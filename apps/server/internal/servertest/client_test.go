package servertest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/client"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// inbox collects the messages a Session hands its handler.
type inbox struct {
	mu   sync.Mutex
	seqs []int64
	ch   chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 1)} }

func (b *inbox) handle(f client.Frame) {
	if f.Type != protocol.TypeMessage {
		return
	}
	m, err := f.Message()
	if err != nil {
		return
	}
	b.mu.Lock()
	b.seqs = append(b.seqs, m.Seq)
	b.mu.Unlock()
	select {
	case b.ch <- struct{}{}:
	default:
	}
}

// await waits until the inbox holds n messages and returns their seqs.
func (b *inbox) await(t *testing.T, n int) []int64 {
	t.Helper()
	deadline := time.After(servertest.Timeout)
	for {
		b.mu.Lock()
		got := append([]int64(nil), b.seqs...)
		b.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-b.ch:
		case <-deadline:
			t.Fatalf("%d messages of %d", len(got), n)
		}
	}
}

// annAndBob signs up ann (through annURL) and bob (through bobURL), and
// has ann create a public room that bob joins.
func annAndBob(ctx context.Context, t *testing.T, annURL, bobURL, name string) (ann, bob *client.Client, room protocol.Room) {
	t.Helper()
	ann, bob = client.New(annURL), client.New(bobURL)
	if _, err := ann.Signup(ctx, "ann", "password-ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Signup(ctx, "bob", "password-bob"); err != nil {
		t.Fatal(err)
	}
	room, err := ann.CreateRoom(ctx, name, protocol.Public)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	return ann, bob, room
}

// TestClientSDK: the Go client of the contract creates accounts and rooms,
// sends with refs (a retried ref is one message), and a Session resumed on
// another server after its connection died hands over every message
// exactly once, in order.
func TestClientSDK(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*servertest.Timeout)
	defer cancel()

	ann, bob, room := annAndBob(ctx, t, s1.URL, s2.URL, "sdk")
	if _, err := bob.Signup(ctx, "bob", "password-bob"); !client.IsCode(err, protocol.CodeConflict) {
		t.Fatalf("second signup: %v", err)
	}

	annConn, err := client.Dial(ctx, s1.URL, ann.Token)
	if err != nil {
		t.Fatal(err)
	}
	sender := client.NewSession(annConn, nil, nil)
	defer sender.Close()
	bobConn, err := client.Dial(ctx, s2.URL, bob.Token)
	if err != nil {
		t.Fatal(err)
	}
	box := newInbox()
	watcher := client.NewSession(bobConn, box.handle, nil)
	if _, err := watcher.Subscribe(ctx, room.ID); err != nil {
		t.Fatal(err)
	}

	var acked []int64
	send := func(ref string) {
		t.Helper()
		ack, err := sender.SendRetry(ctx, room.ID, ref, "hi "+ref)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, ack.Seq)
	}
	send("a")
	send("b")
	if again, err := sender.Send(ctx, room.ID, "a", "hi a"); err != nil || again.Seq != acked[0] {
		t.Fatalf("retried ref: %+v %v", again, err)
	}
	box.await(t, 2)

	// bob's connection dies; ann goes on; bob resumes on the other server.
	_ = bobConn.Close()
	<-watcher.Done()
	send("c")
	send("d")
	bobConn, err = client.Dial(ctx, s1.URL, bob.Token)
	if err != nil {
		t.Fatal(err)
	}
	resumed := client.NewSession(bobConn, box.handle, watcher.Positions())
	defer resumed.Close()
	if sub, err := resumed.Subscribe(ctx, room.ID); err != nil || !sub.Recovered {
		t.Fatalf("resume: %+v %v", sub, err)
	}
	send("e")
	got := box.await(t, 5)
	if len(got) != 5 {
		t.Fatalf("got %v, acked %v", got, acked)
	}
	for i := range got {
		if got[i] != acked[i] {
			t.Fatalf("got %v, acked %v", got, acked)
		}
	}

	msgs, more, err := bob.History(ctx, room.ID, 0, 10)
	if err != nil || more || len(msgs) != 5 {
		t.Fatalf("history: %d messages, more %v, %v", len(msgs), more, err)
	}
	if _, err := resumed.Send(ctx, "no-such-room", client.NewRef(), "x"); !client.IsCode(err, protocol.CodeNotFound) && !client.IsCode(err, protocol.CodeBadRequest) {
		t.Fatalf("send to a room that does not exist: %v", err)
	}
}

// TestClientSDKEvents: the Go client's v1.1 requests, and a resumed
// Session that hands over events exactly once too.
func TestClientSDKEvents(t *testing.T) {
	c := servertest.NewCluster(t)
	s1, s2 := c.Start(t, "s1"), c.Start(t, "s2")
	ctx, cancel := context.WithTimeout(context.Background(), 2*servertest.Timeout)
	defer cancel()
	ann := client.New(s1.URL)
	auth, err := ann.Signup(ctx, "ann", "password-ann")
	if err != nil {
		t.Fatal(err)
	}
	room, err := ann.CreateRoom(ctx, "sdk", protocol.Public)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var kinds []string
	handle := func(f client.Frame) {
		if protocol.IsRoomEventType(f.Type) {
			mu.Lock()
			kinds = append(kinds, f.Type)
			mu.Unlock()
		}
	}
	conn, err := client.Dial(ctx, s1.URL, auth.Token)
	if err != nil {
		t.Fatal(err)
	}
	s := client.NewSession(conn, handle, nil)
	if _, err := s.Subscribe(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	m, err := s.Send(ctx, room.ID, "m1", "hello")
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() (protocol.Ack, error){
		func() (protocol.Ack, error) { return s.Edit(ctx, room.ID, "e1", m.ID, "hello, world") },
		func() (protocol.Ack, error) { return s.React(ctx, room.ID, "r1", m.ID, "👍", true) },
		func() (protocol.Ack, error) { return s.Delete(ctx, room.ID, "d1", m.ID) },
	}
	for i, step := range steps {
		ack, err := step()
		if err != nil || ack.ID != m.ID || ack.Seq != m.Seq+int64(i)+1 {
			t.Fatalf("step %d: %+v %v", i, ack, err)
		}
	}
	if _, err := s.Edit(ctx, room.ID, "e2", m.ID, "too late"); !client.IsCode(err, protocol.CodeBadRequest) {
		t.Fatalf("edit of a deleted message: %v", err)
	}
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(kinds) == 4 }, "four events")
	// Resumed elsewhere from before the edit: the rest once, in order.
	pos := map[string]int64{room.ID: m.Seq}
	_ = s.Close()
	conn2, err := client.Dial(ctx, s2.URL, auth.Token)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	kinds = nil
	mu.Unlock()
	s2sess := client.NewSession(conn2, handle, pos)
	defer s2sess.Close()
	if _, err := s2sess.Subscribe(ctx, room.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := fmt.Sprint(kinds); got != "[edit reaction delete]" {
		t.Fatalf("replayed: %s", got)
	}
}

// TestClientConnReplay: Conn.Subscribe with after_seq returns every missed
// message whole and in order. It reads frames into one reused buffer, so a
// decoded message that kept a reference into it would show a later frame's
// bytes: the bodies alternate long and short to make that visible.
func TestClientConnReplay(t *testing.T) {
	c := servertest.NewCluster(t)
	s1 := c.Start(t, "s1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*servertest.Timeout)
	defer cancel()

	ann, bob, room := annAndBob(ctx, t, s1.URL, s1.URL, "replay")
	annConn, err := client.Dial(ctx, s1.URL, ann.Token)
	if err != nil {
		t.Fatal(err)
	}
	sender := client.NewSession(annConn, nil, nil)
	defer sender.Close()
	var bodies []string
	for i := range 20 {
		body := fmt.Sprintf("short %d", i)
		if i%2 == 0 {
			body = fmt.Sprintf("long %d %0*d", i, 3000, i)
		}
		if _, err := sender.SendRetry(ctx, room.ID, fmt.Sprintf("r%d", i), body); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}

	conn, err := client.Dial(ctx, s1.URL, bob.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	after := int64(0)
	replay, sub, err := conn.Subscribe(ctx, room.ID, &after)
	if err != nil {
		t.Fatal(err)
	}
	if len(replay) != len(bodies) || sub.LastSeq != replay[len(replay)-1].Seq {
		t.Fatalf("replayed %d of %d, subscribed at %d", len(replay), len(bodies), sub.LastSeq)
	}
	for i, m := range replay {
		if m.Body != bodies[i] || m.Room != room.ID || (i > 0 && m.Seq <= replay[i-1].Seq) {
			t.Fatalf("message %d: seq %d, body %.20q, want %.20q", i, m.Seq, m.Body, bodies[i])
		}
	}
}
