package servertest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/devenv"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// sendUntilAck retries a send with the same ref, as a client would after
// "unavailable", until it is acknowledged.
func sendUntilAck(t *testing.T, w *servertest.WS, room, ref string) servertest.Frame {
	t.Helper()
	f, _ := sendCountingRetries(t, w, room, ref)
	return f
}

// sendCountingRetries is sendUntilAck, also saying how many attempts were
// answered unavailable.
func sendCountingRetries(t *testing.T, w *servertest.WS, room, ref string) (servertest.Frame, int) {
	t.Helper()
	deadline := time.Now().Add(servertest.Timeout)
	for retries := 0; ; retries++ {
		f := w.SendMsg(room, ref, "body of "+ref)
		if f.Type() == "ack" {
			return f, retries
		}
		if f.Str("code") != "unavailable" || time.Now().After(deadline) {
			t.Fatalf("send %s: %s", ref, f.Raw)
		}
		time.Sleep(100 * time.Millisecond) // client back-off between retries
	}
}

// TestSeqsNeverReusedAfterRedisLoss flushes Redis and then restarts it
// empty in the middle of a conversation: seqs keep growing, and the
// subscriber keeps receiving in order.
func TestSeqsNeverReusedAfterRedisLoss(t *testing.T) {
	rs := testenv.StartRedis(t)
	c := servertest.NewCluster(t)
	c.Vars["REDIS_URL"], c.Vars["REDIS_MODE"] = rs.URL(), "single" // a Redis of its own, to restart
	s1, s2, aTok, bTok, room := setupOn(t, c)
	// A new epoch's first message reaches subscribers once it is stored,
	// after any of the old epoch's that Redis lost on the way.
	c.StartPersister(t)
	bob := s2.Dial(t, bTok)
	bob.Subscribe(room.ID, nil)
	alice := s1.Dial(t, aTok)

	var seqs []int64
	send := func(ref string) {
		ack := sendUntilAck(t, alice, room.ID, ref)
		seqs = append(seqs, ack.Int("seq"))
	}
	for i := 0; i < 3; i++ {
		send(fmt.Sprintf("a%d", i))
	}
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rs.Port)})
	defer rc.Close()
	if err := rc.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		send(fmt.Sprintf("b%d", i))
	}
	rs.Kill()
	testenv.RestartRedis(t, rs)
	for i := 0; i < 3; i++ {
		send(fmt.Sprintf("c%d", i))
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("seq reused or decreasing: %v", seqs)
		}
	}
	// Bob, on the other server, saw every message in order; the ones sent
	// while his server's subscription was reconnecting are repaired from
	// the cache, and the old epoch's last ones, if the restart lost them,
	// from the history. (Bob's connection survives: only Redis restarted.)
	var got []int64
	for len(got) < len(seqs) {
		got = append(got, bob.NextOf("message").Int("seq"))
	}
	if fmt.Sprint(got) != fmt.Sprint(seqs) {
		t.Fatalf("bob saw %v, acks were %v", got, seqs)
	}
}

// TestKafkaDownMeansUnavailable: with the broker gone, a send is answered
// "unavailable" promptly and nobody sees the message.
func TestKafkaDownMeansUnavailable(t *testing.T) {
	k, err := devenv.StartKafka(devenv.KafkaOptions{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	c := servertest.NewCluster(t)
	c.Vars["KAFKA_BROKERS"] = k.Brokers()
	c.Vars["KAFKA_CREATE_TOPIC"] = "true"
	c.Vars["KAFKA_WRITE_TIMEOUT"] = "1s"
	s1, s2, aTok, bTok, room := setupOn(t, c)
	bob := s2.Dial(t, bTok)
	bob.Subscribe(room.ID, nil)
	alice := s1.Dial(t, aTok)
	first := alice.SendMsg(room.ID, "ok", "before the outage")
	if first.Type() != "ack" {
		t.Fatalf("send before outage: %s", first.Raw)
	}
	bob.NextOf("message")

	k.Close()
	start := time.Now()
	f := alice.SendMsg(room.ID, "lost", "during the outage")
	if f.Type() != "error" || f.Str("code") != "unavailable" {
		t.Fatalf("send with Kafka down: %s", f.Raw)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("unavailable took %s", took)
	}
	// Nothing reached bob.
	if n := servertest.Count(bob.UntilPong(), "message"); n != 0 {
		t.Fatalf("bob received %d messages Kafka never accepted", n)
	}
	r := s1.Do(t, "GET", "/api/v1/rooms/"+room.ID+"/messages", aTok, nil)
	var h struct{ Messages []protocol.Message }
	r.Decode(t, &h)
	if len(h.Messages) != 1 {
		t.Fatalf("history has %d messages: %s", len(h.Messages), r.Raw)
	}
	if r := s1.Do(t, "GET", "/readyz", "", nil); r.Status != 503 {
		t.Fatalf("readyz with Kafka down: %d %s", r.Status, r.Raw)
	}
}
