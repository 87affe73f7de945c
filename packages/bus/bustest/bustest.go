// Package bustest is the conformance suite of the bus.Broker contract:
// every implementation (Redis, Memory) must pass Run.
package bustest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// Target is a broker under test.
type Target struct {
	Broker bus.Broker
	// Lose drops every key, as a Redis restarted without persistence does.
	Lose func()
}

// Open returns a fresh, empty broker whose recent caches keep recentMax
// messages for an hour.
type Open func(t *testing.T, recentMax int64) Target

// Run runs every conformance test against brokers from open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"RefStates", testRefStates},
		{"Epochs", testEpochs},
		{"FenceRefusesCommit", testFence},
		{"RecentCache", testRecentCache},
		{"PubSub", testPubSub},
		{"Presence", testPresence},
		{"Windows", testWindows},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Seeder hands out epochs 1, 2, ... of every room, like PostgreSQL's
// seq_epoch, and takes back an epoch that was not used, as the store's
// transaction does. *epoch is the last room's.
func Seeder(epoch *int64) bus.Seeder {
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

func begin(t *testing.T, b bus.Broker, seed bus.Seeder, user string, m protocol.Event, replace int64) bus.RefRecord {
	t.Helper()
	rec, err := b.Begin(ctxOf(t), user, m, time.Minute, replace, seed)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func testRefStates(t *testing.T, open Open) {
	ctx := ctxOf(t)
	b := open(t, 5).Broker
	var epoch int64
	seed := Seeder(&epoch)
	draft := protocol.Event{ID: "m", Room: "r", Ref: "ref", Body: `"seq":0, in the body`}
	rec := begin(t, b, seed, "u", draft, 0)
	if rec.State != bus.RefNew || rec.Event.Seq != 1 || rec.Event.Body != draft.Body {
		t.Fatalf("first begin: %+v", rec)
	}
	if rec := begin(t, b, seed, "u", draft, 0); rec.State != bus.RefPending || rec.Event.Seq != 1 {
		t.Fatalf("second begin: %+v", rec)
	}
	// A record's seq reads back intact past 2^32, and replace matches it.
	msg := protocol.Event{ID: "m", Room: "r", Seq: 1<<40 + 7, Ref: "ref"}
	if err := b.SetRef(ctx, "r", "u", "ref", bus.RefRecord{State: bus.RefPending, Event: &msg}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if rec := begin(t, b, seed, "u", draft, 1); rec.State != bus.RefPending || rec.Event.Seq != msg.Seq {
		t.Fatalf("replace of another seq: %+v", rec)
	}
	rec = begin(t, b, seed, "u", draft, msg.Seq)
	if rec.State != bus.RefNew || rec.Event.Seq != 2 {
		t.Fatalf("replace: %+v", rec)
	}
	// Commit marks the record done; its message is read back from the frame.
	done := *rec.Event
	if err := b.Commit(ctx, "r", done.Seq, time.Now(), done.Frame(), &bus.Done{User: "u", Ref: "ref", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if rec := begin(t, b, seed, "u", draft, 0); rec.State != bus.RefDone || rec.Event.Ack() != done.Ack() {
		t.Fatalf("done: %+v", rec)
	}
	// An event's record keeps its ack (AckRecord), not its frame, whose id
	// is the target's: the retry's ack names the target and keeps the ref.
	edit := protocol.Event{Kind: protocol.KindEdit, ID: "e", Room: "r", Ref: "edit", Target: "m", Body: "new"}
	rec = begin(t, b, seed, "u", edit, 0)
	if rec.State != bus.RefNew {
		t.Fatalf("begin edit: %+v", rec)
	}
	edit = *rec.Event
	record := bus.AckRecord(edit.Ack())
	if err := b.Commit(ctx, "r", edit.Seq, time.Now(), edit.Frame(), &bus.Done{User: "u", Ref: "edit", TTL: time.Minute, Record: record}); err != nil {
		t.Fatal(err)
	}
	if rec := begin(t, b, seed, "u", edit, 0); rec.State != bus.RefDone || rec.Event.Ack() != edit.Ack() || rec.Event.Ack().ID != "m" {
		t.Fatalf("done edit: %+v", rec)
	}
	// A done record set directly keeps the ack too, and nothing more: a
	// day of them must not hold every message's body.
	long := protocol.Event{ID: "l", Room: "r", Seq: 1<<40 + 9, Ref: "long", TS: "2026-11-30T12:00:00.000Z",
		Body: strings.Repeat("x", protocol.BodyMaxChars), Sender: protocol.User{ID: "u", Username: "u"}}
	if err := b.SetRef(ctx, "r", "u", "long", bus.RefRecord{State: bus.RefDone, Event: &long}, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.GetRef(ctx, "r", "u", "long")
	if err != nil || !ok || got.State != bus.RefDone || got.Event == nil {
		t.Fatalf("done record set directly: %+v %v %v", got, ok, err)
	}
	if got.Event.Ack() != long.Ack() || got.Event.Body != "" || got.Event.Sender.ID != "" {
		t.Fatalf("done record set directly: ack %+v, a body of %d bytes, sender %q", got.Event.Ack(), len(got.Event.Body), got.Event.Sender.ID)
	}
	if got, ok, err := b.GetRef(ctx, "r", "u", "ref"); err != nil || !ok || got.State != bus.RefDone {
		t.Fatalf("get ref: %+v %v %v", got, ok, err)
	}
	if _, ok, err := b.GetRef(ctx, "r", "u", "nope"); err != nil || ok {
		t.Fatalf("get of an unknown ref: %v %v", ok, err)
	}
	if rec := begin(t, b, seed, "other", draft, 0); rec.State != bus.RefNew || rec.Event.Seq != 4 {
		t.Fatalf("refs are per user: %+v", rec)
	}
	other := draft
	other.Room = "r2"
	if rec := begin(t, b, seed, "u", other, 0); rec.State != bus.RefNew || rec.Event.Seq != 1 {
		t.Fatalf("refs are per room: %+v", rec)
	}
}

// testEpochs: a lost counter starts a new epoch, never reusing a seq, and
// the cache of the lost data goes with it; a fence of an ended epoch burns
// none.
func testEpochs(t *testing.T, open Open) {
	ctx := ctxOf(t)
	tg := open(t, 5)
	b := tg.Broker
	var epoch int64
	seed := Seeder(&epoch)
	next := func(ref string) int64 {
		t.Helper()
		rec := begin(t, b, seed, "u", protocol.Event{ID: ref, Room: "room", Ref: ref}, 0)
		if rec.State != bus.RefNew || rec.Event.Ref != ref {
			t.Fatalf("begin %s: %+v", ref, rec)
		}
		return rec.Event.Seq
	}
	x, y := next("a"), next("b")
	if err := b.Commit(ctx, "room", y, time.Now(), []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	tg.Lose()
	c, d := next("c"), next("d")
	if x != 1 || y != 2 || c != bus.EpochBase(2)+1 || d != bus.EpochBase(2)+2 || epoch != 2 {
		t.Fatalf("seqs %d %d %d %d, epochs %d", x, y, c, d, epoch)
	}
	if got, _ := b.RecentAfter(ctx, "room", 0, 10); len(got) != 0 {
		t.Fatalf("cache survived the loss: %v", got)
	}
	if n, _ := b.Counter(ctx, "room"); n != d {
		t.Fatalf("counter %d, want %d", n, d)
	}
	if _, err := b.Fence(ctx, "room", 1, seed); err != bus.ErrNotFenced || epoch != 2 {
		t.Fatalf("fence of an ended epoch: %v, epoch %d", err, epoch)
	}
	rec, ok, err := b.GetRef(ctx, "room", "u", "d")
	if err != nil || !ok || rec.State != bus.RefPending || rec.Event.Seq != d || rec.Event.ID != "d" {
		t.Fatalf("pending record of d: %+v %v %v", rec, ok, err)
	}
}

// testFence: once an epoch is fenced, its in-flight seqs can no longer be
// committed, their leases are gone, and new sends continue in the next
// epoch after the fence's own seq.
func testFence(t *testing.T, open Open) {
	ctx := ctxOf(t)
	b := open(t, 5).Broker
	var epoch int64
	seed := Seeder(&epoch)
	a := begin(t, b, seed, "u", protocol.Event{ID: "a", Room: "r", Ref: "a"}, 0).Event.Seq
	if alive, err := b.LeaseAlive(ctx, "r", a); err != nil || !alive {
		t.Fatalf("lease of a fresh send: %v %v", alive, err)
	}
	if ok, err := b.RenewLease(ctx, "r", a); err != nil || !ok {
		t.Fatalf("renew: %v %v", ok, err)
	}
	first, err := b.Fence(ctx, "r", 1, seed)
	if err != nil || first != bus.EpochBase(2)+1 {
		t.Fatalf("fence: %d %v", first, err)
	}
	if err := b.Commit(ctx, "r", a, time.Now(), []byte(`{}`), nil); err != bus.ErrFenced {
		t.Fatalf("commit of a fenced seq: %v", err)
	}
	if alive, _ := b.LeaseAlive(ctx, "r", a); alive {
		t.Fatal("a fenced seq still has a lease")
	}
	if ok, _ := b.RenewLease(ctx, "r", a); ok {
		t.Fatal("a fenced seq's lease was renewed")
	}
	if rec := begin(t, b, seed, "u", protocol.Event{ID: "a", Room: "r", Ref: "a"}, 0); rec.State != bus.RefPending {
		t.Fatalf("without replace: %+v", rec)
	}
	rec := begin(t, b, seed, "u", protocol.Event{ID: "a2", Room: "r", Ref: "a"}, a)
	if rec.State != bus.RefNew || rec.Event.Seq != first+1 {
		t.Fatalf("replace: %+v", rec)
	}
	if err := b.Commit(ctx, "r", rec.Event.Seq, time.Now(), []byte(`{}`), nil); err != nil {
		t.Fatal(err)
	}
	if alive, _ := b.LeaseAlive(ctx, "r", rec.Event.Seq); alive {
		t.Fatal("a committed seq still has a lease")
	}
}

func testRecentCache(t *testing.T, open Open) {
	ctx := ctxOf(t)
	b := open(t, 5).Broker
	var epoch int64
	begin(t, b, Seeder(&epoch), "u", protocol.Event{Room: "room", Ref: "seed"}, 0)
	if o, err := b.Oldest(ctx, "room"); err != nil || o != 0 {
		t.Fatalf("oldest of an empty cache: %d %v", o, err)
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := b.Commit(ctx, "room", 1, old, []byte(`{"seq":1}`), nil); err != nil {
		t.Fatal(err)
	}
	for s := int64(2); s <= 8; s++ {
		if err := b.Commit(ctx, "room", s, time.Now(), []byte(fmt.Sprintf(`{"seq":%d}`, s)), nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.RecentAfter(ctx, "room", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Bounded by count (5) and by age (seq 1 is two hours old).
	if len(got) != 5 || got[0].Seq != 4 || got[4].Seq != 8 || string(got[4].Frame) != `{"seq":8}` {
		t.Fatalf("cache holds %v", got)
	}
	before, _ := b.RecentBefore(ctx, "room", 7, 2)
	if len(before) != 2 || before[0].Seq != 6 || before[1].Seq != 5 {
		t.Fatalf("before 7: %v", before)
	}
	if all, _ := b.RecentBefore(ctx, "room", 0, 100); len(all) != 5 || all[0].Seq != 8 {
		t.Fatalf("before nothing: %v", all)
	}
	if o, _ := b.Oldest(ctx, "room"); o != 4 {
		t.Fatalf("oldest %d", o)
	}
	if n, _ := b.Newest(ctx, "room"); n != 8 {
		t.Fatalf("newest %d", n)
	}
	tails, err := b.Tails(ctx, []string{"room", "none"}, []int64{6, 0}, 10)
	if err != nil || len(tails) != 2 || len(tails[0]) != 2 || tails[0][0].Seq != 7 || len(tails[1]) != 0 {
		t.Fatalf("tails: %v %v", tails, err)
	}
}

func testWindows(t *testing.T, open Open) {
	ctx := ctxOf(t)
	b := open(t, 5).Broker
	for want := int64(1); want <= 3; want++ {
		n, left, err := b.Incr(ctx, "login:x", time.Minute)
		if err != nil || n != want || left <= 0 || left > time.Minute {
			t.Fatalf("incr %d: %d %v %v", want, n, left, err)
		}
	}
	if n, _, _ := b.Incr(ctx, "login:y", time.Minute); n != 1 {
		t.Fatalf("windows are per key: %d", n)
	}
}
