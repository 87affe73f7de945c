package bus_test

import (
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/bus/bustest"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// TestRedisSentinel: the contract holds through Sentinel, and after the
// master dies and the Sentinel promotes its replica the broker follows it;
// the replica's data may lag (replication is asynchronous), so the room's
// counter of the old master's run is not trusted and a new epoch starts.
func TestRedisSentinel(t *testing.T) {
	s := testenv.StartRedisSentinel(t)
	ctx := testenv.Ctx(t)
	open := openRedis(bus.RedisConfig{URL: s.URL(), Sentinel: true})
	bustest.Run(t, open)

	b := open(t, 10).Broker
	var epoch int64
	seed := bustest.Seeder(&epoch)
	first, err := b.Begin(ctx, "u", protocol.Event{ID: "a", Room: "r", Ref: "a"}, time.Minute, 0, seed)
	if err != nil || first.Event.Seq != 1 {
		t.Fatalf("before the failover: %+v %v", first, err)
	}
	s.Master.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec, err := b.Begin(ctx, "u", protocol.Event{ID: "b", Room: "r", Ref: "b"}, time.Minute, 0, seed)
		if err == nil {
			if rec.State != bus.RefNew || rec.Event.Seq != bus.EpochBase(2)+1 {
				t.Fatalf("after the failover: %+v (a new epoch was expected)", rec)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no master within 30 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling the promotion, with a deadline
	}
	if err := b.Commit(ctx, "r", 1, time.Now(), []byte(`{}`), nil); err != bus.ErrFenced {
		t.Fatalf("commit of the old master's seq: %v", err)
	}
}
