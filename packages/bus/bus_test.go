package bus_test

import (
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/bus/bustest"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
	"github.com/rookery-chat/rookery/packages/protocol"
)

func TestEpochs(t *testing.T) {
	if bus.EpochBase(1) != 0 || !bus.IsEpochStart(1) || bus.IsEpochStart(2) {
		t.Fatal("epoch 1 must start at seq 1")
	}
	second := bus.EpochBase(2) + 1
	if second != 1<<32+1 || !bus.IsEpochStart(second) || second >= 1<<53 {
		t.Fatalf("epoch 2 starts at %d", second)
	}
}

// TestCounterOfAnotherRun: a counter written by another Redis run (a
// restart from an older snapshot, a failover) is not trusted: a new epoch
// starts, and the cache of that run goes, since it may lack newer messages.
func TestCounterOfAnotherRun(t *testing.T) {
	ctx := testenv.Ctx(t)
	rdb := testenv.Redis(t)
	keys := bus.Keys{Prefix: testenv.RedisPrefix()}
	r := bus.NewRedis(rdb, keys, 5, time.Hour)
	var epoch int64
	seed := bustest.Seeder(&epoch)
	next := func(ref string) int64 {
		t.Helper()
		rec, err := r.Begin(ctx, "u", protocol.Event{ID: ref, Room: "room", Ref: ref}, time.Minute, 0, seed)
		if err != nil || rec.State != bus.RefNew {
			t.Fatalf("begin %s: %+v %v", ref, rec, err)
		}
		return rec.Event.Seq
	}
	c := next("c")
	if err := r.Commit(ctx, "room", c, time.Now(), []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, keys.Run("room"), "0123456789abcdef", 0)
	rdb.Set(ctx, keys.Seq("room"), 1, 0) // rolled back
	if err := r.Commit(ctx, "room", c+1, time.Now(), []byte(`{}`), nil); err != bus.ErrFenced {
		t.Fatalf("commit under another run: %v", err)
	}
	if e := next("e"); e != bus.EpochBase(2)+1 || epoch != 2 {
		t.Fatalf("after a rollback: seq %d, epoch %d", e, epoch)
	}
	if got, _ := r.RecentAfter(ctx, "room", 0, 10); len(got) != 0 {
		t.Fatalf("cache of another run kept: %v", got)
	}
}
