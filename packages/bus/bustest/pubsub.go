package bustest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// recorder is a bus.Handler that writes what it gets as lines.
type recorder struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1)} }

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) OnMessage(room string, frame []byte) { r.add("msg " + room + " " + string(frame)) }
func (r *recorder) OnSkip(room string, seq int64)       { r.add(fmt.Sprintf("skip %s %d", room, seq)) }
func (r *recorder) OnSubscribed(room string)            { r.add("subscribed " + room) }
func (r *recorder) OnControl(payload []byte)            { r.add("control " + string(payload)) }

// await waits until want is the next line after *at, failing on any other.
func (r *recorder) await(t *testing.T, at *int, want string) {
	t.Helper()
	r.awaitSkipping(t, at, want, "")
}

// awaitSkipping is await, passing over lines equal to skip.
func (r *recorder) awaitSkipping(t *testing.T, at *int, want, skip string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		if len(r.got) > *at {
			got := r.got[*at]
			r.mu.Unlock()
			if skip != "" && got == skip {
				*at++
				continue
			}
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
			*at++
			return
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %q", want)
		}
	}
}

func testPubSub(t *testing.T, open Open) {
	ctx := ctxOf(t)
	b := open(t, 5).Broker
	rec := newRecorder()
	sub := b.Subscribe(ctx, rec)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); sub.Run(runCtx) }()
	t.Cleanup(func() { cancel(); sub.Close(); <-done })

	at := 0
	for _, room := range []string{"a", "b"} {
		if err := sub.Subscribe(ctx, room); err != nil {
			t.Fatal(err)
		}
		rec.await(t, &at, "subscribed "+room)
	}
	if err := b.Publish(ctx, "a", []byte(`{"type":"typing"}`)); err != nil {
		t.Fatal(err)
	}
	rec.await(t, &at, `msg a {"type":"typing"}`)
	if err := b.Skip(ctx, "a", 7); err != nil {
		t.Fatal(err)
	}
	rec.await(t, &at, "skip a 7")
	if err := b.PublishControl(ctx, []byte(`{"kind":"member"}`)); err != nil {
		t.Fatal(err)
	}
	rec.await(t, &at, `control {"kind":"member"}`)

	// A commit publishes its frame on the room's channel.
	var epoch int64
	m := begin(t, b, Seeder(&epoch), "u", protocol.Event{ID: "m", Room: "b", Ref: "m"}, 0).Event
	if err := b.Commit(ctx, "b", m.Seq, time.Now(), []byte(`{"type":"message"}`), nil); err != nil {
		t.Fatal(err)
	}
	rec.await(t, &at, `msg b {"type":"message"}`)

	// After Unsubscribe, the room's frames stop. Redis confirms an
	// unsubscription asynchronously, so a frame published at once may still
	// arrive; one published after a full round trip on another room must not.
	if err := sub.Unsubscribe(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	_ = b.Publish(ctx, "a", []byte(`{"n":1}`))
	_ = b.Publish(ctx, "b", []byte(`{"n":2}`))
	rec.awaitSkipping(t, &at, `msg b {"n":2}`, `msg a {"n":1}`)
	_ = b.Publish(ctx, "a", []byte(`{"n":3}`))
	_ = b.Publish(ctx, "b", []byte(`{"n":4}`))
	rec.awaitSkipping(t, &at, `msg b {"n":4}`, `msg a {"n":1}`)
}

func testPresence(t *testing.T, open Open) {
	ctx := ctxOf(t)
	b := open(t, 5).Broker
	if on, err := b.Claim(ctx, "s1", "u", time.Minute); err != nil || !on {
		t.Fatalf("first claim: %v %v", on, err)
	}
	if on, _ := b.Claim(ctx, "s2", "u", time.Minute); on {
		t.Fatal("a second server's claim reported the user coming online")
	}
	if err := b.Renew(ctx, "s1", []string{"u", "v"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	online, err := b.Online(ctx, []string{"u", "v", "w"})
	if err != nil || !online["u"] || !online["v"] || online["w"] {
		t.Fatalf("online: %v %v", online, err)
	}
	if off, _ := b.Release(ctx, "s1", "u"); off {
		t.Fatal("released while another server still claims")
	}
	if off, _ := b.Release(ctx, "s2", "u"); !off {
		t.Fatal("the last release did not take the user offline")
	}
	// A dead server's claim expires, and one sweep reports it, once.
	if _, err := b.Claim(ctx, "dead", "x", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		gone, err := b.Sweep(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(gone) == 1 && gone[0] == "x" {
			break
		}
		if len(gone) != 0 || time.Now().After(deadline) {
			t.Fatalf("sweep: %v", gone)
		}
		time.Sleep(10 * time.Millisecond) // polling an expiry, with a deadline
	}
	if gone, _ := b.Sweep(ctx, 100); len(gone) != 0 {
		t.Fatalf("swept twice: %v", gone)
	}
	if online, _ := b.Online(ctx, []string{"x"}); online["x"] {
		t.Fatal("an expired claim still counts")
	}
}
