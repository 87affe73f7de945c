package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
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

func TestRecentCacheBounds(t *testing.T) {
	ctx := testenv.Ctx(t)
	r := bus.NewRedis(testenv.Redis(t), bus.Keys{Prefix: testenv.RedisPrefix()}, 5, time.Hour)
	old := time.Now().Add(-2 * time.Hour)
	if err := r.Commit(ctx, "room", 1, old, []byte(`{"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	for s := int64(2); s <= 8; s++ {
		if err := r.Commit(ctx, "room", s, time.Now(), []byte(fmt.Sprintf(`{"seq":%d}`, s))); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.RecentAfter(ctx, "room", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Bounded by count (5) and by age (seq 1 is two hours old).
	if len(got) != 5 || got[0].Seq != 4 || got[4].Seq != 8 || string(got[4].Frame) != `{"seq":8}` {
		t.Fatalf("cache holds %v", got)
	}
	before, _ := r.RecentBefore(ctx, "room", 7, 2)
	if len(before) != 2 || before[0].Seq != 6 || before[1].Seq != 5 {
		t.Fatalf("before 7: %v", before)
	}
	if o, _ := r.Oldest(ctx, "room"); o != 4 {
		t.Fatalf("oldest %d", o)
	}
}

func TestNextSeqSeedsEpochs(t *testing.T) {
	ctx := testenv.Ctx(t)
	rdb := testenv.Redis(t)
	keys := bus.Keys{Prefix: testenv.RedisPrefix()}
	r := bus.NewRedis(rdb, keys, 5, time.Hour)
	epoch := int64(0)
	seed := func(ctx context.Context, room string, set func(int64) error) error {
		epoch++
		return set(epoch)
	}
	a, _ := r.NextSeq(ctx, "room", seed)
	b, _ := r.NextSeq(ctx, "room", seed)
	rdb.Del(ctx, keys.Seq("room")) // Redis lost the counter
	c, err := r.NextSeq(ctx, "room", seed)
	if err != nil || a != 1 || b != 2 || c != bus.EpochBase(2)+1 {
		t.Fatalf("seqs %d %d %d (%v)", a, b, c, err)
	}
}

func TestRefStates(t *testing.T) {
	ctx := testenv.Ctx(t)
	r := bus.NewRedis(testenv.Redis(t), bus.Keys{Prefix: testenv.RedisPrefix()}, 5, time.Hour)
	rec, err := r.ClaimRef(ctx, "u", "ref", time.Minute)
	if err != nil || rec.State != bus.RefNew {
		t.Fatalf("first claim: %+v %v", rec, err)
	}
	if rec, _ := r.ClaimRef(ctx, "u", "ref", time.Minute); rec.State != bus.RefPending {
		t.Fatalf("second claim: %+v", rec)
	}
	msg := protocol.Message{ID: "m", Room: "r", Seq: 1 << 40, Ref: "ref"}
	if err := r.SetRef(ctx, "u", "ref", bus.RefRecord{State: bus.RefFailed, Message: &msg}, time.Minute); err != nil {
		t.Fatal(err)
	}
	// A failed send is taken over, with its message (seq intact past 2^32).
	rec, _ = r.ClaimRef(ctx, "u", "ref", time.Minute)
	if rec.State != bus.RefFailed || rec.Message == nil || rec.Message.Seq != 1<<40 {
		t.Fatalf("retake: %+v", rec)
	}
	if rec, _ := r.ClaimRef(ctx, "u", "ref", time.Minute); rec.State != bus.RefPending || rec.Message.Seq != 1<<40 {
		t.Fatalf("after retake: %+v", rec)
	}
	_ = r.SetRef(ctx, "u", "ref", bus.RefRecord{State: bus.RefDone, Message: &msg}, time.Minute)
	if rec, _ := r.ClaimRef(ctx, "u", "ref", time.Minute); rec.State != bus.RefDone {
		t.Fatalf("done: %+v", rec)
	}
	if rec, _ := r.ClaimRef(ctx, "other", "ref", time.Minute); rec.State != bus.RefNew {
		t.Fatalf("refs are per user: %+v", rec)
	}
}
