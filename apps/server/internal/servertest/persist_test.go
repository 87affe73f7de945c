package servertest_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

type page struct {
	Messages []protocol.Message
	HasMore  bool `json:"has_more"`
}

// sendMany sends n messages over several connections and returns the acked
// seqs in ascending order.
func sendMany(t *testing.T, s *servertest.Server, tok, room string, n, conns int) []int64 {
	t.Helper()
	var mu sync.Mutex
	var seqs []int64
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		w := s.Dial(t, tok)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += conns {
				f := w.SendMsg(room, fmt.Sprintf("m%d", i), fmt.Sprintf("message %d", i))
				if f.Type() != "ack" {
					t.Errorf("send %d: %s", i, f.Raw)
					return
				}
				mu.Lock()
				seqs = append(seqs, f.Int("seq"))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sortInt64(seqs)
	return seqs
}

func sortInt64(a []int64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// waitStored waits until PostgreSQL holds n messages of the room.
func waitStored(t *testing.T, dbURL, room string, n int) {
	t.Helper()
	pool := testenvPool(t, dbURL)
	waitUntil(t, func() bool {
		var got int
		err := pool.QueryRow(testenv.Ctx(t), "SELECT count(*) FROM messages WHERE room_id = $1", room).Scan(&got)
		return err == nil && got >= n
	}, fmt.Sprintf("%d messages stored", n))
}

// TestHistoryPagination pages through a few thousand messages both ways,
// across the boundary between PostgreSQL and the recent cache.
func TestHistoryPagination(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1", "RECENT_MAX", "100")
	c.StartPersister(t)
	_, tok := s.Signup(t, "alice")
	room := s.CreateRoom(t, tok, "r", protocol.Public)
	const n = 2000
	seqs := sendMany(t, s, tok, room.ID, n, 8)
	if len(seqs) != n {
		t.Fatalf("%d acks", len(seqs))
	}
	waitStored(t, c.Vars["DATABASE_URL"], room.ID, n)

	// Backwards from the newest, 137 at a time.
	var back []int64
	before := int64(0)
	for {
		path := fmt.Sprintf("/api/v1/rooms/%s/messages?limit=137", room.ID)
		if before > 0 {
			path += fmt.Sprintf("&before_seq=%d", before)
		}
		var p page
		s.Do(t, "GET", path, tok, nil).Decode(t, &p)
		for i := 1; i < len(p.Messages); i++ {
			if p.Messages[i].Seq <= p.Messages[i-1].Seq {
				t.Fatalf("page not ascending: %d after %d", p.Messages[i].Seq, p.Messages[i-1].Seq)
			}
		}
		page := make([]int64, 0, len(p.Messages))
		for _, m := range p.Messages {
			page = append(page, m.Seq)
		}
		back = append(page, back...)
		if !p.HasMore {
			break
		}
		before = p.Messages[0].Seq
	}
	// Forwards from the start, 200 at a time.
	var fwd []int64
	after := int64(0)
	for {
		var p page
		s.Do(t, "GET", fmt.Sprintf("/api/v1/rooms/%s/messages?after_seq=%d&limit=200", room.ID, after), tok, nil).Decode(t, &p)
		for _, m := range p.Messages {
			fwd = append(fwd, m.Seq)
		}
		if !p.HasMore {
			break
		}
		after = p.Messages[len(p.Messages)-1].Seq
	}
	if fmt.Sprint(back) != fmt.Sprint(seqs) {
		t.Fatalf("backward paging: %d messages, want %d", len(back), len(seqs))
	}
	if fmt.Sprint(fwd) != fmt.Sprint(seqs) {
		t.Fatalf("forward paging: %d messages, want %d", len(fwd), len(seqs))
	}
	// Replay on subscribe reaches into PostgreSQL too.
	w := s.Dial(t, tok)
	from := seqs[n-600]
	replay, sub := w.Subscribe(room.ID, &from)
	if len(replay) != 599 || sub.M["recovered"] != true || replay[0].Int("seq") != seqs[n-599] {
		t.Fatalf("replay of 599 from PostgreSQL and cache: got %d, %s", len(replay), sub.Raw)
	}
}

// TestSendsAckWhilePostgresIsDown: with PostgreSQL stopped, connected
// members keep sending and getting acks; after it returns, the persister
// stores every acknowledged message exactly once.
func TestSendsAckWhilePostgresIsDown(t *testing.T) {
	pg, url := testenv.StartPostgres(t)
	c := servertest.NewCluster(t)
	c.Vars["DATABASE_URL"] = url
	s := c.Start(t, "s1")
	c.StartPersister(t, "BATCH_SIZE=50")
	_, tok := s.Signup(t, "alice")
	room := s.CreateRoom(t, tok, "r", protocol.Public)
	w := s.Dial(t, tok)
	var seqs []int64
	send := func(i int) {
		f := w.SendMsg(room.ID, fmt.Sprintf("m%d", i), "x")
		if f.Type() != "ack" {
			t.Fatalf("send %d: %s", i, f.Raw)
		}
		seqs = append(seqs, f.Int("seq"))
	}
	for i := 0; i < 50; i++ {
		send(i)
	}
	if err := pg.Shutdown(); err != nil {
		t.Fatal(err)
	}
	for i := 50; i < 150; i++ {
		send(i) // membership is cached and seqs come from Redis: no database needed
	}
	testenv.RestartPostgres(t, pg)
	for i := 150; i < 200; i++ {
		send(i)
	}
	pool := testenvPool(t, url)
	var n, distinct int64
	waitUntil(t, func() bool {
		err := pool.QueryRow(testenv.Ctx(t), "SELECT count(*), count(DISTINCT seq) FROM messages").Scan(&n, &distinct)
		return err == nil && n >= 200
	}, "200 messages in PostgreSQL")
	if n != 200 || distinct != 200 {
		t.Fatalf("stored %d rows (%d distinct), want 200", n, distinct)
	}
}
