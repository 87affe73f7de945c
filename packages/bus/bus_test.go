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

// seeder hands out epochs 1, 2, ... of every room, like PostgreSQL's
// seq_epoch, and takes back an epoch that was not used, as the store's
// transaction does. *epoch is the last room's.
func seeder(epoch *int64) bus.Seeder {
	epochs := map[string]int64{}
	return func(ctx context.Context, room string, set func(int64) (bool, error)) error {
		epochs[room]++
		used, err := set(epochs[room])
		if !used || err != nil {
			epochs[room]--
		}
		*epoch = epochs[room]
		return err
	}
}

func TestRecentCacheBounds(t *testing.T) {
	ctx := testenv.Ctx(t)
	r := bus.NewRedis(testenv.Redis(t), bus.Keys{Prefix: testenv.RedisPrefix()}, 5, time.Hour)
	var epoch int64
	seed := seeder(&epoch)
	if _, err := r.Begin(ctx, "u", protocol.Message{Room: "room", Ref: "seed"}, time.Minute, 0, seed); err != nil {
		t.Fatal(err)
	}
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
	var epoch int64
	seed := seeder(&epoch)
	next := func(ref string) int64 {
		t.Helper()
		rec, err := r.Begin(ctx, "u", protocol.Message{ID: ref, Room: "room", Ref: ref}, time.Minute, 0, seed)
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
	// A counter written by another Redis run (a restart from an older
	// snapshot, a failover) is not trusted: a new epoch starts, and the
	// cache of that run goes, since it may lack newer messages.
	if err := r.Commit(ctx, "room", c, time.Now(), []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, keys.Run("room"), "0123456789abcdef", 0)
	rdb.Set(ctx, keys.Seq("room"), 1, 0) // rolled back to epoch 1
	if e := next("e"); e != bus.EpochBase(3)+1 || epoch != 3 {
		t.Fatalf("after a rollback: seq %d, epoch %d", e, epoch)
	}
	if got, _ := r.RecentAfter(ctx, "room", 0, 10); len(got) != 0 {
		t.Fatalf("cache of another run kept: %v", got)
	}
	// Seeding when a valid counter exists burns no epoch.
	if _, err := r.Fence(ctx, "room", 1, seed); err != bus.ErrNotFenced || epoch != 3 {
		t.Fatalf("fence of an ended epoch: %v, epoch %d", err, epoch)
	}
	// The pending record holds the message with its seq, exactly as sent.
	rec, ok, err := r.GetRef(ctx, "room", "u", "d")
	if err != nil || !ok || rec.State != bus.RefPending || rec.Message.Seq != d || rec.Message.ID != "d" {
		t.Fatalf("pending record of d: %+v %v %v", rec, ok, err)
	}
}

// TestFenceRefusesCommit: once an epoch is fenced, its in-flight seqs can
// no longer be committed, their leases are gone, and new sends continue in
// the next epoch after the fence's own seq.
func TestFenceRefusesCommit(t *testing.T) {
	ctx := testenv.Ctx(t)
	r := bus.NewRedis(testenv.Redis(t), bus.Keys{Prefix: testenv.RedisPrefix()}, 5, time.Hour)
	var epoch int64
	seed := seeder(&epoch)
	begin := func(ref string) bus.RefRecord {
		t.Helper()
		rec, err := r.Begin(ctx, "u", protocol.Message{ID: ref, Room: "r", Ref: ref}, time.Minute, 0, seed)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	a := begin("a").Message.Seq
	if alive, err := r.LeaseAlive(ctx, "r", a); err != nil || !alive {
		t.Fatalf("lease of a fresh send: %v %v", alive, err)
	}
	first, err := r.Fence(ctx, "r", 1, seed)
	if err != nil || first != bus.EpochBase(2)+1 {
		t.Fatalf("fence: %d %v", first, err)
	}
	if err := r.Commit(ctx, "r", a, time.Now(), []byte(`{}`), nil); err != bus.ErrFenced {
		t.Fatalf("commit of a fenced seq: %v", err)
	}
	if alive, _ := r.LeaseAlive(ctx, "r", a); alive {
		t.Fatal("a fenced seq still has a lease")
	}
	if ok, _ := r.RenewLease(ctx, "r", a); ok {
		t.Fatal("a fenced seq's lease was renewed")
	}
	// The ref of a fenced, unstored send is begun again under a new seq.
	if rec := begin("a"); rec.State != bus.RefPending {
		t.Fatalf("without replace: %+v", rec)
	}
	rec, err := r.Begin(ctx, "u", protocol.Message{ID: "a2", Room: "r", Ref: "a"}, time.Minute, a, seed)
	if err != nil || rec.State != bus.RefNew || rec.Message.Seq != first+1 {
		t.Fatalf("replace: %+v %v", rec, err)
	}
	if err := r.Commit(ctx, "r", rec.Message.Seq, time.Now(), []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
}

func TestRefStates(t *testing.T) {
	ctx := testenv.Ctx(t)
	r := bus.NewRedis(testenv.Redis(t), bus.Keys{Prefix: testenv.RedisPrefix()}, 5, time.Hour)
	var epoch int64
	seed := seeder(&epoch)
	draft := protocol.Message{ID: "m", Room: "r", Ref: "ref", Body: `"seq":0, in the body`}
	begin := func(user string, m protocol.Message, replace int64) bus.RefRecord {
		t.Helper()
		rec, err := r.Begin(ctx, user, m, time.Minute, replace, seed)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	rec := begin("u", draft, 0)
	if rec.State != bus.RefNew || rec.Message.Seq != 1 || rec.Message.Body != draft.Body {
		t.Fatalf("first begin: %+v", rec)
	}
	if rec := begin("u", draft, 0); rec.State != bus.RefPending || rec.Message.Seq != 1 {
		t.Fatalf("second begin: %+v", rec)
	}
	// A record's seq reads back intact past 2^32, and replace matches it.
	msg := protocol.Message{ID: "m", Room: "r", Seq: 1<<40 + 7, Ref: "ref"}
	if err := r.SetRef(ctx, "r", "u", "ref", bus.RefRecord{State: bus.RefPending, Message: &msg}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if rec := begin("u", draft, 1); rec.State != bus.RefPending || rec.Message.Seq != msg.Seq {
		t.Fatalf("replace of another seq: %+v", rec)
	}
	rec = begin("u", draft, msg.Seq)
	if rec.State != bus.RefNew || rec.Message.Seq != 2 {
		t.Fatalf("replace: %+v", rec)
	}
	// Commit marks the record done; its message is read back from the frame.
	done := *rec.Message
	frame := protocol.Encode(protocol.MessageFrame{Type: protocol.TypeMessage, Message: done})
	if err := r.Commit(ctx, "r", done.Seq, time.Now(), frame, &bus.Done{User: "u", Ref: "ref", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if rec := begin("u", draft, 0); rec.State != bus.RefDone || *rec.Message != done {
		t.Fatalf("done: %+v", rec)
	}
	if rec := begin("other", draft, 0); rec.State != bus.RefNew || rec.Message.Seq != 3 {
		t.Fatalf("refs are per user: %+v", rec)
	}
	other := draft
	other.Room = "r2"
	if rec := begin("u", other, 0); rec.State != bus.RefNew || rec.Message.Seq != 1 {
		t.Fatalf("refs are per room: %+v", rec)
	}
}
