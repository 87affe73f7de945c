package servertest_test

import (
	"strings"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// TestRefRecordKeepsOnlyTheAck: the record that answers a retried ref
// lives for DEDUP_TTL, one per message, so it holds the ack and not the
// message: a largest-size message leaves a record of a few hundred bytes,
// and its retry from another connection still gets the original ack.
func TestRefRecordKeepsOnlyTheAck(t *testing.T) {
	c := servertest.NewCluster(t)
	s := c.Start(t, "s1")
	alice, tok := s.Signup(t, "alice")
	room := s.CreateRoom(t, tok, "dedup", protocol.Public)
	body := strings.Repeat("é", protocol.BodyMaxChars) // 8,000 bytes
	ack := expectAck(t, s.Dial(t, tok).SendMsg(room.ID, "big", body))

	v, err := testenv.Redis(t).Get(testenv.Ctx(t), bus.Keys{Prefix: c.Vars["REDIS_PREFIX"]}.Dedup(room.ID, alice.ID, "big")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "D|") || len(v) > 300 || strings.Contains(v, "é") {
		t.Fatalf("the done record holds %d bytes: %.120s…", len(v), v)
	}
	again := expectAck(t, s.Dial(t, tok).SendMsg(room.ID, "big", body))
	for _, k := range []string{"id", "room", "ts", "ref"} {
		if again.Str(k) != ack.Str(k) {
			t.Fatalf("retried ref: %s, first %s", again.Raw, ack.Raw)
		}
	}
	if again.Int("seq") != ack.Int("seq") {
		t.Fatalf("retried ref: %s, first %s", again.Raw, ack.Raw)
	}
}
