package dispatch

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// fakeSource is an in-memory reader of one partition (pure logic: the
// Kafka path is covered by the whole-system test TestWebhooks).
type fakeSource struct {
	msgs      chan kafka.Message
	mu        sync.Mutex
	committed int64
}

func (f *fakeSource) FetchMessage(ctx context.Context) (kafka.Message, error) {
	select {
	case m := <-f.msgs:
		return m, nil
	case <-ctx.Done():
		return kafka.Message{}, ctx.Err()
	}
}

func (f *fakeSource) CommitMessages(_ context.Context, msgs ...kafka.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range msgs {
		f.committed = max(f.committed, m.Offset)
	}
	return nil
}

func (f *fakeSource) offset() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.committed
}

type fakeStore struct {
	mu     sync.Mutex
	hooks  []Hook
	saves  int
	cursor int64
}

func (s *fakeStore) Webhooks(context.Context) ([]Hook, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Hook(nil), s.hooks...), nil
}

func (s *fakeStore) SetCursor(_ context.Context, _ string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saves++
	s.cursor = max(s.cursor, seq)
	return nil
}

// TestDeletingADeadWebhookReleasesTheBacklog: a receiver that never takes
// anything holds its room's records uncommitted (and, past MaxPending,
// stops reading); deleting its webhook lets the offsets move on.
func TestDeletingADeadWebhookReleasesTheBacklog(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer dead.Close()
	const room = "0190a5e2-0000-7000-8000-000000000001"
	st := &fakeStore{hooks: []Hook{{ID: "h1", Room: room, URL: dead.URL, Secret: "s", Created: time.Unix(0, 0)}}}
	src := &fakeSource{msgs: make(chan kafka.Message, 100)}
	for i := int64(1); i <= 20; i++ {
		v, _ := json.Marshal(protocol.Event{Kind: protocol.KindMessage, ID: "e", Room: room, Seq: i, TS: protocol.FormatTime(time.Now())})
		src.msgs <- kafka.Message{Offset: i, Value: v}
	}
	d := New(slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Queue: 100, MaxPending: 10, GapWait: time.Second,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Timeout: time.Second, Refresh: 20 * time.Millisecond}, st, src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	deadline := time.Now().Add(10 * time.Second)
	for d.offsets.unfinished() < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("the backlog never reached MaxPending: %d", d.offsets.unfinished())
		}
		time.Sleep(time.Millisecond)
	}
	if off := src.offset(); off != 0 {
		t.Fatalf("offset %d committed though nothing was delivered", off)
	}
	if n := len(src.msgs); n != 10 {
		t.Fatalf("%d records left unread, want 10 (reading stops at MaxPending)", n)
	}
	st.mu.Lock()
	st.hooks = nil
	st.mu.Unlock()
	for src.offset() != 20 {
		if time.Now().After(deadline) {
			t.Fatalf("after deletion the offset is %d, want 20", src.offset())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCursorSavedInBatches: a burst of deliveries costs a few cursor
// writes, not one each, and the last delivered seq is saved.
func TestCursorSavedInBatches(t *testing.T) {
	var mu sync.Mutex
	var got []int64
	live := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d Delivery
		_ = json.NewDecoder(r.Body).Decode(&d)
		mu.Lock()
		got = append(got, d.Seq)
		mu.Unlock()
	}))
	defer live.Close()
	const room = "0190a5e2-0000-7000-8000-000000000002"
	st := &fakeStore{hooks: []Hook{{ID: "h1", Room: room, URL: live.URL, Secret: "s", Cursor: 100, Created: time.Unix(0, 0)}}}
	src := &fakeSource{msgs: make(chan kafka.Message, 300)}
	for i := int64(1); i <= 200; i++ {
		v, _ := json.Marshal(protocol.Event{Kind: protocol.KindMessage, ID: "e", Room: room, Seq: 100 + i, TS: protocol.FormatTime(time.Now())})
		src.msgs <- kafka.Message{Offset: i, Value: v}
	}
	d := New(slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Queue: 100, MaxPending: 1000, GapWait: time.Second,
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Timeout: time.Second, Refresh: time.Minute}, st, src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st.mu.Lock()
		c, n := st.cursor, st.saves
		st.mu.Unlock()
		if c == 300 {
			if n > 50 {
				t.Errorf("%d cursor writes for 200 deliveries", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cursor %d after 10 s, want 300", c)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, s := range got {
		if s != int64(101+i) {
			t.Fatalf("delivery %d has seq %d", i, s)
		}
	}
}
