package servertest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// TestKafkaStallLosesNothing stalls the broker (SIGSTOP) for twice
// KAFKA_WRITE_TIMEOUT in the middle of a conversation. Sends in flight are
// answered "unavailable" but keep their seq; their retries get the
// original ack. Every acknowledged message then reaches the subscriber on
// the other server live, once, in order, and is stored once with the seq
// of its ack. (Before the fix the stalled seqs were skipped, so their late
// commits were dropped as too late.)
func TestKafkaStallLosesNothing(t *testing.T) {
	k := testenv.StartKafkaProc(t)
	c := servertest.NewCluster(t)
	c.Vars["KAFKA_BROKERS"] = k.Brokers()
	c.Vars["KAFKA_CREATE_TOPIC"] = "true"
	c.Vars["KAFKA_WRITE_TIMEOUT"] = "1s"
	c.Vars["GAP_TIMEOUT"] = "2s"
	s1, s2, aTok, bTok, room := setupOn(t, c)
	c.StartPersister(t)
	bob := s2.Dial(t, bTok)
	bob.Subscribe(room.ID, nil)
	alice := s1.Dial(t, aTok)

	const n = 30
	acks := map[string]int64{}
	var seqs []int64
	unavailable := 0
	for i := 0; i < n; i++ {
		if i == 10 {
			k.Stall()
			resume := time.AfterFunc(2*time.Second, k.Resume) // the fault's length, not a wait
			t.Cleanup(func() { resume.Stop(); k.Resume() })
		}
		ref := fmt.Sprintf("m%d", i)
		ack, retries := sendCountingRetries(t, alice, room.ID, ref)
		unavailable += retries
		acks[ref] = ack.Int("seq")
		seqs = append(seqs, ack.Int("seq"))
	}
	if unavailable == 0 {
		t.Fatal("no send was answered unavailable: the stall did not happen")
	}
	t.Logf("%d sends answered unavailable during the stall", unavailable)
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("acked seqs not increasing: %v", seqs)
		}
	}
	var got []int64
	for len(got) < n {
		got = append(got, bob.NextOf("message").Int("seq"))
	}
	if fmt.Sprint(got) != fmt.Sprint(seqs) {
		t.Fatalf("bob saw %v, acks were %v", got, seqs)
	}
	if extra := servertest.Count(bob.UntilPong(), "message"); extra != 0 {
		t.Fatalf("bob saw %d messages more than were acknowledged", extra)
	}
	checkStored(t, c, room.ID, acks)
}

// checkStored waits until PostgreSQL holds exactly the acknowledged
// messages of the room, each once, with the seq of its ack.
func checkStored(t *testing.T, c *servertest.Cluster, room string, acks map[string]int64) {
	t.Helper()
	pool := testenvPool(t, c.Vars["DATABASE_URL"])
	ctx := testenv.Ctx(t)
	deadline := time.Now().Add(servertest.Timeout)
	for {
		rows, err := pool.Query(ctx, "SELECT ref, seq FROM messages WHERE room_id = $1 AND NOT fence", room)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string][]int64{}
		for rows.Next() {
			var ref string
			var seq int64
			if err := rows.Scan(&ref, &seq); err != nil {
				t.Fatal(err)
			}
			stored[ref] = append(stored[ref], seq)
		}
		rows.Close()
		bad := ""
		for ref, seq := range acks {
			if s := stored[ref]; len(s) != 1 || s[0] != seq {
				bad += fmt.Sprintf(" %s: acked %d, stored %v;", ref, seq, s)
			}
		}
		for ref, s := range stored {
			if _, ok := acks[ref]; !ok {
				bad += fmt.Sprintf(" %s stored %v, never acknowledged;", ref, s)
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored messages do not match the acks:%s", bad)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
