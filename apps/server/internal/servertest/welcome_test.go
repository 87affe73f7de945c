package servertest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
	"github.com/rookery-chat/rookery/packages/client"
	"github.com/rookery-chat/rookery/packages/protocol"
)

// TestWelcomeComesFirst: a connection's first frame is its welcome, even
// when frames for its user (room_added here) are sent while it says hello.
// The server used to make the connection one of the user's before
// queueing the welcome, and a room_added could come first.
func TestWelcomeComesFirst(t *testing.T) {
	c := servertest.NewCluster(t)
	s1 := c.Start(t, "s1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*servertest.Timeout)
	defer cancel()
	ann, bob, _ := annAndBob(ctx, t, s1.URL, s1.URL, "welcome")

	stop := make(chan struct{})
	var adds sync.WaitGroup
	adds.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			room, err := ann.CreateRoom(ctx, fmt.Sprintf("p%d", i), protocol.Private)
			if err == nil {
				err = ann.AddMember(ctx, room.ID, "bob")
			}
			if err != nil {
				t.Errorf("add bob: %v", err)
				return
			}
		}
	})
	var dials sync.WaitGroup
	for range 4 {
		dials.Go(func() {
			for range 50 {
				conn, err := client.Dial(ctx, s1.URL, bob.Token)
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				_ = conn.Close()
			}
		})
	}
	dials.Wait()
	close(stop)
	adds.Wait()
}
