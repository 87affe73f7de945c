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
	if err := r.Commit(ctx, "room", 1, old, []byte(`{"seq":1}`), nil); err != nil {
		t.Fatal(err)
	}
	for s := int64(2); s <= 8; s++ {
		if err := r.Commit(ctx, "room", s, time.Now(), []byte(fmt.Sprintf(`{"seq":%d}`, s)), nil); err != nil {
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

func TestBeginSeedsEpochs(t *testing.T) {
	ctx := testenv.Ctx(t)
	rdb := testenv.Redis(t)
	keys := bus.Keys{Prefix: testenv.RedisPrefix()}
	r := bus.NewRedis(rdb, keys, 5, time.Hour)
	epoch := int64(0)
	seed := func(ctx context.Context, room string, set func(int64) error) error {
		epoch++
		return set(epoch)
	}
	next := func(ref string) int64 {
		t.Helper()
		rec, err := r.Begin(ctx, "u", protocol.Message{ID: ref, Room: "room", Ref: ref}, time.Minute, seed)
		if err != nil || rec.State != bus.RefNew || rec.Message.Ref != ref {
			t.Fatalf("begin %s: %+v %v", ref, rec, err)
		}
		return rec.Message.Seq
	}
	a, b := next("a"), next("b")
	rdb.Del(ctx, keys.Seq("room")) // Redis lost the counter
	c, d := next("c"), next("d")
	if a != 1 || b != 2 || c != bus.EpochBase(2)+1 || d != bus.EpochBase(2)+2 || epoch != 2 {
		t.Fatalf("seqs %d %d %d %d, epochs %d", a, b, c, d, epoch)
	}
	// The pending record holds the message with its seq, exactly as sent.
	rec, ok, err := r.GetRef(ctx, "room", "u", "d")
	if err != nil || !ok || rec.State != bus.RefPending || rec.Message.Seq != d || rec.Message.ID != "d" {
		t.Fatalf("pending record of d: %+v %v %v", rec, ok, err)
	}
}

func TestRefStates(t *testing.T) {
	ctx := testenv.Ctx(t)
	r := bus.NewRedis(testenv.Redis(t), bus.Keys{Prefix: testenv.RedisPrefix()}, 5, time.Hour)
	seed := func(ctx context.Context, room string, set func(int64) error) error { return set(1) }
	draft := protocol.Message{ID: "m", Room: "r", Ref: "ref", Body: `"seq":0, in the body`}
	begin := func(user string, m protocol.Message) bus.RefRecord {
		t.Helper()
		rec, err := r.Begin(ctx, user, m, time.Minute, seed)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	rec := begin("u", draft)
	if rec.State != bus.RefNew || rec.Message.Seq != 1 || rec.Message.Body != draft.Body {
		t.Fatalf("first begin: %+v", rec)
	}
	if rec := begin("u", draft); rec.State != bus.RefPending || rec.Message.Seq != 1 {
		t.Fatalf("second begin: %+v", rec)
	}
	msg := protocol.Message{ID: "m", Room: "r", Seq: 1 << 40, Ref: "ref"}
	if err := r.SetRef(ctx, "r", "u", "ref", bus.RefRecord{State: bus.RefFailed, Message: &msg}, time.Minute); err != nil {
		t.Fatal(err)
	}
	// A failed send is taken over, with its message (seq intact past 2^32).
	rec = begin("u", draft)
	if rec.State != bus.RefFailed || rec.Message == nil || rec.Message.Seq != 1<<40 {
		t.Fatalf("retake: %+v", rec)
	}
	if rec := begin("u", draft); rec.State != bus.RefPending || rec.Message.Seq != 1<<40 {
		t.Fatalf("after retake: %+v", rec)
	}
	// Commit marks the record done; its message is read back from the frame.
	frame := protocol.Encode(protocol.MessageFrame{Type: protocol.TypeMessage, Message: msg})
	if err := r.Commit(ctx, "r", msg.Seq, time.Now(), frame, &bus.Done{User: "u", Ref: "ref", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if rec := begin("u", draft); rec.State != bus.RefDone || *rec.Message != msg {
		t.Fatalf("done: %+v", rec)
	}
	if rec := begin("other", draft); rec.State != bus.RefNew || rec.Message.Seq != 2 {
		t.Fatalf("refs are per user: %+v", rec)
	}
	other := draft
	other.Room = "r2"
	if rec := begin("u", other); rec.State != bus.RefNew || rec.Message.Seq != 1 {
		t.Fatalf("refs are per room: %+v", rec)
	}
}
