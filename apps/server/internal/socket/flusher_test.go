package socket

import (
	"testing"
	"time"
)

func testConn(w *Writers) *Conn {
	return &Conn{w: w, gap: maxGap, quit: make(chan struct{}), space: make(chan struct{}, 1)}
}

func lists(f *flusher) (urgent, ready, later int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.urgent), len(f.ready), len(f.later)
}

// A quiet connection is written at once, a busy one waits three ticks to
// gather frames, and an ack jumps every queue.
func TestFlusherSchedulesByFrameRate(t *testing.T) {
	const delay = 10 * time.Millisecond
	h := &Writers{opts: Options{Queue: 16}, f: newFlusher(delay)}
	f := h.f
	msg := []byte(`{"type":"message","seq":1}`)

	quiet := testConn(h)
	quiet.Enqueue(msg)
	if u, r, l := lists(f); u != 0 || r != 1 || l != 0 {
		t.Fatalf("quiet connection: urgent %d ready %d later %d, want it ready", u, r, l)
	}

	// Frames 2 ms apart: the average gap falls under the delay within a
	// few frames.
	busy := testConn(h)
	at := time.Now()
	for i := 0; i < 20; i++ {
		at = at.Add(2 * time.Millisecond)
		busy.arrived(at)
	}
	if busy.gap >= delay {
		t.Fatalf("gap %v after 20 frames 2 ms apart", busy.gap)
	}
	busy.Enqueue(msg)
	if u, r, l := lists(f); u != 0 || r != 1 || l != 1 {
		t.Fatalf("busy connection: urgent %d ready %d later %d, want it later", u, r, l)
	}
	busy.Enqueue(msg)
	if _, _, l := lists(f); l != 1 {
		t.Fatalf("scheduled twice: %d in the later list", l)
	}

	// Two ticks keep it waiting, the third makes it ready.
	for i := 0; i < busyTicks; i++ {
		f.tick()
		if _, r, l := lists(f); r != 1 || l != 1 {
			t.Fatalf("tick %d: ready %d later %d, want it still waiting", i+1, r, l)
		}
	}
	f.tick()
	if _, r, l := lists(f); r != 2 || l != 0 {
		t.Fatalf("third tick: ready %d later %d, want it ready", r, l)
	}

	// An ack for a connection already in the ready list puts it first.
	busy.Enqueue([]byte(`{"type":"ack","ref":"r"}`))
	if u, _, _ := lists(f); u != 1 {
		t.Fatalf("ack: %d urgent, want 1", u)
	}
	if c := f.next(); c != busy {
		t.Fatal("the connection with an ack was not written first")
	}
	busy.Enqueue([]byte(`{"type":"ack","ref":"r2"}`))
	if u, _, _ := lists(f); u != 0 {
		t.Fatal("a connection already in the urgent list was listed again")
	}
}
