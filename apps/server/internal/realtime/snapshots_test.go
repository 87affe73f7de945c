package realtime

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/rookery-chat/rookery/packages/protocol"
)

// Subscribes that want a room's presence snapshot while one is being
// taken share the next one, never the one under way (it may miss a
// change they would otherwise see): two reads for twenty-one callers.
func TestSnapshotsShareOnlyLaterOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSnapshots()
		var takes atomic.Int64
		release := make(chan struct{})
		take := func(context.Context) ([]protocol.User, error) {
			n := takes.Add(1)
			<-release
			return []protocol.User{{ID: string(rune('0' + n))}}, nil
		}
		users := func(f *snapshot, _ error) []protocol.User { return f.users }
		firstDone := make(chan []protocol.User, 1)
		go func() { firstDone <- users(s.get(context.Background(), "room", take)) }()
		synctest.Wait() // the first snapshot is being taken
		var wg sync.WaitGroup
		got := make([][]protocol.User, 20)
		for i := range got {
			wg.Go(func() { got[i] = users(s.get(context.Background(), "room", take)) })
		}
		synctest.Wait()
		if n := takes.Load(); n != 1 {
			t.Fatalf("%d snapshots under way, want the first only", n)
		}
		release <- struct{}{} // the first ends; one later caller takes the next
		if u := <-firstDone; u[0].ID != "1" {
			t.Fatalf("first caller got snapshot %s", u[0].ID)
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if n := takes.Load(); n != 2 {
			t.Fatalf("%d snapshots for 21 callers, want 2", n)
		}
		for i, u := range got {
			if len(u) != 1 || u[0].ID != "2" {
				t.Fatalf("caller %d got %v, want the second snapshot", i, u)
			}
		}
		// Another room is its own.
		other, _ := s.get(context.Background(), "other", take)
		if u := other.users; u[0].ID != "3" {
			t.Fatalf("another room: %v", u)
		}
		// Its users are encoded once, for all who share it.
		if e := other.Encoded(); string(e) != `[{"id":"3","username":""}]` || &e[0] != &other.Encoded()[0] {
			t.Fatalf("encoded: %s", e)
		}
	})
}
